// IPv6 decode of the WASM engine (RFC 8200): the twin of src/kernels/js/decode6.ts (see its
// module note for the rules). Same checks in the same order, same descriptor words.

import {
  D_ETHERTYPE, D_ICMP_CODE, D_ICMP_REST, D_ICMP_TYPE, D_IP6_EXT, D_IP6_FLOW, D_IP6_FRAG_HDR,
  D_IP6_PTR, D_IP_FRAG, D_IP_HLEN, D_IP_ID, D_IP_PROTO, D_IP_TOS, D_IP_TOTLEN, D_IP_TTL, D_KIND,
  D_L3_OFF, D_L4_LEN, D_L4_OFF, D_PAYLOAD_LEN, D_PAYLOAD_OFF, DROP_FRAME_TOO_LONG,
  DROP_ICMP6_BAD_CHECKSUM, DROP_ICMP6_TRUNCATED, DROP_IP6_BAD_LENGTH, DROP_IP6_BAD_VERSION,
  DROP_IP6_EXT_TRUNCATED, DROP_IP6_FRAG_BAD_LENGTH, DROP_IP6_FRAG_TOO_LONG,
  DROP_IP6_HBH_NOT_FIRST, DROP_IP6_OPT_DISCARD, DROP_IP6_OPT_OVERRUN, DROP_IP6_OPT_UNKNOWN,
  DROP_IP6_ROUTING_UNKNOWN, DROP_IP6_TOO_MANY_HEADERS, DROP_IP6_TRUNCATED, EXT6_DEST_OPTS,
  EXT6_FRAGMENT, EXT6_HOP_BY_HOP, EXT6_MAX, EXT6_ROUTING, K_ICMP6, K_IPV6_FRAGMENT,
  K_IPV6_OTHER, K_TCP6, K_UDP6,
} from "../../src/wire/layout";
import { cksum } from "./checksum";
import { drop, i32at, put, reset, tcp, u16at, u8at, udp, verifyL4 } from "./decode";

// The largest IPv6 datagram (a reassembled one): the header and a 65535-byte payload.
const MAX_DATAGRAM6: i32 = 40 + 65535;

/** Decode the IPv6 datagram at mem[off, off+len) (no Ethernet header); the verdict. */
export function decodeIpv6(off: i32, len: i32): i32 {
  verifyL4();
  reset(off, len);
  if (len > MAX_DATAGRAM6) return drop(DROP_FRAME_TOO_LONG);
  put(D_ETHERTYPE, 0x86dd);
  put(D_L3_OFF, off);
  return ipv6(off, len);
}

// The unfolded sum of the 16 address words of the IPv6 header at p (RFC 8200 section 8.1).
function addressSum(p: i32): u32 {
  let s: u32 = 0;
  for (let i = p + 8; i < p + 40; i += 2) s += <u32>u16at(i);
  return s;
}

