/**
 * Segments the receiver does not take as new (RFC 9293 3.10.7.4 and its extensions): ACKs to
 * out-of-window segments, rate limited as Linux; challenge ACKs for in-window RST and SYN (RFC
 * 5961); PAWS (RFC 7323 5); D-SACK reports of duplicate data (RFC 2883).
 */

import assert from "node:assert/strict";
import { F_ACK, F_RST, F_SYN, RX_OFF } from "../../src/wire/layout.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

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

Deno.test("RFC 5961: in-window RST and SYN get challenge ACKs; exact RST resets", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [_c, s] = openPair(p);
  const fromA = p.captured.filter((r) => r.from === "a").pop()!;
  const raw = new TcpSegment();
  raw.srcIp = fromA.srcIp;
  raw.dstIp = fromA.dstIp;
  raw.srcPort = fromA.srcPort;
  raw.dstPort = fromA.dstPort;
  raw.ack = fromA.ack;
  p.captured.length = 0;
  raw.seq = (fromA.seq + 100) >>> 0;
  raw.flags = F_RST;
  p.b.input(raw, p.now);
  assert.equal(s.state, "ESTABLISHED");
  assert.equal(p.captured.length, 1);
  assert.equal(p.captured[0]!.flags, F_ACK);
  raw.flags = F_SYN;
  raw.seq = (fromA.seq + 5) >>> 0;
  p.b.input(raw, p.now);
  assert.equal(s.state, "ESTABLISHED");
  assert.equal(p.captured.length, 2);
  assert.equal(p.b.stats()["tcp-challenge-ack"], 2);
  raw.flags = F_RST;
  raw.seq = 12345;
  p.b.input(raw, p.now); // outside the window: dropped silently
  assert.equal(p.captured.length, 2);
  raw.seq = (fromA.seq + 5) >>> 0;
  for (let i = 0; i < 1100; i++) {
    raw.flags = F_SYN;
    p.b.input(raw, p.now);
  }
  assert.ok((p.b.stats()["tcp-challenge-ack-limited"] ?? 0) > 0, JSON.stringify(p.b.stats()));
  raw.flags = F_RST;
  raw.seq = fromA.seq;
  p.b.input(raw, p.now);
  assert.equal(s.state, "CLOSED");
  assert.equal(s.error?.code, "reset");
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
