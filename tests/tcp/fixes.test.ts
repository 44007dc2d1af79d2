/**
 * Regression tests of fixed TCP engine bugs: segment sizing with options (Linux
 * tcp_current_mss), receiver silly-window avoidance (RFC 9293 3.8.6.2.2), no RST from
 * TIME-WAIT at shutdown (RFC 9293 3.10.5), and the rate limit on ACKs to invalid segments.
 */

import assert from "node:assert/strict";
import { F_ACK, F_RST, F_SYN, RX_OFF } from "../../src/wire/layout.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { type Captured, IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair, Stream } from "../support/tcp_transfer.ts";

/** Length of a non-SYN segment's TCP options as the encoder lays them out. */
function optionBytes(r: Captured): number {
  const blocks = r.hasTs && r.sackCount > 3 ? 3 : r.sackCount;
  return (r.hasTs ? 12 : 0) + (blocks > 0 ? 4 + 8 * blocks : 0);
}

for (const engine of ["js", "wasm"] as const) {
  Deno.test(`segment size (${engine}): IP length within the MTU with timestamps and SACK`, () => {
    for (const seed of [1, 2, 3]) {
      const p = new TcpPair({ seed, engine, capture: true, faults: { loss: 0.05, delayMs: 3 } });
      const [c, s] = openPair(p);
      const up = new Stream(c, s, 300_000, 1);
      const down = new Stream(s, c, 300_000, 2);
      const ok = p.run(() => up.done && down.done, 600_000, () => {
        up.pump();
        down.pump();
      });
      assert.ok(ok && up.bad < 0 && down.bad < 0, `transfer failed (seed ${seed})`);
      let withSack = 0, full = 0;
      for (const r of p.captured) {
        if (r.flags & F_SYN) continue;
        const ipLen = 20 + 20 + optionBytes(r) + r.len;
        assert.ok(ipLen <= 1500, `${ipLen}-byte IP datagram (seed ${seed}, sack ${r.sackCount})`);
        if (r.len > 0 && r.sackCount > 0) withSack++;
        if (ipLen === 1500) full++;
      }
      assert.ok(withSack > 0, `no data segment carried SACK blocks (seed ${seed})`);
      assert.ok(full > 0, `no segment filled the MTU (seed ${seed})`);
    }
  });
}

Deno.test("segment size: a smaller path MTU bounds data segments with their options", () => {
  const p = new TcpPair({ capture: true, mtu: 576, faults: { loss: 0.05, delayMs: 3 } });
  const [c, s] = openPair(p);
  const up = new Stream(c, s, 100_000, 3);
  const down = new Stream(s, c, 100_000, 4);
  assert.ok(p.run(() => up.done && down.done, 600_000, () => (up.pump(), down.pump())));
  const sizes = p.captured.filter((r) => !(r.flags & F_SYN)).map((r) =>
    40 + optionBytes(r) + r.len
  );
  assert.ok(Math.max(...sizes) <= 576, `largest datagram ${Math.max(...sizes)} bytes`);
});

Deno.test("closeAll(reset): no RST from TIME-WAIT, the connection is released silently", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  c.close();
  p.advance(20);
  s.close();
  p.advance(20);
  assert.equal(c.state, "TIME-WAIT");
  assert.equal(s.state, "CLOSED");
  const [c2] = openPair(p, 81); // a live one is still reset
  p.captured.length = 0;
  const rstBefore = p.a.stats()["tcp-rst-sent"] ?? 0;
  p.a.closeAll("reset", p.now);
  const rsts = p.captured.filter((r) => r.from === "a" && r.flags & F_RST);
  assert.equal(rsts.length, 1, "only the established connection sends RST");
  assert.equal(rsts[0]!.srcPort, c2.localPort);
  assert.equal((p.a.stats()["tcp-rst-sent"] ?? 0) - rstBefore, 1);
  assert.equal(c.state, "CLOSED");
  assert.equal(c.error, null);
  assert.equal(c2.error?.code, "aborted");
  assert.equal(p.a.connectionCount, 0);
});

