/**
 * The TCP performance options segment by segment (harness tests/support/tcp_pair.ts, virtual
 * time): window scaling (RFC 7323 section 2), timestamps and PAWS (RFC 7323 sections 3-5), SACK
 * (RFC 2018), Karn's rule (RFC 6298 3), the per-connection congestion choice and the CUBIC
 * response (RFC 9438). Features not built are ignored tests naming what is missing.
 */
import assert from "node:assert/strict";
import { F_ACK, F_PSH, F_SYN, RX_OFF } from "../../src/wire/layout.ts";
import { NewReno } from "../../src/tcp/congestion.ts";
import { Cubic } from "../../src/tcp/cubic.ts";
import { scaleFor } from "../../src/tcp/handshake.ts";
import type { TcpConnection } from "../../src/tcp/tcp_layer.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { type Captured, IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

const DAY = 86_400_000;

/** Drain `s` into a scratch buffer; returns bytes read. */
function drain(s: TcpConnection): number {
  const buf = new Uint8Array(1 << 17);
  let total = 0;
  for (let n = s.read(buf); n > 0; n = s.read(buf)) total += n;
  return total;
}

/** What b expects next from a (RCV.NXT) and what b sends next (SND.NXT), from the capture. */
function edges(p: TcpPair): { rcvNxt: number; sndNxt: number; fromA: Captured } {
  const fromA = p.captured.filter((r) => r.from === "a");
  const fromB = p.captured.filter((r) => r.from === "b");
  const end = (r: Captured) => (r.seq + r.len + (r.flags & F_SYN ? 1 : 0)) >>> 0;
  let rcvNxt = end(fromA[0]!), sndNxt = end(fromB[0]!);
  for (const r of fromA) if (((end(r) - rcvNxt) | 0) > 0) rcvNxt = end(r);
  for (const r of fromB) if (((end(r) - sndNxt) | 0) > 0) sndNxt = end(r);
  return { rcvNxt, sndNxt, fromA: fromA.at(-1)! };
}

/** Hand b a segment "from a" with `len` payload bytes at `seq` (relative to nothing: absolute). */
function inject(
  p: TcpPair,
  like: Captured,
  seq: number,
  ack: number,
  len: number,
  ts: { val: number; ecr: number } | null,
): void {
  const s = new TcpSegment();
  s.srcIp = IP_A;
  s.dstIp = IP_B;
  s.srcPort = like.srcPort;
  s.dstPort = like.dstPort;
  s.seq = seq >>> 0;
  s.ack = ack >>> 0;
  s.flags = F_ACK | (len > 0 ? F_PSH : 0);
  s.wnd = like.wnd;
  if (ts) {
    s.hasTs = true;
    s.tsVal = ts.val >>> 0;
    s.tsEcr = ts.ecr >>> 0;
  }
  for (let i = 0; i < len; i++) p.eb.mem[RX_OFF + i] = (seq + i) & 0xff;
  s.payloadOff = RX_OFF;
  s.payloadLen = len;
  p.b.input(s, p.now);
  p.poll();
}

Deno.test("wscale: the shift is the smallest that fits the receive buffer in 16 bits, at most 14", () => {
  const cases: Array<[number, number]> = [
    [65535, 0],
    [65536, 1],
    [131072, 2],
    [262144, 3],
    [1 << 20, 5],
    [16 << 20, 9],
    [1 << 30, 14],
    [2 ** 31, 14], // RFC 7323 2.3: never more than 14
  ];
  for (const [buf, shift] of cases) assert.equal(scaleFor(buf), shift, `rcvBuf ${buf}`);
  for (const [buf, shift] of [[65535, 0], [1 << 20, 5], [4 << 20, 7]] as const) {
    const p = new TcpPair({ capture: true, tcpA: { rcvBuf: buf }, tcpB: { rcvBuf: buf } });
    const [c] = openPair(p);
    assert.equal(p.captured[0]!.ws, shift, `SYN offers shift ${shift} for ${buf}`);
    assert.equal(p.captured[1]!.ws, shift, `SYN+ACK offers shift ${shift} for ${buf}`);
    assert.deepEqual([c.info().rcvWscale, c.info().sndWscale], [shift, shift]);
  }
});

