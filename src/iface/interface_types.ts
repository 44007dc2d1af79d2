/**
 * Types of the interface layer's surface shared by its modules.
 *
 * @module
 */

import type { IfaceLimits } from "./limits.ts";

/** Where the interface sends whole Ethernet frames. A `Link` satisfies it. */
export interface FrameSink {
  /** Send `buf[off, off+len)`; the bytes are consumed before this returns. */
  send(buf: Uint8Array, off: number, len: number): void;
}

/** Options of an Interface. IPv4 addresses are u32 numbers. */
export interface InterfaceOptions {
  /** Our IPv4 address. */
  address: number;
  /** The on-link prefix length (24 for a /24). */
  prefixLength: number;
  /** The default gateway (must be on-link); none by default. */
  gateway?: number;
  /** Our MAC (6 bytes); a random locally administered one by default. */
  mac?: Uint8Array;
  /** Random numbers in [0, 1) for the MAC and the IP identification (Math.random by default). */
  random?: () => number;
  /** The link's IP MTU (1500 on Ethernet). */
  mtu: number;
  /**
   * The largest frame the link takes when it is a TCP segment (the link's `maxSendFrame`,
   * src/link/link.ts): TCP then builds segments larger than the MTU (TSO). Default: mtu + 14.
   */
  maxSendFrame?: number;
  /** Accept frames to Ethernet multicast addresses (and UDP to IPv4 multicast). Default false. */
  acceptMulticast?: boolean;
  /** TTL of the datagrams we send (RFC 1122 3.2.1.7; Linux ip_default_ttl 64). */
  ttl?: number;
  /** Bounds and timers; see IfaceLimits for the defaults. */
  limits?: Partial<IfaceLimits>;
  /**
   * IPv6 addresses (16 bytes each) besides the link-local one made from the MAC, which is
   * always there.
   */
  ipv6?: { address: Uint8Array; prefixLength: number }[];
  /**
   * Stateless address autoconfiguration (RFC 4862): form an address from each prefix a router
   * advertises with the autonomous flag. Default false (router advertisements still give the
   * default router, on-link prefixes and the MTU).
   */
  slaac?: boolean;
}

/**
 * Gateway mode (`Interface.acceptForeign`, used by src/gateway/): the interface also takes
 * unicast TCP and UDP addressed to other hosts, as a router that terminates them would.
 */
export interface ForeignHandler {
  /** Extra addresses this interface answers ARP requests for (a DNS address beside ours). */
  ownsAddress(ip: number): boolean;
  /**
   * A UDP datagram to another host, or to one of our ports no socket holds. `data` is a view
   * of packet memory, valid only during the call. True: taken. False: refused; the sender gets
   * ICMP unreachable "communication administratively prohibited" (RFC 1812 5.2.7.1, code 13).
   */
  udp(src: number, srcPort: number, dst: number, dstPort: number, data: Uint8Array): boolean;
}