Deno.test("abort in LAST-ACK or CLOSING sends no RST (RFC 9293 3.10.5)", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  c.close();
  p.advance(20);
  p.blackhole.b = true; // s's FIN is never acknowledged: s stays in LAST-ACK
  s.close();
  p.advance(5);
  assert.equal(s.state, "LAST-ACK");
  p.captured.length = 0;
  s.abort();
  p.advance(5);
  assert.equal(p.captured.filter((r) => r.flags & F_RST).length, 0);
  assert.equal(s.state, "CLOSED");
});

/** A segment from a to b on the pair's tuple. */
function seg(c: { localPort: number; remotePort: number }, flags: number, seq: number): TcpSegment {
  const x = new TcpSegment();
  x.srcIp = IP_A;
  x.dstIp = IP_B;
  x.srcPort = c.localPort;
  x.dstPort = c.remotePort;
  x.flags = flags;
  x.seq = seq >>> 0;
  x.wnd = 65535;
  return x;
}

Deno.test("ACKs to out-of-window segments: one per 500 ms per connection (Linux)", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  p.advance(100);
  const peer = { localPort: c.localPort, remotePort: c.remotePort };
  const bad = seg(peer, F_ACK, (c.info().bytesOut + 0x40000000) >>> 0);
  bad.ack = 0;
  const acksFromB = () => p.captured.filter((r) => r.from === "b" && r.flags === F_ACK).length;
  p.captured.length = 0;
  for (let i = 0; i < 100; i++) p.b.input(bad, p.now);
  assert.equal(acksFromB(), 1, "a burst of 100 out-of-window ACKs draws one ACK");
  p.now += 499;
  p.b.input(bad, p.now);
  assert.equal(acksFromB(), 1);
  p.now += 1;
  p.b.input(bad, p.now);
  assert.equal(acksFromB(), 2, "the next one after 500 ms is answered");
  assert.ok((p.b.stats()["tcp-ack-rate-limited"] ?? 0) >= 100);
  assert.equal(s.state, "ESTABLISHED");
});

/** Stream `total` bytes b -> a to a reader taking `chunk` bytes every `everyMs`. */
function slowRead(p: TcpPair, total: number, chunk: number, everyMs: number): number {
  const [c, s] = openPair(p);
  const data = new Uint8Array(total).map((_, i) => i * 7);
  const buf = new Uint8Array(chunk);
  let w = 0, r = 0;
  for (let i = 0; i < 100_000 && r < total; i++) {
    if (w < total) w += s.write(data.subarray(w, Math.min(total, w + 30_000)));
    r += c.read(buf);
    p.advance(everyMs);
  }
  assert.equal(r, total, `the reader got ${r} of ${total} bytes (seed ${p.seed})`);
  return c.info().rcvWscale;
}

Deno.test("receiver SWS avoidance: no window smaller than a segment is offered (RFC 1122 4.2.3.3)", () => {
  const cases = [
    { rcvBuf: 16384, timestamps: true, chunk: 100, every: 5 },
    { rcvBuf: 16384, timestamps: true, chunk: 1000, every: 5 },
    { rcvBuf: 16384, timestamps: false, chunk: 700, every: 3 },
    { rcvBuf: 16384, timestamps: true, chunk: 3000, every: 2 },
    { rcvBuf: 262144, timestamps: true, chunk: 7000, every: 2 },
    { rcvBuf: 262144, timestamps: true, chunk: 100, every: 1 },
  ];
  for (const k of cases) {
    const p = new TcpPair({
      capture: true,
      faults: { delayMs: 2 },
      tcpA: { rcvBuf: k.rcvBuf, timestamps: k.timestamps },
    });
    const seg = k.timestamps ? 1448 : 1460;
    const scale = slowRead(p, seg * 60, k.chunk, k.every); // whole segments: no short tail
    const windows = p.captured.filter((r) => r.from === "a" && !(r.flags & F_SYN))
      .map((r) => r.wnd << scale);
    const small = windows.filter((w) => w > 0 && w < seg);
    assert.deepEqual(small, [], `sub-segment windows offered: ${JSON.stringify(k)}`);
    if (k.rcvBuf === 16384 && k.chunk === 100) {
      assert.ok(windows.includes(0), "the slow reader closes the window");
    }
  }
});

