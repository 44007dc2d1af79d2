/**
 * DNS messages (RFC 1035 section 4), a pure codec with no state: encode a query, decode a
 * response with name compression (RFC 1035 4.1.4). Every read is bounds-checked: a malformed
 * message gives `{ ok: false, error }` with the reason, never an exception or a read past the
 * end. Record data is decoded for A, AAAA (RFC 3596), CNAME, NS, PTR, MX, TXT, SOA (RFC 1035
 * 3.3), SRV (RFC 2782) and CAA (RFC 8659); other types keep their raw bytes.
 *
 * @example Encode a query and decode a hand-made answer
 * ```ts
 * import { decodeDns, encodeDnsQuery, TYPE_A } from "./dns.ts";
 * const q = encodeDnsQuery(0x1234, "example.test", TYPE_A);
 * // The answer: the query's header and question with QR set, ANCOUNT 1, and one A record
 * // whose owner name is a pointer to the question's name at offset 12.
 * const a = new Uint8Array([...q, 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 10, 7, 0, 50]);
 * a[2] = a[2]! | 0x80;
 * a[7] = 1;
 * const r = decodeDns(a);
 * if (!r.ok || r.message.answers[0]?.data !== "10.7.0.50") throw new Error("decode failed");
 * ```
 *
 * @module
 */

/** Record types (RFC 1035 3.2.2, RFC 3596, RFC 2782, RFC 8659). */
export const TYPE_A = 1;
/** Name server. */
export const TYPE_NS = 2;
/** Canonical name. */
export const TYPE_CNAME = 5;
/** Start of authority. */
export const TYPE_SOA = 6;
/** Domain name pointer. */
export const TYPE_PTR = 12;
/** Mail exchange. */
export const TYPE_MX = 15;
/** Text strings. */
export const TYPE_TXT = 16;
/** IPv6 address. */
export const TYPE_AAAA = 28;
/** Service location. */
export const TYPE_SRV = 33;
/** Certification authority authorization. */
export const TYPE_CAA = 257;
/** The Internet class. */
export const CLASS_IN = 1;

/** Response codes (RFC 1035 4.1.1). */
export const RCODE_NOERROR = 0;
/** The server could not interpret the query. */
export const RCODE_FORMERR = 1;
/** The server failed. */
export const RCODE_SERVFAIL = 2;
/** The name does not exist (NXDOMAIN). */
export const RCODE_NXDOMAIN = 3;
/** The server does not implement the query. */
export const RCODE_NOTIMP = 4;
/** The server refuses to answer. */
export const RCODE_REFUSED = 5;

/** The longest name on the wire, length octets included (RFC 1035 2.3.4). */
export const MAX_NAME_WIRE = 255;
/** The longest label (RFC 1035 2.3.4). */
export const MAX_LABEL = 63;
/** Name compression pointers followed in one name before it is called a loop. */
const MAX_POINTERS = 64;

/** An MX record's data. */
export interface MxData {
  /** Lower is preferred. */
  preference: number;
  /** The mail server's name. */
  exchange: string;
}

/** An SOA record's data. */
export interface SoaData {
  /** The primary name server. */
  mname: string;
  /** The responsible mailbox, as a name. */
  rname: string;
  /** Zone serial. */
  serial: number;
  /** Refresh interval (s). */
  refresh: number;
  /** Retry interval (s). */
  retry: number;
  /** Expiry (s). */
  expire: number;
  /** Minimum TTL, the negative caching TTL (RFC 2308 section 4). */
  minimum: number;
}

/** An SRV record's data. */
export interface SrvData {
  /** Lower is preferred. */
  priority: number;
  /** Relative weight among equal priorities. */
  weight: number;
  /** The service's port. */
  port: number;
  /** The host's name. */
  target: string;
}

/** A CAA record's data. */
export interface CaaData {
  /** The issuer critical flag. */
  critical: boolean;
  /** The property tag ("issue", "iodef"...). */
  tag: string;
  /** The property value. */
  value: string;
}

/** Decoded record data: by type (see the module text); raw bytes for other types. */
export type DnsRecordData =
  | string
  | string[]
  | MxData
  | SoaData
  | SrvData
  | CaaData
  | Uint8Array;

/** One resource record (RFC 1035 4.1.3). */
export interface DnsRecord {
  /** Owner name, lowercase, without the final dot ("" for the root). */
  name: string;
  /** Record type. */
  type: number;
  /** Class (1 = IN). */
  class: number;
  /** Time to live in seconds (RFC 2181 8: values with the top bit set read as 0). */
  ttl: number;
  /**
   * The data: a dotted quad (A), IPv6 text (AAAA), a name (CNAME, NS, PTR), the strings of a
   * TXT record, or an object (MX, SOA, SRV, CAA); raw bytes for other types.
   */
  data: DnsRecordData;
}

/** One question (RFC 1035 4.1.2). */
export interface DnsQuestion {
  /** The name asked for, lowercase, without the final dot. */
  name: string;
  /** Query type. */
  type: number;
  /** Query class. */
  class: number;
}

