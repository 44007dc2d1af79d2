/**
 * The Ethernet face of a layer-3 (TUN) device. A TUN device carries bare IP packets and has
 * exactly one neighbour, the kernel, so there is no ARP on it. The interface above every link
 * speaks Ethernet, so the TUN link adapts, as a point-to-point driver would:
 *
 * - received packets get a 14-byte Ethernet header in front of them (destination: our MAC,
 *   learned from the frames the interface sends; source: {@link TUN_PEER_MAC}; type from the
 *   IP version), written into the room the read left free;
 * - sent frames lose their Ethernet header: IPv4 and IPv6 packets go to the device, anything
 *   else is not sent (counted);
 * - an ARP request the interface sends (RFC 826) is answered at once by the link itself, for
 *   any target address, with {@link TUN_PEER_MAC}: every address is reached through the one
 *   neighbour. Gratuitous ARP (sender = target) draws no reply;
 * - likewise an IPv6 Neighbor Solicitation (RFC 4861 section 4.3) is answered by the link with
 *   a solicited Neighbor Advertisement (section 4.4: S and O set, the target's link-layer
 *   address option carrying {@link TUN_PEER_MAC}), so IPv6 reaches the kernel as IPv4 does.
 *   Solicitations from the unspecified address (duplicate address detection, section 5.4)
 *   go to the device: the kernel answers one only for an address it holds itself.
 *
 * @module
 */

/** The MAC our side of a TUN link sees for the kernel (locally administered, RFC 7042). */
export const TUN_PEER_MAC: readonly number[] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];

const ETH = 14;
const ARP_LEN = 42;
/** Ethernet + IPv6 + Neighbor Advertisement (24) + target link-layer address option (8). */
const NA_LEN = 14 + 40 + 32;
/** ARP replies waiting to be received; more requests than this in one pass are not answered. */
const MAX_PENDING = 16;

/** The counters the Ethernet face keeps. */
export interface FaceStats {
  /** ARP requests answered by the link. */
  arpAnswered: number;
  /** IPv6 Neighbor Solicitations answered by the link. */
  ndAnswered: number;
  /** Frames not sent: neither IPv4, IPv6 nor ARP, or ARP requests beyond the bound. */
  txDropped: number;
}

/** The adaptation state of one TUN link. */
export class EthernetFace {
  /** Our MAC (broadcast until the interface sends its first frame). */
  readonly ourMac: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  /** Replies waiting (buffers of NA_LEN bytes) and their lengths. */
  #pending: Uint8Array[] = [];
  #lens: number[] = [];
  #free: Uint8Array[] = [];
  #stats: FaceStats;

  /** Counts into `stats` (the link's counters). */
  constructor(stats: FaceStats) {
    this.#stats = stats;
  }

  /** Replies waiting to be received. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Write the Ethernet header for the IP packet at `buf[off+14, ...)` into `buf[off, off+14)`. */
  writeHeader(buf: Uint8Array, off: number): void {
    buf.set(this.ourMac, off);
    for (let i = 0; i < 6; i++) buf[off + 6 + i] = TUN_PEER_MAC[i]!;
    const v6 = buf[off + ETH]! >>> 4 === 6;
    buf[off + 12] = v6 ? 0x86 : 0x08;
    buf[off + 13] = v6 ? 0xdd : 0x00;
  }

  /**
   * A frame the interface sends: true when it carries an IP packet for the device (the caller
   * writes `buf[off+14, off+len)`); false when it was handled here (ARP) or not sendable.
   */
  outbound(buf: Uint8Array, off: number, len: number): boolean {
    const hi = buf[off + 12]!;
    const lo = buf[off + 13]!;
    if (hi === 0x08 && lo === 0x00) return len > ETH;
    if (hi === 0x86 && lo === 0xdd) {
      if (!isSolicitation(buf, off, len)) return len > ETH;
      this.ourMac.set(buf.subarray(off + 6, off + 12));
      this.#advertise(buf, off);
      return false;
    }
    if (hi === 0x08 && lo === 0x06 && len >= ARP_LEN) {
      this.ourMac.set(buf.subarray(off + 6, off + 12));
      this.#arp(buf, off);
      return false;
    }
    this.#stats.txDropped++;
    return false;
  }

  /** Move waiting replies into `buf`; returns how many, their spans in `meta` from `first`. */
  drain(buf: Uint8Array, meta: Int32Array, first: number, max: number, off: number): number {
    let n = 0;
    while (this.#pending.length > 0 && first + n < max && buf.length - off >= this.#lens[0]!) {
      const f = this.#pending.shift()!;
      const len = this.#lens.shift()!;
      buf.set(f.subarray(0, len), off);
      meta[2 * (first + n)] = off;
      meta[2 * (first + n) + 1] = len;
      off += len;
      this.#free.push(f);
      n++;
    }
    return n;
  }