Deno.test("receiver SWS avoidance: reading frees room and sends a window update", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 }, tcpA: { rcvBuf: 16384 } });
  const [c, s] = openPair(p);
  s.write(new Uint8Array(40_000));
  p.advance(50);
  assert.equal(c.info().rcvWnd, 0);
  // 16384 = 11 segments + 456 bytes: 456 bytes are free already.
  p.captured.length = 0;
  c.read(new Uint8Array(500)); // 956 free: less than a segment, no update
  p.advance(1);
  assert.equal(p.captured.filter((r) => r.from === "a").length, 0);
  c.read(new Uint8Array(1000)); // 1956 free: the edge moves by one whole segment
  p.advance(1);
  const upd = p.captured.find((r) => r.from === "a");
  assert.equal(upd?.wnd, 1448);
});

Deno.test("connect on a TIME-WAIT tuple: reused after a second with timestamps (Linux tcp_tw_reuse)", () => {
  for (const timestamps of [true, false]) {
    const p = new TcpPair({ capture: true, faults: { delayMs: 2 }, tcpA: { timestamps } });
    const l = p.b.listen(0, 80);
    const open = () => {
      const c = p.a.connect(IP_B, 80, p.now, { localPort: 40000 });
      let s: ReturnType<typeof l.accept> = null;
      assert.ok(p.run(() => c.state === "ESTABLISHED" && (s ??= l.accept()) !== null, 1000));
      return [c, s!] as const;
    };
    const [c, s] = open();
    const iss1 = p.captured.find((r) => r.from === "a" && r.flags & F_SYN)!.seq;
    c.write(new Uint8Array(5000));
    c.close();
    p.advance(20);
    s.read(new Uint8Array(5000));
    s.close();
    p.advance(20);
    assert.equal(c.state, "TIME-WAIT");
    const busy = () => p.a.connect(IP_B, 80, p.now, { localPort: 40000 });
    assert.throws(busy, { code: "addr-in-use" } as unknown as Error); // the same second
    p.advance(1000);
    if (!timestamps) {
      assert.throws(busy, { code: "addr-in-use" } as unknown as Error); // no PAWS: never
      continue;
    }
    p.captured.length = 0;
    const [c2, s2] = open();
    assert.equal(c.state, "CLOSED");
    assert.equal(c.error, null);
    assert.equal(p.a.stats()["tcp-time-wait-reuse"], 1);
    // The new ISS lies beyond everything the old connection sent (SYN + 5000 + FIN).
    const iss2 = p.captured.find((r) => r.from === "a" && r.flags & F_SYN)!.seq;
    assert.ok(((iss2 - iss1) >>> 0) >= 5002 + 65535, `ISS ${iss1} then ${iss2}`);
    c2.write(new Uint8Array(100).fill(9));
    p.advance(50);
    assert.equal(s2.readable, 100);
  }
});