// The IPv6 datagram at [p, p+n) (RFC 8200 sections 3 and 4).
export function ipv6(p: i32, n: i32): i32 {
  if (n < 40) return drop(DROP_IP6_TRUNCATED);
  const w0 = <u32>i32at(p);
  if ((w0 >> 28) != 6) return drop(DROP_IP6_BAD_VERSION);
  const plen = u16at(p + 4);
  if (40 + plen > n) return drop(DROP_IP6_BAD_LENGTH);
  put(D_IP_TOS, <i32>((w0 >> 20) & 0xff));
  put(D_IP6_FLOW, <i32>(w0 & 0xfffff));
  put(D_IP_TOTLEN, 40 + plen);
  put(D_IP_TTL, u8at(p + 7));
  const end = p + 40 + plen;
  let nh = u8at(p + 6);
  let nhAt = p + 6;
  let h = p + 40;
  let count = 0;
  let ext = 0;
  while (nh == 0 || nh == 43 || nh == 44 || nh == 60) {
    if (++count > EXT6_MAX) return drop(DROP_IP6_TOO_MANY_HEADERS);
    if (nh == 0 && h != p + 40) {
      put(D_IP6_PTR, nhAt - p);
      return drop(DROP_IP6_HBH_NOT_FIRST);
    }
    if (h + 8 > end) return drop(DROP_IP6_EXT_TRUNCATED);
    let hl = 8;
    if (nh == 44) {
      ext |= EXT6_FRAGMENT;
      put(D_IP6_EXT, ext);
      const fo = u16at(h + 2);
      put(D_IP_FRAG, fo);
      put(D_IP_ID, i32at(h + 4));
      put(D_IP6_FRAG_HDR, h);
      if ((fo & 0xfff9) != 0) return fragment(p, h, end, fo);
      // An atomic fragment (RFC 6946 section 4): processed as a whole datagram.
    } else {
      hl = (u8at(h + 1) + 1) << 3;
      if (h + hl > end) return drop(DROP_IP6_EXT_TRUNCATED);
      if (nh == 43) {
        ext |= EXT6_ROUTING;
        put(D_IP6_EXT, ext);
        if (u8at(h + 3) != 0) {
          put(D_IP6_PTR, h + 2 - p);
          return drop(DROP_IP6_ROUTING_UNKNOWN);
        }
      } else {
        ext |= nh == 0 ? EXT6_HOP_BY_HOP : EXT6_DEST_OPTS;
        put(D_IP6_EXT, ext);
        const v = options(h + 2, h + hl, p);
        if (v != 0) return v;
      }
    }
    nhAt = h;
    nh = u8at(h);
    h += hl;
  }
  const l4len = end - h;
  put(D_IP_HLEN, h - p);
  put(D_IP_PROTO, nh);
  put(D_L4_OFF, h);
  put(D_L4_LEN, l4len);
  put(D_PAYLOAD_OFF, h);
  put(D_PAYLOAD_LEN, l4len);
  if (nh == 6) return tcp(h, l4len, addressSum(p), K_TCP6);
  if (nh == 17) return udp(h, l4len, addressSum(p), K_UDP6);
  if (nh == 58) return icmp6(h, l4len, addressSum(p));
  put(D_KIND, K_IPV6_OTHER);
  put(D_IP6_PTR, nhAt - p);
  return 0;
}

// A fragment (offset > 0 or M set) whose header is at h (RFC 8200 section 4.5).
function fragment(p: i32, h: i32, end: i32, fo: i32): i32 {
  const data = h + 8;
  const flen = end - data;
  if ((fo & 1) != 0 && (flen & 7) != 0) {
    put(D_IP6_PTR, 4);
    return drop(DROP_IP6_FRAG_BAD_LENGTH);
  }
  if (h - (p + 40) + (fo >> 3) * 8 + flen > 0xffff) {
    put(D_IP6_PTR, h + 2 - p);
    return drop(DROP_IP6_FRAG_TOO_LONG);
  }
  put(D_KIND, K_IPV6_FRAGMENT);
  put(D_IP_HLEN, data - p);
  put(D_IP_PROTO, u8at(h));
  put(D_L4_OFF, data);
  put(D_L4_LEN, flen);
  put(D_PAYLOAD_OFF, data);
  put(D_PAYLOAD_LEN, flen);
  return 0;
}

// Hop-by-hop or destination options in [i, end) (RFC 8200 section 4.2).
function options(i: i32, end: i32, p: i32): i32 {
  while (i < end) {
    const type = u8at(i);
    if (type == 0) {
      i++;
      continue;
    }
    if (i + 2 > end || i + 2 + u8at(i + 1) > end) return drop(DROP_IP6_OPT_OVERRUN);
    if (type != 1) {
      const action = type >> 6;
      if (action == 1) return drop(DROP_IP6_OPT_DISCARD);
      if (action != 0) {
        put(D_IP6_PTR, i - p);
        return drop(DROP_IP6_OPT_UNKNOWN);
      }
    }
    i += 2 + u8at(i + 1);
  }
  return 0;
}

// ICMPv6 (RFC 4443 section 2): checksum over the pseudo-header and the whole message.
function icmp6(p: i32, n: i32, addrSum: u32): i32 {
  put(D_KIND, K_ICMP6);
  if (n < 8) return drop(DROP_ICMP6_TRUNCATED);
  if (cksum(<usize>p, <usize>n, addrSum + 58 + <u32>n) != 0) return drop(DROP_ICMP6_BAD_CHECKSUM);
  put(D_ICMP_TYPE, u8at(p));
  put(D_ICMP_CODE, u8at(p + 1));
  put(D_ICMP_REST, i32at(p + 4));
  put(D_PAYLOAD_OFF, p + 8);
  put(D_PAYLOAD_LEN, n - 8);
  return 0;
}
