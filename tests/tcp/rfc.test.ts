import assert from "node:assert/strict";
import { F_ACK, F_RST, F_SYN } from "../../src/wire/layout.ts";
import { makeIsn } from "../../src/tcp/isn.ts";
import type { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";
import { segment } from "../support/segment.ts";

function seg(flags: number, seq: number, ack: number, sport = 40000, dport = 80): TcpSegment {
  return segment({
    srcIp: IP_A,
    dstIp: IP_B,
    srcPort: sport,
    dstPort: dport,
    flags,
    seq,
    ack,
    wnd: 65535,
  });
}

Deno.test("RFC 9293 3.10.7.1/2: replies to segments for no connection and to a listener", () => {
  const p = new TcpPair({ capture: true });
  p.b.listen(0, 80);
  // ACK to a listener: <SEQ=SEG.ACK><CTL=RST>
  p.b.input(seg(F_ACK, 500, 7777), p.now);
  let r = p.captured.pop()!;
  assert.deepEqual([r.flags, r.seq], [F_RST, 7777]);
  // No connection, ACK set: <SEQ=SEG.ACK><CTL=RST>
  p.b.input(seg(F_ACK, 500, 8888, 40000, 81), p.now);
  r = p.captured.pop()!;
  assert.deepEqual([r.flags, r.seq], [F_RST, 8888]);
  // No connection, no ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
  p.b.input(seg(F_SYN, 500, 0, 40000, 81), p.now);
  r = p.captured.pop()!;
  assert.deepEqual([r.flags, r.seq, r.ack], [F_RST | F_ACK, 0, 501]);
  // Never a RST in reply to a RST; a RST to a listener is ignored.
  const n = p.captured.length;
  p.b.input(seg(F_RST, 500, 0, 40000, 81), p.now);
  p.b.input(seg(F_RST, 500, 0), p.now);
  assert.equal(p.captured.length, n);
  assert.equal(p.b.stats()["tcp-rst-sent"], 3);
});

Deno.test("SYN-RECEIVED: an unacceptable ACK gets <SEQ=SEG.ACK><CTL=RST>", () => {
  const p = new TcpPair({ capture: true, tcpB: { isn: () => 2000 } });
  const l = p.b.listen(0, 80);
  p.b.input(seg(F_SYN, 100, 0), p.now);
  assert.equal((l as unknown as { halfOpen: number }).halfOpen, 1);
  p.b.input(seg(F_ACK, 101, 5000), p.now);
  const r = p.captured.pop()!;
  assert.deepEqual([r.flags, r.seq], [F_RST, 5000]);
  p.b.input(seg(F_ACK, 101, 2001), p.now);
  assert.ok(l.accept() !== null);
});

Deno.test("RFC 5961 5.2: an ACK older than SND.UNA - MAX.SND.WND gets a challenge ACK", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  const fromA = p.captured.filter((r) => r.from === "a").pop()!;
  const fromB = p.captured.filter((r) => r.from === "b").pop()!;
  const x = seg(F_ACK, fromA.seq, (fromB.seq - 10_000_000) >>> 0, fromA.srcPort, fromA.dstPort);
  x.hasTs = false;
  p.captured.length = 0;
  p.b.input(x, p.now);
  assert.equal(p.captured.length, 1);
  assert.equal(p.b.stats()["tcp-challenge-ack"], 1);
  assert.equal(s.state, "ESTABLISHED");
  // An ACK for data never sent: ACK and drop.
  x.ack = (fromB.seq + 10_000) >>> 0;
  p.b.input(x, p.now);
  assert.equal(p.b.stats()["tcp-ack-unsent"], 1);
  void c;
});

Deno.test("RFC 6528 ISN: keyed per four-tuple, advancing with a 4 µs clock; injectable", () => {
  const isn = makeIsn(new Uint32Array([9, 8, 7, 6]));
  const other = makeIsn(new Uint32Array([1, 2, 3, 4]));
  assert.notEqual(isn(1, 2, 3, 4, 0), isn(1, 2, 3, 5, 0));
  assert.notEqual(isn(1, 2, 3, 4, 0), other(1, 2, 3, 4, 0));
  assert.equal((isn(1, 2, 3, 4, 1000) - isn(1, 2, 3, 4, 0)) >>> 0, 250000);
  const p = new TcpPair({ capture: true, tcpA: { isn: () => 123456 } });
  p.b.listen(0, 80);
  p.a.connect(IP_B, 80, p.now);
  p.poll();
  assert.equal(p.captured[0]!.seq, 123456);
});

Deno.test("closeAll: graceful sends FIN on every connection, reset sends RST", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c1, s1] = openPair(p, 80);
  p.captured.length = 0;
  p.a.closeAll("graceful", p.now);
  assert.equal(c1.state, "FIN-WAIT-1");
  assert.ok(p.captured.some((r) => r.from === "a" && r.flags & 1));
  const q = new TcpPair({ faults: { delayMs: 2 } });
  const [c2, s2] = openPair(q, 80);
  q.a.closeAll("reset", q.now);
  assert.equal(c2.state, "CLOSED");
  q.advance(10);
  assert.equal(s2.error?.code, "reset");
  void s1;
});

Deno.test("unreachable(ip) fails connecting sockets; connect without a route throws", () => {
  const p = new TcpPair();
  p.blackhole.a = true;
  const c = p.a.connect(IP_B, 80, p.now);
  p.poll();
  p.a.unreachable(IP_B, p.now);
  assert.equal(c.error?.code, "unreachable");
  assert.throws(
    () => p.a.connect(0x08080808, 80, p.now),
    { code: "unreachable" } as unknown as Error,
  );
});

Deno.test("out-of-order data is ACKed at once with a SACK block; in-order data emits readable", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  const fromA = p.captured.filter((r) => r.from === "a").pop()!;
  const events: string[] = [];
  s.onEvent = (ev) => events.push(ev);
  p.captured.length = 0;
  const x = seg(F_ACK, fromA.seq + 1000, fromA.ack, fromA.srcPort, fromA.dstPort);
  x.payloadOff = 327680;
  x.payloadLen = 100;
  p.b.input(x, p.now);
  const ack = p.captured.pop()!;
  assert.equal(ack.ack, fromA.seq);
  assert.equal(ack.sackCount, 1);
  assert.deepEqual(ack.sack, [(fromA.seq + 1000) >>> 0, (fromA.seq + 1100) >>> 0]);
  assert.deepEqual(events, []);
  x.seq = fromA.seq;
  x.payloadLen = 1000;
  p.b.input(x, p.now); // fills the hole: ACK at once, readable
  assert.equal(p.captured.pop()!.ack, (fromA.seq + 1100) >>> 0);
  assert.deepEqual(events, ["readable"]);
  assert.equal(s.readable, 1100);
  void c;
});