/** A decoded DNS message. */
export interface DnsMessage {
  /** Identifier. */
  id: number;
  /** True for a response. */
  qr: boolean;
  /** Operation code (0 = standard query). */
  opcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated: the answer did not fit (retry over TCP, RFC 7766). */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  /** Response code. */
  rcode: number;
  /** The question section. */
  questions: DnsQuestion[];
  /** The answer section. */
  answers: DnsRecord[];
  /** The authority section. */
  authorities: DnsRecord[];
  /** The additional section. */
  additionals: DnsRecord[];
}

/** The result of `decodeDns`: the message, or why the bytes are not one. */
export type DnsDecodeResult =
  | { ok: true; message: DnsMessage }
  | { ok: false; error: string };

/** Thrown inside the decoder when the bytes are malformed (caught by `decodeDns`). */
class Malformed extends Error {}

/**
 * Encode a standard query for `name` and `type` (class IN) with identifier `id`, recursion
 * desired (RFC 1035 4.1.1). Throws a TypeError for a name that cannot go on the wire (an
 * empty label, a label over 63 bytes, a name over 255 bytes, non-ASCII characters: encode
 * internationalized names as punycode first), a RangeError for a bad id or type.
 *
 * @example
 * ```ts
 * import { encodeDnsQuery, TYPE_A } from "./dns.ts";
 * const q = encodeDnsQuery(1, "a.b", TYPE_A);
 * if (q.length !== 12 + 5 + 4) throw new Error("wrong length");
 * ```
 */
export function encodeDnsQuery(id: number, name: string, type: number): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) {
    throw new RangeError(`DNS id must be 0..65535, got ${id}`);
  }
  if (!Number.isInteger(type) || type < 1 || type > 0xffff) {
    throw new RangeError(`DNS type must be 1..65535, got ${type}`);
  }
  const qname = encodeName(name);
  const out = new Uint8Array(12 + qname.length + 4);
  out[0] = id >>> 8;
  out[1] = id & 255;
  out[2] = 0x01; // RD
  out[5] = 1; // QDCOUNT
  out.set(qname, 12);
  const o = 12 + qname.length;
  out[o] = type >>> 8;
  out[o + 1] = type & 255;
  out[o + 2] = 0;
  out[o + 3] = CLASS_IN;
  return out;
}

/**
 * A name in wire form (uncompressed labels ending with the root's zero octet). Throws a
 * TypeError as described at `encodeDnsQuery`.
 *
 * @example
 * ```ts
 * import { encodeName } from "./dns.ts";
 * if (encodeName("ab.c").join() !== "2,97,98,1,99,0") throw new Error("wrong bytes");
 * ```
 */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  const labels = trimmed === "" ? [] : trimmed.split(".");
  const out: number[] = [];
  for (const label of labels) {
    if (label.length === 0) throw new TypeError(`Invalid DNS name "${name}": empty label`);
    if (label.length > MAX_LABEL) {
      throw new TypeError(`Invalid DNS name "${name}": label longer than ${MAX_LABEL} bytes`);
    }
    out.push(label.length);
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      if (c > 126 || c < 33) {
        throw new TypeError(
          `Invalid DNS name "${name}": only printable ASCII (use punycode for other names)`,
        );
      }
      out.push(c);
    }
  }
  out.push(0);
  if (out.length > MAX_NAME_WIRE) {
    throw new TypeError(`Invalid DNS name "${name}": longer than ${MAX_NAME_WIRE} bytes`);
  }
  return Uint8Array.from(out);
}

/**
 * Decode a DNS message. Never throws: malformed bytes (short header, counts past the end,
 * compression loops or forward pointers, names over 255 bytes, record data that does not
 * match its type) give `{ ok: false, error }`.
 *
 * @example
 * ```ts
 * import { decodeDns } from "./dns.ts";
 * const r = decodeDns(new Uint8Array(5));
 * if (r.ok || !r.error.includes("header")) throw new Error("accepted a short message");
 * ```
 */
export function decodeDns(buf: Uint8Array): DnsDecodeResult {
  try {
    return { ok: true, message: decode(buf) };
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, error: err.message };
    throw err;
  }
}

function decode(buf: Uint8Array): DnsMessage {
  if (buf.length < 12) throw new Malformed(`DNS message of ${buf.length} bytes: no full header`);
  const r = new Reader(buf);
  const id = r.u16();
  const flags = r.u16();
  const qd = r.u16(), an = r.u16(), ns = r.u16(), ar = r.u16();
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qd; i++) {
    questions.push({ name: r.name(), type: r.u16(), class: r.u16() });
  }
  const section = (n: number, what: string): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < n; i++) out.push(r.record(what));
    return out;
  };
  const answers = section(an, "answer");
  const authorities = section(ns, "authority");
  const additionals = section(ar, "additional");
  return {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >>> 11) & 15,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 15,
    questions,
    answers,
    authorities,
    additionals,
  };
}