Deno.test("wscale: never applied on SYN segments, applied to every window after the handshake", () => {
  const buf = 1 << 20; // shift 5
  const p = new TcpPair({
    capture: true,
    faults: { delayMs: 5 },
    tcpA: { rcvBuf: buf, sndBuf: buf },
    tcpB: { rcvBuf: buf },
  });
  const [c, s] = openPair(p);
  const [syn, synAck] = p.captured;
  // RFC 7323 2.2: the window field of a SYN is never scaled, so at most 65535 is offered.
  assert.equal(syn!.wnd, 65535);
  assert.equal(synAck!.wnd, 65535);
  c.write(new Uint8Array(300000));
  p.advance(200); // b does not read: its free space shrinks
  const acks = p.captured.filter((r) => r.from === "b" && !(r.flags & F_SYN));
  assert.ok(acks.length > 5);
  for (const r of acks) {
    // The advertised window is free space >> 5, never more than the buffer.
    assert.ok(r.wnd << 5 <= buf && r.wnd > 0, `window field ${r.wnd}`);
  }
  const last = acks.at(-1)!;
  // The free space, scaled down; the right edge moves in whole units of 2^5 and, by receiver
  // SWS avoidance (RFC 9293 3.8.6.2.2), by at least an MSS, so it may lag by less than one.
  const free = buf - s.readable;
  assert.ok(last.wnd << 5 <= free && free - (last.wnd << 5) < 1460, `${last.wnd << 5} vs ${free}`);
  // a reads b's field back scaled: its send window equals what b advertised.
  assert.equal(c.info().sndWnd, last.wnd << 5);
  assert.equal(drain(s), 300000);
});

Deno.test("wscale, ts and sack: each offered by one side only is used by neither", () => {
  for (const off of ["windowScale", "timestamps", "sack"] as const) {
    for (const side of ["tcpA", "tcpB"] as const) {
      const p = new TcpPair({ capture: true, [side]: { [off]: false } });
      const [c, s] = openPair(p);
      for (const conn of [c, s]) {
        const i = conn.info();
        if (off === "windowScale") assert.deepEqual([i.sndWscale, i.rcvWscale], [0, 0]);
        if (off === "timestamps") assert.equal(i.timestamps, false);
        if (off === "sack") assert.equal(i.sack, false);
      }
      c.write(new Uint8Array(100000));
      p.advance(300, () => drain(s));
      const data = p.captured.filter((r) => !(r.flags & F_SYN));
      if (off === "windowScale") {
        assert.ok(data.every((r) => r.ws === -1 && r.wnd <= 65535), `${off} off on ${side}`);
      }
      if (off === "timestamps") assert.ok(data.every((r) => !r.hasTs), `${off} off on ${side}`);
      assert.equal(s.info().bytesIn, 100000);
    }
  }
});

Deno.test("timestamps: TSval from the injected clock, TSecr echo rules (RFC 7323 3.2, 4.3)", () => {
  // 1.5 bytes per µs: about one full segment per virtual millisecond, so TSvals differ.
  const p = new TcpPair({ capture: true, faults: { delayMs: 5, bytesPerMs: 1500 } });
  const [c, s] = openPair(p);
  const [syn, synAck] = p.captured;
  assert.equal(syn!.tsEcr, 0, "SYN of the active opener echoes nothing");
  assert.equal(synAck!.tsEcr, syn!.tsVal, "SYN+ACK echoes the SYN's TSval");
  c.write(new Uint8Array(60000));
  p.advance(300, () => drain(s));
  for (const r of p.captured) assert.equal(r.tsVal, r.at >>> 0, "TSval is the clock in ms");
  const fromA = p.captured.filter((r) => r.from === "a" && r.len > 0);
  const firstAt = new Map<number, number>(); // seq -> TSval of its first transmission
  for (const r of fromA) if (!firstAt.has(r.seq)) firstAt.set(r.seq, r.tsVal);
  const sent = new Set(p.captured.filter((r) => r.from === "a").map((r) => r.tsVal));
  let prevAck = -1, prevEcr = 0, checked = 0;
  for (const r of p.captured.filter((x) => x.from === "b" && !(x.flags & F_SYN))) {
    assert.ok(sent.has(r.tsEcr), `TSecr ${r.tsEcr} is a TSval a sent`);
    assert.ok(((r.tsEcr - prevEcr) | 0) >= 0, "TSecr never goes back");
    // RFC 7323 4.3 (2): a delayed ACK echoes the segment at Last.ACK.sent, the earliest one
    // it acknowledges, not the latest.
    if (prevAck >= 0 && firstAt.has(prevAck) && r.ack !== prevAck) {
      assert.equal(r.tsEcr, firstAt.get(prevAck), `ACK ${r.ack} echoes the segment at ${prevAck}`);
      checked++;
    }
    prevAck = r.ack;
    prevEcr = r.tsEcr;
  }
  assert.ok(checked > 10, `only ${checked} ACKs checked`);
});

