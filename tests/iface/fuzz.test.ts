/**
 * Hostile input through the whole interface: valid frames of every kind, mutated at random
 * (bytes flipped, truncated, sometimes with the IPv4 header checksum repaired so the damage
 * reaches the upper layers), delivered to a JS-engine and a WASM-engine interface side by
 * side. Nothing throws, every frame we send is well formed, memory stays within the limits,
 * and both engines send the same bytes and count the same drops. Seeded (TCPIP_SEED overrides);
 * fast-check prints the seed and the counterexample on failure.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_SRC,
  K_IPV4_FRAGMENT,
  K_TCP,
} from "../../src/wire/layout.ts";
import { parseIpv4 } from "../../src/iface/routing.ts";
import { segment } from "../support/segment.ts";
import { Harness, OUR_IP, PEER_IP } from "../support/iface_harness.ts";

const seen = new Set<string>();
const SEED = Number(Deno.env.get("TCPIP_SEED") ?? 20261125);

function corpus(h: Harness): Uint8Array[] {
  const data = new Uint8Array(3000).map((_, i) => i & 0xff);
  const seg = segment({
    srcIp: PEER_IP,
    dstIp: OUR_IP,
    srcPort: 40000,
    dstPort: 80,
    seq: 100,
    flags: 2,
    mss: 1460,
    ws: 7,
    sackOk: true,
    ts: { val: 0 },
  });
  const ours = segment({ srcIp: OUR_IP, dstIp: PEER_IP, srcPort: 80, dstPort: 40000 });
  const quote = h.build(K_TCP, new Uint8Array(0), (d) => {
    ours.toDesc(d);
    d[D_IP_SRC] = OUR_IP | 0;
    d[D_IP_DST] = PEER_IP | 0;
  }).slice(14, 14 + 28);
  const frags = h.fragments(1, h.icmp(8, 0, 1, data).slice(34), 1480, 3);
  return [
    h.arp(1, PEER_IP, OUR_IP),
    h.arp(2, parseIpv4("10.0.0.7"), OUR_IP, { ethDst: "us" }),
    h.icmp(8, 0, 0x10001, data.subarray(0, 56)),
    h.icmp(3, 4, 1300, quote),
    h.icmp(3, 3, 0, quote),
    h.udp(1000, 7000, data.subarray(0, 200)),
    h.udp(1000, 9, data.subarray(0, 20)),
    h.build(K_TCP, data.subarray(0, 100), (d) => seg.toDesc(d)),
    ...frags,
    h.build(K_IPV4_FRAGMENT, data.subarray(0, 800), (d) => {
      d[D_IP_PROTO] = 17;
      d[D_IP_ID] = 3;
      d[D_IP_FRAG] = 0x2000 | 90;
    }),
    h.udp(1, 7000, data.subarray(0, 4), (d) => {
      d[D_ETH_DST_HI] = 0xffff;
      d[D_ETH_DST_LO] = -1;
      d[D_IP_DST] = -1;
    }),
  ];
}

function fixIpChecksum(f: Uint8Array): void {
  if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0) return;
  const hlen = Math.min((f[14]! & 15) * 4, f.length - 14);
  f[24] = f[25] = 0;
  let sum = 0;
  for (let i = 0; i + 1 < hlen; i += 2) sum += (f[14 + i]! << 8) | f[15 + i]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  f[24] = (~sum >>> 8) & 0xff;
  f[25] = ~sum & 0xff;
}

const mutation = fc.record({
  pick: fc.nat(),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
  cut: fc.option(fc.nat(), { freq: 4 }),
  repair: fc.boolean(),
  dt: fc.integer({ min: 0, max: 3000 }),
});

Deno.test("iface fuzz: mutated frames never throw, outputs are well formed, engines agree", () => {
  const limits = { fragMemory: 32768, fragDatagrams: 8, arpCacheSize: 8, udpQueueDatagrams: 4 };
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 40 }), (steps) => {
      const js = new Harness("js", { limits });
      const wasm = new Harness("wasm", { limits });
      for (const h of [js, wasm]) {
        h.iface.attachTcp(h.tcp);
        h.iface.udpBind(7000);
      }
      const frames = corpus(js);
      for (const s of steps) {
        const f = frames[s.pick % frames.length]!.slice();
        for (const [pos, b] of s.flips) f[pos % f.length] = b;
        if (s.repair) fixIpChecksum(f);
        const frame = s.cut === null ? f : f.subarray(0, s.cut % (f.length + 1));
        for (const h of [js, wasm]) {
          h.now += s.dt;
          h.deliver(frame);
          h.iface.poll(h.now);
        }
        const a = js.take(), b = wasm.take();
        assert.deepEqual(b.map((x) => x.bytes), a.map((x) => x.bytes));
        for (const out of a) assert.equal(out.verdict, 0, "we sent a malformed frame");
        const st = js.iface.stats();
        assert.ok(st["frag-memory"]! <= limits.fragMemory);
        assert.ok(st["frag-datagrams"]! <= limits.fragDatagrams);
        assert.ok(st["arp-cache-entries"]! <= limits.arpCacheSize);
      }
      assert.deepEqual(wasm.iface.stats(), js.iface.stats());
      if (Deno.env.get("H5_DEBUG")) { for (const k of Object.keys(js.iface.stats())) seen.add(k); }
    }),
    { seed: SEED, numRuns: 150 },
  );
  if (Deno.env.get("H5_DEBUG")) console.log([...seen].sort().join(" "));
});

Deno.test("iface fuzz: ARP and fragment floods keep memory bounded", () => {
  const h = new Harness("js", {
    limits: { arpCacheSize: 16, fragMemory: 65536, fragDatagrams: 16 },
  });
  for (let i = 0; i < 5000; i++) {
    const spa = (parseIpv4("10.0.0.0") + 3 + (i % 250)) >>> 0;
    h.deliver(h.arp(i & 1 ? 2 : 1, spa, i % 3 ? OUR_IP : parseIpv4("10.0.0.99"), { shaLo: i }));
  }
  assert.ok(h.iface.stats()["arp-cache-entries"]! <= 16);
  const piece = new Uint8Array(1480);
  for (let id = 0; id < 3000; id++) {
    h.deliver(h.build(K_IPV4_FRAGMENT, piece, (d) => {
      d[D_IP_PROTO] = 17;
      d[D_IP_ID] = id;
      d[D_IP_FRAG] = 0x2000 | ((id % 40) * 185);
    }));
  }
  const s = h.iface.stats();
  assert.ok(s["frag-memory"]! <= 65536);
  assert.ok(s["frag-datagrams"]! <= 16);
  assert.ok((s["frag-too-many-datagrams"] ?? 0) + (s["frag-memory-full"] ?? 0) > 0);
  h.iface.poll(30000);
  assert.equal(h.iface.stats()["frag-memory"], 0);
});