  /** Answer an ARP request (opcode 1) for IPv4 over Ethernet; ignore the rest. */
  #arp(b: Uint8Array, off: number): void {
    const a = off + ETH;
    const isRequest = b[a] === 0 && b[a + 1] === 1 && b[a + 2] === 0x08 && b[a + 3] === 0 &&
      b[a + 6] === 0 && b[a + 7] === 1;
    if (!isRequest) return;
    let gratuitous = true;
    for (let i = 0; i < 4; i++) if (b[a + 14 + i] !== b[a + 24 + i]) gratuitous = false;
    if (gratuitous) return;
    const r = this.#reply(ARP_LEN);
    if (r === null) return;
    r.set(b.subarray(off + 6, off + 12), 0); // to the asker
    for (let i = 0; i < 6; i++) r[6 + i] = TUN_PEER_MAC[i]!;
    r[12] = 0x08;
    r[13] = 0x06;
    r.set(b.subarray(a, a + 6), ETH); // htype, ptype, hlen, plen
    r[ETH + 6] = 0;
    r[ETH + 7] = 2; // reply
    for (let i = 0; i < 6; i++) r[ETH + 8 + i] = TUN_PEER_MAC[i]!; // sha
    r.set(b.subarray(a + 24, a + 28), ETH + 14); // spa = the asked address
    r.set(b.subarray(a + 8, a + 18), ETH + 18); // tha, tpa = the asker
    this.#stats.arpAnswered++;
  }

  /** A buffer for a reply of `len` bytes, queued; null (counted) beyond the bound. */
  #reply(len: number): Uint8Array | null {
    if (this.#pending.length >= MAX_PENDING) {
      this.#stats.txDropped++;
      return null;
    }
    const r = this.#free.pop() ?? new Uint8Array(NA_LEN);
    r.fill(0, 0, len);
    this.#pending.push(r);
    this.#lens.push(len);
    return r;
  }

  /** Answer the Neighbor Solicitation at `b[off...]` (RFC 4861 section 7.2.4). */
  #advertise(b: Uint8Array, off: number): void {
    const r = this.#reply(NA_LEN);
    if (r === null) return;
    const ip = off + ETH;
    r.set(b.subarray(off + 6, off + 12), 0); // to the asker
    for (let i = 0; i < 6; i++) r[6 + i] = TUN_PEER_MAC[i]!;
    r[12] = 0x86;
    r[13] = 0xdd;
    r[ETH] = 0x60;
    r[ETH + 5] = 32; // payload length
    r[ETH + 6] = 58; // ICMPv6
    r[ETH + 7] = 255; // hop limit (RFC 4861 section 7.1.2)
    r.set(b.subarray(ip + 48, ip + 64), ETH + 8); // source: the target asked for
    r.set(b.subarray(ip + 8, ip + 24), ETH + 24); // destination: the asker
    const m = ETH + 40;
    r[m] = 136; // Neighbor Advertisement
    r[m + 4] = 0x60; // Solicited, Override
    r.set(b.subarray(ip + 48, ip + 64), m + 8); // target
    r[m + 24] = 2; // target link-layer address option, 1 x 8 bytes
    r[m + 25] = 1;
    for (let i = 0; i < 6; i++) r[m + 26 + i] = TUN_PEER_MAC[i]!;
    let sum = 32 + 58; // pseudo-header (RFC 8200 section 8.1): length, next header
    for (let i = ETH + 8; i < ETH + 40; i += 2) sum += (r[i]! << 8) | r[i + 1]!;
    for (let i = m; i < m + 32; i += 2) sum += (r[i]! << 8) | r[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const ck = ~sum & 0xffff;
    r[m + 2] = ck >>> 8;
    r[m + 3] = ck & 0xff;
    this.#stats.ndAnswered++;
  }
}

/**
 * An IPv6 Neighbor Solicitation (ICMPv6 type 135 right after the fixed header) from a
 * specified source address: one the link answers itself.
 */
function isSolicitation(b: Uint8Array, off: number, len: number): boolean {
  const ip = off + ETH;
  if (len < ETH + 40 + 24 || b[ip + 6] !== 58 || b[ip + 40] !== 135) return false;
  for (let i = ip + 8; i < ip + 24; i++) if (b[i] !== 0) return true;
  return false; // from :: (duplicate address detection)
}