Deno.test("PAWS: an in-window segment with an old TSval is dropped, counted and ACKed", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(5000));
  p.advance(100, () => drain(s));
  const { rcvNxt, sndNxt, fromA } = edges(p);
  const before = p.captured.length;
  inject(p, fromA, rcvNxt, sndNxt, 100, { val: fromA.tsVal - 1000, ecr: 0 });
  assert.equal(s.readable, 0, "the old duplicate is not delivered");
  assert.equal(s.info().drops["tcp-paws"], 1);
  // RFC 7323 5.3 R1: send an acknowledgment in reply.
  const replies = p.captured.slice(before).filter((r) => r.from === "b");
  assert.ok(replies.some((r) => r.flags & F_ACK && r.ack === rcvNxt), "an ACK replies");
  // The same segment with a current TSval is accepted.
  inject(p, fromA, rcvNxt, sndNxt, 100, { val: p.now, ecr: 0 });
  assert.equal(s.readable, 100);
});

Deno.test({
  name: "PAWS: after 24 days idle an old TSval is accepted (RFC 7323 5.5)",
  fn() {
    const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
    const [c, s] = openPair(p);
    c.write(new Uint8Array(1000));
    p.advance(100, () => drain(s));
    const { rcvNxt, sndNxt, fromA } = edges(p);
    p.now += 25 * DAY;
    inject(p, fromA, rcvNxt, sndNxt, 100, { val: fromA.tsVal - 1000, ecr: 0 });
    assert.equal(s.readable, 100, `drops ${JSON.stringify(s.info().drops)}`);
  },
});

Deno.test("SACK: permitted on the SYN; blocks cover the newest arrival first, at most 3 with TS", () => {
  for (const ts of [true, false]) {
    const p = new TcpPair({ capture: true, tcpA: { timestamps: ts }, tcpB: { timestamps: ts } });
    const [, s] = openPair(p);
    assert.ok(p.captured[0]!.sackOk && p.captured[1]!.sackOk);
    const { rcvNxt, sndNxt, fromA } = edges(p);
    const tsOf = () => (ts ? { val: p.now, ecr: 0 } : null);
    const max = ts ? 3 : 4; // RFC 2018 3: 40 option bytes, 10 of them for timestamps
    const islands = [1, 3, 5, 7, 9, 2]; // each 100 bytes at rcvNxt + 1000 * k
    for (const k of islands) {
      const before = p.captured.length;
      const left = (rcvNxt + 1000 * k) >>> 0;
      inject(p, fromA, left, sndNxt, 100, tsOf());
      const ack = p.captured.slice(before).filter((r) => r.from === "b").at(-1);
      assert.ok(ack, `an immediate ACK for the out-of-order segment at +${1000 * k}`);
      assert.equal(ack.ack, rcvNxt, "the cumulative ACK stays at the hole");
      assert.ok(ack.sackCount >= 1 && ack.sackCount <= max, `${ack.sackCount} blocks`);
      // RFC 2018 4: the first block holds the segment that triggered this ACK.
      assert.equal(ack.sack[0], left);
      assert.equal(ack.sack[1], (left + 100) >>> 0);
      for (let i = 0; i < ack.sackCount; i++) {
        assert.ok(((ack.sack[2 * i]! - ack.ack) | 0) > 0, "blocks lie above the ACK");
      }
    }
    const last = p.captured.filter((r) => r.from === "b").at(-1)!;
    assert.equal(last.sackCount, max, `with ts=${ts} the last ACK reports ${max} blocks`);
    // Filling the first hole moves the ACK and the blocks stay above it.
    inject(p, fromA, rcvNxt, sndNxt, 1000, tsOf());
    p.advance(100);
    const after = p.captured.filter((r) => r.from === "b").at(-1)!;
    assert.equal(after.ack, (rcvNxt + 1100) >>> 0);
    assert.ok(after.sackCount > 0);
    assert.equal(p.sackViolations, 0);
    assert.equal(s.readable, 1100);
  }
});

