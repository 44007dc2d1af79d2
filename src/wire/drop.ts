/**
 * Names of the wire layer's drop reasons (layout.ts `DROP_*`), for counters and messages.
 *
 * @module
 */

/** Index = DROP_* code. Keep in step with src/wire/layout.ts. */
export const DROP_NAMES: readonly string[] = [
  "none",
  "eth-truncated",
  "vlan-truncated",
  "arp-truncated",
  "arp-unsupported",
  "ip-truncated",
  "ip-bad-version",
  "ip-bad-header-length",
  "ip-bad-total-length",
  "ip-bad-checksum",
  "icmp-truncated",
  "icmp-bad-checksum",
  "udp-truncated",
  "udp-bad-length",
  "udp-bad-checksum",
  "tcp-truncated",
  "tcp-bad-data-offset",
  "tcp-bad-checksum",
  "tcp-option-overrun",
  "tcp-option-bad-length",
  "tcp-option-bad-size",
  "frame-too-long",
  "ip6-truncated",
  "ip6-bad-version",
  "ip6-bad-payload-length",
  "ip6-extension-truncated",
  "ip6-too-many-headers",
  "ip6-hop-by-hop-not-first",
  "ip6-option-discard",
  "ip6-option-unknown",
  "ip6-option-overrun",
  "ip6-routing-unknown",
  "ip6-fragment-bad-length",
  "ip6-fragment-too-long",
  "icmp6-truncated",
  "icmp6-bad-checksum",
  "udp6-zero-checksum",
];

/** The name of a DROP_* code. */
export function dropName(code: number): string {
  return DROP_NAMES[code] ?? `drop-${code}`;
}
