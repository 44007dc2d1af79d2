/**
 * The seed note's conversation through the public API (createStack / listen / connect / read /
 * write), the server reading the 100-byte request and then, asynchronously, writing its
 * 500-byte reply: the six segments number for number, the reply carrying the ACK (RFC 1122
 * 4.2.3.2, RFC 9293 3.8.6.3) with no pure ACK before it. Over the memory link, and over TAP
 * with the Linux kernel as the client (its ISN is its own: numbers relative to it).
 */

import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack } from "../../mod.ts";
import type { Link } from "../../src/link/link.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";

interface Row {
  dir: "in" | "out";
  flags: number;
  seq: number;
  ack: number;
  len: number;
}

/** Parse an Ethernet/IPv4/TCP frame into a row (null for anything else). */
function parse(f: Uint8Array, dir: "in" | "out"): Row | null {
  if (f.length < 54 || f[12] !== 8 || f[13] !== 0 || f[23] !== 6) return null;
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const ihl = (f[14]! & 15) * 4, t = 14 + ihl;
  const doff = (f[t + 12]! >> 4) * 4;
  return {
    dir,
    flags: f[t + 13]! & 0x3f,
    seq: dv.getUint32(t + 4),
    ack: dv.getUint32(t + 8),
    len: dv.getUint16(16) - ihl - doff,
  };
}

/** A link that records the TCP segments it sends and receives. */
function recording(inner: Link, rows: Row[]): Link {
  return {
    name: inner.name,
    mtu: inner.mtu,
    receive(buf, meta, max) {
      const n = inner.receive(buf, meta, max);
      for (let i = 0; i < n; i++) {
        const r = parse(buf.subarray(meta[2 * i]!, meta[2 * i]! + meta[2 * i + 1]!), "in");
        if (r) rows.push(r);
      }
      return n;
    },
    send(buf, off, len) {
      const r = parse(buf.subarray(off, off + len), "out");
      if (r) rows.push(r);
      inner.send(buf, off, len);
    },
    wait: (t) => inner.wait(t),
    close: () => inner.close(),
  };
}

const FLAG_NAMES: [number, string][] = [[2, "SYN"], [1, "FIN"], [4, "RST"], [8, "PSH"], [
  16,
  "ACK",
]];
function flagNames(f: number): string {
  return FLAG_NAMES.filter(([b]) => f & b).map(([, n]) => n).join("+");
}

/** Rows as "<who> FLAGS SEQ s ACK a LEN n", numbers relative to the two ISNs (+100, +2000). */
function describe(rows: Row[], client: "in" | "out", cIsn: number, sIsn: number): string[] {
  return rows.map((r) => {
    const fromClient = r.dir === client;
    const seq = fromClient ? r.seq - cIsn + 100 : r.seq - sIsn + 2000;
    const ack = r.flags & 16 ? String(fromClient ? r.ack - sIsn + 2000 : r.ack - cIsn + 100) : "-";
    return `${fromClient ? "client" : "server"} ${flagNames(r.flags)} SEQ ${
      seq >>> 0
    } ACK ${ack} LEN ${r.len}`;
  });
}

const SEED = [
  "client SYN SEQ 100 ACK - LEN 0",
  "server SYN+ACK SEQ 2000 ACK 101 LEN 0",
  "client ACK SEQ 101 ACK 2001 LEN 0",
  "client PSH+ACK SEQ 101 ACK 2001 LEN 100",
  "server PSH+ACK SEQ 2001 ACK 201 LEN 500",
  "client ACK SEQ 201 ACK 2501 LEN 0",
];

/** The server of the seed: read the whole request, then answer a moment later. */
async function serveOnce(listener: Deno.Listener): Promise<void> {
  const conn = await listener.accept();
  const buf = new Uint8Array(1000);
  let got = 0;
  while (got < 100) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) throw new Error("request cut short");
    got += n;
  }
  await new Promise((r) => setTimeout(r, 5)); // the application takes its time (< 40 ms)
  await conn.write(new Uint8Array(500).fill(9));
  const rest = await conn.read(buf); // the client closes
  assert.equal(rest, null);
  conn.close();
}

for (const engine of ["js", "wasm"] as const) {
  Deno.test(`seed conversation through the API over the memory link (${engine})`, async () => {
    const rows: Row[] = [];
    const [a, b] = createMemoryLinkPair();
    const client = await createStack({
      link: a,
      address: "10.9.0.1/24",
      engine,
      tcp: { isn: () => 100 },
    });
    const server = await createStack({
      link: recording(b, rows),
      address: "10.9.0.2/24",
      engine,
      tcp: { isn: () => 2000 },
    });
    const listener = server.listen({ port: 80 });
    const serving = serveOnce(listener as unknown as Deno.Listener);
    const conn = await client.connect({ hostname: "10.9.0.2", port: 80 });
    await conn.write(new Uint8Array(100).fill(7));
    const buf = new Uint8Array(1000);
    let got = 0;
    while (got < 500) got += (await conn.read(buf)) ?? 0;
    await new Promise((r) => setTimeout(r, 80)); // the client's delayed ACK (40 ms)
    const six = describe(rows.slice(0, 6), "in", 100, 2000);
    conn.close();
    await serving;
    listener.close();
    await client.close();
    await server.close();
    assert.deepEqual(six, SEED);
  });
}

const PY_CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"q" * 100)
got = b""
while len(got) < 500:
    d = s.recv(4096)
    if not d: break
    got += d
import time; time.sleep(0.1)
s.close()
print(len(got))
`;

Deno.test({
  name: "seed conversation through the API over TAP, the kernel as the client",
  ignore: tapIgnore(),
  sanitizeResources: false, // the TAP fd is closed by withTapNamespace after the test body
  async fn() {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ ns, link }) => {
      const rows: Row[] = [];
      const stack = await createStack({
        link: recording(link, rows),
        address: "10.7.0.2/24",
        tcp: { isn: () => 2000 },
      });
      try {
        const listener = stack.listen({ port: 80 });
        const serving = serveOnce(listener as unknown as Deno.Listener);
        const r = await ns.run(["python3", "-c", PY_CLIENT, "10.7.0.2"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), "500");
        await serving;
        listener.close();
        const syn = rows.find((x) => x.dir === "in" && x.flags === 2);
        assert.ok(syn, "the kernel's SYN");
        const conv = rows.slice(rows.indexOf(syn), rows.indexOf(syn) + 6);
        const six = describe(conv, "in", syn.seq, 2000);
        // The kernel's own choices (its window, its delayed ACK) do not change the numbers.
        assert.deepEqual(six, SEED, six.join("\n"));
      } finally {
        await stack.close();
      }
    });
  },
});