Deno.test("SACK: a pure ACK keeps only the blocks that fit the path MTU (68 bytes)", () => {
  for (const ts of [true, false]) {
    const p = new TcpPair({
      capture: true,
      mtu: 68,
      tcpA: { timestamps: ts },
      tcpB: { timestamps: ts },
    });
    openPair(p);
    const { rcvNxt, sndNxt, fromA } = edges(p);
    const fit = ts ? 1 : 3; // (68 - 40 - 12) or (68 - 40) bytes of options: 4 + 8 per block
    for (const k of [1, 3, 5, 7]) {
      const before = p.captured.length;
      inject(p, fromA, (rcvNxt + 1000 * k) >>> 0, sndNxt, 100, ts ? { val: p.now, ecr: 0 } : null);
      const ack = p.captured.slice(before).filter((r) => r.from === "b").at(-1)!;
      assert.ok(ack.sackCount >= 1, "out-of-order data is SACKed");
      assert.ok(ack.sackCount <= fit, `${ack.sackCount} blocks with ts=${ts}`);
      const bytes = 40 + (ack.hasTs ? 12 : 0) + (ack.sackCount > 0 ? 4 + 8 * ack.sackCount : 0);
      assert.ok(bytes + ack.len <= 68, `${bytes + ack.len} bytes fit the MTU`);
    }
  }
});

Deno.test({
  name: "D-SACK: a duplicate segment is reported in the first SACK block (RFC 2883)",
  fn() {
    const p = new TcpPair({ capture: true });
    const [c, s] = openPair(p);
    c.write(new Uint8Array(2000));
    p.advance(100, () => drain(s));
    const { rcvNxt, sndNxt, fromA } = edges(p);
    const before = p.captured.length;
    inject(p, fromA, rcvNxt - 500, sndNxt, 500, { val: p.now, ecr: 0 });
    p.advance(100);
    const ack = p.captured.slice(before).filter((r) => r.from === "b").at(-1)!;
    assert.equal(ack.sackCount, 1);
    assert.deepEqual(ack.sack.slice(0, 2), [(rcvNxt - 500) >>> 0, rcvNxt]);
  },
});

Deno.test("Karn: no RTT sample from a retransmitted segment without timestamps", () => {
  for (const ts of [false, true]) {
    const p = new TcpPair({
      faults: { delayMs: 20 },
      tcpA: { timestamps: ts },
      tcpB: { timestamps: ts },
    });
    const [c, s] = openPair(p);
    c.write(new Uint8Array(1000));
    p.advance(200, () => drain(s));
    const srtt0 = c.info().srttMs;
    assert.ok(srtt0 >= 35 && srtt0 <= 60, `srtt ${srtt0}`);
    p.blackhole.a = true;
    c.write(new Uint8Array(1000));
    p.advance(10);
    p.blackhole.a = false;
    p.advance(2000, () => drain(s)); // the RTO resends; its ACK comes 40 ms later
    const i = c.info();
    assert.ok(i.retransmits >= 1);
    assert.equal(s.info().bytesIn, 2000);
    // A sample timed from the first transmission would be RTO + 40 ms (>= 240 ms).
    assert.ok(i.srttMs <= 60, `ts=${ts}: srtt ${i.srttMs} after the retransmission`);
  }
});

Deno.test("congestion: chosen per stack and per connection", () => {
  const p = new TcpPair({ tcpB: { congestion: "newreno" } });
  const lis = p.b.listen(0, 80);
  const [c1, s1] = openPair(p, 80, lis);
  assert.equal(c1.info().congestion, "cubic", "layer default (as Linux)");
  assert.equal(s1.info().congestion, "newreno", "accepted connections follow the layer");
  const c2 = p.a.connect(IP_B, 80, p.now, { options: { congestion: "newreno" } });
  const c3 = p.a.connect(IP_B, 80, p.now, { options: { congestion: "cubic" } });
  p.run(() => c2.state === "ESTABLISHED" && c3.state === "ESTABLISHED");
  assert.equal(c2.info().congestion, "newreno");
  assert.equal(c3.info().congestion, "cubic");
  assert.equal(c1.info().congestion, "cubic", "others keep theirs");
});

