/**
 * The receiver's ACK policy: a request's ACK rides on the answer when the application answers
 * within the delayed-ACK time (RFC 1122 4.2.3.2, RFC 9293 3.8.6.3), while full-sized segments
 * are acknowledged at least every second one (RFC 5681 4.2), so bulk transfers and slow start
 * keep their ACK clock.
 */

import assert from "node:assert/strict";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

Deno.test("ACK policy: a request in two small segments, answered 5 ms later: the answer carries the ACK", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 1 } });
  const [c, s] = openPair(p);
  c.setNoDelay(true); // the second part does not wait for the first one's ACK
  p.captured.length = 0;
  c.write(new Uint8Array(60));
  p.advance(0.5);
  c.write(new Uint8Array(40));
  const buf = new Uint8Array(1000);
  let got = 0, answered = false;
  p.advance(30, () => {
    got += s.read(buf);
  });
  assert.equal(got, 100);
  p.advance(5);
  s.write(new Uint8Array(500));
  answered = true;
  p.advance(100);
  assert.ok(answered);
  const fromA = p.captured.filter((r) => r.from === "a" && r.len > 0);
  assert.deepEqual(fromA.slice(0, 2).map((r) => r.len), [60, 40], "two request segments");
  const fromB = p.captured.filter((r) => r.from === "b");
  assert.equal(fromB[0]!.len, 500, "the first segment from the server is the answer");
  assert.equal(fromB[0]!.ack, (fromA[0]!.seq + 100) >>> 0, "and it acknowledges the request");
});

Deno.test("ACK policy: a request nobody answers is acknowledged after the delayed-ACK time", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 1 } });
  const [c, s] = openPair(p);
  p.captured.length = 0;
  const t0 = p.now;
  c.write(new Uint8Array(100));
  p.advance(200, () => void s.read(new Uint8Array(1000)));
  const ack = p.captured.find((r) => r.from === "b" && r.len === 0)!;
  assert.ok(ack, "an ACK came");
  const delay = ack.at - t0;
  assert.ok(delay >= 40 && delay <= 45, `ACK after ${delay} ms (delayedAckMs 40)`);
});

Deno.test("ACK policy: full-sized segments arriving one by one draw an ACK every second segment", () => {
  // 100 bytes/ms: one full segment every ~15 ms, well inside the 40 ms delayed-ACK time.
  // No tail loss probe: with a 4 ms RTT sample it would fire during the slow delivery.
  const p = new TcpPair({
    capture: true,
    faults: { delayMs: 2, bytesPerMs: 100 },
    tcpA: { tailLossProbe: false },
  });
  const [c, s] = openPair(p);
  const mss = c.info().mss;
  const buf = new Uint8Array(65536);
  // First a batch that opens the receive window past the SYN's 64 KiB (its window updates
  // are not what is measured), then ten segments.
  c.write(new Uint8Array(10 * mss));
  p.advance(400, () => void s.read(buf));
  p.captured.length = 0;
  c.write(new Uint8Array(10 * mss));
  p.advance(400, () => void s.read(buf));
  const data = p.captured.filter((r) => r.from === "a" && r.len > 0);
  const acks = p.captured.filter((r) => r.from === "b" && r.len === 0);
  assert.equal(data.length, 10);
  assert.equal(acks.length, 5, acks.map((a) => a.ack).join(" "));
  for (let i = 0; i < 5; i++) {
    const second = data[2 * i + 1]!;
    assert.equal(acks[i]!.ack, (second.seq + second.len) >>> 0, `ACK ${i} covers two segments`);
  }
});
