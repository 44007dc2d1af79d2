/**
 * Where our stack answers differently from Linux on purpose: the case, both observations as
 * the bench records them, and why, with the RFC text that allows our answer. A case whose
 * observations differ and are not listed here (or no longer match what is listed) fails.
 */

/** One documented difference. */
export interface Difference {
  linux: string;
  ours: string;
  reason: string;
}

/** Documented differences by case name. */
export const DIFFERENCES: Record<string, Difference> = {
  arp_gratuitous_updates_entry: {
    linux: "echo reply to the new MAC",
    ours: "echo reply to the old MAC",
    reason: "Deliberate ARP policy (docs/limits.md): a REACHABLE entry is never overwritten by " +
      "a different MAC (counted arp-conflict), so a spoofed ARP cannot redirect a live peer; " +
      "once the entry ages to STALE (30 s) the new MAC is taken. RFC 826's merge step " +
      '("update the sender hardware address field of the entry") predates ARP spoofing; ' +
      "RFC 826 sets no timing, and Linux too refuses updates within locktime except for " +
      "gratuitous ARP. Cost: after an IP takeover (VRRP) we follow the new MAC up to 30 s late.",
  },
};
