/**
 * Software segmentation of IPv6 TCP frames (src/link/segment.ts), as the fault injector needs
 * for the 64 KiB IPv6 segments a TAP or TUN link with offload (the default) receives: before,
 * they were dropped as `fault-oversize` and an IPv6 upload through `withFaults` stalled. The
 * large frame is built by hand (independent of both engines) with a partial checksum, as the
 * kernel hands it over; every cut must decode in both engines with its checksum verified.
 */
import assert from "node:assert/strict";
import { segmentFrame } from "../../src/link/segment.ts";
import {
  D_KIND,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  K_TCP6,
} from "../../src/wire/layout.ts";
import { parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { pattern } from "../support/interop_env.ts";
import { decodeAt, engines, MAC_A, MAC_B } from "../support/wire_frames.ts";

const TCP_OPTS = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]; // NOP NOP timestamps

/** Ethernet + IPv6 (next header `nh`) + TCP with timestamps + payload; TCP checksum left 0. */
function bigFrame6(payload: Uint8Array, flags: number, nh = 6): Uint8Array {
  const tcpLen = 20 + TCP_OPTS.length + payload.length;
  const f = new Uint8Array(14 + 40 + tcpLen);
  f.set(MAC_B, 0);
  f.set(MAC_A, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  f[14] = 0x60;
  f[18] = tcpLen >>> 8;
  f[19] = tcpLen & 0xff;
  f[20] = nh;
  f[21] = 64;
  f.set(parseIpv6("fd00::1")!, 22);
  f.set(parseIpv6("fd00::2")!, 38);
  const t = 54;
  const dv = new DataView(f.buffer);
  dv.setUint16(t, 40000);
  dv.setUint16(t + 2, 8080);
  dv.setUint32(t + 4, 0xfffffe00); // wraps within the frame
  dv.setUint32(t + 8, 12345);
  f[t + 12] = ((20 + TCP_OPTS.length) / 4) << 4;
  f[t + 13] = flags;
  dv.setUint16(t + 14, 500);
  f.set(TCP_OPTS, t + 20);
  f.set(payload, t + 20 + TCP_OPTS.length);
  return f;
}

Deno.test("segment6: a 20000-byte IPv6 TCP frame is cut into valid 1428-byte segments", () => {
  const payload = pattern(20000, 11);
  const big = bigFrame6(payload, 0x99); // CWR, ACK, PSH, FIN
  // A partial checksum, as a GSO frame from the kernel carries: the cuts must not depend on it.
  big[54 + 16] = 0x12;
  big[54 + 17] = 0x34;
  const cuts: Uint8Array[] = [];
  const n = segmentFrame(big, 0, big.length, 1500, new Uint8Array(1514), (f, len) => {
    cuts.push(f.slice(0, len));
  });
  const mss = 1500 - 40 - 32;
  assert.equal(n, Math.ceil(20000 / mss));
  assert.equal(cuts.length, n);
  for (const e of engines()) {
    const got: number[] = [];
    cuts.forEach((c, i) => {
      assert.ok(c.length <= 1514, `cut ${i}: ${c.length} bytes`);
      assert.equal((c[18]! << 8) | c[19]!, c.length - 54, "IPv6 payload length");
      assert.equal(decodeAt(e, c, 327680), 0, `${e.kind}: cut ${i} decodes, checksum verified`);
      assert.equal(e.rxDesc[D_KIND], K_TCP6);
      assert.equal(e.rxDesc[D_TCP_SEQ]! >>> 0, (0xfffffe00 + i * mss) >>> 0);
      const last = i === n - 1;
      const want = 0x10 | (last ? 0x09 : 0) | (i === 0 ? 0x80 : 0);
      assert.equal(e.rxDesc[D_TCP_FLAGS], want, `flags of cut ${i}`);
      const p = e.rxDesc[D_PAYLOAD_OFF]!;
      got.push(...e.mem.subarray(p, p + e.rxDesc[D_PAYLOAD_LEN]!));
    });
    assert.deepEqual(got, [...payload], `${e.kind}: the payload, in order`);
  }
});

Deno.test("segment6: IPv6 frames it cannot cut are refused (0), never cut wrong", () => {
  const out = new Uint8Array(1514);
  const none = () => {};
  // An extension header before TCP (hop-by-hop, next header 0): not cut.
  const ext = bigFrame6(pattern(4000, 1), 0x10, 0);
  assert.equal(segmentFrame(ext, 0, ext.length, 1500, out, none), 0);
  // UDP (next header 17): not cut.
  const udp = bigFrame6(pattern(4000, 1), 0x10, 17);
  assert.equal(segmentFrame(udp, 0, udp.length, 1500, out, none), 0);
  // A payload length beyond the frame: not cut.
  const short = bigFrame6(pattern(4000, 1), 0x10);
  assert.equal(segmentFrame(short, 0, short.length - 100, 1500, out, none), 0);
  // An MTU that leaves no room for payload: not cut.
  const big = bigFrame6(pattern(4000, 1), 0x10);
  assert.equal(segmentFrame(big, 0, big.length, 72, out, none), 0);
});
