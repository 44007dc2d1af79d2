/**
 * The contract between the interface's IPv6 data path (TCP and UDP over IPv6, interface.ts)
 * and the IPv6 host (icmp6.ts and the neighbor discovery modules): routing, source address
 * selection, neighbor resolution, path MTU and fragmentation of our own datagrams. IPv6
 * addresses are 16-byte arrays here; the TCP layer sees them as numeric handles (see the
 * interface's address table).
 *
 * @module
 */

/** Where a datagram toward an IPv6 destination goes, and which of our addresses it is from. */
export interface Ip6Route {
  /** The neighbor to send to: the destination itself when on-link, else a default router. */
  readonly nextHop: Uint8Array;
  /** Our address to send from (RFC 6724 section 5, simplified): same scope, longest match. */
  readonly source: Uint8Array;
}

/** Why the IPv6 host reports a destination to the transport layers. */
export interface Ip6ErrorReport {
  /**
   * "too-big": Packet Too Big lowered the path MTU (RFC 8201); "unreachable": Destination
   * Unreachable (RFC 4443 3.1); "time-exceeded" (3.3) and "parameter-problem" (3.4) are soft
   * errors for TCP (RFC 5461).
   */
  readonly kind: "too-big" | "unreachable" | "time-exceeded" | "parameter-problem";
  /** The ICMPv6 type and code (RFC 4443 section 2.1). */
  readonly type: number;
  readonly code: number;
  /** Upper-layer protocol of the quoted datagram (6 TCP, 17 UDP). */
  readonly proto: number;
  /** Source and destination of the quoted datagram (ours, theirs). */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** Ports of the quoted transport header; `seq` its TCP sequence number (0 for UDP). */
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  /** The new path MTU for "too-big" (at least 1280, RFC 8200 section 5). */
  readonly mtu: number;
}

/** What the interface's IPv6 data path needs from the IPv6 host. */
export interface Ip6Services {
  /**
   * The route toward `dst`: on-link (fe80::/10, a configured or advertised on-link prefix) or
   * through the default router learned from router advertisements; null when there is none.
   * Only addresses that passed duplicate address detection are chosen as the source.
   */
  route6(dst: Uint8Array): Ip6Route | null;
  /**
   * Send the IPv6 frame at `engine.mem[start, start+len)` (Ethernet destination filled in here)
   * to `nextHop`: multicast groups map to 33:33:xx (RFC 2464 section 7), unicast neighbors go
   * through the neighbor cache (RFC 4861 section 7.2.2: a solicitation, and the frame waits in
   * a bounded queue while the entry is INCOMPLETE); our own addresses loop back. False when the
   * frame was dropped (counted).
   */
  emit6(nextHop: Uint8Array, start: number, len: number, now: number): boolean;
  /** The IPv6 path MTU toward `dst` at `now`: the link MTU, lowered by Packet Too Big. */
  pathMtu6(dst: Uint8Array, now: number): number;
  /** Whether `mem[off, off+16)` is one of our unicast addresses (DAD finished). */
  isOurs(mem: Uint8Array, off: number): boolean;
  /** Called when neighbor unreachability detection gave up on `addr` (its frames dropped). */
  onUnreachable6: ((addr: Uint8Array, now: number) => void) | null;
  /** Called with each ICMPv6 error about a datagram we sent (for TCP and UDP). */
  onError6: ((report: Ip6ErrorReport, now: number) => void) | null;
  /**
   * An upper-layer reachability confirmation for neighbor `addr` (RFC 4861 7.3.1: e.g. TCP saw
   * new data acknowledged): its cache entry becomes REACHABLE without a probe. Optional to call.
   * Returns ReachableTime in force (ms), how long the confirmation lasts.
   */
  confirm6(addr: Uint8Array, now: number): number;
  /** The hop limit for our datagrams: Cur Hop Limit of router advertisements, else 64. */
  hopLimit6(): number;
}
