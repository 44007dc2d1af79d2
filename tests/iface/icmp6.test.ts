// IPv6 on the interface, both engines: the link-local address from the MAC, neighbor
// solicitations for it answered with an advertisement (solicited, and the DAD form to
// all-nodes), invalid solicitations dropped by name (RFC 4861 7.1.1), echo requests answered
// byte for byte (RFC 4443 4.2), multicast groups we did not join and other frames dropped.

import assert from "node:assert/strict";
import { Interface } from "../../src/iface/interface.ts";
import { linkLocalFromMac, solicitedNode } from "../../src/iface/icmp6.ts";
import {
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_OPT_MSS,
  D_OPT_WS,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_TCP_FLAGS,
  D_VLAN,
  F_RST,
  F_SYN,
  K_ICMP6,
  K_TCP6,
  K_UDP6,
  RX_OFF,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { engines } from "../support/wire_frames.ts";
import type { Engine } from "../../src/kernels/engine.ts";

const OUR_MAC = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const PEER = parseIpv6("fe80::1")!;
const PEER_MAC = [0x0200, 0x00000001];

function setup(e: Engine, burst = 50) {
  const sent: Uint8Array[] = [];
  const iface = new Interface(e, { send: (b, o, n) => sent.push(b.slice(o, o + n)) }, {
    address: 0x0a000002,
    prefixLength: 24,
    mtu: 1500,
    mac: OUR_MAC,
    random: () => 0.5,
    limits: { icmpErrorBurst: burst },
  });
  // Duplicate address detection (RFC 4862 5.4) first: one solicitation, one second of silence.
  iface.start(0);
  iface.poll(0);
  iface.poll(1000);
  sent.length = 0;
  return { iface, sent };
}

/** An ICMPv6 frame built by the engine: from fe80::1 (02:00:00:00:00:01) to `dst`. */
function icmp6(
  e: Engine,
  o: { dst: Uint8Array; macHi: number; macLo: number; type: number; rest?: number; hops?: number },
  payload: Uint8Array,
): Uint8Array {
  const t = e.txDesc;
  t.fill(0);
  t[D_KIND] = K_ICMP6;
  t[D_VLAN] = -1;
  t[D_ETH_DST_HI] = o.macHi;
  t[D_ETH_DST_LO] = o.macLo;
  t[D_ETH_SRC_HI] = PEER_MAC[0]!;
  t[D_ETH_SRC_LO] = PEER_MAC[1]!;
  t[D_IP_TTL] = o.hops ?? 255;
  t[D_ICMP_TYPE] = o.type;
  t[D_ICMP_REST] = o.rest ?? 0;
  e.mem.set(PEER, TX_IP6_SRC);
  e.mem.set(o.dst, TX_IP6_DST);
  e.mem.set(payload, TX_PAYLOAD_OFF);
  const start = e.encode(TX_PAYLOAD_OFF, payload.length);
  return e.mem.slice(start, TX_PAYLOAD_OFF + payload.length);
}

function feed(e: Engine, iface: Interface, f: Uint8Array): void {
  e.mem.set(f, RX_OFF);
  iface.receive(RX_OFF, f.length, 1000);
}

for (const e of engines()) {
  const ll = linkLocalFromMac(OUR_MAC);
  const sn = solicitedNode(ll);
  const snMac = (0xff << 24 | 0x12 << 16 | 0x34 << 8 | 0x56) >>> 0;

  Deno.test(`${e.kind} icmp6: a neighbor solicitation for our link-local address is advertised`, () => {
    const { iface, sent } = setup(e);
    assert.equal(formatIpv6(iface.linkLocal), "fe80::5054:ff:fe12:3456");
    const ns = [...ll, 1, 1, 0x02, 0, 0, 0, 0, 0x01]; // target, source link-layer address option
    feed(
      e,
      iface,
      icmp6(e, { dst: sn, macHi: 0x3333, macLo: snMac, type: 135 }, Uint8Array.from(ns)),
    );
    assert.equal(sent.length, 1);
    const f = sent[0]!;
    e.mem.set(f, RX_OFF);
    assert.equal(e.decode(RX_OFF, f.length), 0);
    const d = e.rxDesc;
    assert.deepEqual([d[D_KIND], d[D_ICMP_TYPE], d[D_ICMP_CODE], d[D_IP_TTL]], [
      K_ICMP6,
      136,
      0,
      255,
    ]);
    assert.equal(d[D_ICMP_REST]! >>> 0, 0x60000000); // solicited, override, not a router
    assert.deepEqual([d[D_ETH_DST_HI], d[D_ETH_DST_LO]], PEER_MAC);
    assert.deepEqual([d[D_ETH_SRC_HI], d[D_ETH_SRC_LO]! >>> 0], [0x5254, 0x00123456]);
    const l3 = d[D_L3_OFF]!;
    assert.equal(formatIpv6(e.mem, l3 + 8), "fe80::5054:ff:fe12:3456");
    assert.equal(formatIpv6(e.mem, l3 + 24), "fe80::1");
    const p = d[D_PAYLOAD_OFF]!;
    assert.equal(formatIpv6(e.mem, p), "fe80::5054:ff:fe12:3456");
    assert.deepEqual(Array.from(e.mem.slice(p + 16, p + 24)), [2, 1, ...OUR_MAC]);
    assert.equal(iface.stats()["ndp-advertisements"], 1);
  }); // deno-fmt-ignore-line

  Deno.test(`${e.kind} icmp6: DAD probes get an advertisement to all-nodes; bad ones are dropped`, () => {
    const { iface, sent } = setup(e);
    // From the unspecified address (RFC 4861 7.2.4): to ff02::1, not solicited.
    icmp6(e, { dst: sn, macHi: 0x3333, macLo: snMac, type: 135 }, ll);
    // Built again with :: as the source (the checksum covers it).
    e.mem.fill(0, TX_IP6_SRC, TX_IP6_SRC + 16);
    e.mem.set(ll, TX_PAYLOAD_OFF);
    const start = e.encode(TX_PAYLOAD_OFF, 16);
    feed(e, iface, e.mem.slice(start, TX_PAYLOAD_OFF + 16));
    assert.equal(sent.length, 1);
    e.mem.set(sent[0]!, RX_OFF);
    assert.equal(e.decode(RX_OFF, sent[0]!.length), 0);
    assert.equal(e.rxDesc[D_ICMP_REST]! >>> 0, 0x20000000);
    assert.equal(formatIpv6(e.mem, e.rxDesc[D_L3_OFF]! + 24), "ff02::1");
    assert.deepEqual([e.rxDesc[D_ETH_DST_HI], e.rxDesc[D_ETH_DST_LO]], [0x3333, 1]);
    // RFC 4861 7.1.1: hop limit not 255, a zero-length option, a multicast target.
    const n0 = sent.length;
    feed(e, iface, icmp6(e, { dst: sn, macHi: 0x3333, macLo: snMac, type: 135, hops: 64 }, ll));
    feed(e, iface, icmp6(e, { dst: sn, macHi: 0x3333, macLo: snMac, type: 135 }, Uint8Array.from([...ll, 1, 0, 0, 0, 0, 0, 0, 0])));
    feed(e, iface, icmp6(e, { dst: sn, macHi: 0x3333, macLo: snMac, type: 135 }, sn));
    assert.equal(sent.length, n0);
    assert.equal(iface.stats()["ndp-bad-hop-limit"], 1);
    assert.equal(iface.stats()["ndp-invalid"], 2);
    // Another node's target on our group: no answer.
    const other = ll.slice();
    other[8] = 0x99;
    feed(e, iface, icmp6(e, { dst: sn, macHi: 0x3333, macLo: snMac, type: 135 }, other));
    assert.equal(iface.stats()["ndp-not-our-target"], 1);
    // A solicited-node group that is not ours is filtered by its MAC.
    feed(e, iface, icmp6(e, { dst: sn, macHi: 0x3333, macLo: 0xff000001, type: 135 }, ll));
    assert.equal(sent.length, n0);
    assert.equal(iface.stats()["eth-not-for-us"], 1);
  }); // deno-fmt-ignore-line

  Deno.test(`${e.kind} icmp6: echo requests to our address are answered byte for byte`, () => {
    const { iface, sent } = setup(e);
    const data = new Uint8Array(1452).map((_, i) => i * 7);
    const req = icmp6(e, { dst: ll, macHi: 0x5254, macLo: 0x00123456, type: 128, rest: 0x12340007, hops: 64 }, data);
    feed(e, iface, req);
    assert.equal(sent.length, 1);
    const f = sent[0]!;
    assert.equal(f.length, 14 + 1500);
    e.mem.set(f, RX_OFF);
    assert.equal(e.decode(RX_OFF, f.length), 0);
    const d = e.rxDesc;
    assert.deepEqual([d[D_ICMP_TYPE], d[D_ICMP_REST], d[D_PAYLOAD_LEN]], [129, 0x12340007, 1452]);
    assert.deepEqual(e.mem.slice(d[D_PAYLOAD_OFF]!, d[D_PAYLOAD_OFF]! + 1452), data);
    assert.equal(formatIpv6(e.mem, d[D_L3_OFF]! + 24), "fe80::1");
    // To all-nodes: not answered; to another address: dropped; UDP over IPv6: not served yet.
    feed(e, iface, icmp6(e, { dst: parseIpv6("ff02::1")!, macHi: 0x3333, macLo: 1, type: 128 }, data.subarray(0, 8)));
    feed(e, iface, icmp6(e, { dst: PEER, macHi: 0x5254, macLo: 0x00123456, type: 128 }, data.subarray(0, 8)));
    const t = e.txDesc;
    t[D_KIND] = K_UDP6;
    e.mem.set(ll, TX_IP6_DST);
    const s = e.encode(TX_PAYLOAD_OFF, 8);
    feed(e, iface, e.mem.slice(s, TX_PAYLOAD_OFF + 8));
    assert.equal(sent.length, 2); // the UDP datagram: port unreachable (no IPv6 UDP sockets)
    const st = iface.stats();
    assert.deepEqual(
      [st["icmp6-echo-multicast-ignored"], st["ip6-not-for-us"], st["ip6-unhandled"]],
      [1, 1, 1],
    );
  }); // deno-fmt-ignore-line
}

/** `f` (an IPv6 frame) with one extension header of Next Header `nh` before its upper layer. */
function withHeader(f: Uint8Array, nh: number, bytes: number[]): Uint8Array {
  const out = new Uint8Array(f.length + bytes.length);
  out.set(f.subarray(0, 54));
  out.set(bytes, 54);
  out[54] = f[20]!;
  out.set(f.subarray(54), 54 + bytes.length);
  out[20] = nh;
  const plen = out.length - 54;
  out[18] = plen >> 8;
  out[19] = plen & 0xff;
  return out;
}

for (const e of engines()) {
  const ll = linkLocalFromMac(OUR_MAC);
  const unicast = { dst: ll, macHi: 0x5254, macLo: 0x00123456, hops: 64 };

  /** The ICMPv6 message in sent frame `f`: type, code, rest and the quoted bytes. */
  const error = (f: Uint8Array) => {
    e.mem.set(f, RX_OFF);
    assert.equal(e.decode(RX_OFF, f.length), 0);
    const d = e.rxDesc;
    assert.equal(formatIpv6(e.mem, d[D_L3_OFF]! + 24), "fe80::1");
    const p = d[D_PAYLOAD_OFF]!;
    return {
      type: d[D_ICMP_TYPE],
      code: d[D_ICMP_CODE],
      rest: d[D_ICMP_REST],
      quoted: e.mem.slice(p, p + d[D_PAYLOAD_LEN]!),
    };
  };

  Deno.test(`${e.kind} icmp6: errors per RFC 4443 2.4 and RFC 8200 4, rate-limited`, () => {
    const { iface, sent } = setup(e, 3);
    const echo = icmp6(e, { ...unicast, type: 128 }, new Uint8Array(8));
    // A routing header with segments left: Parameter Problem code 0 at the routing type.
    const routed = withHeader(echo, 43, [0, 0, 4, 1, 0, 0, 0, 0]);
    feed(e, iface, routed);
    let m = error(sent[0]!);
    assert.deepEqual([m.type, m.code, m.rest], [4, 0, 42]);
    assert.deepEqual(m.quoted, routed.subarray(14)); // the whole datagram fits in 1280
    // An unknown upper layer: code 1 at the Next Header byte.
    const other = echo.slice();
    other[20] = 253;
    feed(e, iface, other);
    m = error(sent[1]!);
    assert.deepEqual([m.type, m.code, m.rest], [4, 1, 6]);
    // UDP (no IPv6 UDP sockets yet): port unreachable, the quote cut at 1280 bytes in all.
    const t = e.txDesc;
    t[D_KIND] = K_UDP6;
    t[D_ETH_DST_HI] = 0x5254;
    t[D_ETH_DST_LO] = 0x00123456;
    e.mem.set(PEER, TX_IP6_SRC);
    e.mem.set(ll, TX_IP6_DST);
    const s = e.encode(TX_PAYLOAD_OFF, 1400);
    feed(e, iface, e.mem.slice(s, TX_PAYLOAD_OFF + 1400));
    m = error(sent[2]!);
    assert.deepEqual([m.type, m.code, m.quoted.length], [1, 4, 1280 - 48]);
    assert.equal(sent[2]!.length, 14 + 1280);
    // The burst (3 here) is spent: the next error is suppressed and counted.
    // (TCP is answered the same way while no IPv6 listener can exist; see the test below.)
    feed(e, iface, routed);
    assert.equal(sent.length, 3);
    assert.equal(iface.stats()["icmp6-error-rate-limited"], 1);
    // No errors about a multicast source, or about No Next Header.
    const { iface: fresh, sent: out } = setup(e);
    const mcast = routed.slice();
    mcast[22] = 0xff;
    feed(e, fresh, mcast);
    const none = echo.slice();
    none[20] = 59;
    feed(e, fresh, none);
    assert.equal(out.length, 0);
    assert.equal(fresh.stats()["icmp6-error-suppressed"], 1);
  });
}

for (const e of engines()) {
  Deno.test(`${e.kind} icmp6: TCP to us gets a port unreachable, a RST nothing`, () => {
    const { iface, sent } = setup(e);
    const t = e.txDesc;
    t.fill(0);
    t[D_KIND] = K_TCP6;
    t[D_VLAN] = -1;
    t[D_ETH_DST_HI] = 0x5254;
    t[D_ETH_DST_LO] = 0x00123456;
    t[D_IP_TTL] = 64;
    t[D_OPT_MSS] = -1;
    t[D_OPT_WS] = -1;
    t[D_TCP_FLAGS] = F_SYN;
    e.mem.set(PEER, TX_IP6_SRC);
    e.mem.set(linkLocalFromMac(OUR_MAC), TX_IP6_DST);
    let s = e.encode(TX_PAYLOAD_OFF, 0);
    feed(e, iface, e.mem.slice(s, TX_PAYLOAD_OFF));
    assert.equal(sent.length, 1);
    e.mem.set(sent[0]!, RX_OFF);
    assert.equal(e.decode(RX_OFF, sent[0]!.length), 0);
    assert.deepEqual([e.rxDesc[D_ICMP_TYPE], e.rxDesc[D_ICMP_CODE]], [1, 4]);
    t[D_TCP_FLAGS] = F_RST;
    s = e.encode(TX_PAYLOAD_OFF, 0);
    feed(e, iface, e.mem.slice(s, TX_PAYLOAD_OFF));
    assert.equal(sent.length, 1);
  });
}
