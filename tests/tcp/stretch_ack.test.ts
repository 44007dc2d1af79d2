/**
 * Stretch ACKs for a bulk flow (src/tcp/ack_policy.ts): once the reader has shown it drains a
 * lot per round trip, in-order data is acknowledged once per quarter of that (and of the window
 * offered), at most 256 KiB, instead of once per batch; data held that way is acknowledged
 * within 1 ms when nothing more comes; out-of-order data is still answered at once.
 */

import assert from "node:assert/strict";
import { F_ACK, RX_OFF } from "../../src/wire/layout.ts";
import {
  STRETCH_ACK_DELAY_MS,
  STRETCH_ACK_MAX,
  STRETCH_IDLE_MS,
  stretchAckBytes,
} from "../../src/tcp/ack_policy.ts";
import { RecvSpace } from "../../src/tcp/tcb.ts";
import { segment } from "../support/segment.ts";
import { IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair, Stream } from "../support/tcp_transfer.ts";

const SEG = 1000;

/** A pair whose server side (b) receives segments we hand it, one batch (then a poll) at a time. */
function setup(space: number) {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 }, tcpB: { rcvBuf: 1 << 20 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(100));
  p.advance(100, () => s.read(new Uint8Array(200)));
  const last = p.captured.filter((r) => r.from === "a").at(-1)!;
  let next = (last.seq + last.len) >>> 0;
  const ackOf = p.captured.filter((r) => r.from === "b").at(-1)!.seq;
  // As if dynamic right-sizing had just measured `space` drained per round trip (its next
  // interval ends only when time passes) and data were flowing (no pause: see the idle rule's
  // test), past the quick ACKs of the connection's first data.
  const measured = () => {
    s.rcv.space = s.rcv.rttBytes = space;
    s.rcv.spaceAt = p.now;
  };
  measured();
  s.rcv.dataAt = p.now;
  s.rcv.stretchAfter = -1;
  p.captured.length = 0;
  /** One batch of `count` in-order 1000-byte segments, then the poll that ends the batch. */
  const batch = (count: number, at = next) => {
    for (let i = 0; i < count; i++) {
      const x = segment({
        srcIp: IP_A,
        dstIp: IP_B,
        srcPort: c.localPort,
        dstPort: c.remotePort,
        flags: F_ACK,
        seq: (at + SEG * i) >>> 0,
        ack: ackOf,
        wnd: 65535,
        ts: { val: Math.floor(p.now) },
        payloadOff: RX_OFF,
        payloadLen: SEG,
      });
      p.b.input(x, p.now);
    }
    if (at === next) next = (next + SEG * count) >>> 0;
    p.b.poll(p.now);
  };
  const acks = () => p.captured.filter((r) => r.from === "b" && r.len === 0);
  return { p, s, batch, acks, measured, next: () => next };
}

Deno.test("stretch ACK: the threshold is a quarter of the drained amount and of the window, capped", () => {
  const r = new RecvSpace();
  assert.equal(stretchAckBytes(r, 1448), 1448, "nothing measured: every second segment");
  r.rttBytes = 400_000;
  r.lastAckSent = 4_000_000_000; // sequence numbers wrap
  r.adv = (r.lastAckSent + 3_000_000) >>> 0;
  assert.equal(stretchAckBytes(r, 1448), 100_000, "a quarter of what was drained per round trip");
  r.rttBytes = 8 << 20;
  assert.equal(stretchAckBytes(r, 1448), STRETCH_ACK_MAX, "at most 256 KiB");
  r.adv = (r.lastAckSent + 40_000) >>> 0;
  assert.equal(stretchAckBytes(r, 1448), 10_000, "a quarter of the window offered");
  r.adv = (r.lastAckSent + 4000) >>> 0;
  assert.equal(stretchAckBytes(r, 1448), 1448, "never below one full segment");
});

Deno.test("stretch ACK: a young connection still acknowledges every batch of more than a segment", () => {
  const { batch, acks } = setup(0);
  for (let i = 0; i < 5; i++) batch(2);
  assert.equal(acks().length, 5, "one ACK per batch of two full segments");
});

Deno.test("stretch ACK: a bulk flow is acknowledged once per quarter of its per-RTT amount", () => {
  // 40,000 bytes drained per round trip: an ACK once more than 10,000 bytes are unacknowledged.
  const { s, batch, acks, next } = setup(40_000);
  const start = next();
  for (let i = 0; i < 20; i++) batch(2); // 40 segments, 2,000 bytes per batch
  const a = acks();
  assert.equal(a.length, 3, a.map((x) => x.ack - start).join(" "));
  // Each covers the first batch that took the unacknowledged amount past 10,000 bytes.
  assert.deepEqual(a.map((x) => (x.ack - start) >>> 0), [12_000, 24_000, 36_000]);
  assert.equal(s.readable, 40_000, "every byte was readable at once all the same");
});

