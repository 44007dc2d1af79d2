/**
 * DHCP messages (RFC 2131 section 2, options RFC 2132): a pure codec. `decodeDhcp` returns
 * null for anything malformed (too short, wrong cookie, an option running past the end);
 * `encodeDhcp` builds a BOOTREPLY with the options given.
 *
 * @example Round trip of a reply
 * ```ts
 * import { decodeDhcp, DHCP_OFFER, encodeDhcp, OPT_MSG_TYPE } from "./dhcp.ts";
 * const bytes = encodeDhcp({
 *   op: 2, xid: 7, flags: 0, ciaddr: 0, yiaddr: 0x0a00020f, siaddr: 0x0a000202,
 *   chaddr: new Uint8Array([2, 0, 0, 0, 0, 1]), options: new Map([[OPT_MSG_TYPE, [DHCP_OFFER]]]),
 * });
 * const m = decodeDhcp(bytes);
 * if (m?.yiaddr !== 0x0a00020f || m.options.get(OPT_MSG_TYPE)?.[0] !== DHCP_OFFER) throw new Error();
 * ```
 *
 * @module
 */

/** Message types (option 53, RFC 2132 9.6). */
export const DHCP_DISCOVER = 1;
export const DHCP_OFFER = 2;
export const DHCP_REQUEST = 3;
export const DHCP_DECLINE = 4;
export const DHCP_ACK = 5;
export const DHCP_NAK = 6;
export const DHCP_RELEASE = 7;
export const DHCP_INFORM = 8;

/** Options (RFC 2132). */
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS = 6;
export const OPT_MTU = 26;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_MSG_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_END = 255;
export const OPT_PAD = 0;

/** The fixed part's length (through `file`) and the magic cookie (RFC 2131 3). */
const FIXED = 236;
const COOKIE = 0x63825363;

/** A DHCP message. Addresses are u32; options map a code to its bytes. */
export interface DhcpMessage {
  /** 1 BOOTREQUEST, 2 BOOTREPLY. */
  op: number;
  /** Transaction id. */
  xid: number;
  /** Flags (0x8000: broadcast). */
  flags: number;
  /** Client address (when it has one). */
  ciaddr: number;
  /** "Your" address (the one offered). */
  yiaddr: number;
  /** Next server. */
  siaddr: number;
  /** Client hardware address (6 bytes for Ethernet). */
  chaddr: Uint8Array;
  /** Options by code. */
  options: Map<number, number[] | Uint8Array>;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Decode a DHCP message, or null when malformed. */
export function decodeDhcp(b: Uint8Array): DhcpMessage | null {
  if (b.length < FIXED + 4 || u32(b, FIXED) !== COOKIE) return null;
  const hlen = b[2]!;
  if (b[1] !== 1 || hlen !== 6) return null; // Ethernet only
  const options = new Map<number, Uint8Array>();
  let o = FIXED + 4;
  for (let guard = 0; o < b.length && guard < 1500; guard++) {
    const code = b[o]!;
    if (code === OPT_PAD) {
      o++;
      continue;
    }
    if (code === OPT_END) break;
    if (o + 1 >= b.length) return null;
    const len = b[o + 1]!;
    if (o + 2 + len > b.length) return null;
    options.set(code, b.slice(o + 2, o + 2 + len));
    o += 2 + len;
  }
  return {
    op: b[0]!,
    xid: u32(b, 4),
    flags: (b[10]! << 8) | b[11]!,
    ciaddr: u32(b, 12),
    yiaddr: u32(b, 16),
    siaddr: u32(b, 20),
    chaddr: b.slice(28, 28 + hlen),
    options,
  };
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

/** Encode a message (options in map order, then END; padded to the BOOTP minimum of 300). */
export function encodeDhcp(m: DhcpMessage): Uint8Array {
  let optLen = 1;
  for (const v of m.options.values()) optLen += 2 + v.length;
  const b = new Uint8Array(Math.max(300, FIXED + 4 + optLen));
  b[0] = m.op;
  b[1] = 1;
  b[2] = 6;
  put32(b, 4, m.xid);
  b[10] = m.flags >>> 8;
  b[11] = m.flags & 255;
  put32(b, 12, m.ciaddr);
  put32(b, 16, m.yiaddr);
  put32(b, 20, m.siaddr);
  b.set(m.chaddr.subarray(0, 16), 28);
  put32(b, FIXED, COOKIE);
  let o = FIXED + 4;
  for (const [code, v] of m.options) {
    if (v.length > 255) throw new RangeError(`DHCP option ${code} longer than 255 bytes`);
    b[o] = code;
    b[o + 1] = v.length;
    b.set(v, o + 2);
    o += 2 + v.length;
  }
  b[o] = OPT_END;
  return b;
}

/** An address as the 4 bytes of an option. */
export function ipBytes(ip: number): number[] {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
}
