// IPv6 fragments through the Interface, both engines: a fragmented echo request is reassembled
// and its reply, larger than the MTU, leaves in fragments (RFC 8200 4.5: multiples of 8 bytes,
// each within the MTU, one random identification) that put back together give the request's
// data; atomic fragments are answered as whole datagrams without touching reassembly (RFC
// 6946); overlaps and tiny fragments are dropped and counted; an incomplete first fragment gets
// a Parameter Problem code 3 (RFC 7112) and an expired datagram a Time Exceeded code 1 (RFC
// 4443 3.3) quoting its first fragment; a path MTU lowered by Packet Too Big (RFC 8201) cuts the
// reply; fragment6 itself at the MTU edges.

import assert from "node:assert/strict";
import type { Engine } from "../../src/kernels/engine.ts";
import { Interface } from "../../src/iface/interface.ts";
import { fragment6 } from "../../src/iface/fragment6_out.ts";
import { Reassembler6 } from "../../src/iface/fragments6.ts";
import { resolveLimits } from "../../src/iface/limits.ts";
import { REASM_OFF } from "../../src/iface/transmit.ts";
import fc from "fast-check";
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
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_VLAN,
  DROP_FRAME_TOO_LONG,
  K_ICMP6,
  K_UDP6,
  RX_OFF,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { engines } from "../support/wire_frames.ts";
import {
  cut,
  echo6,
  fragFrame,
  joinFragments,
  OUR6,
  OUR_MAC6,
  parseFragment,
  pattern,
  PEER6,
  udp6,
} from "../support/frag6_frames.ts";

function setup(e: Engine, mtu = 1500, limits = {}) {
  const sent: Uint8Array[] = [];
  let seed = 1;
  // What we send besides ARP and neighbor discovery.
  const send = (b: Uint8Array, o: number, n: number) => {
    const f = b.slice(o, o + n);
    if (!isNdpOrArp(f)) sent.push(f);
  };
  const iface = new Interface(e, { send }, {
    address: 0x0a000002,
    prefixLength: 24,
    mtu,
    mac: OUR_MAC6,
    random: () => (seed = (seed * 16807) % 2147483647) / 2147483647,
    ipv6: [{ address: OUR6, prefixLength: 64 }],
    limits,
  });
  // Duplicate address detection (RFC 4862 5.4) of our addresses first, when the interface
  // does it: one solicitation, one second of silence.
  iface.start(0);
  iface.poll(0);
  iface.poll(1000);
  const feed = (frame: Uint8Array, now = 1000) => {
    e.mem.set(frame, RX_OFF);
    iface.receive(RX_OFF, frame.length, now);
  };
  return { iface, sent, feed };
}

/** ARP, or ICMPv6 router and neighbor discovery (types 133 to 137, RFC 4861). */
function isNdpOrArp(f: Uint8Array): boolean {
  if (f[12] === 0x08 && f[13] === 0x06) return true;
  return f[12] === 0x86 && f[13] === 0xdd && f[20] === 58 && f[54]! >= 133 && f[54]! <= 137;
}

/** Decode an IPv6 datagram (no Ethernet header) with the engine; returns the descriptor. */
function decode6(e: Engine, dg: Uint8Array): Int32Array {
  e.mem.set(dg, RX_OFF);
  assert.equal(e.decodeIpv6(RX_OFF, dg.length), 0);
  return e.rxDesc;
}

