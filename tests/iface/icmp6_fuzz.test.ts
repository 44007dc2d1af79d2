// Random and mutated IPv6 frames through the whole interface, both engines (fast-check,
// seeded): neighbor solicitations with random options, echo requests, UDP, TCP, extension
// headers, cut and edited bytes. The interface never throws, every frame it sends decodes with
// verdict 0 as ICMPv6 from our address, and no error is larger than 1280 bytes (RFC 4443 2.4).

import assert from "node:assert/strict";
import fc from "fast-check";
import { Interface } from "../../src/iface/interface.ts";
import { linkLocalFromMac, solicitedNode } from "../../src/iface/icmp6.ts";
import {
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_ICMP_TYPE,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_OPT_MSS,
  D_OPT_WS,
  D_TCP_FLAGS,
  D_VLAN,
  K_ICMP6,
  K_TCP6,
  K_UDP6,
  RX_OFF,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { engines } from "../support/wire_frames.ts";

const SEED = Number(Deno.env.get("TCPIP_SEED") ?? 0x1c6f);
const RUNS = Number(Deno.env.get("TCPIP_RUNS") ?? 300);
const MAC = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const LL = linkLocalFromMac(MAC);

const frame = fc.record({
  kind: fc.constantFrom(K_ICMP6, K_ICMP6, K_UDP6, K_TCP6),
  type: fc.constantFrom(128, 135, 135, 136, 133, 134, 134, 137, 1, 2, 3, 4, 200),
  hops: fc.constantFrom(255, 64, 1),
  toGroup: fc.boolean(),
  srcZero: fc.boolean(),
  flags: fc.nat(0xff),
  body: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.tuple(fc.uint8Array({ maxLength: 24 }), fc.uint8Array({ maxLength: 1500 })).map((
      [a, b],
    ) => Uint8Array.from([...LL, ...a, ...b])),
  ),
  // Mostly intact frames (so that the answering paths run), some edited or cut.
  edits: fc.oneof(
    { weight: 3, arbitrary: fc.constant([]) },
    {
      weight: 1,
      arbitrary: fc.array(fc.record({ at: fc.nat(100), val: fc.nat(0xff) }), { maxLength: 3 }),
    },
  ),
  cut: fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(200) }),
});

for (const e of engines()) {
  Deno.test(`${e.kind} icmp6 fuzz: random IPv6 frames never break the interface`, () => {
    const sent: Uint8Array[] = [];
    const iface = new Interface(e, { send: (b, o, n) => sent.push(b.slice(o, o + n)) }, {
      address: 0x0a000002,
      prefixLength: 24,
      mtu: 1500,
      mac: MAC,
      random: () => 0.5,
      limits: { icmpErrorBurst: 1e9, icmpErrorsPerSecond: 1e9 },
    });
    // Duplicate address detection (RFC 4862 5.4) first: the link-local address is usable at 1 s.
    iface.start(0);
    iface.poll(0);
    iface.poll(1000);
    sent.length = 0;
    let now = 1000;
    const prop = fc.property(frame, (f) => {
      const t = e.txDesc;
      t.fill(0);
      t[D_KIND] = f.kind;
      t[D_VLAN] = -1;
      t[D_OPT_MSS] = -1;
      t[D_OPT_WS] = -1;
      t[D_ETH_DST_HI] = f.toGroup ? 0x3333 : 0x5254;
      t[D_ETH_DST_LO] = f.toGroup ? 0xff123456 | 0 : 0x00123456;
      t[D_ETH_SRC_HI] = 0x0200;
      t[D_ETH_SRC_LO] = 1;
      t[D_IP_TTL] = f.hops;
      t[D_ICMP_TYPE] = f.type;
      t[D_TCP_FLAGS] = f.flags;
      e.mem.fill(0, TX_IP6_SRC, TX_IP6_SRC + 16);
      if (!f.srcZero) e.mem.set([0xfe, 0x80, ...new Array<number>(13).fill(0), 1], TX_IP6_SRC);
      e.mem.set(f.toGroup ? solicitedNode(LL) : LL, TX_IP6_DST);
      e.mem.set(f.body, TX_PAYLOAD_OFF);
      const start = e.encode(TX_PAYLOAD_OFF, f.body.length);
      let bytes = e.mem.slice(start, TX_PAYLOAD_OFF + f.body.length);
      for (const x of f.edits) bytes[x.at % bytes.length] = x.val;
      if (f.cut >= 0) bytes = bytes.slice(0, f.cut);
      const before = sent.length;
      e.mem.set(bytes, RX_OFF);
      iface.receive(RX_OFF, bytes.length, now++);
      for (const out of sent.slice(before)) {
        e.mem.set(out, RX_OFF);
        assert.equal(e.decode(RX_OFF, out.length), 0);
        assert.equal(e.rxDesc[D_KIND], K_ICMP6);
        assert.ok(out.length <= 14 + Math.max(1280, bytes.length - 14));
        const l3 = e.rxDesc[D_L3_OFF]!;
        assert.deepEqual(e.mem.slice(l3 + 8, l3 + 24), LL);
        if (e.rxDesc[D_ICMP_TYPE]! < 128) assert.ok(out.length <= 14 + 1280);
      }
    });
    fc.assert(prop, { seed: SEED, numRuns: RUNS, endOnFailure: true });
    assert.ok(sent.length >= 15, `only ${sent.length} frames were answered`);
  });
}
