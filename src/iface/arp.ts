/**
 * ARP packet reception (RFC 826 "Packet Reception"), with the cache policy described in
 * arp_cache.ts: answer requests for our address, learn only what the policy allows, count
 * conflicts, and answer RFC 5227 probes.
 *
 * @module
 */

import { ARP_REPLY, ARP_REQUEST, type ArpPacket } from "../wire/arp_packet.ts";
import type { Counters } from "./counters.ts";
import { isGroupMac } from "./ethernet.ts";
import type { Router } from "./routing.ts";
import type { Transmitter } from "./transmit.ts";

/** RFC 5227 section 1.1 DEFEND_INTERVAL: 10 seconds between defensive announcements. */
export const DEFEND_INTERVAL_MS = 10000;

/** Handle a received ARP packet. */
export function arpInput(
  arp: Readonly<ArpPacket>,
  tx: Transmitter,
  router: Router,
  c: Counters,
  now: number,
): void {
  c.inc("arp-in");
  const { op, shaHi, shaLo, spa, tpa } = arp;
  if (op !== ARP_REQUEST && op !== ARP_REPLY) return c.inc("arp-bad-op");
  const ours = router.address;
  if (spa === ours) {
    // Someone else claims our address (or our own frame came back). RFC 5227 2.4 (b): defend
    // with one announcement, at most once per DEFEND_INTERVAL, so that peers' caches that the
    // claim poisoned point back at us.
    if (shaHi === tx.macHi && shaLo === tx.macLo) return;
    c.inc("arp-address-conflict");
    if (now - tx.lastDefend >= DEFEND_INTERVAL_MS) {
      tx.lastDefend = now;
      tx.sendArp(ARP_REQUEST, ours, 0, 0, ours, 0xffff, 0xffffffff);
      c.inc("arp-defended");
    }
    return;
  }
  if (isGroupMac(shaHi)) return c.inc("arp-bad-sender");
  const forUs = tpa === ours;
  if (spa === 0) {
    // RFC 5227 2.1.1 probe: answer for our address, learn nothing.
    if (op === ARP_REQUEST && forUs) tx.sendArp(ARP_REPLY, ours, shaHi, shaLo, 0, shaHi, shaLo);
    return c.inc("arp-probe-in");
  }
  // Senders outside our subnet are answered (Linux arp_ignore=0) but never learned.
  const onLink = router.onLink(spa);
  if (!onLink) c.inc("arp-off-link-sender");
  // RFC 826: merge the sender into the table; add it only when we are the target.
  const r = onLink
    ? tx.arp.observe(spa, shaHi, shaLo, forUs && op === ARP_REQUEST, now)
    : "ignored";
  if (r === "conflict") c.inc("arp-conflict");
  else if (r === "full") c.inc("arp-cache-full");
  if (op === ARP_REQUEST && forUs) {
    // RFC 826: swap the fields, put in our address, send the reply to the requester.
    tx.sendArp(ARP_REPLY, ours, shaHi, shaLo, spa, shaHi, shaLo);
    c.inc("arp-replies");
  } else if (r === "ignored" && onLink) {
    c.inc("arp-ignored");
  }
}
