// Send-side segmentation offload over IPv6 (src/link/tap/gso.ts): consecutive TCP-over-IPv6
// segments of one flow merge into one frame with a GSO_TCPV6 virtio-net header whose partial
// checksum, completed as the kernel does, gives a segment both engines accept with the
// payload intact; another flow, or an IPv4 segment after IPv6 ones, is not merged; a large
// IPv6 segment TCP built (TSO) gets its GSO_TCPV6 header.

import assert from "node:assert/strict";
import { SegmentMerger, tsoFrame } from "../../src/link/tap/gso.ts";
import { completeChecksum, readVnetHeader, VNET_F_NEEDS_CSUM } from "../../src/link/tap/vnet.ts";
import { jsChecksum } from "../../src/kernels/js/checksum.ts";
import {
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_IP_TTL,
  D_KIND,
  D_OPT_MSS,
  D_OPT_TS,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_TCP_WND,
  D_VLAN,
  K_TCP6,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { pattern } from "../support/interop_env.ts";
import { decodeAt, engines, tcpFrame } from "../support/wire_frames.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";

const STREAM = pattern(1428 * 8, 5);

function seg6(i: number, len: number, o: { flags?: number; src?: string } = {}): Uint8Array {
  const e = createJsEngine();
  const t = e.txDesc;
  t.fill(0);
  t[D_KIND] = K_TCP6;
  t[D_VLAN] = -1;
  t[D_ETH_DST_HI] = 0x0200;
  t[D_ETH_DST_LO] = 1;
  t[D_ETH_SRC_HI] = 0x0200;
  t[D_ETH_SRC_LO] = 2;
  t[D_IP_TTL] = 64;
  t[D_SRC_PORT] = 40000;
  t[D_DST_PORT] = 5001;
  t[D_TCP_SEQ] = 1000 + 1428 * i;
  t[D_TCP_ACK] = 2001;
  t[D_TCP_FLAGS] = o.flags ?? 0x10;
  t[D_TCP_WND] = 1000;
  t[D_OPT_MSS] = -1;
  t[D_OPT_WS] = -1;
  t[D_OPT_TS] = 1;
  t[D_OPT_TSVAL] = 7;
  e.mem.set(parseIpv6(o.src ?? "fd00::2")!, TX_IP6_SRC);
  e.mem.set(parseIpv6("fd00::1")!, TX_IP6_DST);
  e.mem.set(STREAM.subarray(1428 * i, 1428 * i + len), TX_PAYLOAD_OFF);
  const start = e.encode(TX_PAYLOAD_OFF, len);
  return e.mem.slice(start, TX_PAYLOAD_OFF + len);
}

Deno.test("gso6: IPv6 segments merge into one GSO_TCPV6 frame that decodes after the kernel's checksum", () => {
  const m = new SegmentMerger();
  const segs = [seg6(0, 1428), seg6(1, 1428), seg6(2, 1428), seg6(3, 300, { flags: 0x18 })];
  for (const f of segs) assert.ok(m.offer(f, 0, f.length));
  assert.equal(m.count, 4);
  const len = m.finish();
  const hdrLen = 14 + 40 + 32;
  assert.equal(len, hdrLen + 3 * 1428 + 300);
  const h = readVnetHeader(m.hdr, {
    flags: 0,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 0,
    csumOffset: 0,
  });
  assert.deepEqual(h, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: 4,
    hdrLen,
    gsoSize: 1428,
    csumStart: 54,
    csumOffset: 16,
  });
  const frame = m.buf.slice(0, len);
  assert.equal((frame[18]! << 8) | frame[19]!, len - 54, "IPv6 payload length");
  assert.ok(completeChecksum(frame, 0, len, 54, 16, jsChecksum));
  for (const e of engines()) {
    assert.equal(decodeAt(e, frame, 327680), 0, e.kind);
    assert.equal(e.rxDesc[D_KIND], K_TCP6);
    assert.equal(e.rxDesc[D_TCP_FLAGS]! & 0x08, 0x08, "PSH of the last segment");
    const p = e.rxDesc[D_PAYLOAD_OFF]!;
    assert.deepEqual(
      e.mem.subarray(p, p + e.rxDesc[D_PAYLOAD_LEN]!),
      STREAM.subarray(0, 3 * 1428 + 300),
    );
  }
  m.reset();
});

Deno.test("gso6: another source address or an IPv4 segment is not merged with IPv6 ones", () => {
  const m = new SegmentMerger();
  const a = seg6(0, 1428);
  assert.ok(m.offer(a, 0, a.length));
  const other = seg6(1, 1428, { src: "fd00::3" });
  assert.equal(m.offer(other, 0, other.length), false);
  const v4 = tcpFrame({}, { src: 0x0a070002, dst: 0x0a070001 }, {
    srcPort: 40000,
    dstPort: 5001,
    seq: 1000 + 1428,
    ack: 2001,
    flags: 0x10,
    wnd: 1000,
  }, new Uint8Array(1428));
  assert.equal(m.offer(v4, 0, v4.length), false);
  assert.equal(m.finish(), a.length); // one segment: as it came
  assert.equal(m.hdr.every((b) => b === 0), true);
});

Deno.test("gso6: tsoFrame describes a large IPv6 segment TCP built (GSO_TCPV6, gso_size 1428)", () => {
  // One segment of 3 x 1428 + 100 bytes: the frame as TCP's TSO path builds it.
  const big = seg6(0, 3 * 1428 + 100, { flags: 0x19 }); // ACK, PSH, FIN on the last cut
  const hdr = new Uint8Array(10);
  assert.ok(tsoFrame(big, 0, big.length, 1500, hdr));
  const h = readVnetHeader(hdr, {
    flags: 0,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 0,
    csumOffset: 0,
  });
  assert.deepEqual(h, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: 4,
    hdrLen: 14 + 40 + 32,
    gsoSize: 1500 - 40 - 32,
    csumStart: 54,
    csumOffset: 16,
  });
  assert.ok(completeChecksum(big, 0, big.length, 54, 16, jsChecksum));
  for (const e of engines()) assert.equal(decodeAt(e, big, 327680), 0, e.kind);
  // A SYN is no TSO segment.
  const syn = seg6(0, 100, { flags: 0x02 });
  assert.equal(tsoFrame(syn, 0, syn.length, 1500, hdr), false);
});
