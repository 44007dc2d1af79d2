/**
 * Connection timers (src/tcp/tcp_timers.ts): retransmission with backoff and the RTO estimator
 * (RFC 6298), SYN retries, delayed ACK (RFC 1122 4.2.3.2), persist and the user timeout (RFC
 * 9293 3.8.6.1, RFC 5482), keepalive (RFC 1122 4.2.3.6).
 */

import assert from "node:assert/strict";
import { F_SYN } from "../../src/wire/layout.ts";
import { IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

Deno.test("RTO: exponential backoff, retry limit, timed-out error", () => {
  const p = new TcpPair({
    capture: true,
    tcpA: { maxRetries: 4, rtoMinMs: 200, tailLossProbe: false },
    faults: { delayMs: 5 },
  });
  const [c] = openPair(p);
  p.captured.length = 0;
  p.blackhole.a = true;
  c.write(new Uint8Array(100));
  let closed = false;
  c.onEvent = (ev) => {
    if (ev === "closed") closed = true;
  };
  p.run(() => closed, 60000);
  assert.equal(c.state, "CLOSED");
  assert.equal(c.error?.code, "timed-out");
  const sends = p.captured.filter((r) => r.from === "a" && r.len === 100).map((r) => r.at);
  assert.equal(sends.length, 5); // first send + 4 retransmissions
  const gaps = sends.slice(1).map((t, i) => t - sends[i]!);
  for (let i = 1; i < gaps.length; i++) assert.equal(gaps[i], 2 * gaps[i - 1]!, `gaps ${gaps}`);
  assert.equal(c.info().retransmits, 4);
});

Deno.test("RTO estimator: SRTT from samples, RTO floor, Karn", () => {
  const p = new TcpPair({
    tcpA: { timestamps: false },
    tcpB: { timestamps: false },
    faults: { delayMs: 50 },
  });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(1000));
  const buf = new Uint8Array(2000);
  p.run(() => c.info().bytesOut === 1000 && p.inFlight === 0, 2000, () => s.read(buf));
  const i = c.info();
  assert.ok(Math.abs(i.srttMs - 100) < 50, `srtt ${i.srttMs}`);
  assert.ok(i.rtoMs >= 200);
});

Deno.test("SYN retries then timed-out", () => {
  const p = new TcpPair({ capture: true, tcpA: { synRetries: 2, rtoInitialMs: 1000 } });
  p.blackhole.a = true;
  const c = p.a.connect(IP_B, 80, p.now);
  p.run(() => c.state === "CLOSED", 60000);
  assert.equal(c.error?.code, "timed-out");
  const syns = p.captured.filter((r) => r.flags & F_SYN).map((r) => r.at - 1000);
  assert.deepEqual(syns, [0, 1000, 3000]);
});

Deno.test("delayed ACK: at most delayedAckMs late, every second segment, at once on out-of-order", () => {
  const p = new TcpPair({
    capture: true,
    tcpB: { delayedAckMs: 40 },
    tcpA: { noDelay: true },
    faults: { delayMs: 5 },
  });
  const [c, s] = openPair(p);
  p.captured.length = 0;
  c.write(new Uint8Array(10));
  p.advance(100);
  const ack = p.captured.find((r) => r.from === "b")!;
  const data = p.captured.find((r) => r.from === "a")!;
  assert.equal(ack.at - (data.at + 5), 40);
  assert.equal(ack.ack, (data.seq + 10) >>> 0);
  // Two full segments: the second is ACKed at once.
  p.captured.length = 0;
  const mss = c.info().mss;
  c.write(new Uint8Array(2 * mss));
  p.advance(20);
  const acks = p.captured.filter((r) => r.from === "b");
  assert.equal(acks.length, 1);
  assert.ok(acks[0]!.at - p.captured[0]!.at < 40);
  const buf = new Uint8Array(1 << 16);
  s.read(buf);
});

Deno.test("zero window: persist probes back off; the transfer resumes when the window opens", () => {
  const p = new TcpPair({
    capture: true,
    tcpB: { rcvBuf: 4096 },
    tcpA: { sndBuf: 65536 },
    faults: { delayMs: 5 },
  });
  const [c, s] = openPair(p);
  assert.equal(c.write(new Uint8Array(20000).fill(3)), 20000);
  p.advance(5000);
  assert.equal(s.readable, 4096);
  const probes = p.captured.filter((r) => r.from === "a" && r.len === 0 && r.at > 1100);
  assert.ok(c.info().zeroWindowProbes >= 3, `probes ${c.info().zeroWindowProbes}`);
  const t = probes.map((r) => r.at);
  assert.ok(t.length >= 3 && t[2]! - t[1]! > t[1]! - t[0]!, `probe times ${t}`);
  const buf = new Uint8Array(30000);
  let got = 0;
  p.run(() => got === 20000, 60000, () => {
    got += s.read(buf);
  });
  assert.equal(got, 20000);
  assert.equal(c.state, "ESTABLISHED");
});

Deno.test("zero window forever: the user timeout ends the sender", () => {
  const p = new TcpPair({
    tcpB: { rcvBuf: 2048 },
    tcpA: { userTimeoutMs: 10000 },
    faults: { delayMs: 5 },
  });
  const [c] = openPair(p);
  c.write(new Uint8Array(10000));
  p.run(() => c.state === "CLOSED", 120000);
  assert.equal(c.error?.code, "timed-out");
});

Deno.test("keepalive: probes after idle, fails after keepCount unanswered probes", () => {
  const p = new TcpPair({
    capture: true,
    tcpA: { keepCount: 3, keepIntervalMs: 1000 },
    faults: { delayMs: 5 },
  });
  const [c] = openPair(p);
  c.setKeepAlive(true, 10000);
  p.advance(10500);
  const probes = p.captured.filter((r) => r.from === "a" && r.at > 1100);
  assert.equal(probes.length, 1); // answered: the connection stays up
  assert.equal(c.state, "ESTABLISHED");
  p.blackhole.b = true;
  p.run(() => c.state === "CLOSED", 60000);
  assert.equal(c.error?.code, "timed-out");
});
