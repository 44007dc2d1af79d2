/**
 * Every bound the interface layer keeps, as options with documented defaults. Nothing that
 * arrives from the wire can grow the layer's memory past these.
 *
 * @module
 */

/** Bounds and timers of the interface layer. */
export interface IfaceLimits {
  /** ARP cache entries (resolved, stale and being resolved). Default 512. */
  arpCacheSize: number;
  /** Frames queued per address while ARP resolves it (Linux unres_qlen style; a 64 KiB datagram
   * is 45 fragments at MTU 1500). Default 64. */
  arpPendingPerAddress: number;
  /**
   * Bytes of frames queued behind ARP, all addresses together (a full queue drops its oldest
   * frame for the new one; a frame that does not fit is dropped, `arp-queue-full`). Default
   * 1 MiB.
   */
  arpPendingBytes: number;
  /** ARP requests sent before a resolution fails (Linux mcast_solicit 3). Default 3. */
  arpRetries: number;
  /** Interval between ARP requests for one address (Linux retrans_time). Default 1000 ms. */
  arpRetryMs: number;
  /**
   * How long a confirmed entry is used without re-validation (Linux base_reachable_time
   * 30 s). An ARP reply confirms it, and so does TCP's forward progress through it (new data
   * acknowledged or received, RFC 1122 2.3.2.1). After it the entry is stale: still used, and
   * re-validated on next use (a unicast request after arpDelayFirstProbeMs unless confirmed
   * meanwhile). Stale entries unused for another arpEntryTtlMs are removed. Default 30000 ms.
   */
  arpEntryTtlMs: number;
  /**
   * How long a stale entry in use waits for an upper-layer confirmation (TCP forward progress)
   * before unicast probes start (Linux delay_first_probe_time; RFC 4861 DELAY_FIRST_PROBE_TIME).
   * Default 5000 ms.
   */
  arpDelayFirstProbeMs: number;
  /** Bytes of buffer held by fragment reassembly, all datagrams together. Default 1 MiB. */
  fragMemory: number;
  /** Datagrams being reassembled at once. Default 64. */
  fragDatagrams: number;
  /** Fragments held per datagram (bounds the work of a tiny-fragment flood). Default 256. */
  fragPerDatagram: number;
  /** Time from a datagram's first fragment until it is abandoned (Linux ipfrag_time 30 s). */
  fragTimeoutMs: number;
  /** Time from an IPv6 datagram's first-arriving fragment until it is abandoned (RFC 8200
   * section 4.5: 60 s; Linux ip6frag_time). Default 60000 ms. */
  frag6TimeoutMs: number;
  /** ICMP errors sent per second, token bucket (Linux icmp_msgs_per_sec). Default 1000. */
  icmpErrorsPerSecond: number;
  /** Burst of ICMP errors allowed at once (Linux icmp_msgs_burst). Default 50. */
  icmpErrorBurst: number;
  /** Datagrams waiting in one UDP socket's receive queue. Default 64. */
  udpQueueDatagrams: number;
  /** Destinations whose path MTU was lowered by ICMP, remembered at once. Default 256. */
  pmtuCacheSize: number;
  /** How long a lowered path MTU is kept (Linux mtu_expires 600 s). Default 600000 ms. */
  pmtuExpiresMs: number;
  /** Lowest path MTU ICMP may set (Linux min_pmtu 552, against forged tiny MTUs). */
  minPathMtu: number;
  /** Frames waiting on the loopback path (Linux netdev_max_backlog 1000). Default 1024. */
  loopbackQueueFrames: number;
  /** IPv6 neighbor cache entries, every state (RFC 4861 7.3). Default 512. */
  ndCacheSize: number;
  /** Frames queued per IPv6 neighbor being resolved (RFC 4861 7.2.2). Default 64. */
  ndPendingPerAddress: number;
  /**
   * Bytes of frames queued behind IPv6 neighbor resolution, all neighbors together (as
   * arpPendingBytes: the oldest give way; a frame that does not fit is dropped,
   * `ndp-queue-full`). Default 1 MiB.
   */
  ndPendingBytes: number;
  /** Default routers remembered from router advertisements (RFC 4861 6.3.4). Default 8. */
  ndRouters: number;
  /** On-link prefixes remembered from router advertisements (RFC 4861 6.3.4). Default 16. */
  ndPrefixes: number;
  /** Addresses formed by SLAAC (RFC 4862 5.5.3), at once. Default 16. */
  ndSlaacAddresses: number;
  /** RetransTimer (RFC 4861 section 10): interval between solicitations. Default 1000 ms. */
  ndRetransMs: number;
  /** BaseReachableTime (RFC 4861 section 10), randomized x0.5..1.5. Default 30000 ms. */
  ndReachableMs: number;
  /**
   * IPv6 addresses with a numeric handle at once (addr6_table.ts): ours, and each peer of a
   * connection (held while it is in the table). Past it, SYNs and connects toward new IPv6
   * peers fail (`ip6-address-table-full`). At most 2^20 - 1. Default 65536.
   */
  ip6AddressTable: number;
}

/** The default limits (see each field of {@linkcode IfaceLimits}). */
export const DEFAULT_LIMITS: Readonly<IfaceLimits> = Object.freeze({
  arpCacheSize: 512,
  arpPendingPerAddress: 64,
  arpPendingBytes: 1048576,
  arpRetries: 3,
  arpRetryMs: 1000,
  arpEntryTtlMs: 30000,
  arpDelayFirstProbeMs: 5000,
  fragMemory: 1048576,
  fragDatagrams: 64,
  fragPerDatagram: 256,
  fragTimeoutMs: 30000,
  frag6TimeoutMs: 60000,
  icmpErrorsPerSecond: 1000,
  icmpErrorBurst: 50,
  udpQueueDatagrams: 64,
  pmtuCacheSize: 256,
  pmtuExpiresMs: 600000,
  minPathMtu: 552,
  loopbackQueueFrames: 1024,
  ndCacheSize: 512,
  ndPendingPerAddress: 64,
  ndPendingBytes: 1048576,
  ndRouters: 8,
  ndPrefixes: 16,
  ndSlaacAddresses: 16,
  ndRetransMs: 1000,
  ndReachableMs: 30000,
  ip6AddressTable: 65536,
});

/**
 * The defaults overridden by `partial`. Throws a RangeError when a limit is not a positive
 * integer.
 *
 * @example
 * ```ts
 * import { resolveLimits } from "./limits.ts";
 * const limits = resolveLimits({ arpCacheSize: 8 });
 * if (limits.arpCacheSize !== 8 || limits.arpRetries !== 3) throw new Error("bad limits");
 * ```
 */
export function resolveLimits(partial: Partial<IfaceLimits> | undefined): IfaceLimits {
  const out: IfaceLimits = { ...DEFAULT_LIMITS, ...partial };
  for (const [name, value] of Object.entries(out)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`Interface limit ${name} must be a positive integer, got ${value}`);
    }
  }
  return out;
}
