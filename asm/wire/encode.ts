// Whole-frame encode of the WASM engine: the twin of src/kernels/js/encode.ts (see its module
// note for the kinds and Linux's TCP option layout). Headers are written backwards in front of
// the payload, checksums filled in; the transmit descriptor is only read.

import {
  DESC_TX, D_KIND, D_ETH_DST_HI, D_ETH_DST_LO, D_ETH_SRC_HI, D_ETH_SRC_LO, D_VLAN, D_ARP_OP,
  D_ARP_SHA_HI, D_ARP_SHA_LO, D_ARP_SPA, D_ARP_THA_HI, D_ARP_THA_LO, D_ARP_TPA, D_IP_TOS,
  D_IP_ID, D_IP_FRAG, D_IP_TTL, D_IP_PROTO, D_IP_SRC, D_IP_DST, D_ICMP_TYPE, D_ICMP_CODE,
  D_ICMP_REST, D_SRC_PORT, D_DST_PORT, D_TCP_SEQ, D_TCP_ACK, D_TCP_FLAGS, D_TCP_WND, D_TCP_URG,
  D_OPT_MSS, D_OPT_WS, D_OPT_SACK_OK, D_OPT_TS, D_OPT_TSVAL, D_OPT_TSECR, D_OPT_SACK_N,
  D_OPT_SACK, K_ARP, K_ICMP, K_UDP, K_TCP, K_IPV4_OTHER, K_IPV4_FRAGMENT, F_SYN,
  ENC_BAD_KIND, ENC_TOO_LONG, ENC_BAD_OPTIONS, ENC_NO_HEADROOM, K_ICMP6, K_IPV6_OTHER,
} from "../../src/wire/layout";
import { cksum } from "./checksum";
import { encode6 } from "./encode6";

@inline export function get(i: i32): i32 { return load<i32>(<usize>(DESC_TX + (i << 2))); }
@inline export function put8(p: i32, v: i32): void { store<u8>(<usize>p, <u8>v); }
@inline export function put16(p: i32, v: i32): void { store<u16>(<usize>p, bswap<u16>(<u16>v)); }
@inline export function put32(p: i32, v: i32): void { store<u32>(<usize>p, bswap<u32>(<u32>v)); }

// Length of the TCP options the descriptor asks for, or -1 when a value is out of range.
export function optionsLength(): i32 {
  const mss = get(D_OPT_MSS);
  const ws = get(D_OPT_WS);
  const n = get(D_OPT_SACK_N);
  if (mss > 0xffff || ws > 0xff || n < 0 || n > 4) return -1;
  const ts = get(D_OPT_TS) != 0;
  if ((get(D_TCP_FLAGS) & F_SYN) != 0) {
    return (mss >= 0 ? 4 : 0) + (ts ? 12 : get(D_OPT_SACK_OK) != 0 ? 4 : 0) + (ws >= 0 ? 4 : 0);
  }
  const blocks = ts && n > 3 ? 3 : n;
  return (ts ? 12 : 0) + (blocks > 0 ? 4 + 8 * blocks : 0);
}

function writeOptions(i: i32): void {
  const ts = get(D_OPT_TS) != 0;
  if ((get(D_TCP_FLAGS) & F_SYN) != 0) {
    const mss = get(D_OPT_MSS);
    const ws = get(D_OPT_WS);
    const sackOk = get(D_OPT_SACK_OK) != 0;
    if (mss >= 0) {
      put32(i, 0x02040000 | mss);
      i += 4;
    }
    if (ts) {
      put32(i, sackOk ? 0x0402080a : 0x0101080a);
      put32(i + 4, get(D_OPT_TSVAL));
      put32(i + 8, get(D_OPT_TSECR));
      i += 12;
    } else if (sackOk) {
      put32(i, 0x01010402);
      i += 4;
    }
    if (ws >= 0) put32(i, 0x01030300 | ws);
    return;
  }
  if (ts) {
    put32(i, 0x0101080a);
    put32(i + 4, get(D_OPT_TSVAL));
    put32(i + 8, get(D_OPT_TSECR));
    i += 12;
  }
  const n = get(D_OPT_SACK_N);
  const blocks = ts && n > 3 ? 3 : n;
  if (blocks > 0) {
    put32(i, 0x01010502 | (8 * blocks));
    i += 4;
    for (let k = 0; k < 2 * blocks; k++) put32(i + 4 * k, get(D_OPT_SACK + k));
  }
}

// The TCP header and its checksum over l4len bytes; addrSum is the pseudo-header's address sum.
export function tcpHeader(l4: i32, l4h: i32, l4len: i32, addrSum: u32): void {
  put16(l4, get(D_SRC_PORT));
  put16(l4 + 2, get(D_DST_PORT));
  put32(l4 + 4, get(D_TCP_SEQ));
  put32(l4 + 8, get(D_TCP_ACK));
  put8(l4 + 12, l4h << 2);
  put8(l4 + 13, get(D_TCP_FLAGS));
  put16(l4 + 14, get(D_TCP_WND));
  put16(l4 + 16, 0);
  put16(l4 + 18, get(D_TCP_URG));
  if (l4h > 20) writeOptions(l4 + 20);
  put16(l4 + 16, cksum(<usize>l4, <usize>l4len, addrSum + 6 + <u32>l4len));
}

