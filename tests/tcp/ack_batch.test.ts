/**
 * ACKs per received batch: in-order segments read back to back are answered by one ACK when
 * the layer is polled at the end of the batch (a stretch ACK, as a Linux receiver behind GRO
 * sends), while out-of-order data is answered at once, one duplicate ACK per segment with its
 * SACK news (RFC 5681 4.2, RFC 2018).
 */

import assert from "node:assert/strict";
import { F_ACK, RX_OFF } from "../../src/wire/layout.ts";
import { segment } from "../support/segment.ts";
import { IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

function setup() {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(100));
  p.advance(100, () => s.read(new Uint8Array(200)));
  const last = p.captured.filter((r) => r.from === "a").at(-1)!;
  const next = (last.seq + last.len) >>> 0;
  const ackOf = p.captured.filter((r) => r.from === "b").at(-1)!.seq;
  /** Hand b a 1000-byte segment at `seq` as if read in the current batch (no poll). */
  const inject = (seq: number) => {
    const x = segment({
      srcIp: IP_A,
      dstIp: IP_B,
      srcPort: c.localPort,
      dstPort: c.remotePort,
      flags: F_ACK,
      seq,
      ack: ackOf,
      wnd: 65535,
      ts: { val: p.now },
      payloadOff: RX_OFF,
      payloadLen: 1000,
    });
    p.b.input(x, p.now);
  };
  p.captured.length = 0;
  const acks = () => p.captured.filter((r) => r.from === "b" && r.len === 0);
  return { p, s, next, inject, acks };
}

Deno.test("ACK batching: ten in-order segments of one batch draw one ACK at the poll", () => {
  const { p, s, next, inject, acks } = setup();
  for (let i = 0; i < 10; i++) inject(next + 1000 * i);
  assert.equal(acks().length, 0, "no ACK before the batch ends");
  assert.equal(s.readable, 10000, "the data is readable at once");
  p.b.poll(p.now);
  assert.equal(acks().length, 1);
  assert.equal(acks()[0]!.ack, (next + 10000) >>> 0, "the one ACK covers the whole batch");
});

Deno.test("ACK batching: out-of-order segments are answered at once, one SACK each", () => {
  const { p, next, inject, acks } = setup();
  inject(next + 1000); // the segment at `next` is missing
  inject(next + 3000);
  inject(next + 5000);
  const dup = acks();
  assert.equal(dup.length, 3, "a duplicate ACK per out-of-order segment, before any poll");
  for (const a of dup) assert.equal(a.ack, next);
  assert.deepEqual(dup.map((a) => a.sackCount), [1, 2, 3]);
  inject(next); // fills the hole: ACKed at once too (RFC 5681 4.2)
  assert.equal(acks().length, 4);
  assert.equal(acks()[3]!.ack, (next + 2000) >>> 0);
  p.b.poll(p.now);
  assert.equal(acks().length, 4, "nothing left owed");
});
