// A TCP segment written whole with its checksum left to the kernel (src/link/tap/gso.ts
// partialChecksumFrame, the MTU 65520 send path of the TAP device): NEEDS_CSUM, GSO_NONE,
// csum_start/offset at the TCP checksum, which holds the pseudo-header sum that completes to
// the checksum TCP computed; frames that are not TCP segments with data are refused untouched.

import assert from "node:assert/strict";
import { jsChecksum } from "../../src/kernels/js/checksum.ts";
import { partialChecksumFrame } from "../../src/link/tap/gso.ts";
import {
  completeChecksum,
  readVnetHeader,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_NONE,
} from "../../src/link/tap/vnet.ts";
import { pattern } from "../support/interop_env.ts";
import { ip4, tcpFrame } from "../support/wire_frames.ts";

function segment(payload: number, flags: number): Uint8Array {
  return tcpFrame({}, { src: ip4("10.0.2.2"), dst: ip4("10.0.2.100") }, {
    srcPort: 40000,
    dstPort: 5003,
    seq: 1000,
    ack: 2000,
    flags,
    wnd: 500,
    options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
  }, pattern(payload, 9));
}

Deno.test("partial checksum frame: NEEDS_CSUM, no GSO, the checksum completes to TCP's", () => {
  for (const flags of [0x10, 0x18, 0x19]) { // ACK, ACK+PSH, ACK+PSH+FIN
    const f = segment(65468, flags);
    const at = 14 + 20 + 16;
    const full = (f[at]! << 8) | f[at + 1]!;
    const hdr = new Uint8Array(10);
    assert.equal(partialChecksumFrame(f, 0, f.length, hdr), true);
    const h = readVnetHeader(hdr, {
      flags: 0,
      gsoType: 0,
      hdrLen: 0,
      gsoSize: 0,
      csumStart: 0,
      csumOffset: 0,
    });
    assert.equal(h.flags, VNET_F_NEEDS_CSUM);
    assert.equal(h.gsoType, VNET_GSO_NONE);
    assert.equal(h.gsoSize, 0);
    assert.equal(h.csumStart, 34);
    assert.equal(h.csumOffset, 16);
    assert.notEqual((f[at]! << 8) | f[at + 1]!, full, "the field holds the partial sum");
    assert.ok(completeChecksum(f, 0, f.length, 34, 16, jsChecksum));
    assert.equal((f[at]! << 8) | f[at + 1]!, full);
  }
  for (const flags of [0x12, 0x14, 0x30]) { // SYN+ACK, RST, URG: left alone
    const f = segment(40000, flags);
    const copy = f.slice();
    assert.equal(partialChecksumFrame(f, 0, f.length, new Uint8Array(10)), false);
    assert.deepEqual(f, copy);
  }
});
