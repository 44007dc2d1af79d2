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
  tcp_data_after_close_rst: {
    linux: "FA seq=nxt ack=nxt; R seq=nxt",
    ours: "FA seq=nxt ack=nxt; RA seq=nxt ack=nxt-5",
    reason: "Both reset with the same SEQ. RFC 1122 4.2.2.13 asks for a RST when data " +
      "arrives after CLOSE, without fixing its form: ours resets from the connection " +
      "(<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, the form of RFC 9293 3.10.5 ABORT), Linux " +
      "answers as for no connection (<SEQ=SEG.ACK><CTL=RST>). Either RST is acceptable to " +
      "the peer (RFC 5961 3.2: SEG.SEQ = RCV.NXT).",
  },
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
