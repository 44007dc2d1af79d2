/**
 * Test support for the wire hot paths: a byte-at-a-time reference checksum and a reference
 * frame builder written independently of both engines (plain objects in, bytes out), used as
 * the known answer for encode and as input for decode.
 *
 * @module
 */

import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import type { Engine } from "../../src/kernels/engine.ts";

/** Both engines, fresh. */
export function engines(): Engine[] {
  return [createJsEngine(), createWasmEngine()];
}

/** RFC 1071 one byte at a time: big-endian 16-bit words, odd byte padded, complemented. */
export function refChecksum(b: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i < b.length; i++) s += (i & 1) === 0 ? b[i]! << 8 : b[i]!;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** Ethernet fields. MACs as 6-byte arrays. */
export interface EthSpec {
  dst?: number[];
  src?: number[];
  vlan?: number; // TCI; absent = untagged
}

/** IPv4 fields. */
export interface IpSpec {
  tos?: number;
  id?: number;
  frag?: number;
  ttl?: number;
  src: number;
  dst: number;
}

/** TCP fields with options as raw bytes (already padded by the caller if wanted). */
export interface TcpSpec {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  wnd: number;
  urg?: number;
  options?: number[];
}

/** Default MACs. */
export const MAC_A = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
/** Default MACs. */
export const MAC_B = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];

function be16(v: number): number[] {
  return [(v >>> 8) & 0xff, v & 0xff];
}

function be32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** Ethernet header bytes. */
export function ethHeader(e: EthSpec, type: number): number[] {
  const h = [...(e.dst ?? MAC_B), ...(e.src ?? MAC_A)];
  if (e.vlan !== undefined) h.push(...be16(0x8100), ...be16(e.vlan));
  h.push(...be16(type));
  return h;
}

/** A 20-byte IPv4 header with its checksum for an L4 body of `l4len` bytes. */
export function ipHeader(ip: IpSpec, proto: number, l4len: number): number[] {
  const h = [
    0x45,
    ip.tos ?? 0,
    ...be16(20 + l4len),
    ...be16(ip.id ?? 0),
    ...be16(ip.frag ?? 0x4000),
    ip.ttl ?? 64,
    proto,
    0,
    0,
    ...be32(ip.src),
    ...be32(ip.dst),
  ];
  const c = refChecksum(new Uint8Array(h));
  h[10] = c >>> 8;
  h[11] = c & 0xff;
  return h;
}

function pseudo(ip: IpSpec, proto: number, len: number): number {
  return (ip.src >>> 16) + (ip.src & 0xffff) + (ip.dst >>> 16) + (ip.dst & 0xffff) + proto + len;
}

/** A whole Ethernet + IPv4 + TCP frame. */
export function tcpFrame(e: EthSpec, ip: IpSpec, t: TcpSpec, payload: Uint8Array): Uint8Array {
  const opts = t.options ?? [];
  const hlen = 20 + opts.length;
  const seg = [
    ...be16(t.srcPort),
    ...be16(t.dstPort),
    ...be32(t.seq),
    ...be32(t.ack),
    (hlen >>> 2) << 4,
    t.flags,
    ...be16(t.wnd),
    0,
    0,
    ...be16(t.urg ?? 0),
    ...opts,
    ...payload,
  ];
  const c = refChecksum(new Uint8Array(seg), pseudo(ip, 6, seg.length));
  seg[16] = c >>> 8;
  seg[17] = c & 0xff;
  return new Uint8Array([...ethHeader(e, 0x0800), ...ipHeader(ip, 6, seg.length), ...seg]);
}

/** A whole Ethernet + IPv4 + UDP frame (checksum computed, 0 sent as 0xffff). */
export function udpFrame(
  e: EthSpec,
  ip: IpSpec,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
): Uint8Array {
  const seg = [...be16(srcPort), ...be16(dstPort), ...be16(8 + payload.length), 0, 0, ...payload];
  const c = refChecksum(new Uint8Array(seg), pseudo(ip, 17, seg.length)) || 0xffff;
  seg[6] = c >>> 8;
  seg[7] = c & 0xff;
  return new Uint8Array([...ethHeader(e, 0x0800), ...ipHeader(ip, 17, seg.length), ...seg]);
}

/** A whole Ethernet + IPv4 + ICMP frame. */
export function icmpFrame(
  e: EthSpec,
  ip: IpSpec,
  type: number,
  code: number,
  rest: number,
  payload: Uint8Array,
): Uint8Array {
  const seg = [type, code, 0, 0, ...be32(rest), ...payload];
  const c = refChecksum(new Uint8Array(seg));
  seg[2] = c >>> 8;
  seg[3] = c & 0xff;
  return new Uint8Array([...ethHeader(e, 0x0800), ...ipHeader(ip, 1, seg.length), ...seg]);
}

/** A whole Ethernet + IPv4 frame with a raw payload and the given protocol. */
export function rawIpFrame(e: EthSpec, ip: IpSpec, proto: number, payload: Uint8Array): Uint8Array {
  return new Uint8Array([
    ...ethHeader(e, 0x0800),
    ...ipHeader(ip, proto, payload.length),
    ...payload,
  ]);
}

/** An Ethernet ARP frame (RFC 826) for Ethernet/IPv4. */
export function arpFrame(
  e: EthSpec,
  op: number,
  sha: number[],
  spa: number,
  tha: number[],
  tpa: number,
): Uint8Array {
  return new Uint8Array([
    ...ethHeader(e, 0x0806),
    ...be16(1),
    ...be16(0x0800),
    6,
    4,
    ...be16(op),
    ...sha,
    ...be32(spa),
    ...tha,
    ...be32(tpa),
  ]);
}

/** Copy `frame` into the engine's packet memory at `off` and decode it there. */
export function decodeAt(engine: Engine, frame: Uint8Array, off: number): number {
  engine.mem.set(frame, off);
  return engine.decode(off, frame.length);
}

/** The receive descriptor as a plain array (for deepEqual). */
export function rx(engine: Engine): number[] {
  return Array.from(engine.rxDesc);
}

/** Parse a dotted quad to a u32. */
export function ip4(s: string): number {
  const p = s.split(".").map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}
