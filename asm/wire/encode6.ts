// IPv6 encode of the WASM engine: the twin of src/kernels/js/encode6.ts (see its module note).

import {
  D_ICMP_CODE, D_ICMP_REST, D_ICMP_TYPE, D_IP6_FLOW, D_IP_FRAG, D_IP_ID, D_IP_PROTO, D_IP_TOS,
  D_IP_TTL, D_KIND, ENC_BAD_OPTIONS, ENC_NO_HEADROOM, ENC_TOO_LONG, K_ICMP6, K_IPV6_FRAGMENT,
  K_TCP6, K_UDP6, TX_IP6_DST, TX_IP6_SRC,
} from "../../src/wire/layout";
import { cksum } from "./checksum";
import { ethernet, get, optionsLength, put16, put32, put8, tcpHeader, udpHeader } from "./encode";

// An IPv6 frame of kind D_KIND with an Ethernet header of eth bytes; the frame start or -ENC_*.
export function encode6(payloadOff: i32, payloadLen: i32, eth: i32): i32 {
  const kind = get(D_KIND);
  let l4h: i32;
  let nh: i32;
  if (kind == K_TCP6) {
    const opt = optionsLength();
    if (opt < 0) return -ENC_BAD_OPTIONS;
    l4h = 20 + opt;
    nh = 6;
  } else if (kind == K_UDP6) {
    l4h = 8;
    nh = 17;
  } else if (kind == K_ICMP6) {
    l4h = 8;
    nh = 58;
  } else if (kind == K_IPV6_FRAGMENT) {
    l4h = 8;
    nh = 44;
  } else {
    l4h = 0;
    nh = get(D_IP_PROTO) & 0xff;
  }
  const plen = l4h + payloadLen;
  if (plen > 0xffff) return -ENC_TOO_LONG;
  const start = payloadOff - l4h - 40 - eth;
  if (start < 0) return -ENC_NO_HEADROOM;
  const ip = start + eth;
  put32(ip, 0x60000000 | (get(D_IP_TOS) & 0xff) << 20 | (get(D_IP6_FLOW) & 0xfffff));
  put16(ip + 4, plen);
  put8(ip + 6, nh);
  put8(ip + 7, get(D_IP_TTL));
  memory.copy(<usize>(ip + 8), <usize>TX_IP6_SRC, 16);
  memory.copy(<usize>(ip + 24), <usize>TX_IP6_DST, 16);
  let addrs: u32 = 0;
  for (let i = ip + 8; i < ip + 40; i += 2) addrs += <u32>bswap<u16>(load<u16>(<usize>i));
  const l4 = payloadOff - l4h;
  if (kind == K_TCP6) {
    tcpHeader(l4, l4h, plen, addrs);
  } else if (kind == K_UDP6) {
    udpHeader(l4, plen, addrs);
  } else if (kind == K_ICMP6) {
    put8(l4, get(D_ICMP_TYPE));
    put8(l4 + 1, get(D_ICMP_CODE));
    put16(l4 + 2, 0);
    put32(l4 + 4, get(D_ICMP_REST));
    put16(l4 + 2, cksum(<usize>l4, <usize>plen, addrs + 58 + <u32>plen));
  } else if (kind == K_IPV6_FRAGMENT) {
    put8(l4, get(D_IP_PROTO));
    put8(l4 + 1, 0);
    put16(l4 + 2, get(D_IP_FRAG));
    put32(l4 + 4, get(D_IP_ID));
  }
  ethernet(start, 0x86dd);
  return start;
}
