/** The urgent pointer (RFC 9293 3.8.5, RFC 6093): urgent data stays inline, its mark is reported. */

import assert from "node:assert/strict";
import { F_ACK } from "../../src/wire/layout.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

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