/** A bounds-checked cursor over a message. */
class Reader {
  #buf: Uint8Array;
  pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  #need(n: number, at = this.pos): void {
    if (at + n > this.#buf.length) {
      throw new Malformed(
        `DNS message ends at byte ${this.#buf.length}: ${n} more needed at ${at}`,
      );
    }
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.pos++]!;
  }

  u16(): number {
    this.#need(2);
    const v = (this.#buf[this.pos]! << 8) | this.#buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const b = this.#buf, p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.#buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A possibly compressed name at the cursor (RFC 1035 4.1.4), lowercase, no final dot. */
  name(): string {
    const b = this.#buf;
    const labels: string[] = [];
    let p = this.pos;
    let jumped = false;
    let pointers = 0;
    let wire = 1; // the root's zero octet
    for (;;) {
      this.#need(1, p);
      const len = b[p]!;
      if (len === 0) {
        p++;
        break;
      }
      const kind = len & 0xc0;
      if (kind === 0xc0) {
        this.#need(2, p);
        const target = ((len & 0x3f) << 8) | b[p + 1]!;
        // Only backward pointers: a forward or self pointer could loop.
        if (target >= p) throw new Malformed(`DNS name pointer at ${p} does not point backward`);
        if (++pointers > MAX_POINTERS) throw new Malformed("DNS name has too many pointers");
        if (!jumped) this.pos = p + 2;
        jumped = true;
        p = target;
        continue;
      }
      if (kind !== 0) throw new Malformed(`DNS label type 0x${kind.toString(16)} at ${p}`);
      this.#need(1 + len, p);
      wire += 1 + len;
      if (wire > MAX_NAME_WIRE) throw new Malformed(`DNS name longer than ${MAX_NAME_WIRE} bytes`);
      let s = "";
      for (let i = p + 1; i <= p + len; i++) s += String.fromCharCode(b[i]!);
      labels.push(s.toLowerCase());
      p += 1 + len;
    }
    if (!jumped) this.pos = p;
    return labels.join(".");
  }

  record(what: string): DnsRecord {
    const name = this.name();
    const type = this.u16();
    const klass = this.u16();
    const ttlRaw = this.u32();
    const rdlen = this.u16();
    this.#need(rdlen);
    const end = this.pos + rdlen;
    const data = this.#rdata(type, rdlen, end, what);
    if (this.pos !== end) {
      throw new Malformed(`DNS ${what} record of type ${type}: data length ${rdlen} is wrong`);
    }
    return { name, type, class: klass, ttl: ttlRaw > 0x7fffffff ? 0 : ttlRaw, data };
  }

  #rdata(type: number, rdlen: number, end: number, what: string): DnsRecordData {
    const bad = (): never => {
      throw new Malformed(`DNS ${what} record of type ${type}: bad data of ${rdlen} bytes`);
    };
    switch (type) {
      case TYPE_A: {
        if (rdlen !== 4) bad();
        const a = this.bytes(4);
        return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
      }
      case TYPE_AAAA:
        if (rdlen !== 16) bad();
        return formatIpv6(this.bytes(16));
      case TYPE_CNAME:
      case TYPE_NS:
      case TYPE_PTR:
        return this.name();
      case TYPE_MX:
        return { preference: this.u16(), exchange: this.name() };
      case TYPE_SRV:
        return { priority: this.u16(), weight: this.u16(), port: this.u16(), target: this.name() };
      case TYPE_SOA:
        return {
          mname: this.name(),
          rname: this.name(),
          serial: this.u32(),
          refresh: this.u32(),
          retry: this.u32(),
          expire: this.u32(),
          minimum: this.u32(),
        };
      case TYPE_TXT: {
        // RFC 1035 3.3.14: one or more character-strings.
        const out: string[] = [];
        while (this.pos < end) {
          const n = this.u8();
          if (this.pos + n > end) bad();
          out.push(new TextDecoder().decode(this.bytes(n)));
        }
        if (out.length === 0) bad();
        return out;
      }
      case TYPE_CAA: {
        // RFC 8659 4.1: flags, tag length, tag, value.
        const flags = this.u8();
        const n = this.u8();
        if (n === 0 || this.pos + n > end) bad();
        const tag = new TextDecoder().decode(this.bytes(n));
        const value = new TextDecoder().decode(this.bytes(end - this.pos));
        return { critical: (flags & 0x80) !== 0, tag, value };
      }
      default:
        return this.bytes(rdlen);
    }
  }
}

/**
 * IPv6 text (RFC 5952: lowercase, the longest run of two or more zero groups as "::").
 *
 * @example
 * ```ts
 * import { formatIpv6 } from "./dns.ts";
 * const a = new Uint8Array(16);
 * a[0] = 0x20; a[1] = 0x01; a[2] = 0x0d; a[3] = 0xb8; a[15] = 1;
 * if (formatIpv6(a) !== "2001:db8::1") throw new Error(formatIpv6(a));
 * ```
 */
export function formatIpv6(a: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((a[i]! << 8) | a[i + 1]!);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number[]): string => x.map((v) => v.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}
