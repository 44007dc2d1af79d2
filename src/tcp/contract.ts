/**
 * The seam between the interface layer (src/iface, below in the data path, above in imports)
 * and the TCP engine. The interface layer implements `TcpTransmit`; the TCP engine implements
 * `TcpHandler`. Both are sans-I/O: `now` is passed in, in milliseconds.
 *
 * @module
 */

import type { TcpSegment } from "../wire/tcp_segment.ts";

/** What the TCP engine needs from the layer below. Implemented by the interface layer. */
export interface TcpTransmit {
  /**
   * Send a segment from `seg.srcIp:seg.srcPort` to `seg.dstIp:seg.dstPort`. Its payload is
   * `seg.payloadLen` bytes of send ring `ring` starting at sequence number `seg.seq` (copied
   * with `engine.sndCopy` straight into the frame); `ring` is -1 when there is no payload.
   * The interface layer sets the IPv4 don't-fragment bit on TCP, resolves the next hop (queueing
   * behind ARP when needed) and sends the frame. Returns false when the destination is
   * unroutable or the ARP queue is full (the segment is dropped; retransmission recovers).
   */
  sendTcp(seg: TcpSegment, ring: number, now: number): boolean;
  /** The IP MTU toward `remoteIp` (the link MTU, lowered by ICMP fragmentation-needed). */
  pathMtu(remoteIp: number, now: number): number;
  /**
   * The largest IP datagram a TCP segment toward `remoteIp` may be sent in when the link takes
   * segments larger than the MTU (TSO, src/tcp/tso.ts); 0 or absent: none above the path MTU.
   */
  tsoMax?(remoteIp: number, now: number): number;
  /** The local address a connection to `remoteIp` should use, or -1 when unroutable. */
  sourceFor(remoteIp: number): number;
  /**
   * IPv6 addresses are numeric handles (>= 2^32, src/wire/ip_handle.ts) of the layer below.
   * A connection holds its peer's handle from the moment it enters the table until it leaves
   * (`holdAddress` false: it cannot be held, the table is full); absent methods: IPv4 only.
   */
  holdAddress?(ip: number): boolean;
  /** Drop the reference `holdAddress` took. */
  releaseAddress?(ip: number): void;
  /** The 16 bytes of an IPv6 handle (for the RFC 6528 / RFC 6056 hashes), null for IPv4. */
  addressBytes?(ip: number): Uint8Array | null;
  /**
   * A connection with `remoteIp` made forward progress (RFC 1122 2.3.2.1 link-layer advice,
   * RFC 4861 7.3.1): confirm the neighbour entry of the next hop toward it, so that it is not
   * re-probed while the transfer goes on. Returns the time before which another confirmation
   * is not needed (neigh_confirm.ts calls again only after it). Absent: no confirmations.
   */
  confirmNeighbor?(remoteIp: number, now: number): number;
}

/** ICMP errors the interface layer reports to TCP (RFC 1122 4.2.3.9, RFC 792). */
export type TcpIcmpError =
  | "port-unreachable"
  | "protocol-unreachable"
  | "host-unreachable"
  | "net-unreachable"
  | "admin-prohibited"
  | "fragmentation-needed"
  | "time-exceeded"
  | "parameter-problem";

/**
 * An ICMP error quoting one of our segments, as the interface layer reports it to TCP. The
 * interface reuses one record: read it during the call, do not keep it.
 */
export interface TcpIcmpReport {
  /** What the error says. */
  kind: TcpIcmpError;
  /** Our address, as the quoted segment had it (its source). */
  localIp: number;
  /** Our port. */
  localPort: number;
  /** The peer's address (the quoted segment's destination). */
  remoteIp: number;
  /** The peer's port. */
  remotePort: number;
  /** The quoted segment's sequence number. */
  seq: number;
  /** The next-hop MTU (fragmentation-needed, RFC 1191), or 0. */
  mtu: number;
}

/** What the interface layer needs from the TCP engine. */
export interface TcpHandler {
  /** A TCP segment for one of our addresses, checksum already verified. */
  input(seg: TcpSegment, now: number): void;
  /**
   * An ICMP error quoting one of our segments (RFC 1122 4.2.3.9). Returns true when it matched a
   * connection and quoted a sequence number in flight (RFC 5927 section 4.1): only then does
   * the interface keep the path MTU a fragmentation-needed message reports (void: not believed).
   */
  icmpError(report: Readonly<TcpIcmpReport>, now: number): boolean | void;
  /** ARP gave up on `ip`: connections to it that are still connecting fail (host unreachable). */
  unreachable(remoteIp: number, now: number): void;
  /**
   * Run timers and flush output that socket calls queued; timers only if due by `dueBy`
   * (default `now`: the time the driver last read its link).
   */
  poll(now: number, dueBy?: number): void;
  /** The earliest deadline in ms (Infinity when none). */
  pollAt(): number;
}
