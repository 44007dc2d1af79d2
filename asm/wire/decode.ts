// Whole-frame decode of the WASM engine: the twin of src/kernels/js/decode.ts. Same checks in
// the same order, same descriptor words written on every path (the differential tests compare
// all 64). Order per layer: length and structure checks, then the checksum, then the fields.

import {
  DESC_RX, D_VERDICT, D_KIND, D_FRAME_OFF, D_FRAME_LEN, D_ETH_DST_HI, D_ETH_DST_LO,
  D_ETH_SRC_HI, D_ETH_SRC_LO, D_ETHERTYPE, D_VLAN, D_L3_OFF, D_ARP_OP, D_ARP_SHA_HI,
  D_ARP_SHA_LO, D_ARP_SPA, D_ARP_THA_HI, D_ARP_THA_LO, D_ARP_TPA, D_IP_HLEN, D_IP_TOS,
  D_IP_TOTLEN, D_IP_ID, D_IP_FRAG, D_IP_TTL, D_IP_PROTO, D_IP_SRC, D_IP_DST, D_L4_OFF, D_L4_LEN,
  D_ICMP_TYPE, D_ICMP_CODE, D_ICMP_REST, D_SRC_PORT, D_DST_PORT, D_UDP_LEN, D_TCP_SEQ, D_TCP_ACK,
  D_TCP_HLEN, D_TCP_FLAGS, D_TCP_WND, D_TCP_URG, D_OPT_MSS, D_OPT_WS, D_OPT_SACK_OK, D_OPT_TS,
  D_OPT_TSVAL, D_OPT_TSECR, D_OPT_SACK_N, D_OPT_SACK, D_PAYLOAD_OFF, D_PAYLOAD_LEN,
  K_ARP, K_ICMP, K_UDP, K_TCP, K_IPV4_OTHER, K_IPV4_FRAGMENT, K_ETH_OTHER,
  DROP_ETH_TRUNCATED, DROP_VLAN_TRUNCATED, DROP_ARP_TRUNCATED, DROP_ARP_UNSUPPORTED,
  DROP_IP_TRUNCATED, DROP_IP_BAD_VERSION, DROP_IP_BAD_HLEN, DROP_IP_BAD_TOTLEN,
  DROP_IP_BAD_CHECKSUM, DROP_ICMP_TRUNCATED, DROP_ICMP_BAD_CHECKSUM, DROP_UDP_TRUNCATED,
  DROP_UDP_BAD_LENGTH, DROP_UDP_BAD_CHECKSUM, DROP_TCP_TRUNCATED, DROP_TCP_BAD_HLEN,
  DROP_TCP_BAD_CHECKSUM,
  DROP_FRAME_TOO_LONG, DROP_UDP6_ZERO_CHECKSUM, K_UDP6,
} from "../../src/wire/layout";
import { cksum } from "./checksum";
import { ipv6 } from "./decode6";

export const MAX_FRAME: i32 = 65535 + 18;

// DECODE_L4_VALID (src/kernels/engine.ts) for the frame being decoded: the link vouched for its
// TCP or UDP checksum, which is then not summed again. Set by each decode entry point.
let l4Valid: bool = false;

/** Every L4 checksum is verified in the next decode (decodeIpv6 calls this). */
@inline export function verifyL4(): void { l4Valid = false; }

@inline export function u8at(p: i32): i32 { return <i32>load<u8>(<usize>p); }
@inline export function u16at(p: i32): i32 { return <i32>bswap<u16>(load<u16>(<usize>p)); }
@inline export function i32at(p: i32): i32 { return <i32>bswap<u32>(load<u32>(<usize>p)); }
@inline export function put(i: i32, v: i32): void { store<i32>(<usize>(DESC_RX + (i << 2)), v); }
@inline export function drop(reason: i32): i32 { put(D_VERDICT, reason); return reason; }

@inline export function reset(off: i32, len: i32): void {
  const zero = i32x4.splat(0);
  const d = <usize>DESC_RX;
  for (let i: usize = 0; i < 256; i += 64) {
    v128.store(d + i, zero);
    v128.store(d + i, zero, 16);
    v128.store(d + i, zero, 32);
    v128.store(d + i, zero, 48);
  }
  put(D_OPT_MSS, -1);
  put(D_OPT_WS, -1);
  put(D_VLAN, -1);
  put(D_FRAME_OFF, off);
  put(D_FRAME_LEN, len);
}

/**
 * Decode the Ethernet frame at mem[off, off+len) into the receive descriptor; the verdict.
 * `flags`: DECODE_L4_VALID (1) skips the TCP/UDP checksum the link vouched for.
 */