// The UDP header and its checksum over l4len bytes.
export function udpHeader(l4: i32, l4len: i32, addrSum: u32): void {
  put16(l4, get(D_SRC_PORT));
  put16(l4 + 2, get(D_DST_PORT));
  put16(l4 + 4, l4len);
  put16(l4 + 6, 0);
  // RFC 768, RFC 8200 section 8.1: a computed zero is sent as all ones (zero means "none").
  const c = cksum(<usize>l4, <usize>l4len, addrSum + 17 + <u32>l4len);
  put16(l4 + 6, c == 0 ? 0xffff : c);
}

export function ethernet(i: i32, type: i32): void {
  put16(i, get(D_ETH_DST_HI));
  put32(i + 2, get(D_ETH_DST_LO));
  put16(i + 6, get(D_ETH_SRC_HI));
  put32(i + 8, get(D_ETH_SRC_LO));
  const vlan = get(D_VLAN);
  if (vlan >= 0) {
    put16(i + 12, 0x8100);
    put16(i + 14, vlan);
    put16(i + 16, type);
  } else {
    put16(i + 12, type);
  }
}

// ARP body for Ethernet and IPv4 (RFC 826).
function arp(i: i32): void {
  put32(i, 0x00010800);
  put16(i + 4, 0x0604);
  put16(i + 6, get(D_ARP_OP));
  put16(i + 8, get(D_ARP_SHA_HI));
  put32(i + 10, get(D_ARP_SHA_LO));
  put32(i + 14, get(D_ARP_SPA));
  put16(i + 18, get(D_ARP_THA_HI));
  put32(i + 20, get(D_ARP_THA_LO));
  put32(i + 24, get(D_ARP_TPA));
}

/** Build the headers of the transmit descriptor in front of the payload; the frame start. */
export function encode(payloadOff: i32, payloadLen: i32): i32 {
  const kind = get(D_KIND);
  const eth = get(D_VLAN) >= 0 ? 18 : 14;
  let l4h: i32;
  if (kind == K_TCP) {
    const opt = optionsLength();
    if (opt < 0) return -ENC_BAD_OPTIONS;
    l4h = 20 + opt;
  } else if (kind == K_UDP || kind == K_ICMP) {
    l4h = 8;
  } else if (kind == K_IPV4_FRAGMENT || kind == K_IPV4_OTHER) {
    l4h = 0;
  } else if (kind == K_ARP) {
    const start = payloadOff - 28 - eth;
    if (start < 0) return -ENC_NO_HEADROOM;
    arp(payloadOff - 28);
    ethernet(start, 0x0806);
    return start;
  } else if (kind >= K_ICMP6 && kind <= K_IPV6_OTHER) {
    return encode6(payloadOff, payloadLen, eth);
  } else {
    return -ENC_BAD_KIND;
  }
  const total = 20 + l4h + payloadLen;
  if (total > 0xffff) return -ENC_TOO_LONG;
  const start = payloadOff - l4h - 20 - eth;
  if (start < 0) return -ENC_NO_HEADROOM;
  const l4 = payloadOff - l4h;
  const l4len = l4h + payloadLen;
  const src = get(D_IP_SRC);
  const dst = get(D_IP_DST);
  let proto: i32;
  const addrs = (<u32>src >> 16) + (<u32>src & 0xffff) + (<u32>dst >> 16) + (<u32>dst & 0xffff);
  if (kind == K_TCP) {
    proto = 6;
    tcpHeader(l4, l4h, l4len, addrs);
  } else if (kind == K_UDP) {
    proto = 17;
    udpHeader(l4, l4len, addrs);
  } else if (kind == K_ICMP) {
    proto = 1;
    put8(l4, get(D_ICMP_TYPE));
    put8(l4 + 1, get(D_ICMP_CODE));
    put16(l4 + 2, 0);
    put32(l4 + 4, get(D_ICMP_REST));
    put16(l4 + 2, cksum(<usize>l4, <usize>l4len, 0));
  } else {
    proto = get(D_IP_PROTO);
  }
  // IPv4 header (RFC 791 section 3.1): version 4, IHL 5, no options.
  const ip = start + eth;
  put8(ip, 0x45);
  put8(ip + 1, get(D_IP_TOS));
  put16(ip + 2, total);
  put16(ip + 4, get(D_IP_ID));
  put16(ip + 6, get(D_IP_FRAG));
  put8(ip + 8, get(D_IP_TTL));
  put8(ip + 9, proto);
  put16(ip + 10, 0);
  put32(ip + 12, src);
  put32(ip + 16, dst);
  put16(ip + 10, cksum(<usize>ip, 20, 0));
  ethernet(start, 0x0800);
  return start;
}
