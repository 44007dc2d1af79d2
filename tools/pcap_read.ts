/**
 * Read a capture for the ladder and the plot: classic pcap (what `withPcap`, `tcpdump -w` and
 * `tshark -F pcap` write; microsecond or nanosecond, either byte order) and pcapng (tshark's
 * and Wireshark's default), and decode its TCP segments with the stack's own decoder
 * (`src/api/trace_segment.ts` over the JS engine's `jsDecode`).
 *
 * Link types read: Ethernet (1); Linux cooked captures SLL (113) and SLL2 (276), which
 * `tcpdump -i any` writes; raw IP (101, 228). Anything else (802.11, BSD loopback, ...) is
 * refused with a `PcapError` that names it. IPv6 and non-TCP frames are skipped and counted.
 *
 * @module
 */

import { SegmentDecoder, type SegmentInfo } from "../src/api/trace_segment.ts";

/** A capture that cannot be read (not pcap, truncated header, unsupported link type). */
export class PcapError extends Error {
  /** Why, with the file's name. */
  constructor(message: string) {
    super(message);
    this.name = "PcapError";
  }
}

/** One captured frame. */
export interface CapturedFrame {
  /** Capture time in ms since the epoch. */
  time: number;
  /** The frame as an Ethernet frame (other link types get a synthesized header). */
  data: Uint8Array;
  /** Length on the wire (> data.length when the snap length cut it). */
  wireLen: number;
}

/** A TCP segment of a capture: its frame number (1-based) and time (ms since the epoch). */
export interface CapturedSegment extends SegmentInfo {
  /** Frame number in the file, from 1 (as tshark and Wireshark count). */
  frame: number;
  /** Capture time in ms since the epoch. */
  time: number;
}

const LINK_NAMES: Record<number, string> = {
  0: "BSD loopback (NULL)",
  9: "PPP",
  12: "raw IP (OpenBSD)",
  105: "IEEE 802.11 wireless",
  108: "OpenBSD loopback",
  127: "802.11 radiotap",
  192: "PPI",
  229: "raw IPv6",
};
const SUPPORTED = "Ethernet (1), Linux cooked SLL (113) or SLL2 (276), raw IP (101, 228)";