Deno.test("CUBIC: beta 0.7 reduction and a concave return to W_max at t = K (RFC 9438 4.2, 4.6)", () => {
  const mss = 1000, rttMs = 100;
  const cubic = new Cubic(mss), reno = new NewReno(mss);
  for (const cc of [cubic, reno]) {
    cc.cwnd = 100 * mss;
    cc.enterRecovery(100 * mss, mss, 0);
    cc.exitRecovery(100 * mss, mss);
  }
  assert.equal(cubic.ssthresh, 70 * mss, "CUBIC keeps 70%");
  assert.equal(reno.ssthresh, 50 * mss, "NewReno keeps half");
  // K = cbrt(W_max (1 - beta) / C) = cbrt(100 * 0.3 / 0.4) s.
  const k = Math.cbrt(75) * 1000;
  const at: number[] = [];
  let now = 0;
  for (let round = 0; now <= k + 2000; round++) {
    now = round * rttMs;
    for (const cc of [cubic, reno]) {
      const segs = Math.floor(cc.cwnd / mss);
      for (let i = 0; i < segs; i++) cc.onAck(mss, mss, now + (i * rttMs) / segs);
    }
    at.push(cubic.cwnd / mss);
  }
  const w = (ms: number) => at[Math.floor(ms / rttMs)]!;
  assert.ok(Math.abs(w(k) - 100) <= 10, `cwnd at K: ${w(k).toFixed(1)} segments`);
  assert.ok(w(1000) - w(0) > w(k) - w(k - 1000), "concave below W_max");
  assert.ok(w(k + 2000) - w(k + 1000) > w(k + 1000) - w(k), "convex above W_max");
  assert.ok(w(k) > reno.cwnd / mss - 1 || w(k) >= 95, "CUBIC regains W_max before Reno's line");
});

Deno.test({
  name: "congestion window validation after idle (RFC 7661 / Linux restart-after-idle)",
  fn() {
    const mss = 1448; // MTU 1500 less 40 bytes of headers and 12 of timestamps
    const iw = 10 * mss;
    const idle = (tcpA: Record<string, unknown>, ms: number) => {
      const p = new TcpPair({ faults: { delayMs: 5 }, tcpA });
      const [c, s] = openPair(p);
      const chunk = new Uint8Array(65536);
      let written = 0;
      const pump = () => {
        while (written < 1 << 20 && c.writable > 0) {
          written += c.write(chunk.subarray(0, Math.min(chunk.length, (1 << 20) - written)));
        }
        drain(s);
      };
      assert.ok(p.run(() => s.info().bytesIn === 1 << 20, 10000, pump), "1 MiB not delivered");
      p.advance(20, pump); // the last ACKs arrive; nothing is in flight
      const big = c.info().cwnd, ssthresh = c.info().ssthresh, rto = c.info().rtoMs;
      p.advance(ms);
      c.write(new Uint8Array(1000));
      p.advance(1);
      return {
        big,
        after: c.info().cwnd,
        ssthresh,
        rto,
        restarts: p.a.stats()["tcp-cwnd-restart"],
      };
    };
    // 10 s idle: halved once per RTO, down to the initial window (RFC 5681 4.1 restart window).
    const long = idle({}, 10_000);
    assert.ok(long.big > 4 * iw, `cwnd only ${long.big} after 1 MiB`);
    assert.equal(long.after, iw, `cwnd ${long.after} after 10 s idle (was ${long.big})`);
    assert.equal(long.restarts, 1);
    // Idle shorter than the RTO: the ACK clock is still good, cwnd stays.
    const short = idle({}, 50);
    assert.ok(short.rto > 50, `RTO ${short.rto}`);
    assert.ok(short.after >= short.big, `cwnd ${short.after} after 50 ms (was ${short.big})`);
    // Linux's sysctl off: cwnd survives any idle.
    const off = idle({ slowStartAfterIdle: false }, 10_000);
    assert.ok(off.after >= off.big, `cwnd ${off.after} with the restart off (was ${off.big})`);
  },
});