Deno.test("stretch ACK: data held for a stretch ACK is acknowledged within 1 ms when no more comes", () => {
  const { p, batch, acks, next } = setup(400_000);
  const t0 = p.now;
  batch(3); // 3,000 bytes: more than a segment, under the 100,000-byte threshold
  assert.equal(acks().length, 0, "held at the end of the batch");
  p.advance(STRETCH_ACK_DELAY_MS + 0.5);
  const a = acks();
  assert.equal(a.length, 1, "acknowledged by the short timer");
  assert.equal(a[0]!.ack, next());
  assert.ok(a[0]!.at - t0 <= STRETCH_ACK_DELAY_MS + 0.01, `after ${a[0]!.at - t0} ms`);
});

Deno.test("stretch ACK: after a pause of more than 100 ms, every batch for a round trip's worth", () => {
  // The sender may restart from its initial window after idling (slow start after idle): a
  // held ACK would cost it a millisecond per round of its slow start.
  const { p, batch, acks, measured } = setup(40_000);
  batch(2);
  assert.equal(acks().length, 0, "flowing: held (2,000 of a 10,000-byte threshold)");
  p.advance(STRETCH_IDLE_MS + 1);
  measured(); // the same amount per round trip as before the pause
  const before = acks().length; // the held one, by its timer
  // A round trip's worth, at least 64 KiB: 30 batches of 2,000 bytes are inside it.
  for (let i = 0; i < 30; i++) batch(2);
  assert.equal(acks().length - before, 30, "one ACK per batch after the pause");
  const quick = acks().length;
  for (let i = 0; i < 20; i++) batch(2); // past 64 KiB: one per 10,000 bytes again
  const n = acks().length - quick;
  assert.ok(n >= 3 && n <= 5, `then stretch ACKs again: ${n} for 40,000 bytes`);
});

Deno.test("stretch ACK: less than a full segment still waits for the delayed-ACK time (a request)", () => {
  const { p, batch, acks } = setup(400_000);
  const t0 = p.now;
  batch(1); // one segment: not more than one full segment
  p.advance(STRETCH_ACK_DELAY_MS + 0.5);
  assert.equal(acks().length, 0, "no short timer for a request");
  p.advance(45);
  const a = acks();
  assert.equal(a.length, 1);
  assert.ok(a[0]!.at - t0 >= 40, `the delayed ACK after ${a[0]!.at - t0} ms`);
});

Deno.test("stretch ACK: out-of-order data is answered at once, and every batch for a round trip after", () => {
  const { batch, acks, next } = setup(400_000);
  batch(2);
  assert.equal(acks().length, 0);
  const hole = next();
  batch(1, (hole + SEG) >>> 0); // the segment at `hole` is missing
  assert.equal(acks().length, 1, "a duplicate ACK at once");
  assert.equal(acks()[0]!.ack, hole);
  assert.equal(acks()[0]!.sackCount, 1);
  batch(1, hole); // the hole fills: answered at once
  assert.equal(acks().length, 2);
  // Then every batch of more than a segment is acknowledged again (as Linux's quick-ACK mode)
  // until a round trip's worth (400,000 bytes) more is in, then stretch ACKs resume.
  for (let i = 0; i < 5; i++) batch(2);
  assert.equal(acks().length, 7, "one ACK per batch after the loss");
  for (let i = 0; i < 200; i++) batch(2);
  const after = acks().length;
  for (let i = 0; i < 100; i++) batch(2); // 200,000 bytes: two stretch ACKs of 100,000
  assert.equal(acks().length - after, 2, "stretch ACKs again");
});

Deno.test("stretch ACK: an 8 MiB transfer at 1.6 Gbit/s: far fewer ACKs, no slower, intact", () => {
  // Both ends ours, frames paced by a 200 MB/s link so that they arrive one by one (each its
  // own batch): without stretch ACKs one ACK per two segments; with them, once the buffer
  // grew, one per quarter of the per-RTT amount. The sender never waits for a held ACK: the
  // virtual time stays at what the link's rate allows.
  const p = new TcpPair({ capture: true, faults: { delayMs: 1, bytesPerMs: 200_000 } });
  const [c, s] = openPair(p);
  const total = 8 << 20;
  const st = new Stream(c, s, total, 7, 65536);
  const t0 = p.now;
  const ok = p.run(() => {
    st.pump();
    return st.received === total;
  }, 60_000);
  assert.ok(ok, `transfer incomplete: ${st.received} of ${total} (seed ${p.seed})`);
  assert.equal(st.bad, -1, "byte-exact");
  assert.ok(s.rcv.space > 0, "the receiver measured its per-round-trip amount");
  const data = p.captured.filter((r) => r.from === "a" && r.len > 0).length;
  const acks = p.captured.filter((r) => r.from === "b" && r.len === 0).length;
  assert.ok(acks * 10 < data, `${acks} ACKs for ${data} data segments`);
  const took = p.now - t0;
  const wire = total / 200_000; // ms at the link's rate
  assert.ok(took < wire * 1.25 + 10, `took ${took} ms of virtual time (the link: ${wire} ms)`);
});
