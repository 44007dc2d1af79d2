// The header records of src/wire (EthernetFrame, Ipv4Header, ArpPacket, IcmpHeader,
// UdpHeader): filled from a real decode, written back and encoded, they give the same frame,
// on both engines.
import assert from "node:assert/strict";
import { ArpPacket } from "../../src/wire/arp_packet.ts";
import { EthernetFrame } from "../../src/wire/ethernet_frame.ts";
import { IcmpHeader } from "../../src/wire/icmp_header.ts";
import { hasSourceRoute, Ipv4Header } from "../../src/wire/ipv4_header.ts";
import { K_ARP, K_ICMP, K_UDP, RX_OFF, TX_PAYLOAD_OFF } from "../../src/wire/layout.ts";
import { UdpHeader } from "../../src/wire/udp_header.ts";
import type { Engine } from "../../src/kernels/engine.ts";
import {
  arpFrame,
  decodeAt,
  engines,
  icmpFrame,
  ip4,
  MAC_A,
  MAC_B,
  udpFrame,
} from "../support/wire_frames.ts";

const E = { dst: MAC_B, src: MAC_A };
const IP = { src: ip4("10.0.0.1"), dst: ip4("10.0.0.2"), ttl: 61, id: 0x1234, tos: 0x10 };

/** Place `payload` at TX_PAYLOAD_OFF, encode txDesc around it, return the frame's bytes. */
function encode(engine: Engine, payload: Uint8Array): Uint8Array {
  engine.mem.set(payload, TX_PAYLOAD_OFF);
  const start = engine.encode(TX_PAYLOAD_OFF, payload.length);
  assert.ok(start >= 0, `encode error ${start}`);
  return engine.mem.slice(start, TX_PAYLOAD_OFF + payload.length);
}

for (const engine of engines()) {
  const k = engine.kind;

  Deno.test(`records (${k}): UDP datagram fields, and back to the same frame`, () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    const frame = udpFrame(E, IP, 5353, 53, payload);
    assert.equal(decodeAt(engine, frame, RX_OFF), 0);
    const eth = new EthernetFrame().fromDesc(engine.rxDesc);
    const ip = new Ipv4Header().fromDesc(engine.rxDesc);
    const udp = new UdpHeader().fromDesc(engine.rxDesc);
    assert.equal(eth.kind, K_UDP);
    assert.equal(eth.ethertype, 0x0800);
    assert.deepEqual([eth.srcHi, eth.srcLo, eth.dstHi, eth.dstLo], [0x0200, 0x0a, 0x0200, 0x0b]);
    assert.equal(eth.vlan, -1);
    assert.deepEqual([eth.frameOff, eth.frameLen, eth.l3Off], [RX_OFF, frame.length, RX_OFF + 14]);
    assert.equal(ip.kind, K_UDP);
    assert.deepEqual(
      [ip.src, ip.dst, ip.ttl, ip.id, ip.tos, ip.proto, ip.headerLen, ip.totalLen],
      [IP.src, IP.dst, 61, 0x1234, 0x10, 17, 20, 20 + 8 + 5],
    );
    assert.deepEqual([ip.headerOff, ip.payloadOff, ip.payloadLen], [RX_OFF + 14, RX_OFF + 34, 13]);
    assert.deepEqual([ip.dontFragment, ip.moreFragments, ip.fragmentOffset], [true, false, 0]);
    assert.deepEqual([udp.srcPort, udp.dstPort, udp.length, udp.payloadLen], [5353, 53, 13, 5]);
    assert.deepEqual(engine.mem.slice(udp.payloadOff, udp.payloadOff + 5), payload);
    const t = engine.txDesc;
    t.fill(-1);
    eth.toDesc(t);
    ip.toDesc(t);
    udp.toDesc(t);
    assert.deepEqual(encode(engine, payload), frame);
  });

  Deno.test(`records (${k}): ICMP echo fields, and back to the same frame`, () => {
    const payload = new Uint8Array(56).fill(7);
    const frame = icmpFrame(E, IP, 8, 0, (0xbeef << 16) | 9, payload);
    assert.equal(decodeAt(engine, frame, RX_OFF), 0);
    const eth = new EthernetFrame().fromDesc(engine.rxDesc);
    const ip = new Ipv4Header().fromDesc(engine.rxDesc);
    const icmp = new IcmpHeader().fromDesc(engine.rxDesc);
    assert.equal(eth.kind, K_ICMP);
    assert.deepEqual([icmp.type, icmp.code, icmp.ident, icmp.sequence], [8, 0, 0xbeef, 9]);
    assert.equal(icmp.payloadLen, 56);
    const t = engine.txDesc;
    t.fill(-1);
    eth.toDesc(t);
    ip.toDesc(t);
    new IcmpHeader().echo(8, 0xbeef, 9).toDesc(t);
    assert.deepEqual(encode(engine, payload), frame);
  });

  Deno.test(`records (${k}): ARP request fields, and back to the same frame`, () => {
    const bcast = { dst: [255, 255, 255, 255, 255, 255], src: MAC_A };
    const frame = arpFrame(bcast, 1, MAC_A, ip4("10.0.0.1"), [0, 0, 0, 0, 0, 0], ip4("10.0.0.2"));
    assert.equal(decodeAt(engine, frame, RX_OFF), 0);
    const eth = new EthernetFrame().fromDesc(engine.rxDesc);
    const arp = new ArpPacket().fromDesc(engine.rxDesc);
    assert.equal(eth.kind, K_ARP);
    assert.deepEqual([eth.dstHi, eth.dstLo, eth.ethertype], [0xffff, 0xffffffff, 0x0806]);
    assert.deepEqual(
      [arp.op, arp.shaHi, arp.shaLo, arp.spa, arp.thaHi, arp.thaLo, arp.tpa],
      [1, 0x0200, 0x0a, ip4("10.0.0.1"), 0, 0, ip4("10.0.0.2")],
    );
    const t = engine.txDesc;
    t.fill(-1);
    eth.toDesc(t);
    arp.toDesc(t);
    assert.deepEqual(encode(engine, new Uint8Array(0)), frame);
  });
}

Deno.test("records: IPv4 fragment flags and offset", () => {
  const ip = new Ipv4Header();
  ip.frag = 0x4000;
  assert.deepEqual([ip.dontFragment, ip.moreFragments, ip.fragmentOffset], [true, false, 0]);
  ip.frag = 0x2000 | 185;
  assert.deepEqual([ip.dontFragment, ip.moreFragments, ip.fragmentOffset], [false, true, 1480]);
});

Deno.test("records: source-route options found in an IPv4 header (RFC 791 LSRR/SSRR)", () => {
  const h = (opts: number[]) =>
    new Uint8Array([0x45 + opts.length / 4, ...new Array(19).fill(0), ...opts]);
  assert.equal(hasSourceRoute(h([1, 1, 1, 0]), 0, 24), false); // NOPs and end of list
  assert.equal(hasSourceRoute(h([1, 0x83, 7, 4, 10, 0, 0, 1]), 0, 28), true); // loose
  assert.equal(hasSourceRoute(h([0x89, 7, 4, 10, 0, 0, 1, 0]), 0, 28), true); // strict
  assert.equal(hasSourceRoute(h([0x07, 7, 4, 10, 0, 0, 1, 0]), 0, 28), false); // record route
  assert.equal(hasSourceRoute(h([0x44, 1, 0, 0]), 0, 24), false); // malformed length ends it
});
