// TCP over IPv6 on the interface, both engines, with crafted frames: a SYN to our address is
// answered with a SYN+ACK carrying MSS 1440 (1500 - 60, RFC 8201 section 4) from our address;
// a segment for no connection with a RST; segments from a multicast source are dropped and
// counted. The address table (addr6_table.ts) at its edge: random sources that open nothing
// never enter it, each half-open connection holds its peer, a SYN from a new peer while it is
// full opens nothing (counted), and an entry comes back when its connection goes. ICMPv6
// errors reach TCP: Packet Too Big lowers the MSS (RFC 8201), port unreachable refuses a
// connect (RFC 4443 3.1 code 4).

import assert from "node:assert/strict";
import { Interface } from "../../src/iface/interface.ts";
import { TcpLayer } from "../../src/tcp/tcp_layer.ts";
import {
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_HI,
  D_ETH_SRC_LO,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_OPT_MSS,
  D_OPT_WS,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_TCP_WND,
  D_VLAN,
  F_ACK,
  F_RST,
  F_SYN,
  K_TCP6,
  RX_OFF,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { engines } from "../support/wire_frames.ts";
import type { Engine } from "../../src/kernels/engine.ts";
import { rng } from "../support/rng.ts";
import { icmp6Frame, llaOption, raBody } from "../support/ndp_frames.ts";

const OUR_MAC = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const OURS = parseIpv6("fd00::2")!;

function tcp6(
  e: Engine,
  src: Uint8Array,
  o: { sport: number; flags: number; seq: number; ack?: number; mss?: number; dport?: number },
): Uint8Array {
  const t = e.txDesc;
  t.fill(0);
  t[D_KIND] = K_TCP6;
  t[D_VLAN] = -1;
  t[D_ETH_DST_HI] = 0x5254;
  t[D_ETH_DST_LO] = 0x00123456;
  t[D_ETH_SRC_HI] = 0x0200;
  t[D_ETH_SRC_LO] = 1;
  t[D_IP_TTL] = 64;
  t[D_SRC_PORT] = o.sport;
  t[D_DST_PORT] = o.dport ?? 80;
  t[D_TCP_SEQ] = o.seq;
  t[D_TCP_ACK] = o.ack ?? 0;
  t[D_TCP_FLAGS] = o.flags;
  t[D_TCP_WND] = 65535;
  t[D_OPT_MSS] = o.mss ?? -1;
  t[D_OPT_WS] = -1;
  e.mem.set(src, TX_IP6_SRC);
  e.mem.set(OURS, TX_IP6_DST);
  const start = e.encode(TX_PAYLOAD_OFF, 0);
  return e.mem.slice(start, TX_PAYLOAD_OFF);
}

/** Peers off-link (2001:db8::/64), reached through the router fe80::1 (PEER_MAC). */
function peer(i: number): Uint8Array {
  return parseIpv6(`2001:db8::${(0x100 + i).toString(16)}`)!;
}

for (const e of engines()) {
  Deno.test(`${e.kind} ip6 tcp: SYN+ACK with MSS 1440, RSTs, the address table at its edge`, () => {
    const sent: Uint8Array[] = [];
    // Pinned: ::1, the link-local address and fd00::2; two entries are left for peers.
    const iface = new Interface(e, { send: (b, o, n) => sent.push(b.slice(o, o + n)) }, {
      address: 0x0a000002,
      prefixLength: 24,
      mtu: 1500,
      mac: OUR_MAC,
      random: rng(3),
      ipv6: [{ address: OURS, prefixLength: 64 }],
      limits: { ip6AddressTable: 5 },
    });
    const tcp = new TcpLayer(e, iface);
    iface.attachTcp(tcp);
    tcp.listen(0, 80);
    let now = 0;
    iface.start(now);
    for (let i = 0; i < 4; i++) iface.poll(now += 500); // duplicate address detection passed
    const feed = (f: Uint8Array) => {
      e.mem.set(f, RX_OFF);
      iface.receive(RX_OFF, f.length, now);
      tcp.poll(now);
    };
    /** The segments sent since the last call: [flags, dst, mss]. */
    const out = () => {
      const tcpOnly = sent.splice(0).filter((f) => {
        e.mem.set(f, RX_OFF);
        return e.decode(RX_OFF, f.length) === 0 && e.rxDesc[D_KIND] === K_TCP6;
      });
      const r = tcpOnly.map((f) => {
        e.mem.set(f, RX_OFF);
        assert.equal(e.decode(RX_OFF, f.length), 0);
        const d = e.rxDesc;
        assert.equal(d[D_KIND], K_TCP6);
        const l3 = d[D_L3_OFF]!;
        assert.equal(formatIpv6(e.mem.subarray(l3 + 8, l3 + 24)), "fd00::2");
        return [d[D_TCP_FLAGS], formatIpv6(e.mem.subarray(l3 + 24, l3 + 40)), d[D_OPT_MSS]];
      });
      return r;
    };
    // A router advertisement (RFC 4861 6.3.4) with its link-layer address: the default router.
    feed(
      icmp6Frame(
        e,
        { src: "fe80::1", dst: "ff02::1", type: 134, rest: (64 << 24) | 1800 },
        raBody([...llaOption(1)]),
      ),
    );
    sent.length = 0;
    const entries = () => iface.stats()["ip6-address-table-entries"];
    assert.equal(entries(), 3);
    // 1000 ACKs from random sources for no connection: each gets a RST, none enters the table.
    for (let i = 0; i < 1000; i++) {
      feed(tcp6(e, peer(1000 + i), { sport: 4000, flags: F_ACK, seq: 1, ack: 5 }));
    }
    const rsts = out();
    assert.equal(rsts.length, 1000);
    assert(rsts.every(([f]) => f === F_RST));
    assert.deepEqual(rsts[999]!.slice(1), [formatIpv6(peer(1999)), -1]);
    assert.equal(entries(), 3);
    // From a multicast source: dropped, counted.
    feed(tcp6(e, parseIpv6("ff02::1")!, { sport: 4000, flags: F_SYN, seq: 1 }));
    assert.equal(out().length, 0);
    assert.equal(iface.stats()["ip6-bad-source"], 1);
    // Two peers open: SYN+ACK with MSS 1440 each, and each holds an entry.
    feed(tcp6(e, peer(1), { sport: 5001, flags: F_SYN, seq: 1000, mss: 1460 }));
    assert.deepEqual(out(), [[F_SYN | F_ACK, "2001:db8::101", 1440]]);
    feed(tcp6(e, peer(2), { sport: 5002, flags: F_SYN, seq: 2000, mss: 1460 }));
    assert.deepEqual(out(), [[F_SYN | F_ACK, "2001:db8::102", 1440]]);
    assert.equal(entries(), 5);
    // Full: a third peer's SYN opens nothing (no reply: it retransmits).
    feed(tcp6(e, peer(3), { sport: 5003, flags: F_SYN, seq: 3000, mss: 1460 }));
    assert.deepEqual(out(), []);
    assert.equal(iface.stats()["ip6-address-table-full"], 1);
    assert.equal(tcp.stats()["tcp-syn-no-route"], 1);
    assert.equal(entries(), 5);
    // The first peer resets its half-open connection (RFC 9293 3.10.7.4, SEQ = RCV.NXT): its
    // entry is reclaimed, and the third peer gets in.
    feed(tcp6(e, peer(1), { sport: 5001, flags: F_RST, seq: 1001 }));
    assert.equal(entries(), 4);
    feed(tcp6(e, peer(3), { sport: 5003, flags: F_SYN, seq: 3000, mss: 1460 }));
    assert.deepEqual(out(), [[F_SYN | F_ACK, "2001:db8::103", 1440]]);
    assert.equal(entries(), 5);
    assert.equal(tcp.connectionCount, 2);
  });
}

for (const e of engines()) {
  Deno.test(`${e.kind} ip6 tcp: a Packet Too Big quoting our segment lowers the MSS to 1220`, () => {
    const sent: Uint8Array[] = [];
    const iface = new Interface(e, { send: (b, o, n) => sent.push(b.slice(o, o + n)) }, {
      address: 0x0a000002,
      prefixLength: 24,
      mtu: 1500,
      mac: OUR_MAC,
      random: rng(4),
      ipv6: [{ address: OURS, prefixLength: 64 }],
    });
    const tcp = new TcpLayer(e, iface);
    iface.attachTcp(tcp);
    let now = 0;
    iface.start(now);
    for (let i = 0; i < 4; i++) iface.poll(now += 500);
    const feed = (f: Uint8Array) => {
      e.mem.set(f, RX_OFF);
      iface.receive(RX_OFF, f.length, now);
      tcp.poll(now);
    };
    feed(
      icmp6Frame(
        e,
        { src: "fe80::1", dst: "ff02::1", type: 134, rest: (64 << 24) | 1800 },
        raBody([...llaOption(1)]),
      ),
    );
    sent.length = 0;
    const tcpOut = () =>
      sent.splice(0).filter((f) => {
        e.mem.set(f, RX_OFF);
        return e.decode(RX_OFF, f.length) === 0 && e.rxDesc[D_KIND] === K_TCP6;
      });
    const c = tcp.connect(iface.ipv6Handle(peer(5)), 80, now);
    tcp.poll(now);
    const [syn] = tcpOut();
    e.mem.set(syn!, RX_OFF);
    e.decode(RX_OFF, syn!.length);
    const iss = e.rxDesc[D_TCP_SEQ]! >>> 0;
    assert.equal(e.rxDesc[D_OPT_MSS], 1440);
    feed(
      tcp6(e, peer(5), {
        sport: 80,
        dport: c.localPort,
        flags: F_SYN | F_ACK,
        seq: 7000,
        ack: iss + 1,
        mss: 1460,
      }),
    );
    assert.equal(c.state, "ESTABLISHED");
    assert.equal(c.info().mss, 1440);
    c.write(new Uint8Array(8000).fill(7));
    tcp.poll(now);
    const data = tcpOut().filter((f) => f.length > 1000);
    assert(data.length >= 2 && data.every((f) => f.length === 14 + 1500));
    // RFC 4443 3.2 / RFC 8201 4: the next hop takes 1280; the error quotes our first segment.
    const quote = data[0]!.subarray(14, 14 + 1232);
    feed(
      icmp6Frame(e, {
        src: "fe80::1",
        dst: "fd00::2",
        type: 2,
        rest: 1280,
        ethDst: [0x5254, 0x00123456],
      }, quote),
    );
    assert.equal(c.info().mss, 1280 - 60);
    now += 10;
    tcp.poll(now);
    const again = tcpOut();
    assert(
      again.length > 0 && again.every((f) => f.length <= 14 + 1280),
      String(again.map((f) => f.length)),
    );
  });
}

for (const e of engines()) {
  Deno.test(`${e.kind} ip6 tcp: an ICMPv6 port unreachable quoting our SYN refuses the connect`, () => {
    const sent: Uint8Array[] = [];
    const iface = new Interface(e, { send: (b, o, n) => sent.push(b.slice(o, o + n)) }, {
      address: 0x0a000002,
      prefixLength: 24,
      mtu: 1500,
      mac: OUR_MAC,
      random: rng(5),
      ipv6: [{ address: OURS, prefixLength: 64 }],
    });
    const tcp = new TcpLayer(e, iface);
    iface.attachTcp(tcp);
    let now = 0;
    iface.start(now);
    for (let i = 0; i < 4; i++) iface.poll(now += 500);
    const feed = (f: Uint8Array) => {
      e.mem.set(f, RX_OFF);
      iface.receive(RX_OFF, f.length, now);
      tcp.poll(now);
    };
    feed(
      icmp6Frame(
        e,
        { src: "fe80::1", dst: "ff02::1", type: 134, rest: (64 << 24) | 1800 },
        raBody([...llaOption(1)]),
      ),
    );
    sent.length = 0;
    const c = tcp.connect(iface.ipv6Handle(peer(6)), 81, now);
    tcp.poll(now);
    const syn = sent.find((f) => {
      e.mem.set(f, RX_OFF);
      return e.decode(RX_OFF, f.length) === 0 && e.rxDesc[D_KIND] === K_TCP6;
    })!;
    // RFC 4443 3.1 code 4 from the peer, quoting the SYN (as Linux: ECONNREFUSED).
    feed(
      icmp6Frame(e, {
        src: "2001:db8::106",
        dst: "fd00::2",
        type: 1,
        code: 4,
        ethDst: [0x5254, 0x00123456],
      }, syn.subarray(14)),
    );
    assert.equal(c.state, "CLOSED");
    assert.equal(c.error?.code, "refused");
  });
}
