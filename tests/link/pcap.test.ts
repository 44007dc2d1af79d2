import assert from "node:assert/strict";
import { withFaults } from "../../src/link/fault.ts";
import { createMemoryLinkPair } from "../../src/link/memory.ts";
import { withPcap } from "../../src/link/pcap.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { createStack } from "../../mod.ts";
import { pattern } from "../support/interop_env.ts";
import { exchange, py, pyResult } from "../support/kernel_peer.ts";

const MAC_A = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B = [0x02, 0, 0, 0, 0, 0x0b];
const IP_A = [10, 7, 0, 2];
const IP_B = [10, 7, 0, 1];

function haveTshark(): boolean {
  try {
    return new Deno.Command("tshark", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const NO_TSHARK = !haveTshark();
if (NO_TSHARK) {
  console.warn("skipping tshark read-back tests: tshark is not installed (deno task setup)");
}

/** RFC 1071 checksum of `bytes` plus a 32-bit partial sum. */
function cksum(bytes: number[], initial = 0): number {
  let s = initial;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function ipv4(proto: number, l4: number[]): number[] {
  const total = 20 + l4.length;
  const h = [
    0x45,
    0,
    total >> 8,
    total & 255,
    0x12,
    0x34,
    0x40,
    0,
    64,
    proto,
    0,
    0,
    ...IP_A,
    ...IP_B,
  ];
  const c = cksum(h);
  h[10] = c >> 8;
  h[11] = c & 255;
  return [...MAC_B, ...MAC_A, 0x08, 0x00, ...h, ...l4];
}

/** L4 segment with its pseudo-header checksum (RFC 768, RFC 9293 3.1) at `at`. */
function withPseudo(proto: number, l4: number[], at: number): number[] {
  const pseudo = [...IP_A, ...IP_B, 0, proto, l4.length >> 8, l4.length & 255];
  let c = cksum([...pseudo, ...l4]);
  if (proto === 17 && c === 0) c = 0xffff;
  l4[at] = c >> 8;
  l4[at + 1] = c & 255;
  return l4;
}

function frames(): Uint8Array[] {
  const arp = [
    ...[255, 255, 255, 255, 255, 255],
    ...MAC_A,
    0x08,
    0x06,
    0,
    1,
    8,
    0,
    6,
    4,
    0,
    1,
    ...MAC_A,
    ...IP_A,
    0,
    0,
    0,
    0,
    0,
    0,
    ...IP_B,
  ];
  const icmp = [8, 0, 0, 0, 0x11, 0x22, 0, 1, ...Array.from({ length: 32 }, (_, i) => i)];
  const ic = cksum(icmp);
  icmp[2] = ic >> 8;
  icmp[3] = ic & 255;
  const data = [...new TextEncoder().encode("hello pcap")];
  const udp = withPseudo(17, [0x30, 0x39, 0x00, 0x09, 0, 8 + data.length, 0, 0, ...data], 6);
  // SYN SEQ 100 with MSS 1460, the seed note's first handshake segment.
  const tcp = withPseudo(6, [
    0xc0,
    0x00,
    0x00,
    0x50,
    0,
    0,
    0,
    100,
    0,
    0,
    0,
    0,
    0x60,
    0x02,
    0xff,
    0xff,
    0,
    0,
    0,
    0,
    2,
    4,
    0x05,
    0xb4,
  ], 16);
  return [arp, ipv4(1, icmp), ipv4(17, udp), ipv4(6, tcp)].map((f) => new Uint8Array(f));
}

interface Decoded {
  protocols: string[];
  bad: string[];
}

/** Decode `path` with tshark, all checksum validation on; returns protocols and problems. */
async function tsharkRead(path: string): Promise<Decoded> {
  const args = [
    "-r",
    path,
    "-n",
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-T",
    "fields",
    "-E",
    "separator=|",
    "-e",
    "frame.protocols",
    "-e",
    "_ws.malformed",
    "-e",
    "_ws.expert.severity",
    "-e",
    "ip.checksum.status",
    "-e",
    "icmp.checksum.status",
    "-e",
    "udp.checksum.status",
    "-e",
    "tcp.checksum.status",
  ];
  const out = await new Deno.Command("tshark", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const protocols: string[] = [];
  const bad: string[] = [];
  for (const line of text.trim().split("\n")) {
    const [proto = "", malformed, severity = "", ...statuses] = line.split("|");
    protocols.push(proto);
    // Expert severities: 0x00400000 warning, 0x00800000 error; checksum status 0 = bad.
    const worst = Math.max(0, ...severity.split(",").filter(Boolean).map(Number));
    // With validation on, every present status must be 1 (good): 0 is bad, 2 unverified.
    const badSum = statuses.some((s) => s.split(",").some((v) => v !== "" && v !== "1"));
    if (malformed || worst >= 0x00800000 || badSum) bad.push(line);
  }
  return { protocols, bad };
}

Deno.test({
  name: "pcap: hand-built frames in both directions read back cleanly with tshark",
  ignore: NO_TSHARK,
  fn: async () => {
    for (const nanoseconds of [false, true]) {
      const path = await Deno.makeTempFile({ suffix: ".pcap" });
      try {
        const [a, b] = createMemoryLinkPair();
        let now = 1_700_000_000_000.25;
        const traced = withPcap(a, path, { nanoseconds, clock: () => (now += 1.5) });
        for (const f of frames()) traced.send(f, 0, f.length);
        const f0 = frames()[3]!;
        b.send(f0, 0, f0.length);
        const n = traced.receive(new Uint8Array(8192), new Int32Array(8), 4);
        assert.equal(n, 1);
        await traced.wait(0); // flushes
        traced.close();
        b.close();
        const { protocols, bad } = await tsharkRead(path);
        assert.deepEqual(bad, []);
        assert.deepEqual(protocols, [
          "eth:ethertype:arp",
          "eth:ethertype:ip:icmp:data",
          "eth:ethertype:ip:udp:data",
          "eth:ethertype:ip:tcp",
          "eth:ethertype:ip:tcp",
        ]);
        const ts = await new Deno.Command("tshark", {
          args: ["-r", path, "-T", "fields", "-e", "frame.time_epoch"],
          stdout: "piped",
          stderr: "null",
        }).output();
        const first = new TextDecoder().decode(ts.stdout).split("\n")[0]!;
        assert.equal(first, "1700000000.001750000");
      } finally {
        await Deno.remove(path);
      }
    }
  },
});

Deno.test({
  name: "pcap: a capture of real kernel traffic over TAP has no malformed frame or bad checksum",
  ignore: NO_TSHARK || tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const path = await Deno.makeTempFile({ suffix: ".pcap" });
    try {
      // The plain path: frames as the kernel sends them on the wire (offload below).
      const opts = { kernelAddr: "10.7.0.1/24", offload: false };
      await withTapNamespace(opts, async ({ ns, link }) => {
        const traced = withPcap(link, path);
        const neigh = await ns.run([
          "ip",
          "neigh",
          "add",
          "10.7.0.2",
          "lladdr",
          "02:00:00:00:00:0a",
          "dev",
          "tap0",
        ]);
        assert.equal(neigh.code, 0, neigh.stderr);
        const arp = frames()[0]!;
        traced.send(arp, 0, arp.length);
        const ping = ns.run(["ping", "-n", "-q", "-c", "5", "-i", "0.01", "-W", "0.2", "10.7.0.2"]);
        // A UDP datagram and TCP SYNs from the kernel: the TAP hands over frames whose
        // checksums the kernel filled in (no offload without IFF_VNET_HDR).
        const udp = ns.run(["bash", "-c", "echo hello > /dev/udp/10.7.0.2/9"]);
        const tcp = ns.run(["timeout", "0.3", "bash", "-c", "exec 3<>/dev/tcp/10.7.0.2/80"]);
        const buf = new Uint8Array(1 << 16);
        const meta = new Int32Array(128);
        let got = 0;
        const deadline = performance.now() + 3000;
        while (got < 8 && performance.now() < deadline) {
          await traced.wait(200);
          got += traced.receive(buf, meta, 64);
        }
        await Promise.all([ping, udp, tcp]);
        traced.flush();
        assert.ok(got >= 8, `received ${got} frames, expected ARP, 5 pings, UDP and a SYN`);
      });
      const { protocols, bad } = await tsharkRead(path);
      assert.deepEqual(bad, []);
      assert.ok(protocols.filter((p) => p.includes(":icmp")).length >= 5);
      assert.ok(protocols.filter((p) => p.endsWith(":arp")).length >= 2);
      assert.ok(protocols.some((p) => p.includes(":udp")), protocols.join(" "));
      assert.ok(protocols.some((p) => p.endsWith(":tcp")), protocols.join(" "));
    } finally {
      await Deno.remove(path);
    }
  },
});

Deno.test("pcap: forwards the wrapped fault injector's nextDueAt", () => {
  const path = Deno.makeTempFileSync({ suffix: ".pcap" });
  try {
    let now = 0;
    const [a, b] = createMemoryLinkPair();
    const traced = withPcap(withFaults(b, { seed: 1, delayMs: 7, clock: () => now }), path);
    assert.equal(traced.nextDueAt(), Infinity);
    a.send(frames()[0]!, 0, 42);
    assert.equal(traced.receive(new Uint8Array(4096), new Int32Array(4), 2), 0);
    assert.equal(traced.nextDueAt(), 7);
    now = 7;
    assert.equal(traced.receive(new Uint8Array(4096), new Int32Array(4), 2), 1);
    a.close();
    traced.close();
    assert.equal(Deno.statSync(path).size, 24 + 16 + 42);
    const plain = withPcap(a, path);
    assert.equal(plain.nextDueAt(), Infinity);
    plain.close();
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test({
  name: "pcap: under offload (the default), a bulk capture is valid for tshark, large frames whole",
  ignore: NO_TSHARK || tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const path = await Deno.makeTempFile({ suffix: ".pcap" });
    const size = 4 * 1048576;
    try {
      await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ ns, link }) => {
        assert.equal(link.offload, true, "offload is the default");
        const stack = await createStack({ link, address: "10.7.0.2/24", pcap: path });
        try {
          const listener = stack.listen({ port: 5001 });
          const peer = py(ns, ["connect", "10.7.0.2", "5001", String(size), "21", "both"]);
          const conn = await listener.accept();
          const ours = await exchange(conn, pattern(size, 22));
          conn.close();
          listener.close();
          const [sentSha] = await pyResult(peer);
          assert.equal(ours.recvSha, sentSha);
          assert.ok(link.stats.rxGsoFrames > 0, "no large frame arrived");
        } finally {
          await stack.close();
        }
      });
      const { protocols, bad } = await tsharkRead(path);
      assert.deepEqual(bad.slice(0, 5), [], `${bad.length} bad records`);
      assert.ok(protocols.filter((p) => p.includes(":tcp")).length > 100);
      const sizes = await new Deno.Command("tshark", {
        args: ["-r", path, "-T", "fields", "-e", "frame.len"],
        stdout: "piped",
        stderr: "null",
      }).output();
      const lens = new TextDecoder().decode(sizes.stdout).trim().split("\n").map(Number);
      assert.ok(Math.max(...lens) > 1514, "large received segments are recorded whole");
    } finally {
      await Deno.remove(path);
    }
  },
});
