import assert from "node:assert/strict";
import { F_ACK, F_PSH, F_RST, F_SYN } from "../../src/wire/layout.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
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

Deno.test("Nagle holds small segments while data is in flight; noDelay sends them", () => {
  for (const noDelay of [false, true]) {
    const p = new TcpPair({ capture: true, tcpA: { noDelay }, faults: { delayMs: 10 } });
    const [c] = openPair(p);
    p.captured.length = 0;
    c.write(new Uint8Array(10));
    p.poll();
    c.write(new Uint8Array(10));
    p.poll();
    c.write(new Uint8Array(10));
    p.poll();
    const sent = p.captured.filter((r) => r.from === "a" && r.len > 0).length;
    assert.equal(sent, noDelay ? 3 : 1);
    p.advance(100);
    const total = p.captured.filter((r) => r.from === "a").reduce((n, r) => n + r.len, 0);
    assert.equal(total, 30);
  }
});

Deno.test("PSH on the last segment of each write", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 1 } });
  const [c, s] = openPair(p);
  p.captured.length = 0;
  c.write(new Uint8Array(5000));
  const buf = new Uint8Array(8192);
  p.advance(50, () => s.read(buf));
  const data = p.captured.filter((r) => r.from === "a" && r.len > 0);
  assert.ok(data.length >= 4);
  data.forEach((r, i) => assert.equal((r.flags & F_PSH) !== 0, i === data.length - 1));
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

Deno.test("receiver advertises free space; window update when the reader frees room", () => {
  const p = new TcpPair({
    capture: true,
    tcpB: { rcvBuf: 8192, windowScale: false },
    faults: { delayMs: 5 },
  });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(8192));
  p.advance(200);
  const last = p.captured.filter((r) => r.from === "b").pop()!;
  assert.equal(last.wnd, 0);
  p.captured.length = 0;
  s.read(new Uint8Array(8192));
  p.poll();
  const upd = p.captured.filter((r) => r.from === "b");
  assert.equal(upd.length, 1);
  assert.equal(upd[0]!.wnd, 5 * 1448); // whole segments (receiver SWS avoidance, as Linux)
});

Deno.test("segments never exceed the peer's MSS or the path MTU", () => {
  const p = new TcpPair({ capture: true, tcpB: { mss: 500 }, mtu: 1500, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(20000));
  const buf = new Uint8Array(30000);
  p.advance(500, () => s.read(buf));
  const syn = p.captured.find((r) => r.from === "b" && r.flags & F_SYN)!;
  assert.equal(syn.mss, 500);
  const max = Math.max(...p.captured.filter((r) => r.from === "a").map((r) => r.len));
  assert.ok(max <= 500 - 12, `max ${max}`); // 12 bytes of timestamp option
  const q = new TcpPair({ capture: true, mtu: 600 });
  const [c2] = openPair(q);
  c2.write(new Uint8Array(5000));
  q.advance(100);
  assert.ok(Math.max(...q.captured.map((r) => r.len)) <= 560);
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

Deno.test("URG: the urgent mark is reported inline (RFC 6093)", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  const fromA = p.captured.filter((r) => r.from === "a").pop()!;
  const raw = new TcpSegment();
  raw.srcIp = fromA.srcIp;
  raw.dstIp = fromA.dstIp;
  raw.srcPort = fromA.srcPort;
  raw.dstPort = fromA.dstPort;
  raw.seq = fromA.seq;
  raw.ack = fromA.ack;
  raw.flags = F_ACK | 32;
  raw.urg = 3;
  raw.wnd = 1000;
  raw.payloadOff = 327680;
  raw.payloadLen = 5;
  p.eb.mem.set([1, 2, 3, 4, 5], 327680);
  p.b.input(raw, p.now);
  assert.equal(s.readable, 5);
  assert.equal(s.urgentMark, 3);
  s.read(new Uint8Array(2));
  assert.equal(s.urgentMark, 1);
  s.read(new Uint8Array(5));
  assert.equal(s.urgentMark, -1);
  void c;
});

Deno.test("ICMP: port unreachable refuses a connecting socket; frag-needed lowers the MSS", () => {
  const p = new TcpPair({ faults: { delayMs: 5 } });
  p.blackhole.a = true;
  const c = p.a.connect(IP_B, 80, p.now);
  p.poll();
  p.a.icmpError({
    kind: "port-unreachable",
    localIp: c.localIp,
    localPort: c.localPort,
    remoteIp: c.remoteIp,
    remotePort: c.remotePort,
    seq: c.info().bytesOut + (c as unknown as { iss: number }).iss,
    mtu: 0,
  }, p.now);
  assert.equal(c.error?.code, "refused");
  const q = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [d] = openPair(q);
  d.write(new Uint8Array(3000));
  q.poll();
  const first = q.captured.filter((r) => r.from === "a" && r.len > 0)[0]!;
  q.a.icmpError({
    kind: "fragmentation-needed",
    localIp: d.localIp,
    localPort: d.localPort,
    remoteIp: d.remoteIp,
    remotePort: d.remotePort,
    seq: first.seq,
    mtu: 1000,
  }, q.now);
  assert.equal(d.info().mss, 1000 - 40 - 12);
  q.captured.length = 0;
  q.poll();
  assert.ok(q.captured.every((r) => r.len <= 948));
  q.advance(200);
});

Deno.test("statistics: bytes, segments, state, drops", () => {
  const p = new TcpPair({ faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(1000));
  p.advance(100);
  const i = c.info();
  assert.equal(i.bytesOut, 1000);
  assert.equal(s.info().bytesIn, 1000);
  assert.ok(i.segsOut >= 3 && i.segsIn >= 2);
  assert.equal(i.state, "ESTABLISHED");
  assert.equal(i.congestion, "cubic");
  assert.ok(i.timestamps && i.sack && i.sndWscale > 0);
});