Deno.test("SYN flood: a half-open queue under pressure expires old entries sooner (Linux)", () => {
  const p = new TcpPair({ tcpB: { synBacklog: 16, syncookies: false } });
  p.b.listen(0, 80);
  let port = 20000;
  const syn = () => {
    const x = seg({ localPort: port++, remotePort: 80 }, F_SYN, port * 7919);
    x.srcIp = 0x0a000063; // spoofed: the SYN+ACKs go nowhere
    p.b.input(x, p.now);
  };
  // 10 SYNs a second for 60 s. Without pruning the first 16 would hold the queue for 127 s
  // (1 + 2 + ... + 64, synRetries 6) and every later SYN would be dropped.
  for (let i = 0; i < 600; i++) {
    syn();
    p.advance(100);
  }
  const created = 600 - (p.b.stats()["tcp-syn-backlog-full"] ?? 0);
  assert.ok(created >= 60, `only ${created} half-open entries in 60 s`);
  assert.ok(p.b.connectionCount <= 16);
  // A queue at most half full keeps the full retry count (the pressure is gone).
  p.advance(200_000);
  assert.equal(p.b.connectionCount, 0);
  for (let i = 0; i < 8; i++) syn();
  p.advance(100_000);
  assert.equal(p.b.connectionCount, 8, "entries of a half-full queue expired early");
  p.advance(30_000);
  assert.equal(p.b.connectionCount, 0);
});

Deno.test("PAWS: an old TSval is dropped, but accepted after 24 days idle (RFC 7323 5.5)", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(1000));
  p.advance(100, () => s.read(new Uint8Array(2000)));
  const last = p.captured.filter((r) => r.from === "a").at(-1)!;
  const rcvNxt = (last.seq + last.len) >>> 0;
  const inject = (tsVal: number) => {
    const x = seg(c, F_ACK, rcvNxt);
    x.ack = p.captured.filter((r) => r.from === "b").at(-1)!.seq;
    x.hasTs = true;
    x.tsVal = tsVal >>> 0;
    x.payloadOff = RX_OFF;
    x.payloadLen = 100;
    p.b.input(x, p.now);
  };
  inject(last.tsVal - 1000);
  assert.equal(s.readable, 0);
  assert.equal(s.info().drops["tcp-paws"], 1);
  p.now += 23 * 86_400_000;
  inject(last.tsVal - 1000);
  assert.equal(s.readable, 0, "accepted before 24 days");
  p.now += 2 * 86_400_000;
  inject(last.tsVal - 1000);
  assert.equal(s.readable, 100, `drops ${JSON.stringify(s.info().drops)}`);
});

Deno.test("D-SACK: duplicate data is reported once in the first SACK block (RFC 2883)", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(2000));
  p.advance(100, () => s.read(new Uint8Array(4000)));
  const last = p.captured.filter((r) => r.from === "a").at(-1)!;
  const rcvNxt = (last.seq + last.len) >>> 0;
  const ackOf = p.captured.filter((r) => r.from === "b").at(-1)!.seq;
  const inject = (seq: number, len: number) => {
    const x = seg(c, F_ACK, seq);
    x.ack = ackOf;
    x.hasTs = true;
    x.tsVal = p.now >>> 0;
    x.payloadOff = RX_OFF;
    x.payloadLen = len;
    p.captured.length = 0;
    p.b.input(x, p.now);
    p.b.poll(p.now);
    return p.captured.filter((r) => r.from === "b");
  };
  // Wholly old: an immediate ACK whose first block is the duplicate.
  let acks = inject(rcvNxt - 500, 500);
  assert.equal(acks.length, 1);
  assert.deepEqual([acks[0]!.ack, acks[0]!.sackCount], [rcvNxt, 1]);
  assert.deepEqual(acks[0]!.sack.slice(0, 2), [(rcvNxt - 500) >>> 0, rcvNxt]);
  // Partly old: the old part is reported, the new part taken.
  acks = inject(rcvNxt - 100, 300);
  assert.equal(acks.length, 1);
  assert.equal(acks[0]!.ack, (rcvNxt + 200) >>> 0);
  assert.deepEqual(acks[0]!.sack.slice(0, 2), [(rcvNxt - 100) >>> 0, rcvNxt]);
  assert.equal(s.readable, 200);
  // Reported once: the next ACK carries no D-SACK block.
  acks = inject((rcvNxt + 200) >>> 0, 100);
  p.advance(100);
  assert.ok(p.captured.filter((r) => r.from === "b").every((r) => r.sackCount === 0));
  assert.equal(p.sackViolations, 0);
});
