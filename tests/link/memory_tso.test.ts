/**
 * TCP segmentation offload over the memory link: TCP builds segments larger than the MTU when
 * the link declares `maxSendFrame`, the peer takes them whole, and sequence space, SACK and
 * retransmission stay per-byte exact (retransmissions cut at the MSS), with and without loss.
 */

import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack, type Link } from "../../mod.ts";
import { withFaults } from "../../testing.ts";

const MSS = 1448; // MTU 1500 less IPv4, TCP and timestamps

/** What a recorder saw of the TCP data frames sent through it. */
interface Seen {
  frames: number;
  largest: number;
  /** Payload lengths of data segments that start below the highest sequence sent before. */
  resent: number[];
  /** Large data frames dropped on purpose. */
  dropped: number;
}

/**
 * A decorator that forwards every capability of `inner` (so TCP still sees `maxSendFrame`),
 * records the TCP data segments sent, and drops every `dropEvery`-th large first transmission
 * (0: none): a lost large segment the receiver would have taken whole.
 */
function recorder(inner: Link, dropEvery = 0): { link: Link; seen: Seen } {
  const seen: Seen = { frames: 0, largest: 0, resent: [], dropped: 0 };
  let high = -1;
  let large = 0;
  const link: Link = {
    name: inner.name,
    mtu: inner.mtu,
    maxFrame: inner.maxFrame,
    maxSendFrame: inner.maxSendFrame,
    receive: (b, m, n) => inner.receive(b, m, n),
    wait: (t) => inner.wait(t),
    close: () => inner.close(),
    send(buf, off, len) {
      const ihl = (buf[off + 14]! & 15) * 4;
      if (buf[off + 12] === 0x08 && buf[off + 13] === 0 && buf[off + 23] === 6) {
        const t = off + 14 + ihl;
        const total = (buf[off + 16]! << 8) | buf[off + 17]!;
        const payload = total - ihl - (buf[t + 12]! >> 4) * 4;
        if (payload > 0) {
          seen.frames++;
          if (len > seen.largest) seen.largest = len;
          const seq = new DataView(buf.buffer, buf.byteOffset + t + 4, 4).getUint32(0);
          const end = (seq + payload) >>> 0;
          if (high >= 0 && ((seq - high) | 0) < 0) seen.resent.push(payload);
          else if (payload > MSS && dropEvery > 0 && ++large % dropEvery === 0) {
            seen.dropped++;
            high = end;
            return;
          }
          if (high < 0 || ((end - high) | 0) > 0) high = end;
        }
      }
      inner.send(buf, off, len);
    },
  };
  return { link, seen };
}

async function sha256(b: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b.slice()));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Move `total` patterned bytes from a stack on `la` to one on `lb`; returns what arrived. */
async function transfer(
  la: Link,
  lb: Link,
  total: number,
): Promise<{ data: Uint8Array; got: Uint8Array; stats: Record<string, number> }> {
  const a = await createStack({ link: la, address: "10.9.0.1/24" });
  const b = await createStack({ link: lb, address: "10.9.0.2/24" });
  try {
    const listener = b.listen({ port: 7000 });
    const accepted = listener.accept();
    const client = await a.connect({ hostname: "10.9.0.2", port: 7000 });
    const server = await accepted;
    listener.close();
    const data = new Uint8Array(total);
    for (let i = 0; i < total; i++) data[i] = (i * 131 + (i >>> 9) * 7) & 0xff;
    const writer = (async () => {
      for (let off = 0; off < total;) off += await client.write(data.subarray(off, off + 262144));
      client.close();
    })();
    const got = new Uint8Array(total + 1);
    let n = 0;
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline) {
      const r = await server.read(got.subarray(n));
      if (r === null) break;
      n += r;
    }
    await writer;
    server.close();
    return { data, got: got.subarray(0, n), stats: a.stats() };
  } finally {
    await a.close();
    await b.close();
  }
}

