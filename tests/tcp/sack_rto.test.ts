/**
 * A retransmission timeout with SACK (RFC 6675 section 5.1, RFC 2018 section 8, as Linux): the
 * scoreboard survives the timeout, so the go-back resends the segment at SND.UNA and then only
 * the holes, skipping what the receiver SACKed; when the receiver reneges (its cumulative ACK
 * stops at data it SACKed) the timeout comes sooner and forgets the scoreboard. A scripted
 * receiver (tests/support/sack_peer.ts) SACKs, goes silent until the RTO, then answers again.
 */
import assert from "node:assert/strict";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";
import { type Resent, SackPeer } from "../support/sack_peer.ts";
import type { TcpConnection } from "../../src/tcp/tcp_layer.ts";
import { MAX_RANGES, SackScoreboard } from "../../src/tcp/sack.ts";

type Range = [number, number];

function setup(): { p: TcpPair; c: TcpConnection; mss: number; rtos: () => number } {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [c] = openPair(p);
  c.noDelay = true;
  return { p, c, mss: c.snd.mss, rtos: () => p.a.stats()["tcp-rto"] ?? 0 };
}

/** [0, high) less the ranges held: the holes. */
function holes(held: readonly Range[], high: number): Range[] {
  const out: Range[] = [];
  let at = 0;
  for (const [l, r] of held) {
    if (l > at) out.push([at, Math.min(l, high)]);
    at = Math.max(at, r);
  }
  if (at < high) out.push([at, high]);
  return out.filter(([l, r]) => r > l);
}

/** Byte ranges covered by retransmissions, merged; throws if a byte was resent twice. */
function unionOnce(rs: readonly Resent[]): Range[] {
  const sorted = [...rs].sort((a, b) => a.from - b.from);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    assert.ok(!last || r.from >= last[1], `byte ${r.from} resent twice after the timeout`);
    if (last && r.from === last[1]) last[1] = r.to;
    else out.push([r.from, r.to]);
  }
  return out;
}

/** The holes when the first RTO fired, noted by a loss script before it sees the go-back. */
class AtTimeout {
  holes: Range[] = [];
  high = -1;
  constructor(readonly c: TcpConnection, readonly rtos: () => number) {}
  note(peer: SackPeer): void {
    if (this.high >= 0 || this.rtos() === 0) return;
    this.high = (this.c.snd.max - peer.base) >>> 0;
    this.holes = holes(peer.held, this.high);
  }
}

Deno.test("RTO with SACK: the go-back resends SND.UNA, then exactly the holes (RFC 6675 5.1)", () => {
  const { p, c, mss, rtos } = setup();
  const N = 20;
  const firstLost = new Set([0, 1, 4, 7].map((k) => k * mss));
  const at = new AtTimeout(c, rtos);
  // The first flight loses segments 0, 1, 4 and 7 and SACKs the rest; from then on the peer is
  // silent (the fast retransmissions are lost too) until the retransmission timer expires.
  const peer: SackPeer = new SackPeer(p, c, (from, _to, nth) => {
    at.note(peer);
    if (rtos() > 0) return false;
    return nth >= 10 || firstLost.has(from);
  });
  c.write(new Uint8Array(N * mss));
  assert.ok(peer.run(10_000, () => peer.acked(N * mss)), "the transfer completes");
  assert.equal(rtos(), 1);
  assert.deepEqual(at.holes.slice(0, 4), [[0, 2 * mss], [4 * mss, 5 * mss], [7 * mss, 8 * mss], [
    10 * mss,
    at.holes[3]?.[1] ?? -1,
  ]]);
  const after = peer.resent.filter((r) => r.rtos > 0);
  assert.equal(after[0]!.from, 0, "the first retransmission after the timeout is SND.UNA");
  for (const r of after) {
    assert.equal(r.sackedBytes, 0, `SACKed bytes resent: ${JSON.stringify(r)}`);
  }
  // Every hole once, nothing else (no further loss after the timeout).
  assert.deepEqual(unionOnce(after), at.holes);
  // [2, 4) is covered by the ACK of the first hole; [5, 7) and [8, 10) are skipped.
  assert.equal(p.a.stats()["tcp-rto-sacked-skipped"], 2, JSON.stringify(p.a.stats()));
});

Deno.test("RTO with SACK: a hole before the FIN is resent alone, not with the SACKed data after it", () => {
  const { p, c, rtos } = setup();
  // Three 100-byte segments and the FIN: the first and the last (with the FIN) are lost until
  // the timeout; the middle one is SACKed.
  const peer = new SackPeer(p, c, (from) => rtos() === 0 && from !== 100);
  for (let i = 0; i < 3; i++) {
    c.write(new Uint8Array(100));
    p.a.poll(p.now);
  }
  c.shutdownWrite();
  assert.ok(peer.run(10_000, () => peer.acked(300, true)), "data and FIN acknowledged");
  const after = peer.resent.filter((r) => r.rtos > 0);
  assert.deepEqual(after.map((r) => [r.from, r.to]), [[0, 100], [200, 300]]);
  for (const r of after) assert.equal(r.sackedBytes, 0);
});