/** Frames of a pcap or pcapng file's bytes. Throws `PcapError` for what it cannot read. */
export function readCapture(bytes: Uint8Array, name = "capture"): CapturedFrame[] {
  if (bytes.length < 4) throw new PcapError(`${name}: too short to be a pcap file`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  if (magic === 0x0a0d0d0a) return readPcapng(bytes, v, name);
  const kinds: Record<number, [boolean, number]> = {
    0xa1b2c3d4: [true, 1e3],
    0xa1b23c4d: [true, 1e6],
    0xd4c3b2a1: [false, 1e3],
    0x4d3cb2a1: [false, 1e6],
  };
  const kind = kinds[magic];
  if (!kind) {
    const gz = bytes[0] === 0x1f && bytes[1] === 0x8b ? " (it is gzip-compressed: gunzip it)" : "";
    throw new PcapError(
      `${name}: not a pcap or pcapng file (magic 0x${magic.toString(16)})${gz}`,
    );
  }
  const [le, fracPerMs] = kind;
  if (bytes.length < 24) throw new PcapError(`${name}: pcap header truncated`);
  const linkType = v.getUint32(20, le) & 0x0fffffff;
  const frames: CapturedFrame[] = [];
  let p = 24;
  for (; p + 16 <= bytes.length;) {
    const sec = v.getUint32(p, le);
    const frac = v.getUint32(p + 4, le);
    const incl = v.getUint32(p + 8, le);
    const orig = v.getUint32(p + 12, le);
    if (incl > 262144 || p + 16 + incl > bytes.length) break; // truncated last record
    const raw = bytes.subarray(p + 16, p + 16 + incl);
    frames.push(toEthernet(linkType, raw, orig, sec * 1000 + frac / fracPerMs, name));
    p += 16 + incl;
  }
  return frames;
}

function readPcapng(bytes: Uint8Array, v: DataView, name: string): CapturedFrame[] {
  if (bytes.length < 12) throw new PcapError(`${name}: pcapng header truncated`);
  let le = v.getUint32(8, true) === 0x1a2b3c4d;
  const ifaces: Array<{ linkType: number; unitsPerMs: number }> = [];
  const frames: CapturedFrame[] = [];
  for (let p = 0; p + 12 <= bytes.length;) {
    const type = v.getUint32(p, le);
    if (type === 0x0a0d0d0a) {
      le = v.getUint32(p + 8, true) === 0x1a2b3c4d;
      ifaces.length = 0; // interface ids are per section
    }
    const len = v.getUint32(p + 4, le);
    if (len < 12 || len % 4 !== 0 || p + len > bytes.length) break; // truncated last block
    if (type === 1) {
      let unitsPerMs = 1e3; // if_tsresol default: microseconds
      for (let o = p + 16; o + 4 <= p + len - 4;) {
        const code = v.getUint16(o, le);
        const olen = v.getUint16(o + 2, le);
        if (code === 0) break;
        if (code === 9 && olen >= 1) {
          const r = bytes[o + 4]!;
          const perSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
          unitsPerMs = perSec / 1000;
        }
        o += 4 + Math.ceil(olen / 4) * 4;
      }
      ifaces.push({ linkType: v.getUint16(p + 8, le), unitsPerMs });
    } else if (type === 6 || type === 3) {
      const id = type === 6 ? v.getUint32(p + 8, le) : 0;
      const iface = ifaces[id];
      if (!iface) throw new PcapError(`${name}: packet block for undeclared interface ${id}`);
      let data: Uint8Array;
      let orig: number;
      let time = 0;
      if (type === 6) {
        const ts = v.getUint32(p + 12, le) * 2 ** 32 + v.getUint32(p + 16, le);
        time = ts / iface.unitsPerMs;
        const incl = v.getUint32(p + 20, le);
        orig = v.getUint32(p + 24, le);
        data = bytes.subarray(p + 28, Math.min(p + 28 + incl, p + len - 4));
      } else {
        orig = v.getUint32(p + 8, le);
        data = bytes.subarray(p + 12, Math.min(p + 12 + orig, p + len - 4));
      }
      frames.push(toEthernet(iface.linkType, data, orig, time, name));
    }
    p += len;
  }
  return frames;
}

/** The frame as Ethernet: as is for link type 1, with a synthesized header otherwise. */
function toEthernet(
  linkType: number,
  raw: Uint8Array,
  orig: number,
  time: number,
  name: string,
): CapturedFrame {
  if (linkType === 1) return { time, data: raw, wireLen: orig };
  let proto: number;
  let skip: number;
  if (linkType === 113) {
    proto = raw.length >= 16 ? (raw[14]! << 8) | raw[15]! : 0; // SLL: protocol at 14
    skip = 16;
  } else if (linkType === 276) {
    proto = raw.length >= 20 ? (raw[0]! << 8) | raw[1]! : 0; // SLL2: protocol first
    skip = 20;
  } else if (linkType === 101 || linkType === 228) {
    proto = raw.length > 0 && raw[0]! >> 4 === 4 ? 0x0800 : 0x86dd;
    skip = 0;
  } else {
    const what = LINK_NAMES[linkType] ?? "unknown";
    throw new PcapError(
      `${name}: link type ${linkType} (${what}) is not supported; supported: ${SUPPORTED}`,
    );
  }
  const body = raw.subarray(Math.min(skip, raw.length));
  const data = new Uint8Array(14 + body.length);
  data[12] = proto >> 8;
  data[13] = proto & 255;
  data.set(body, 14);
  return { time, data, wireLen: Math.max(14, orig - skip + 14) };
}

/** The TCP segments of a capture, with counts of the frames skipped by reason. */
export interface CaptureSegments {
  /** TCP segments over IPv4, in file order. */
  segments: CapturedSegment[];
  /** Frames that are not IPv4 TCP segments, by reason ("not TCP", a drop reason...). */
  skipped: Record<string, number>;
  /** Frames in the file. */
  frames: number;
}

/** Decode every frame of a capture's bytes into TCP segments. */
export function captureSegments(bytes: Uint8Array, name = "capture"): CaptureSegments {
  const frames = readCapture(bytes, name);
  const dec = new SegmentDecoder();
  const segments: CapturedSegment[] = [];
  const skipped: Record<string, number> = {};
  frames.forEach((f, i) => {
    const s = dec.decode(f.data, 0, f.data.length, f.wireLen);
    if (typeof s === "string") skipped[s] = (skipped[s] ?? 0) + 1;
    else segments.push({ ...s, frame: i + 1, time: f.time });
  });
  return { segments, skipped, frames: frames.length };
}

/** Read and decode a capture file. Throws `PcapError` (or Deno's NotFound) with its name. */
export async function readCaptureFile(path: string): Promise<CaptureSegments> {
  return captureSegments(await Deno.readFile(path), path);
}

/**
 * Run a capture command's `main` and exit with its code; a user's mistake (a bad capture, a
 * missing file, a bad option) prints `name: message` and exits 2 instead of a stack trace.
 */
export async function runCaptureCli(
  name: string,
  main: (args: string[]) => Promise<number>,
): Promise<never> {
  try {
    return Deno.exit(await main(Deno.args));
  } catch (err) {
    if (
      err instanceof PcapError || err instanceof RangeError ||
      err instanceof Deno.errors.NotFound ||
      (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      console.error(`${name}: ${(err as Error).message}`);
      return Deno.exit(2);
    }
    throw err;
  }
}
