/**
 * ICMPv6 errors about datagrams we sent (RFC 4443 sections 3.1 to 3.4), sans-I/O: the quoted
 * datagram must be from one of our addresses; its extension headers are walked (at most
 * EXT6_MAX) to the TCP or UDP header for the ports (and TCP's sequence number), then:
 *
 * - Packet Too Big (3.2) lowers the path MTU toward the quoted destination (RFC 8201 section
 *   4): never below 1280 (such messages are ignored, RFC 8200 section 5 as updated by RFC
 *   8021), never raised; reported as "too-big" when it lowered the estimate.
 * - Destination Unreachable (3.1), Time Exceeded (3.3), Parameter Problem (3.4) are reported
 *   as they are; the transport layer decides (TCP treats unreachable codes 1, 3 and 4 of a
 *   connection being opened as hard errors, the rest as soft, RFC 5461).
 *
 * Counted as `icmp6-in-<kind>`; a quote that is not ours or too short is `icmp6-error-invalid`.
 *
 * @module
 */

import {
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  EXT6_MAX,
} from "../wire/layout.ts";
import type { Ip6ErrorReport } from "./ip6_types.ts";
import type { Ndp } from "./ndp.ts";

const KINDS: readonly (Ip6ErrorReport["kind"] | null)[] = [
  null,
  "unreachable",
  "too-big",
  "time-exceeded",
  "parameter-problem",
];

/** Handle the ICMPv6 error (type 1 to 4) decoded in `d`, addressed to one of our addresses. */
export function errorInput(
  m: Uint8Array,
  d: Int32Array,
  nd: Ndp,
  env: { inc(name: string, n?: number): void },
  now: number,
): void {
  const type = d[D_ICMP_TYPE]!;
  const kind = KINDS[type]!;
  const q = d[D_PAYLOAD_OFF]!; // the quoted datagram
  const end = q + d[D_PAYLOAD_LEN]!;
  if (end - q < 40 || m[q]! >> 4 !== 6 || !nd.addrs.isOurs(m, q + 8)) {
    return env.inc("icmp6-error-invalid");
  }
  // Walk the quoted extension headers (RFC 8200 section 4) to the upper layer.
  let nh = m[q + 6]!;
  let o = q + 40;
  let ports = true;
  for (let i = 0; i < EXT6_MAX; i++) {
    if (nh === 0 || nh === 43 || nh === 60) {
      if (o + 2 > end) break;
      nh = m[o]!;
      o += (m[o + 1]! + 1) * 8;
    } else if (nh === 44) {
      if (o + 8 > end) break;
      if ((((m[o + 2]! << 8) | m[o + 3]!) & 0xfff8) !== 0) ports = false; // not the first
      nh = m[o]!;
      o += 8;
    } else break;
  }
  ports = ports && (nh === 6 || nh === 17) && o + 8 <= end;
  let mtu = 0;
  if (kind === "too-big") {
    // RFC 8201 section 4: lower the path MTU toward the quoted destination.
    const reported = d[D_ICMP_REST]! >>> 0;
    mtu = nd.pmtu.lower(m.subarray(q + 24, q + 40), reported, now);
    if (mtu < 0) return env.inc("icmp6-too-big-ignored");
  }
  env.inc(`icmp6-in-${kind}`);
  if (!ports || nd.onError6 === null) return;
  nd.onError6({
    kind,
    type,
    code: d[D_ICMP_CODE]!,
    proto: nh,
    src: m.slice(q + 8, q + 24),
    dst: m.slice(q + 24, q + 40),
    srcPort: (m[o]! << 8) | m[o + 1]!,
    dstPort: (m[o + 2]! << 8) | m[o + 3]!,
    seq: nh === 6
      ? ((m[o + 4]! << 24) | (m[o + 5]! << 16) | (m[o + 6]! << 8) | m[o + 7]!) >>> 0
      : 0,
    mtu,
  }, now);
}