for (const e of engines()) {
  const name = (s: string) => `fragments6 iface (${e.kind}): ${s}`;

  Deno.test(name("a fragmented 3000-byte echo request gets a fragmented reply"), () => {
    for (const mtu of [1500, 1280, 9000]) {
      const { iface, sent, feed } = setup(e, mtu);
      const data = pattern(3000, mtu);
      const req = echo6(e, data, 0x4242, 7);
      for (const f of cut(req, 1232).reverse()) feed(f);
      const s = iface.stats();
      assert.equal(s["ip6-fragments-in"], 3);
      assert.equal(s["ip6-reassembled"], 1);
      assert.equal(s["icmp6-echo-replies"], 1);
      if (mtu === 9000) { // fits: one frame
        assert.equal(sent.length, 1);
        assert.equal(sent[0]!.length, 14 + 3048);
        continue;
      }
      const frags = sent.map(parseFragment);
      assert.equal(frags.length, 3);
      assert.equal(s["ip6-fragments-out"], 3);
      for (const f of frags) {
        assert.ok(40 + 8 + f.data.length <= mtu, `fragment of ${f.data.length} over ${mtu}`);
        if (f.more) assert.equal(f.data.length % 8, 0);
        assert.equal(f.id, frags[0]!.id);
        assert.deepEqual(f.header.subarray(8, 24), OUR6);
        assert.deepEqual(f.header.subarray(24, 40), PEER6);
        assert.equal(f.nextHeader, 58);
      }
      const d = decode6(e, joinFragments(frags));
      assert.equal(d[D_KIND], K_ICMP6);
      assert.equal(d[D_ICMP_TYPE], 129);
      assert.equal(d[D_ICMP_REST], (0x4242 << 16) | 7);
      assert.deepEqual(e.mem.slice(d[D_PAYLOAD_OFF]!, d[D_PAYLOAD_OFF]! + d[D_PAYLOAD_LEN]!), data);
      assert.equal(iface.stats()["frag6-memory"], 0);
    }
  });

  Deno.test(name("the largest echo request (65527 bytes of data) in 46 fragments"), () => {
    const { iface, sent, feed } = setup(e);
    const data = pattern(65527, 3);
    for (const f of cut(echo6(e, data, 9, 9), 1448)) feed(f);
    assert.equal(iface.stats()["ip6-reassembled"], 1);
    assert.equal(sent.length, 46);
    const reply = joinFragments(sent.map(parseFragment));
    assert.equal(reply.length, 40 + 65535);
    const d = decode6(e, reply);
    assert.equal(d[D_ICMP_TYPE], 129);
    assert.deepEqual(e.mem.slice(d[D_PAYLOAD_OFF]!, d[D_PAYLOAD_OFF]! + d[D_PAYLOAD_LEN]!), data);
    // One byte more than the largest IPv6 datagram is refused by decode.
    assert.equal(e.decodeIpv6(RX_OFF, 40 + 65536), DROP_FRAME_TOO_LONG);
  });

  Deno.test(name("a path MTU lowered by Packet Too Big cuts the echo reply (RFC 8201)"), () => {
    const { iface, sent, feed } = setup(e);
    // Packet Too Big (RFC 4443 3.2) with MTU 1280 quoting one of our datagrams to the peer.
    const quoted = echo6(e, pattern(1300), 1, 1, OUR6, PEER6).subarray(0, 1232);
    const t = e.txDesc;
    t.fill(0);
    t[D_KIND] = K_ICMP6;
    t[D_VLAN] = -1;
    t[D_ETH_DST_HI] = 0x5254;
    t[D_ETH_DST_LO] = 0x00123456;
    t[D_ETH_SRC_HI] = 0x0200;
    t[D_ETH_SRC_LO] = 1;
    t[D_IP_TTL] = 64;
    t[D_ICMP_TYPE] = 2;
    t[D_ICMP_REST] = 1280;
    e.mem.set(PEER6, TX_IP6_SRC);
    e.mem.set(OUR6, TX_IP6_DST);
    e.mem.set(quoted, TX_PAYLOAD_OFF);
    const start = e.encode(TX_PAYLOAD_OFF, quoted.length);
    feed(e.mem.slice(start, TX_PAYLOAD_OFF + quoted.length));
    assert.equal(iface.ip6Host.pathMtu6(PEER6, 1000), 1280);
    // A 1300-byte echo request fits the link (1348 bytes); its reply does not fit the path.
    const data = pattern(1300, 5);
    const req = echo6(e, data, 3, 3);
    feed(Uint8Array.from([...OUR_MAC6, 2, 0, 0, 0, 0, 1, 0x86, 0xdd, ...req]));
    const frags = sent.map(parseFragment);
    assert.equal(frags.length, 2);
    for (const f of frags) assert.ok(48 + f.data.length <= 1280);
    const d = decode6(e, joinFragments(frags));
    assert.equal(d[D_ICMP_TYPE], 129);
    assert.deepEqual(e.mem.slice(d[D_PAYLOAD_OFF]!, d[D_PAYLOAD_OFF]! + d[D_PAYLOAD_LEN]!), data);
  });

  Deno.test(name("neighbor discovery in fragments is dropped after reassembly (RFC 6980)"), () => {
    const { iface, sent, feed } = setup(e);
    // A neighbor solicitation for our address, padded with options to 2000 bytes.
    const body = new Uint8Array(16 + 8 + 1976);
    body.set(OUR6, 0);
    body.set([1, 1, 2, 0, 0, 0, 0, 1], 16); // source link-layer address
    for (let o = 24; o < body.length; o += 8 * 247) {
      body[o] = 200; // an unknown option of 247 * 8 bytes at most (ignored, RFC 4861 4.6)
      body[o + 1] = Math.min(247, (body.length - o) / 8);
    }
    const t = e.txDesc;
    t.fill(0);
    t[D_KIND] = K_ICMP6;
    t[D_VLAN] = -1;
    t[D_IP_TTL] = 255;
    t[D_ICMP_TYPE] = 135;
    e.mem.set(PEER6, TX_IP6_SRC);
    e.mem.set(OUR6, TX_IP6_DST);
    e.mem.set(body, TX_PAYLOAD_OFF);
    const start = e.encode(TX_PAYLOAD_OFF, body.length);
    const ns = e.mem.slice(start + 14, TX_PAYLOAD_OFF + body.length);
    const before = iface.stats();
    for (const f of cut(ns, 1448)) feed(f);
    const after = iface.stats();
    assert.equal(after["ip6-reassembled"], 1);
    assert.equal(after["ndp-invalid"], (before["ndp-invalid"] ?? 0) + 1);
    assert.equal(after["ndp-advertisements"], before["ndp-advertisements"]); // not answered
    assert.equal(sent.length, 0);
  });

  Deno.test(name("each datagram gets its own random identification (RFC 7739)"), () => {
    const { sent, feed } = setup(e);
    const ids = new Set<number>();
    for (let i = 0; i < 5; i++) {
      sent.length = 0;
      for (const f of cut(echo6(e, pattern(2000, i), 1, i), 1448, { id: i })) feed(f);
      const ids1 = new Set(sent.map((f) => parseFragment(f).id));
      assert.equal(ids1.size, 1);
      ids.add([...ids1][0]!);
    }
    assert.equal(ids.size, 5);
  });

  Deno.test(name("an atomic fragment is a whole datagram; reassembly is untouched"), () => {
    const { iface, sent, feed } = setup(e);
    const big = echo6(e, pattern(3000), 1, 1);
    const pieces = cut(big, 1448, { id: 99 });
    feed(pieces[0]!);
    assert.equal(iface.stats()["frag6-datagrams"], 1);
    // Offset 0, M clear, the same identification: answered at once (RFC 6946 section 4).
    const small = echo6(e, pattern(100), 2, 2);
    feed(fragFrame(small, 0, small.length - 40, false, { id: 99 }));
    assert.equal(sent.length, 1);
    const d = decode6(e, sent[0]!.subarray(14));
    assert.equal(d[D_ICMP_TYPE], 129);
    assert.equal(d[D_ICMP_REST], (2 << 16) | 2);
    assert.equal(iface.stats()["frag6-datagrams"], 1);
    assert.equal(iface.stats()["ip6-fragments-in"], 1);
    feed(pieces[1]!);
    feed(pieces[2]!);
    assert.equal(iface.stats()["ip6-reassembled"], 1);
    assert.equal(sent.length, 4); // the big reply in three fragments
  });

  Deno.test(name("overlapping fragments: no reply, the datagram and its rest dropped"), () => {
    const { iface, sent, feed } = setup(e);
    const req = echo6(e, pattern(3000));
    feed(fragFrame(req, 0, 1448, true));
    feed(fragFrame(req, 1400, 1448, true));
    feed(fragFrame(req, 1448, 1448, true));
    feed(fragFrame(req, 2896, req.length - 40 - 2896, false));
    const s = iface.stats();
    assert.equal(s["frag6-overlap"], 1);
    assert.equal(s["frag6-dead"], 2);
    assert.equal(s["frag6-memory"], 0);
    assert.equal(sent.length, 0);
    iface.poll(61000); // dead datagrams get no Time Exceeded
    assert.equal(sent.length, 0);
    assert.equal(iface.stats()["frag6-datagrams"], 0);
  });

  Deno.test(name("a first fragment without its upper-layer header: Parameter Problem 3"), () => {
    const { iface, sent, feed } = setup(e);
    const req = udp6(e, pattern(100));
    const tiny = fragFrame(req, 0, 8, true, { nextHeader: 6 }); // 8 of TCP's 20 bytes
    feed(tiny);
    assert.equal(iface.stats()["frag6-incomplete-chain"], 1);
    assert.equal(iface.stats()["frag6-datagrams"], 0);
    assert.equal(sent.length, 1);
    const d = decode6(e, sent[0]!.subarray(14));
    assert.equal(d[D_KIND], K_ICMP6);
    assert.equal(d[D_ICMP_TYPE], 4);
    assert.equal(d[D_ICMP_CODE], 3);
    assert.equal(d[D_ICMP_REST], 0);
    assert.deepEqual(
      e.mem.slice(d[D_PAYLOAD_OFF]!, d[D_PAYLOAD_OFF]! + d[D_PAYLOAD_LEN]!),
      tiny.subarray(14),
    );
    assert.deepEqual(sent[0]!.subarray(0, 6), Uint8Array.from([2, 0, 0, 0, 0, 1]));
    // Tiny later fragments are only held, bounded by fragPerDatagram.
    for (let i = 1; i <= 300; i++) feed(fragFrame(req, i * 8, 8, true));
    assert.equal(iface.stats()["frag6-too-many-fragments"], 300 - 256);
  });

  Deno.test(name("reassembly timeout: Time Exceeded code 1 quoting fragment zero"), () => {
    const { iface, sent, feed } = setup(e);
    const req = echo6(e, pattern(3000));
    const pieces = cut(req, 1448);
    feed(pieces[0]!, 1100);
    feed(cut(req, 1448, { id: 5 })[1]!, 1100); // never its fragment zero
    assert.ok(iface.pollAt() <= 61100);
    iface.poll(61099);
    assert.equal(sent.length, 0);
    iface.poll(61100);
    assert.equal(iface.stats()["frag6-timeout"], 2);
    assert.equal(iface.stats()["icmp6-time-exceeded"], 1);
    assert.equal(sent.length, 1);
    assert.ok(sent[0]!.length <= 14 + 1280);
    const d = decode6(e, sent[0]!.subarray(14));
    assert.equal(d[D_ICMP_TYPE], 3);
    assert.equal(d[D_ICMP_CODE], 1);
    const quote = e.mem.slice(d[D_PAYLOAD_OFF]!, d[D_PAYLOAD_OFF]! + d[D_PAYLOAD_LEN]!);
    assert.deepEqual(quote, pieces[0]!.subarray(14, 14 + 1232));
    assert.deepEqual(e.mem.slice(RX_OFF + 8, RX_OFF + 24), OUR6); // from the address it was sent to
    assert.deepEqual(e.mem.slice(RX_OFF + 24, RX_OFF + 40), PEER6);
    assert.equal(iface.stats()["frag6-memory"], 0);
  });

  Deno.test(name("fragments to other hosts and to groups are not answered"), () => {
    const { iface, sent, feed } = setup(e);
    const other = echo6(e, pattern(3000), 1, 1, PEER6, parseIpv6("fd00::99")!);
    for (const f of cut(other, 1448)) feed(f);
    assert.equal(iface.stats()["ip6-not-for-us"], 3);
    assert.equal(iface.stats()["ip6-fragments-in"] ?? 0, 0);
    // To all-nodes (ff02::1, 33:33:00:00:00:01): reassembled, echo not answered (multicast).
    const allNodes = parseIpv6("ff02::1")!;
    const mc = echo6(e, pattern(3000), 1, 1, PEER6, allNodes);
    const mac = Uint8Array.from([0x33, 0x33, 0, 0, 0, 1]);
    feed(cut(mc, 1448, { dstMac: mac })[0]!, 1000);
    iface.poll(61000); // no Time Exceeded about a datagram to a group (RFC 4443 2.4 (e))
    for (const f of cut(mc, 1448, { dstMac: mac, id: 3 })) feed(f, 61000);
    assert.equal(iface.stats()["ip6-reassembled"], 1);
    assert.equal(iface.stats()["icmp6-echo-multicast-ignored"], 1);
    assert.equal(sent.length, 0);
  });

  Deno.test(name("fragment6: at most the MTU, never below 1280, multiples of 8"), () => {
    for (
      const [size, mtu] of [[65527, 1500], [65000, 1500], [3000, 1000], [1233, 1280], [2000, 1281]]
    ) {
      const t = e.txDesc;
      t.fill(0);
      t[D_KIND] = K_UDP6;
      t[D_VLAN] = -1;
      e.mem.set(PEER6, 576);
      e.mem.set(OUR6, 592);
      e.mem.set(pattern(size!), TX_PAYLOAD_OFF);
      const start = e.encode(TX_PAYLOAD_OFF, size!);
      const whole = e.mem.slice(start + 14, TX_PAYLOAD_OFF + size!);
      const frames: Uint8Array[] = [];
      const n = fragment6(e, start + 14, whole.length, mtu!, 0xdeadbeef, (s, l) => {
        frames.push(e.mem.slice(s, s + l));
        return true;
      });
      assert.equal(n, frames.length);
      const step = (Math.max(mtu!, 1280) - 48) & ~7;
      assert.equal(n, Math.ceil((whole.length - 40) / step));
      const frags = frames.map(parseFragment);
      for (const f of frags) {
        assert.ok(48 + f.data.length <= Math.max(mtu!, 1280));
        assert.equal(f.id, 0xdeadbeef);
      }
      assert.deepEqual(joinFragments(frags), whole);
      assert.equal(decode6(e, whole)[D_KIND], K_UDP6);
    }
  });

  Deno.test(name("fragment6 then Reassembler6, any size, MTU and order (property)"), () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1233, max: 65527 }),
        fc.integer({ min: 1280, max: 9000 }),
        fc.integer(),
        (size, mtu, seed) => {
          const whole = udp6(e, pattern(size, seed & 0xff));
          e.mem.set(whole, TX_PAYLOAD_OFF - 40);
          const frames: Uint8Array[] = [];
          const n = fragment6(e, TX_PAYLOAD_OFF - 40, whole.length, mtu, seed >>> 0, (s, l) => {
            frames.push(e.mem.slice(s, s + l));
            return true;
          });
          if (48 + size + 8 <= mtu) return; // fits: fragment6 is not called for it
          assert.equal(n, frames.length);
          let x = seed >>> 0;
          for (let i = frames.length - 1; i > 0; i--) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            const j = x % (i + 1);
            [frames[i], frames[j]] = [frames[j]!, frames[i]!];
          }
          const r = new Reassembler6(resolveLimits({}));
          const results = frames.map((f) => {
            e.mem.set(f, RX_OFF);
            assert.equal(e.decode(RX_OFF, f.length), 0);
            return r.add(e.mem, e.rxDesc, 0);
          });
          assert.equal(results.at(-1), "complete");
          assert.equal(results.filter((x) => x === "complete").length, 1);
          const len = r.takeInto(e.mem, REASM_OFF);
          assert.deepEqual(e.mem.slice(REASM_OFF, REASM_OFF + len), whole);
        },
      ),
      { numRuns: 40 },
    );
  });
}
