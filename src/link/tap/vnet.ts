/**
 * The virtio-net header (`struct virtio_net_hdr`, include/uapi/linux/virtio_net.h) that a TAP
 * device opened with `IFF_VNET_HDR` puts in front of every frame, and the one piece of work it
 * asks of a receiver: completing a partial checksum.
 *
 * With `TUNSETOFFLOAD` (`TUN_F_CSUM | TUN_F_TSO4`), the kernel hands the device whole TCP
 * segments of up to 64 KiB (GSO, `gso_type` TCPV4, `gso_size` the MSS it would have cut them
 * into) whose TCP checksum field holds only the folded pseudo-header sum
 * (`VIRTIO_NET_HDR_F_NEEDS_CSUM`; Linux `tcp_v4_send_check` writes `~tcp_v4_check(len, src,
 * dst, 0)`). The IPv4 header of such a frame is complete: total length and header checksum
 * are set before the device sees it (`__ip_queue_xmit`, `ip_send_check`). So a receiver that
 * folds the ones'-complement sum over `[csum_start, end)` (RFC 1071) and stores its complement
 * at `csum_start + csum_offset` turns it into an ordinary, valid frame: one large TCP segment.
 *
 * The 10-byte layout (fields in the host's byte order, little-endian here, for a legacy
 * header as TAP uses without `TUNSETVNETLE`):
 *
 * ```
 * 0 flags  1 gso_type  2 hdr_len  4 gso_size  6 csum_start  8 csum_offset
 * ```
 *
 * An all-zero header (no flag, `GSO_NONE`) means "nothing to do": what we put in front of the
 * frames we send, whose checksums the encoder already filled in.
 *
 * @module
 */

import type { ChecksumFn } from "../link.ts";
export type { ChecksumFn };

/** Size of `struct virtio_net_hdr` (without `num_buffers`): the header in front of each frame. */
export const VNET_HDR_LEN = 10;
/** `flags`: the L4 checksum is partial, complete it over `[csum_start, end)`. */
export const VNET_F_NEEDS_CSUM = 1;
/** `flags`: the checksum was already verified (by the kernel). */
export const VNET_F_DATA_VALID = 2;
/** `gso_type`: a single frame, no segmentation. */
export const VNET_GSO_NONE = 0;
/** `gso_type`: an IPv4 TCP segment larger than the MSS (TSO). */
export const VNET_GSO_TCPV4 = 1;
/** `gso_type` bit: the segment carries CWR (set once, on the first of the cut segments). */
export const VNET_GSO_ECN = 0x80;

/** The fields of one virtio-net header, as read by {@link readVnetHeader}. */
export interface VnetHeader {
  /** `VNET_F_*` bits. */
  flags: number;
  /** `VNET_GSO_*` value (with the ECN bit). */
  gsoType: number;
  /** Length of the headers (Ethernet + IP + TCP) of a GSO frame; a hint. */
  hdrLen: number;
  /** MSS the kernel would cut a GSO frame into; informational on receive. */
  gsoSize: number;
  /** Offset in the frame where the partial checksum's coverage starts. */
  csumStart: number;
  /** Offset of the checksum field from `csumStart`. */
  csumOffset: number;
}

/**
 * Read the header at `hdr[0, 10)` into `out` (reused: nothing is allocated).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readVnetHeader, type VnetHeader, writeVnetHeader } from "./vnet.ts";
 * const hdr = new Uint8Array(10);
 * const h: VnetHeader = { flags: 1, gsoType: 1, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16 };
 * writeVnetHeader(hdr, h);
 * const back = readVnetHeader(hdr, { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });
 * assert.deepEqual(back, h);
 * ```
 */
export function readVnetHeader(hdr: Uint8Array, out: VnetHeader): VnetHeader {
  if (hdr.length < VNET_HDR_LEN) {
    throw new RangeError(`Virtio-net header needs ${VNET_HDR_LEN} bytes, got ${hdr.length}`);
  }
  out.flags = hdr[0]!;
  out.gsoType = hdr[1]!;
  out.hdrLen = hdr[2]! | (hdr[3]! << 8);
  out.gsoSize = hdr[4]! | (hdr[5]! << 8);
  out.csumStart = hdr[6]! | (hdr[7]! << 8);
  out.csumOffset = hdr[8]! | (hdr[9]! << 8);
  return out;
}

/**
 * Write `h` as a 10-byte header at `hdr[0, 10)` (little-endian fields).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeVnetHeader } from "./vnet.ts";
 * const hdr = new Uint8Array(10).fill(7);
 * writeVnetHeader(hdr, { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 });
 * assert.deepEqual([...hdr], new Array(10).fill(0));
 * ```
 */
export function writeVnetHeader(hdr: Uint8Array, h: VnetHeader): void {
  if (hdr.length < VNET_HDR_LEN) {
    throw new RangeError(`Virtio-net header needs ${VNET_HDR_LEN} bytes, got ${hdr.length}`);
  }
  hdr[0] = h.flags;
  hdr[1] = h.gsoType;
  hdr[2] = h.hdrLen & 0xff;
  hdr[3] = h.hdrLen >>> 8;
  hdr[4] = h.gsoSize & 0xff;
  hdr[5] = h.gsoSize >>> 8;
  hdr[6] = h.csumStart & 0xff;
  hdr[7] = h.csumStart >>> 8;
  hdr[8] = h.csumOffset & 0xff;
  hdr[9] = h.csumOffset >>> 8;
}

/**
 * Complete the partial checksum of the frame at `mem[frameOff, frameOff+frameLen)` as a
 * device does for `VNET_F_NEEDS_CSUM`: the checksum field (holding the folded pseudo-header
 * sum) is included in the sum over `[csumStart, frameLen)`, and the complement of the result
 * is stored in it, big-endian. A result of 0 is stored as 0xffff, like Linux
 * `skb_checksum_help` (the same value in ones' complement, RFC 1624 section 3, and the only
 * form UDP allows, RFC 768). Returns false, changing nothing, when the offsets do not fit in
 * the frame (a header the receiver must drop).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { completeChecksum } from "./vnet.ts";
 * import { jsChecksum } from "../../kernels/js/checksum.ts";
 * // Four bytes of "frame", checksum field at offset 2 holding the partial sum 0x0102.
 * const f = new Uint8Array([0x12, 0x34, 0x01, 0x02]);
 * assert(completeChecksum(f, 0, 4, 0, 2, jsChecksum));
 * assert.equal(jsChecksum(f, 0, 4, 0x0102), 0); // verifies with the pseudo-header sum
 * assert(!completeChecksum(f, 0, 4, 2, 2, jsChecksum)); // field beyond the frame
 * ```
 */
export function completeChecksum(
  mem: Uint8Array,
  frameOff: number,
  frameLen: number,
  csumStart: number,
  csumOffset: number,
  checksum: ChecksumFn,
): boolean {
  const field = csumStart + csumOffset;
  if (field + 2 > frameLen) return false;
  const at = frameOff + field;
  // The field is part of the covered data: it already holds the pseudo-header sum.
  const c = checksum(mem, frameOff + csumStart, frameLen - csumStart, 0) || 0xffff;
  mem[at] = c >>> 8;
  mem[at + 1] = c & 0xff;
  return true;
}
