/**
 * An ICMP message header (RFC 792) as the interface layer sees it: a small mutable record
 * filled from the receive descriptor and written to the transmit descriptor, like
 * `TcpSegment`. The checksum is the engine's business.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IcmpHeader } from "./icmp_header.ts";
 * import { DESC_WORDS } from "./layout.ts";
 * const d = new Int32Array(DESC_WORDS);
 * new IcmpHeader().echo(8, 0x1234, 7).toDesc(d);
 * const back = new IcmpHeader().fromDesc(d);
 * assert(back.type === 8 && back.ident === 0x1234 && back.sequence === 7);
 * ```
 *
 * @module
 */

import { D_ICMP_CODE, D_ICMP_REST, D_ICMP_TYPE, D_PAYLOAD_LEN, D_PAYLOAD_OFF } from "./layout.ts";

/** Type, code and the 4-byte rest of header of an ICMP message. */
export class IcmpHeader {
  /** Message type. */
  type = 0;
  /** Message code. */
  code = 0;
  /** The 4 bytes after the checksum (identifier << 16 | sequence, or the next-hop MTU). */
  rest = 0;
  /** Input: offset of the data after the 8-byte header in packet memory. */
  payloadOff = 0;
  /** Input: length of that data. */
  payloadLen = 0;

  /** Echo and echo reply: the identifier. */
  get ident(): number {
    return this.rest >>> 16;
  }

  /** Echo and echo reply: the sequence number. */
  get sequence(): number {
    return this.rest & 0xffff;
  }

  /** Set type, code and rest. */
  set(type: number, code: number, rest: number): this {
    this.type = type;
    this.code = code;
    this.rest = rest;
    return this;
  }

  /** Set an echo or echo reply (code 0) with its identifier and sequence number. */
  echo(type: number, ident: number, sequence: number): this {
    return this.set(type, 0, ((ident & 0xffff) << 16) | (sequence & 0xffff));
  }

  /** Fill from a receive descriptor after a successful decode of kind K_ICMP. */
  fromDesc(d: Int32Array): this {
    this.type = d[D_ICMP_TYPE]!;
    this.code = d[D_ICMP_CODE]!;
    this.rest = d[D_ICMP_REST]!;
    this.payloadOff = d[D_PAYLOAD_OFF]!;
    this.payloadLen = d[D_PAYLOAD_LEN]!;
    return this;
  }

  /** Write type, code and rest into a transmit descriptor. */
  toDesc(d: Int32Array): void {
    d[D_ICMP_TYPE] = this.type;
    d[D_ICMP_CODE] = this.code;
    d[D_ICMP_REST] = this.rest;
  }
}
