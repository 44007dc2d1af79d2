/**
 * Regression tests, in the sans-I/O engine, of what the conformance bench found where our stack
 * differed from Linux (see docs/conformance.md); each bench case keeps checking it over TAP.
 */

import assert from "node:assert/strict";
import { F_ACK, F_FIN, F_RST, F_SYN, RX_OFF } from "../../src/wire/layout.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { type Captured, IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

/** A segment from A's address to B's. */
function seg(srcPort: number, dstPort: number, flags: number, seq: number): TcpSegment {
  const x = new TcpSegment();
  x.srcIp = IP_A;
  x.dstIp = IP_B;
  x.srcPort = srcPort;
  x.dstPort = dstPort;
  x.flags = flags;
  x.seq = seq >>> 0;
  x.wnd = 65535;
  return x;
}

Deno.test("tcp_listen_syn_fin_dropped: SYN+FIN to a listener opens nothing, as Linux", () => {
  const p = new TcpPair({ capture: true });
  p.b.listen(0, 80);
  p.b.input(seg(40000, 80, F_SYN | F_FIN, 1000), p.now);
  p.b.poll(p.now);
  assert.equal(p.captured.filter((r) => r.from === "b").length, 0, "no SYN-ACK");
  assert.equal(p.b.stats()["tcp-listen-syn-fin"], 1);
  // A plain SYN is still answered.
  p.b.input(seg(40001, 80, F_SYN, 2000), p.now);
  p.b.poll(p.now);
  const out = p.captured.filter((r) => r.from === "b");
  assert.equal(out.length, 1);
  assert.equal(out[0]!.flags & (F_SYN | F_ACK), F_SYN | F_ACK);
});

Deno.test("tcp_dsack_ooo_duplicate: a duplicate of out-of-order data is D-SACKed (RFC 2883 4.1.2)", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(1000));
  p.advance(100, () => s.read(new Uint8Array(2000)));
  const last = p.captured.filter((r) => r.from === "a").at(-1)!;
  const rcvNxt = (last.seq + last.len) >>> 0;
  const ackOf = p.captured.filter((r) => r.from === "b").at(-1)!.seq;
  const inject = (seq: number, len: number): Captured[] => {
    const x = seg(c.localPort, c.remotePort, F_ACK, seq);
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
  const island = [(rcvNxt + 100) >>> 0, (rcvNxt + 110) >>> 0];
  let acks = inject(island[0]!, 10);
  assert.equal(acks.length, 1);
  assert.deepEqual(acks[0]!.sack.slice(0, 2 * acks[0]!.sackCount), island);
  acks = inject(island[0]!, 10);
  assert.equal(acks.length, 1);
  assert.equal(acks[0]!.ack, rcvNxt);
  assert.deepEqual(acks[0]!.sack.slice(0, 2 * acks[0]!.sackCount), [...island, ...island]);
  assert.equal(s.readable, 0);
  assert.equal(p.sackViolations, 0);
});

Deno.test("tcp_time_wait_data_acked: text in TIME-WAIT is ignored but acknowledged, as Linux", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  s.close(); // b closes first: b ends in TIME-WAIT
  p.advance(50);
  c.close();
  p.advance(50);
  assert.equal(s.state, "TIME-WAIT");
  const finOfA = p.captured.filter((r) => r.from === "a").at(-1)!;
  const ackOf = p.captured.filter((r) => r.from === "b").at(-1)!.seq;
  const x = seg(c.localPort, c.remotePort, F_ACK, (finOfA.seq + 1) >>> 0);
  x.ack = ackOf;
  x.hasTs = true;
  x.tsVal = p.now >>> 0;
  x.payloadOff = RX_OFF;
  x.payloadLen = 5;
  p.captured.length = 0;
  p.b.input(x, p.now);
  p.b.poll(p.now);
  const out = p.captured.filter((r) => r.from === "b");
  assert.equal(out.length, 1, "one ACK");
  assert.equal(out[0]!.flags, F_ACK);
  assert.equal(out[0]!.ack, (finOfA.seq + 1) >>> 0, "acknowledges up to the FIN, not the text");
  assert.equal(s.state, "TIME-WAIT");
});

Deno.test("tcp_data_after_close_rst: <SEQ=SEG.ACK><CTL=RST>, exact even with our FIN unacknowledged", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  p.advance(50);
  p.blackhole.b = true; // b's FIN never reaches a
  s.close();
  p.advance(5);
  p.blackhole.b = false;
  const finOfB = p.captured.filter((r) => r.from === "b").at(-1)!;
  assert.ok(finOfB.flags & F_FIN);
  const lastOfA = p.captured.filter((r) => r.from === "a").at(-1)!;
  const x = seg(c.localPort, c.remotePort, F_ACK, lastOfA.seq + lastOfA.len);
  x.ack = finOfB.seq; // our FIN not acknowledged
  x.hasTs = true;
  x.tsVal = p.now >>> 0;
  x.payloadOff = RX_OFF;
  x.payloadLen = 5;
  p.captured.length = 0;
  p.b.input(x, p.now);
  p.b.poll(p.now);
  const out = p.captured.filter((r) => r.from === "b");
  assert.equal(out.length, 1, "one RST");
  assert.equal(out[0]!.flags, F_RST);
  assert.equal(out[0]!.seq, finOfB.seq, "SEQ = SEG.ACK");
  assert.equal(s.state, "CLOSED");
});
