/**
 * Regression tests, in the sans-I/O engine, of what the conformance bench found where our stack
 * differed from Linux (see docs/conformance.md); each bench case keeps checking it over TAP.
 */

import assert from "node:assert/strict";
import { F_ACK, F_FIN, F_SYN } from "../../src/wire/layout.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";

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
