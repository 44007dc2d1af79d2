/**
 * SYN cookies (RFC 4987 3.6, Linux encoding): used when the half-open queue is full, the
 * connection rebuilt from the returning ACK with its options, and no weakening of RFC 5961 /
 * RFC 6528: forged, stale and replayed cookie ACKs draw a RST and make nothing.
 */

import assert from "node:assert/strict";
import { F_ACK, F_RST, F_SYN, RX_OFF } from "../../src/wire/layout.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import type { TcpConnection, TcpLayer } from "../../src/tcp/tcp_layer.ts";
import { COOKIE_MSS, cookieMssIndex, cookieTsVal, SynCookies } from "../../src/tcp/syncookie.ts";
import { type Captured, IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";

/** A spoofed source whose SYN+ACKs go nowhere (the pair delivers only between A and B). */
const SPOOF = 0x0a000063;

/** Fill b's half-open queue (synBacklog) with spoofed SYNs. */
function fillHalfOpen(p: TcpPair, n: number): void {
  for (let i = 0; i < n; i++) {
    p.b.input(syn(0x0a000100 + i, 30000 + i, 7777 * (i + 1), false), p.now);
  }
}

function syn(src: number, port: number, isn: number, ts: boolean, now = 0): TcpSegment {
  const x = new TcpSegment();
  x.srcIp = src;
  x.dstIp = IP_B;
  x.srcPort = port;
  x.dstPort = 80;
  x.flags = F_SYN;
  x.seq = isn >>> 0;
  x.wnd = 64240;
  x.mss = 1460;
  x.ws = 7;
  x.sackOk = true;
  if (ts) {
    x.hasTs = true;
    x.tsVal = now >>> 0;
  }
  return x;
}

/** The ACK completing a handshake whose SYN+ACK was `sa`, optionally with `len` bytes. */
function ackOf(sa: Captured, isn: number, len = 0, now = 0): TcpSegment {
  const x = new TcpSegment();
  x.srcIp = sa.dstIp;
  x.dstIp = IP_B;
  x.srcPort = sa.dstPort;
  x.dstPort = 80;
  x.flags = F_ACK;
  x.seq = (isn + 1) >>> 0;
  x.ack = (sa.seq + 1) >>> 0;
  x.wnd = 502;
  if (sa.hasTs) {
    x.hasTs = true;
    x.tsVal = (now + 1) >>> 0;
    x.tsEcr = sa.tsVal;
  }
  x.payloadOff = RX_OFF;
  x.payloadLen = len;
  return x;
}

function stat(l: TcpLayer, k: string): number {
  return l.stats()[k] ?? 0;
}

function lastFromB(p: TcpPair): Captured {
  return p.captured.filter((r) => r.from === "b").at(-1)!;
}

Deno.test("SYN cookies: the encoding restores MSS, window scale and SACK; only its tuple and two minutes", () => {
  const sc = new SynCookies(new Uint32Array([9, 8, 7, 6, 5, 4, 3, 2]));
  for (let idx = 0; idx < COOKIE_MSS.length; idx++) {
    for (const now of [0, 59_999, 60_000, 1e9]) {
      const c = sc.make(IP_B, 80, IP_A, 40000, 0xfffffff0, idx, now);
      assert.equal(sc.check(IP_B, 80, IP_A, 40000, 0xfffffff0, c, now), idx);
      assert.equal(sc.check(IP_B, 80, IP_A, 40000, 0xfffffff0, c, now + 60_000), idx);
      assert.equal(sc.check(IP_B, 80, IP_A, 40000, 0xfffffff0, c, now + 120_000), -1, "stale");
      assert.equal(sc.check(IP_B, 80, IP_A, 40000, 0xfffffff0 + 12345, c, now), -1, "other ISN");
      assert.equal(sc.check(IP_B, 81, IP_A, 40000, 0xfffffff0, c, now), -1, "other port");
    }
  }
  // Another secret makes other cookies (RFC 6528: keyed, not predictable from the tuple).
  const other = new SynCookies(new Uint32Array([1, 8, 7, 6, 5, 4, 3, 2]));
  assert.notEqual(other.make(IP_B, 80, IP_A, 1, 2, 0, 0), sc.make(IP_B, 80, IP_A, 1, 2, 0, 0));
  // IPv6 (Linux msstab for IPv6: 1220, 1420, 1440, 8940): a peer at MTU 1500 keeps its 1440.
  assert.deepEqual([0, 1220, 1440, 9000].map((m) => cookieMssIndex(m, true)), [0, 0, 2, 3]);
  assert.deepEqual([0, 535, 536, 1299, 1300, 1460, 9000].map((m) => cookieMssIndex(m)), [
    0,
    0,
    0,
    0,
    1,
    3,
    3,
  ]);
  for (const now of [0, 63, 64, 1000, 0xffffffff]) {
    const ts = cookieTsVal(now, 7, true);
    assert.equal(ts & 0x3f, 0x17);
    assert.ok(((now - ts) >>> 0) < 128, "never ahead of the clock, at most 127 ms behind");
  }
});

Deno.test("SYN cookies: a full half-open queue answers with cookies and the client gets in with its options", () => {
  const p = new TcpPair({ capture: true, tcpB: { synBacklog: 4 } });
  const l = p.b.listen(0, 80);
  fillHalfOpen(p, 4);
  assert.equal(p.b.connectionCount, 4);
  const c = p.a.connect(IP_B, 80, p.now);
  let s: TcpConnection | null = null;
  assert.ok(p.run(() => c.state === "ESTABLISHED" && (s = l.accept()) !== null, 5000));
  const server = s as unknown as TcpConnection;
  assert.equal(stat(p.b, "tcp-syncookie-sent"), 1);
  assert.equal(stat(p.b, "tcp-syncookie-ok"), 1);
  assert.equal(p.b.connectionCount, 5, "no half-open entry was added for the cookie");
  const ci = c.info(), si = server.info();
  assert.ok(si.timestamps && si.sack, "timestamps and SACK restored from the TSecr bits");
  assert.equal(si.sndWscale, ci.rcvWscale, "the client's window scale restored");
  assert.equal(si.rcvWscale, ci.sndWscale);
  assert.equal(si.mss, 1460 - 12, "MSS from the table, less the timestamp option");
  // Data both ways, byte for byte, through the scaled windows.
  const up = new Uint8Array(300_000).map((_, i) => i * 7);
  const down = new Uint8Array(200_000).map((_, i) => i * 13);
  let wu = 0, wd = 0;
  const gotUp: number[] = [], gotDown: number[] = [];
  const buf = new Uint8Array(65536);
  assert.ok(
    p.run(() => gotUp.length === up.length && gotDown.length === down.length, 20_000, () => {
      if (wu < up.length) wu += c.write(up.subarray(wu));
      if (wd < down.length) wd += server.write(down.subarray(wd));
      let n;
      while ((n = server.read(buf)) > 0) gotUp.push(...buf.subarray(0, n));
      while ((n = c.read(buf)) > 0) gotDown.push(...buf.subarray(0, n));
    }),
  );
  assert.deepEqual(Uint8Array.from(gotUp), up);
  assert.deepEqual(Uint8Array.from(gotDown), down);
  c.abort();
  server.abort();
});

Deno.test("SYN cookies off: a full half-open queue drops the SYN (counted)", () => {
  const p = new TcpPair({ capture: true, tcpB: { synBacklog: 4, syncookies: false } });
  p.b.listen(0, 80);
  fillHalfOpen(p, 4);
  p.captured.length = 0;
  p.b.input(syn(SPOOF, 40000, 1000, true), p.now);
  assert.equal(p.captured.length, 0, "no SYN+ACK");
  assert.equal(stat(p.b, "tcp-syn-backlog-full"), 1);
  assert.equal(stat(p.b, "tcp-syncookie-sent"), 0);
});

Deno.test("SYN cookies: without timestamps the connection has no window scale or SACK (as Linux)", () => {
  const p = new TcpPair({ capture: true, tcpB: { synBacklog: 2 } });
  p.b.listen(0, 80);
  fillHalfOpen(p, 2);
  p.captured.length = 0;
  p.b.input(syn(SPOOF, 40000, 5000, false), p.now);
  const sa = lastFromB(p);
  assert.equal(sa.flags, F_SYN | F_ACK);
  assert.equal(sa.ws, -1);
  assert.equal(sa.sackOk, false);
  assert.equal(sa.hasTs, false);
  p.b.input(ackOf(sa, 5000), p.now);
  assert.equal(stat(p.b, "tcp-syncookie-ok"), 1);
  assert.equal(p.b.connectionCount, 3);
});

Deno.test("SYN cookies: an ACK with data completes the handshake and delivers the data", () => {
  const p = new TcpPair({ capture: true, tcpB: { synBacklog: 1 } });
  const l = p.b.listen(0, 80);
  fillHalfOpen(p, 1);
  p.b.input(syn(SPOOF, 40001, 123456, true, p.now), p.now);
  const sa = lastFromB(p);
  p.eb.mem.fill(0x5a, RX_OFF, RX_OFF + 100);
  p.b.input(ackOf(sa, 123456, 100, p.now), p.now);
  const s = l.accept();
  assert.ok(s, "accepted");
  assert.equal(s.readable, 100);
});

Deno.test("SYN cookies: forged cookie ACKs are reset and make nothing (RFC 5961 strength)", () => {
  const p = new TcpPair({ capture: true, tcpB: { synBacklog: 1 } });
  p.b.listen(0, 80);
  fillHalfOpen(p, 1);
  p.b.input(syn(SPOOF, 40002, 777, true, p.now), p.now); // the listener is in cookie mode
  const sa = lastFromB(p);
  p.captured.length = 0;
  let x = 0x12345;
  for (let i = 0; i < 300; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const forged = ackOf({ ...sa, seq: x }, 777, 0, p.now); // a guessed ISS
    p.b.input(forged, p.now);
    // Guessed tuples (the blind attacker does not know the client's ISN either).
    const blind = ackOf({ ...sa, dstPort: 41000 + i }, x, 0, p.now);
    p.b.input(blind, p.now);
  }
  assert.equal(stat(p.b, "tcp-syncookie-failed"), 600);
  assert.equal(stat(p.b, "tcp-syncookie-ok"), 0);
  assert.equal(p.b.connectionCount, 1);
  assert.ok(p.captured.every((r) => r.flags === F_RST), "each drew a RST <SEQ=SEG.ACK>");
});

Deno.test("SYN cookies: a replayed cookie ACK and a stale one are rejected", () => {
  const p = new TcpPair({ capture: true, tcpB: { synBacklog: 1, timeWaitMs: 1000 } });
  const l = p.b.listen(0, 80);
  fillHalfOpen(p, 1);
  p.b.input(syn(SPOOF, 40003, 999, true, p.now), p.now);
  const sa = lastFromB(p);
  const ack = ackOf(sa, 999, 0, p.now);
  p.b.input(ack, p.now);
  const s = l.accept()!;
  assert.ok(s);
  s.abort(); // the connection is gone: the same ACK must not make it again
  assert.equal(s.state, "CLOSED");
  p.captured.length = 0;
  p.b.input(ackOf(sa, 999, 0, p.now), p.now);
  assert.equal(stat(p.b, "tcp-syncookie-replayed"), 1);
  assert.equal(l.accept(), null);
  assert.equal(lastFromB(p).flags, F_RST);
  // A later segment of that connection (SEQ and ACK both moved on, as the ACK a peer in
  // TIME-WAIT sends) decodes as a valid cookie too; it must not open a connection either.
  const late = ackOf(sa, 999 + 5, 0, p.now);
  late.ack = (sa.seq + 1 + 5) >>> 0;
  p.b.input(late, p.now);
  assert.equal(stat(p.b, "tcp-syncookie-replayed"), 2);
  assert.equal(l.accept(), null);
  // A cookie answered more than two minutes ago no longer opens anything.
  p.b.input(syn(SPOOF, 40004, 4242, true, p.now), p.now);
  const old = lastFromB(p);
  p.advance(125_000);
  fillHalfOpen(p, 1);
  p.b.input(syn(SPOOF, 40005, 1, true, p.now), p.now); // still in cookie mode
  const failed = stat(p.b, "tcp-syncookie-failed");
  p.b.input(ackOf(old, 4242, 0, p.now), p.now);
  assert.equal(stat(p.b, "tcp-syncookie-failed"), failed + 1);
  assert.equal(l.accept(), null);
});

Deno.test("SYN cookies: ACKs are not checked as cookies when none was sent lately", () => {
  const p = new TcpPair({ capture: true, tcpB: { synBacklog: 1 } });
  p.b.listen(0, 80);
  fillHalfOpen(p, 1);
  p.b.input(syn(SPOOF, 40006, 31337, true, p.now), p.now);
  const sa = lastFromB(p);
  p.advance(130_000); // two cookie ticks without overflow
  p.b.input(ackOf(sa, 31337, 0, p.now), p.now);
  assert.equal(stat(p.b, "tcp-syncookie-failed"), 0, "not even tried");
  assert.equal(lastFromB(p).flags, F_RST);
});

Deno.test("half-open entries go when ARP fails toward their source; connections elsewhere stay", () => {
  const p = new TcpPair({ capture: true });
  p.b.listen(0, 80);
  p.b.input(syn(SPOOF, 40010, 1, true, p.now), p.now);
  p.b.input(syn(SPOOF, 40011, 2, true, p.now), p.now);
  p.b.input(syn(SPOOF + 1, 40012, 3, true, p.now), p.now);
  assert.equal(p.b.connectionCount, 3);
  p.b.unreachable(SPOOF, p.now); // what the interface reports when ARP gives up
  assert.equal(p.b.connectionCount, 1);
  assert.equal(stat(p.b, "tcp-syn-recv-unreachable"), 2);
});

Deno.test("a SYN from a source we have no route back to makes no half-open entry", () => {
  const p = new TcpPair({ capture: true });
  p.b.listen(0, 80);
  p.captured.length = 0;
  p.b.input(syn(0xc6336401, 40020, 1, true, p.now), p.now); // 198.51.100.1: no route (no gateway)
  assert.equal(p.b.connectionCount, 0);
  assert.equal(stat(p.b, "tcp-syn-no-route"), 1);
  assert.equal(p.captured.length, 0);
});

Deno.test("SYN cookies: a client that took our cookie SYN+ACK gets in after its retransmitted SYN made a half-open entry (no RST, as Linux)", () => {
  // The burst race: the queue was full when the client's SYN came (cookie SYN+ACK), its
  // retransmitted SYN found room (a half-open entry, another ISS) before the cookie SYN+ACK
  // reached it; the client is synchronized to the cookie and ACKs it with its data.
  const p = new TcpPair({ capture: true, tcpB: { synBacklog: 1 } });
  const l = p.b.listen(0, 80);
  fillHalfOpen(p, 1);
  p.b.input(syn(IP_A, 40004, 9293, true, p.now), p.now);
  const cookieSa = lastFromB(p);
  assert.equal(stat(p.b, "tcp-syncookie-sent"), 1);
  // The filler's half-open entry goes (its peer resets it): the queue has room again.
  const rst = syn(0x0a000100, 30000, 7777 + 1, false);
  rst.flags = F_RST;
  p.b.input(rst, p.now);
  assert.equal(p.b.connectionCount, 0);
  p.b.input(syn(IP_A, 40004, 9293, true, p.now), p.now); // the retransmitted SYN
  const entrySa = lastFromB(p);
  assert.equal(entrySa.flags, F_SYN | F_ACK);
  assert.notEqual(entrySa.seq, cookieSa.seq, "a half-open entry with its own ISS");
  p.captured.length = 0;
  p.eb.mem.fill(0x5a, RX_OFF, RX_OFF + 10);
  p.b.input(ackOf(cookieSa, 9293, 10, p.now), p.now);
  assert.deepEqual(p.captured.filter((r) => r.flags & F_RST), [], "no RST");
  assert.equal(stat(p.b, "tcp-syncookie-ok"), 1);
  const s = l.accept();
  assert.ok(s, "accepted");
  assert.equal(s.state, "ESTABLISHED");
  assert.equal(s.readable, 10);
  assert.equal(p.b.connectionCount, 1, "the superseded half-open entry is gone");
  // A wrong ACK for a half-open entry is still reset (RFC 9293 3.10.7.4).
  p.b.input(syn(IP_A, 40005, 5555, true, p.now), p.now);
  const sa2 = lastFromB(p);
  p.captured.length = 0;
  p.b.input(ackOf({ ...sa2, seq: sa2.seq + 1000 }, 5555, 0, p.now), p.now);
  assert.equal(p.captured.filter((r) => r.flags & F_RST).length, 1);
});