Deno.test("RTO with SACK: beyond 16 SACKed ranges no SACKed byte is resent, holes at slow-start pace", () => {
  const { p, c, mss, rtos } = setup();
  // Grow cwnd on a clean transfer, then lose every third segment of the next flight; the peer
  // is silent from the fast retransmissions until the timeout.
  const W = 300 * mss, N = W + 120 * mss;
  let lossy = false, sentLossy = 0;
  const at = new AtTimeout(c, rtos);
  const peer: SackPeer = new SackPeer(p, c, (from) => {
    at.note(peer);
    if (!lossy || rtos() > 0) return false;
    if (from < W) return true; // none left, but a retransmission of the clean part is lost
    return sentLossy++ >= 120 || ((from - W) / mss) % 3 === 0;
  });
  let w = 0, limit = W;
  const buf = new Uint8Array(65536);
  const pump = () => {
    while (w < limit && c.writable > 0) {
      w += c.write(buf.subarray(0, Math.min(limit - w, c.writable, buf.length)));
    }
  };
  assert.ok(peer.run(20_000, () => (pump(), peer.acked(W))));
  assert.ok(c.cc.cwnd >= 120 * mss, `cwnd ${c.cc.cwnd / mss} segments`);
  lossy = true;
  limit = N;
  assert.ok(peer.run(20_000, () => (pump(), peer.acked(N))), "the transfer completes");
  assert.equal(rtos(), 1, JSON.stringify(p.a.stats()));
  const sackedRanges = holes(at.holes, at.high).length;
  assert.ok(sackedRanges > 16, `${sackedRanges} SACKed ranges at the timeout`);
  const after = peer.resent.filter((r) => r.rtos > 0);
  for (const r of after) {
    assert.equal(r.sackedBytes, 0, `SACKed bytes resent: ${JSON.stringify(r)}`);
  }
  assert.deepEqual(unionOnce(after), at.holes);
  // The SACKed ranges between the holes do not count as in flight (as Linux after an RTO): the
  // holes go at the pace of slow start, not slowed by the SACKed data between them.
  const rounds = new Set(after.map((r) => r.at)).size;
  // (40 holes: 4 round trips; 6 when SACKed bytes counted as in flight.)
  assert.ok(rounds <= 5, `${at.holes.length} holes resent over ${rounds} round trips`);
});

Deno.test("RTO with SACK: a receiver that reneges is detected, the timeout comes sooner and forgets the SACKs", () => {
  const { p, c, mss, rtos } = setup();
  const N = 20;
  let reneged = false;
  // Segments 0 and 5 are lost at first: SACK recovery. Then the peer discards what it held out
  // of order (RFC 2018 section 8) and is silent until the timeout.
  const peer: SackPeer = new SackPeer(p, c, (from, _to, nth) => {
    if (rtos() > 0) return false;
    if (nth >= 10 && !reneged) {
      reneged = true;
      peer.renege();
    }
    return nth >= 10 || from === 0 || from === 5 * mss;
  });
  c.write(new Uint8Array(N * mss));
  assert.ok(peer.run(10_000, () => peer.acked(N * mss)), "the transfer completes");
  const st = p.a.stats();
  assert.equal(st["tcp-sack-reneging"], 1, JSON.stringify(st));
  // The RTO resent segment 0; its ACK stopped at segment 1, SACKed before: the next timeout
  // came max(SRTT / 2, 10 ms) later, not a whole RTO, and resent the discarded data.
  const after = peer.resent.filter((r) => r.rtos > 0);
  assert.equal(after[0]!.from, 0);
  const again = after.find((r) => r.from === mss)!;
  assert.ok(again, "segment 1 (SACKed, then discarded) resent");
  assert.ok(again.at - after[0]!.at < c.info().rtoMs, `resent ${again.at - after[0]!.at} ms later`);
  assert.equal(rtos(), 2);
  assert.ok(after.some((r) => r.sackedBytes > 0), "the reneged data, SACKed once, went again");
});

Deno.test("RTO with SACK: data SACKed, then covered by the cumulative ACK, is no reneging", () => {
  const { p, c, mss, rtos } = setup();
  const N = 20;
  // Segment 0 lost until the timeout, the rest SACKed: the ACK after the timeout covers all.
  const peer = new SackPeer(p, c, (from, _to, nth) => rtos() === 0 && (from === 0 || nth >= 10));
  c.write(new Uint8Array(N * mss));
  assert.ok(peer.run(10_000, () => peer.acked(N * mss)));
  assert.equal(p.a.stats()["tcp-sack-reneging"], undefined);
  const after = peer.resent.filter((r) => r.rtos > 0);
  for (const r of after) assert.equal(r.sackedBytes, 0);
  assert.equal(after[0]!.from, 0);
});

Deno.test("scoreboard: at most MAX_RANGES ranges, the lowest kept, bytes counted", () => {
  const sb = new SackScoreboard();
  // Ranges of 10 bytes every 20 from 20, added from the top down (each new one is the lowest).
  for (let k = MAX_RANGES + 44; k >= 1; k--) sb.add(20 * k, 20 * k + 10, 0, 1 << 20);
  assert.equal(sb.count, MAX_RANGES);
  assert.equal(sb.sacked, 10 * MAX_RANGES);
  assert.equal(sb.highest, 20 * MAX_RANGES + 10);
  // A range above the highest kept is not remembered; one below evicts the highest.
  assert.equal(sb.add(20 * (MAX_RANGES + 1), 20 * (MAX_RANGES + 1) + 10, 0, 1 << 20), 0);
  assert.equal(sb.add(5, 8, 0, 1 << 20), 3);
  assert.equal(sb.count, MAX_RANGES);
  assert.equal(sb.highest, 20 * (MAX_RANGES - 1) + 10);
  // Filling the gaps merges everything into one range.
  sb.add(5, 20 * MAX_RANGES, 0, 1 << 20);
  assert.equal(sb.count, 1);
  assert.equal(sb.sacked, 20 * MAX_RANGES - 5);
  assert.ok(!sb.headSacked(0) && sb.headSacked(5));
  sb.prune(100);
  assert.equal(sb.sacked, 20 * MAX_RANGES - 100);
  assert.ok(sb.headSacked(100));
});