export function decode(off: i32, len: i32, flags: i32): i32 {
  l4Valid = (flags & 1) != 0;
  reset(off, len);
  if (len > MAX_FRAME) return drop(DROP_FRAME_TOO_LONG);
  if (len < 14) return drop(DROP_ETH_TRUNCATED);
  put(D_ETH_DST_HI, u16at(off));
  put(D_ETH_DST_LO, i32at(off + 2));
  put(D_ETH_SRC_HI, u16at(off + 6));
  put(D_ETH_SRC_LO, i32at(off + 8));
  let type = u16at(off + 12);
  let l3 = off + 14;
  put(D_ETHERTYPE, type);
  if (type == 0x8100) {
    // IEEE 802.1Q: TCI then the inner EtherType. One tag only.
    if (len < 18) return drop(DROP_VLAN_TRUNCATED);
    put(D_VLAN, u16at(off + 14));
    type = u16at(off + 16);
    l3 = off + 18;
    put(D_ETHERTYPE, type);
  }
  put(D_L3_OFF, l3);
  const rem = off + len - l3;
  if (type == 0x0800) return ipv4(l3, rem);
  if (type == 0x86dd) return ipv6(l3, rem);
  if (type == 0x0806) return arp(l3, rem);
  put(D_KIND, K_ETH_OTHER);
  return 0;
}

/** Decode the IPv4 datagram at mem[off, off+len) (no Ethernet header); the verdict. */
export function decodeIpv4(off: i32, len: i32): i32 {
  l4Valid = false;
  reset(off, len);
  if (len > MAX_FRAME) return drop(DROP_FRAME_TOO_LONG);
  put(D_ETHERTYPE, 0x0800);
  put(D_L3_OFF, off);
  return ipv4(off, len);
}

// ARP for Ethernet and IPv4 only (RFC 826).
function arp(p: i32, n: i32): i32 {
  put(D_KIND, K_ARP);
  if (n < 28) return drop(DROP_ARP_TRUNCATED);
  if (u16at(p) != 1 || u16at(p + 2) != 0x0800 || u8at(p + 4) != 6 || u8at(p + 5) != 4) {
    return drop(DROP_ARP_UNSUPPORTED);
  }
  put(D_ARP_OP, u16at(p + 6));
  put(D_ARP_SHA_HI, u16at(p + 8));
  put(D_ARP_SHA_LO, i32at(p + 10));
  put(D_ARP_SPA, i32at(p + 14));
  put(D_ARP_THA_HI, u16at(p + 18));
  put(D_ARP_THA_LO, i32at(p + 20));
  put(D_ARP_TPA, i32at(p + 24));
  return 0;
}

// IPv4 (RFC 791 section 3.1; RFC 1122 section 3.2.1).
function ipv4(p: i32, n: i32): i32 {
  if (n < 20) return drop(DROP_IP_TRUNCATED);
  const vihl = u8at(p);
  if ((vihl >> 4) != 4) return drop(DROP_IP_BAD_VERSION);
  const hlen = (vihl & 15) << 2;
  if (hlen < 20 || hlen > n) return drop(DROP_IP_BAD_HLEN);
  const total = u16at(p + 2);
  if (total < hlen || total > n) return drop(DROP_IP_BAD_TOTLEN);
  if (cksum(<usize>p, <usize>hlen, 0) != 0) return drop(DROP_IP_BAD_CHECKSUM);
  const frag = u16at(p + 6);
  const proto = u8at(p + 9);
  const src = i32at(p + 12);
  const dst = i32at(p + 16);
  const l4 = p + hlen;
  const l4len = total - hlen;
  put(D_IP_HLEN, hlen);
  put(D_IP_TOS, u8at(p + 1));
  put(D_IP_TOTLEN, total);
  put(D_IP_ID, u16at(p + 4));
  put(D_IP_FRAG, frag);
  put(D_IP_TTL, u8at(p + 8));
  put(D_IP_PROTO, proto);
  put(D_IP_SRC, src);
  put(D_IP_DST, dst);
  put(D_L4_OFF, l4);
  put(D_L4_LEN, l4len);
  put(D_PAYLOAD_OFF, l4);
  put(D_PAYLOAD_LEN, l4len);
  // A fragment (MF set or a non-zero offset) is for reassembly: its L4 is not parsed.
  if ((frag & 0x3fff) != 0) {
    put(D_KIND, K_IPV4_FRAGMENT);
    return 0;
  }
  const addrs = (<u32>src >> 16) + (<u32>src & 0xffff) + (<u32>dst >> 16) + (<u32>dst & 0xffff);
  if (proto == 6) return tcp(l4, l4len, addrs, K_TCP);
  if (proto == 17) return udp(l4, l4len, addrs, K_UDP);
  if (proto == 1) return icmp(l4, l4len);
  put(D_KIND, K_IPV4_OTHER);
  return 0;
}

