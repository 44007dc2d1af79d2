/**
 * `decode(off, len, DECODE_L4_VALID)`: the TCP/UDP checksum a link vouched for (a TAP device
 * with offloads, `Link.rxChecksumValid`) is not summed again, on both engines alike; every
 * other check stays (IPv4 header checksum, lengths, ICMP), and the flag holds for that one
 * decode only.
 */

import assert from "node:assert/strict";
import {
  D_KIND,
  D_PAYLOAD_LEN,
  D_TCP_SEQ,
  DECODE_L4_VALID,
  DROP_ICMP_BAD_CHECKSUM,
  DROP_IP_BAD_CHECKSUM,
  DROP_TCP_BAD_CHECKSUM,
  DROP_UDP_BAD_CHECKSUM,
  K_TCP,
  K_UDP,
} from "../../src/wire/layout.ts";
import { engines, icmpFrame, ip4, rx, tcpFrame, udpFrame } from "../support/wire_frames.ts";

const IP = { src: ip4("10.7.0.1"), dst: ip4("10.7.0.2") };
const OFF = 4096;

function tcp(payload = 1000): Uint8Array {
  const data = new Uint8Array(payload).map((_, i) => i * 7);
  return tcpFrame({}, IP, {
    srcPort: 5001,
    dstPort: 80,
    seq: 12345,
    ack: 1,
    flags: 0x18,
    wnd: 500,
  }, data);
}

/** Flip a payload byte: the TCP/UDP checksum no longer matches. */
function corrupt(f: Uint8Array): Uint8Array {
  const g = f.slice();
  g[g.length - 1]! ^= 0x55;
  return g;
}

Deno.test("decode flags: a vouched TCP checksum is not verified, both engines alike", () => {
  const descs: number[][] = [];
  for (const e of engines()) {
    const bad = corrupt(tcp());
    e.mem.set(bad, OFF);
    assert.equal(e.decode(OFF, bad.length), DROP_TCP_BAD_CHECKSUM, "verified by default");
    assert.equal(e.decode(OFF, bad.length, 0), DROP_TCP_BAD_CHECKSUM);
    assert.equal(e.decode(OFF, bad.length, DECODE_L4_VALID), 0, "vouched: accepted");
    assert.equal(e.rxDesc[D_KIND], K_TCP);
    assert.equal(e.rxDesc[D_TCP_SEQ], 12345);
    assert.equal(e.rxDesc[D_PAYLOAD_LEN], 1000);
    descs.push(rx(e));
    // The flag holds for one decode: the next one verifies again.
    assert.equal(e.decode(OFF, bad.length), DROP_TCP_BAD_CHECKSUM, "the flag does not stick");
    assert.equal(e.decode(OFF, bad.length, DECODE_L4_VALID), 0);
    assert.equal(e.decodeIpv4(OFF + 14, bad.length - 14), DROP_TCP_BAD_CHECKSUM);
  }
  assert.deepEqual(descs[0], descs[1], "the same descriptor from both engines");
});

Deno.test("decode flags: a vouched UDP checksum is not verified; the IP and ICMP ones still are", () => {
  for (const e of engines()) {
    const u = corrupt(udpFrame({}, IP, 53, 4000, new Uint8Array(100).fill(9)));
    e.mem.set(u, OFF);
    assert.equal(e.decode(OFF, u.length), DROP_UDP_BAD_CHECKSUM);
    assert.equal(e.decode(OFF, u.length, DECODE_L4_VALID), 0);
    assert.equal(e.rxDesc[D_KIND], K_UDP);
    // The IPv4 header checksum is the link's concern too, but only TCP/UDP are vouched for.
    const ipBad = tcp();
    ipBad[14 + 10]! ^= 0x01;
    e.mem.set(ipBad, OFF);
    assert.equal(e.decode(OFF, ipBad.length, DECODE_L4_VALID), DROP_IP_BAD_CHECKSUM);
    const icmp = corrupt(icmpFrame({}, IP, 8, 0, 0x12340001, new Uint8Array(56).fill(1)));
    e.mem.set(icmp, OFF);
    assert.equal(e.decode(OFF, icmp.length, DECODE_L4_VALID), DROP_ICMP_BAD_CHECKSUM);
  }
});

Deno.test("decode flags: a valid frame decodes to the same descriptor with or without the flag", () => {
  for (const e of engines()) {
    const f = tcp(3000);
    e.mem.set(f, OFF);
    assert.equal(e.decode(OFF, f.length), 0);
    const plain = rx(e);
    assert.equal(e.decode(OFF, f.length, DECODE_L4_VALID), 0);
    assert.deepEqual(rx(e), plain);
  }
});