Deno.test("memory tso: 16 MiB go in segments of up to 64 KiB, SHA-256 exact", async () => {
  const [la, lb] = createMemoryLinkPair();
  assert.equal(la.maxSendFrame, 14 + 65535);
  const { link, seen } = recorder(la);
  const { data, got } = await transfer(link, lb, 16 << 20);
  assert.equal(got.length, data.length);
  assert.equal(await sha256(got), await sha256(data));
  // Large segments were built: above one MTU-sized frame, within one IP datagram.
  assert.ok(seen.largest > 1514, `largest data frame ${seen.largest}`);
  assert.ok(seen.largest <= 14 + 65535, `largest data frame ${seen.largest}`);
  assert.ok(seen.frames < (16 << 20) / MSS / 4, `${seen.frames} data frames for 16 MiB`);
  assert.equal(lb.stats.dropped, 0);
});

Deno.test("memory tso: whole large segments lost, the rest taken whole: SHA-256 exact, resent per MSS", async () => {
  const [la, lb] = createMemoryLinkPair();
  const { link, seen } = recorder(la, 7);
  const { data, got, stats } = await transfer(link, lb, 8 << 20);
  assert.equal(got.length, data.length);
  assert.equal(await sha256(got), await sha256(data));
  assert.ok(seen.dropped > 3, `${seen.dropped} large segments dropped`);
  assert.ok(seen.resent.length > 0, "lost data was sent again");
  // RFC 6675 / Linux tcp_fragment: a retransmission is never larger than one MSS.
  assert.ok(seen.resent.every((n) => n <= MSS), `resent sizes ${seen.resent.slice(0, 20)}`);
  assert.ok((stats["tcp-retransmits"] ?? seen.resent.length) > 0);
});

Deno.test("memory tso: 2% loss on the wire (withFaults cuts the large segments), SHA-256 exact", async () => {
  const [la, lb] = createMemoryLinkPair();
  const { link, seen } = recorder(la);
  // The injector on the receiving side cuts each large segment into MTU-sized ones, then
  // drops, duplicates and reorders those: the sender's large segments meet a lossy wire.
  const faulty = withFaults(lb, {
    seed: 11,
    drop: 0.02,
    duplicate: 0.01,
    reorder: 0.01,
    reorderMs: 2,
    clock: () => performance.now(),
  });
  const { data, got } = await transfer(link, faulty, 8 << 20);
  assert.equal(got.length, data.length);
  assert.equal(await sha256(got), await sha256(data));
  assert.ok(seen.largest > 1514, `largest data frame ${seen.largest}`);
  assert.ok(seen.resent.length > 0, "lost data was sent again");
  assert.ok(seen.resent.every((n) => n <= MSS), `resent sizes ${seen.resent.slice(0, 20)}`);
  const c = faulty.counters!();
  assert.ok(c["fault-dropped"]! > 0, JSON.stringify(c));
});

Deno.test("memory tso: tso false keeps every frame within the MTU", async () => {
  const [la, lb] = createMemoryLinkPair({ tso: false });
  assert.equal(la.maxSendFrame, undefined);
  assert.equal(la.maxFrame, undefined);
  const { link, seen } = recorder(la);
  const { data, got } = await transfer(link, lb, 1 << 20);
  assert.equal(await sha256(got), await sha256(data));
  assert.equal(seen.largest, 1514);
});

Deno.test("memory tso: a large frame that is not TCP is refused", () => {
  const [a, b] = createMemoryLinkPair();
  const f = new Uint8Array(4000);
  f[12] = 0x08; // IPv4, protocol 17 (UDP)
  f[14] = 0x45;
  f[23] = 17;
  assert.throws(() => a.send(f, 0, f.length), RangeError);
  f[23] = 6;
  a.send(f, 0, f.length); // a TCP segment of 4000 bytes travels whole
  const meta = new Int32Array(2);
  assert.equal(b.receive(new Uint8Array(2048), meta, 1), 0, "no room for it in 2048 bytes");
  assert.equal(b.receive(new Uint8Array(4000), meta, 1), 1);
  assert.equal(meta[1], 4000);
  a.close();
  b.close();
});