// ICMP (RFC 792): checksum over the whole message.
function icmp(p: i32, n: i32): i32 {
  put(D_KIND, K_ICMP);
  if (n < 8) return drop(DROP_ICMP_TRUNCATED);
  if (cksum(<usize>p, <usize>n, 0) != 0) return drop(DROP_ICMP_BAD_CHECKSUM);
  put(D_ICMP_TYPE, u8at(p));
  put(D_ICMP_CODE, u8at(p + 1));
  put(D_ICMP_REST, i32at(p + 4));
  put(D_PAYLOAD_OFF, p + 8);
  put(D_PAYLOAD_LEN, n - 8);
  return 0;
}

// UDP (RFC 768) over IPv4 (K_UDP) or IPv6 (K_UDP6); addrSum is the pseudo-header's address
// sum. Checksum 0 means none sent over IPv4 and is a drop over IPv6 (RFC 8200 section 8.1).
export function udp(p: i32, n: i32, addrSum: u32, kind: i32): i32 {
  put(D_KIND, kind);
  if (n < 8) return drop(DROP_UDP_TRUNCATED);
  const ulen = u16at(p + 4);
  if (ulen < 8 || ulen > n) return drop(DROP_UDP_BAD_LENGTH);
  if (u16at(p + 6) == 0) {
    if (kind == K_UDP6) return drop(DROP_UDP6_ZERO_CHECKSUM);
  } else if (!l4Valid && cksum(<usize>p, <usize>ulen, addrSum + 17 + <u32>ulen) != 0) {
    return drop(DROP_UDP_BAD_CHECKSUM);
  }
  put(D_SRC_PORT, u16at(p));
  put(D_DST_PORT, u16at(p + 2));
  put(D_UDP_LEN, ulen);
  put(D_PAYLOAD_OFF, p + 8);
  put(D_PAYLOAD_LEN, ulen - 8);
  return 0;
}

// TCP (RFC 9293 section 3.1) over IPv4 (K_TCP) or IPv6 (K_TCP6): header, pseudo-header
// checksum (addrSum as for udp), then the options.
export function tcp(p: i32, n: i32, addrSum: u32, kind: i32): i32 {
  put(D_KIND, kind);
  if (n < 20) return drop(DROP_TCP_TRUNCATED);
  const hlen = (u8at(p + 12) >> 4) << 2;
  if (hlen < 20 || hlen > n) return drop(DROP_TCP_BAD_HLEN);
  if (!l4Valid && cksum(<usize>p, <usize>n, addrSum + 6 + <u32>n) != 0) {
    return drop(DROP_TCP_BAD_CHECKSUM);
  }
  put(D_SRC_PORT, u16at(p));
  put(D_DST_PORT, u16at(p + 2));
  put(D_TCP_SEQ, i32at(p + 4));
  put(D_TCP_ACK, i32at(p + 8));
  put(D_TCP_HLEN, hlen);
  put(D_TCP_FLAGS, u8at(p + 13));
  put(D_TCP_WND, u16at(p + 14));
  put(D_TCP_URG, u16at(p + 18));
  put(D_PAYLOAD_OFF, p + hlen);
  put(D_PAYLOAD_LEN, n - hlen);
  return hlen > 20 ? options(p + 20, p + hlen) : 0;
}

// TCP options in [i, end) (RFC 9293 section 3.2; RFC 7323 sections 2.2 and 3.2; RFC 2018).
// Unknown kinds are skipped by their length; a later copy overwrites an earlier one.
function options(i: i32, end: i32): i32 {
  while (i < end) {
    const kind = u8at(i);
    if (kind == 0) break; // End of Option List
    if (kind == 1) { // No-Operation
      i++;
      continue;
    }
    // An illegal length or an option past the header: stop, keep the segment (as Linux).
    if (i + 1 >= end) break;
    const olen = u8at(i + 1);
    if (olen < 2 || i + olen > end) break;
    switch (kind) {
      case 2: { // MSS
        if (olen == 4) put(D_OPT_MSS, u16at(i + 2)); // wrong size: skipped, as Linux
        break;
      }
      case 3: { // window scale
        if (olen == 3) put(D_OPT_WS, u8at(i + 2));
        break;
      }
      case 4: { // SACK permitted
        if (olen == 2) put(D_OPT_SACK_OK, 1);
        break;
      }
      case 5: { // SACK: 1 to 4 blocks
        if (olen != 10 && olen != 18 && olen != 26 && olen != 34) break;
        const count = (olen - 2) >> 3;
        for (let k = 0; k < 2 * count; k++) put(D_OPT_SACK + k, i32at(i + 2 + 4 * k));
        put(D_OPT_SACK_N, count);
        break;
      }
      case 8: { // timestamps
        if (olen != 10) break;
        put(D_OPT_TS, 1);
        put(D_OPT_TSVAL, i32at(i + 2));
        put(D_OPT_TSECR, i32at(i + 6));
        break;
      }
      default: break;
    }
    i += olen;
  }
  return 0;
}
