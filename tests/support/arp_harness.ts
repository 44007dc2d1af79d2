/**
 * An ARP cache with logging actions, for the cache's unit tests: `log` records each request,
 * resolution and failure with the entry's address and queued frames (which the actions then
 * take, as the interface does).
 *
 * @module
 */

import { type ArpActions, ArpCache, type ArpEntry } from "../../src/iface/arp_cache.ts";
import { resolveLimits } from "../../src/iface/limits.ts";

/** A cache under `over` limits and the log of what it asked for. */
export function arpHarness(
  over: Parameters<typeof resolveLimits>[0] = {},
): { cache: ArpCache; log: string[] } {
  const log: string[] = [];
  const actions: ArpActions = {
    request: (e: ArpEntry) => log.push(`req ${e.ip} ${e.state}`),
    resolved: (e: ArpEntry) => {
      log.push(`resolved ${e.ip} ${e.pending.length}`);
      e.pending.length = 0;
    },
    failed: (e: ArpEntry) => {
      log.push(`failed ${e.ip} ${e.pending.length}`);
      e.pending.length = 0;
    },
  };
  return { cache: new ArpCache(resolveLimits(over), actions), log };
}
