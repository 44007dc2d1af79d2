// Known-answer tests of whole-frame encode and decode in every engine: the seed note's
// handshake and transfer, each kind of frame, and every drop reason.

import assert from "node:assert/strict";
import {
  D_ARP_OP,
  D_ARP_SHA_HI,
  D_ARP_SHA_LO,
  D_ARP_SPA,
  D_ARP_THA_LO,
  D_ARP_TPA,
  D_DST_PORT,
  D_ETH_DST_HI,
  D_ETH_DST_LO,
  D_ETH_SRC_LO,
  D_ETHERTYPE,
  D_FRAME_LEN,
  D_FRAME_OFF,
  D_ICMP_CODE,
  D_ICMP_REST,
  D_ICMP_TYPE,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_HLEN,
  D_IP_ID,
  D_IP_PROTO,
  D_IP_SRC,
  D_IP_TOS,
  D_IP_TOTLEN,
  D_IP_TTL,
  D_KIND,
  D_L3_OFF,
  D_L4_LEN,
  D_L4_OFF,
  D_OPT_MSS,
  D_OPT_SACK,
  D_OPT_SACK_N,
  D_OPT_SACK_OK,
  D_OPT_TS,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_SRC_PORT,
  D_TCP_FLAGS,
  D_TCP_HLEN,
  D_UDP_LEN,
  D_VERDICT,
  D_VLAN,
  DROP_ARP_TRUNCATED,
  DROP_ARP_UNSUPPORTED,
  DROP_ETH_TRUNCATED,
  DROP_FRAME_TOO_LONG,
  DROP_ICMP_BAD_CHECKSUM,
  DROP_ICMP_TRUNCATED,
  DROP_IP_BAD_CHECKSUM,
  DROP_IP_BAD_HLEN,
  DROP_IP_BAD_TOTLEN,
  DROP_IP_BAD_VERSION,
  DROP_IP_TRUNCATED,
  DROP_TCP_BAD_CHECKSUM,
  DROP_TCP_BAD_HLEN,
  DROP_TCP_TRUNCATED,
  DROP_UDP_BAD_CHECKSUM,
  DROP_UDP_BAD_LENGTH,
  DROP_UDP_TRUNCATED,
  DROP_VLAN_TRUNCATED,
  ENC_BAD_KIND,
  ENC_BAD_OPTIONS,
  ENC_NO_HEADROOM,
  ENC_TOO_LONG,
  F_ACK,
  F_CWR,
  F_ECE,
  F_PSH,
  F_SYN,
  K_ARP,
  K_ETH_OTHER,
  K_ICMP,
  K_IPV4_FRAGMENT,
  K_IPV4_OTHER,
  K_NONE,
  K_TCP,
  K_UDP,
  PKT_SIZE,
  RX_OFF,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import type { Engine } from "../../src/kernels/engine.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import {
  arpFrame,
  decodeAt,
  engines,
  icmpFrame,
  ip4,
  type IpSpec,
  MAC_A,
  MAC_B,
  rawIpFrame,
  refChecksum,
  tcpFrame,
  type TcpSpec,
  udpFrame,
} from "../support/wire_frames.ts";

const CLIENT: IpSpec = { src: ip4("192.168.0.10"), dst: ip4("192.168.0.20"), id: 1 };
const SERVER: IpSpec = { src: ip4("192.168.0.20"), dst: ip4("192.168.0.10"), id: 1 };

/** Fill the transmit descriptor's Ethernet and IPv4 fields for `ip`. */
function txBase(e: Engine, kind: number, ip: IpSpec, fromClient: boolean): Int32Array {
  const d = e.txDesc;
  d.fill(0);
  d[D_KIND] = kind;
  const dst = fromClient ? MAC_B : MAC_A;
  const src = fromClient ? MAC_A : MAC_B;
  d[D_ETH_DST_HI] = (dst[0]! << 8) | dst[1]!;
  d[D_ETH_DST_LO] = (dst[2]! << 24) | (dst[3]! << 16) | (dst[4]! << 8) | dst[5]!;
  d[6] = (src[0]! << 8) | src[1]!;
  d[7] = (src[2]! << 24) | (src[3]! << 16) | (src[4]! << 8) | src[5]!;
  d[D_VLAN] = -1;
  d[D_IP_TOS] = ip.tos ?? 0;
  d[D_IP_ID] = ip.id ?? 0;
  d[D_IP_FRAG] = ip.frag ?? 0x4000;
  d[D_IP_TTL] = ip.ttl ?? 64;
  d[D_IP_SRC] = ip.src | 0;
  d[D_IP_DST] = ip.dst | 0;
  return d;
}

/** The seed note's handshake and transfer (client 49152 -> server 80). */
const SEED: Array<{ from: "client" | "server"; t: TcpSpec; len: number }> = [
  {
    from: "client",
    t: { srcPort: 49152, dstPort: 80, seq: 100, ack: 0, flags: F_SYN, wnd: 65535 },
    len: 0,
  },
  {
    from: "server",
    t: { srcPort: 80, dstPort: 49152, seq: 2000, ack: 101, flags: F_SYN | F_ACK, wnd: 65535 },
    len: 0,
  },
  {
    from: "client",
    t: { srcPort: 49152, dstPort: 80, seq: 101, ack: 2001, flags: F_ACK, wnd: 65535 },
    len: 0,
  },
  {
    from: "client",
    t: { srcPort: 49152, dstPort: 80, seq: 101, ack: 2001, flags: F_PSH | F_ACK, wnd: 65535 },
    len: 100,
  },
  {
    from: "server",
    t: { srcPort: 80, dstPort: 49152, seq: 2001, ack: 201, flags: F_PSH | F_ACK, wnd: 65535 },
    len: 500,
  },
  {
    from: "client",
    t: { srcPort: 49152, dstPort: 80, seq: 201, ack: 2501, flags: F_ACK, wnd: 65535 },
    len: 0,
  },
]; // deno-fmt-ignore-line

function payloadOf(n: number, salt: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 31 + salt) & 0xff;
  return p;
}

for (const engine of engines()) {
  Deno.test(`${engine.kind}: the seed note's handshake and transfer encode and decode`, () => {
    const seg = new TcpSegment();
    for (const [k, s] of SEED.entries()) {
      const client = s.from === "client";
      const ip = client ? CLIENT : SERVER;
      const payload = payloadOf(s.len, k);
      const want = tcpFrame(
        { dst: client ? MAC_B : MAC_A, src: client ? MAC_A : MAC_B },
        ip,
        s.t,
        payload,
      );
      const d = txBase(engine, K_TCP, ip, client);
      seg.clear();
      seg.srcIp = ip.src;
      seg.dstIp = ip.dst;
      seg.srcPort = s.t.srcPort;
      seg.dstPort = s.t.dstPort;
      seg.seq = s.t.seq;
      seg.ack = s.t.ack;
      seg.flags = s.t.flags;
      seg.wnd = s.t.wnd;
      seg.toDesc(d);
      engine.mem.set(payload, TX_PAYLOAD_OFF);
      const start = engine.encode(TX_PAYLOAD_OFF, payload.length);
      assert.equal(start, TX_PAYLOAD_OFF - 54);
      const got = engine.mem.slice(start, TX_PAYLOAD_OFF + payload.length);
      assert.deepEqual(got, want, `segment ${k}`);
      // The TCP header's sequence and acknowledgment numbers on the wire, big-endian.
      const view = new DataView(got.buffer);
      assert.equal(view.getUint32(34 + 4), s.t.seq);
      assert.equal(view.getUint32(34 + 8), s.t.ack);
      assert.equal(got[34 + 13], s.t.flags);
      assert.equal(decodeAt(engine, got, RX_OFF), 0);
      const r = new TcpSegment().fromDesc(engine.rxDesc);
      assert.equal(r.seq, s.t.seq);
      assert.equal(r.ack, s.t.ack);
      assert.equal(r.flags, s.t.flags);
      assert.equal(r.srcPort, s.t.srcPort);
      assert.equal(r.srcIp, ip.src);
      assert.equal(r.payloadLen, s.len);
      assert.equal(r.payloadOff, RX_OFF + 54);
      assert.equal(r.mss, -1);
    }
    // The seed's arithmetic: ACK = SEQ + payload length (+1 for SYN).
    assert.equal(SEED[1]!.t.ack, SEED[0]!.t.seq + 1);
    assert.equal(SEED[4]!.t.ack, SEED[3]!.t.seq + SEED[3]!.len);
    assert.equal(SEED[5]!.t.ack, SEED[4]!.t.seq + SEED[4]!.len);
  });

  Deno.test(`${engine.kind}: TCP options in Linux's layout round-trip`, () => {
    const seg = new TcpSegment();
    const d = txBase(engine, K_TCP, CLIENT, true);
    seg.clear();
    Object.assign(seg, { srcIp: CLIENT.src, dstIp: CLIENT.dst, srcPort: 1, dstPort: 2 });
    Object.assign(seg, { seq: 0xfffffff0, flags: F_SYN | F_ECE | F_CWR, wnd: 64240 });
    Object.assign(seg, { mss: 1460, ws: 7, sackOk: true, hasTs: true });
    Object.assign(seg, { tsVal: 0x80000001, tsEcr: 0 });
    seg.toDesc(d);
    const start = engine.encode(TX_PAYLOAD_OFF, 0);
    const linuxSyn = [2, 4, 5, 180, 4, 2, 8, 10, 0x80, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
    const want = tcpFrame({}, CLIENT, {
      srcPort: 1,
      dstPort: 2,
      seq: 0xfffffff0,
      ack: 0,
      flags: F_SYN | F_ECE | F_CWR,
      wnd: 64240,
      options: linuxSyn,
    }, new Uint8Array(0));
    assert.deepEqual(engine.mem.slice(start, TX_PAYLOAD_OFF), want);
    assert.equal(engine.decode(start, TX_PAYLOAD_OFF - start), 0);
    const r = engine.rxDesc;
    assert.equal(r[D_TCP_HLEN], 40);
    assert.equal(r[D_TCP_FLAGS], F_SYN | F_ECE | F_CWR);
    assert.equal(r[D_OPT_MSS], 1460);
    assert.equal(r[D_OPT_WS], 7);
    assert.equal(r[D_OPT_SACK_OK], 1);
    assert.equal(r[D_OPT_TS], 1);
    assert.equal(r[D_OPT_TSVAL]! >>> 0, 0x80000001);
    assert.equal(new TcpSegment().fromDesc(r).seq, 0xfffffff0);

    // Non-SYN: NOP NOP TS, NOP NOP SACK; 4 blocks asked, 3 fit beside the timestamps.
    seg.flags = F_ACK;
    seg.sackCount = 4;
    seg.sack.set([10, 20, 30, 40, 50, 60, 70, 80]);
    seg.toDesc(d);
    const s2 = engine.encode(TX_PAYLOAD_OFF, 0);
    assert.deepEqual(
      Array.from(engine.mem.slice(s2 + 54, TX_PAYLOAD_OFF)),
      [1, 1, 8, 10, 0x80, 0, 0, 1, 0, 0, 0, 0, 1, 1, 5, 26, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30]
        .concat([0, 0, 0, 40, 0, 0, 0, 50, 0, 0, 0, 60]),
    );
    assert.equal(engine.decode(s2, TX_PAYLOAD_OFF - s2), 0);
    assert.equal(engine.rxDesc[D_OPT_SACK_N], 3);
    assert.deepEqual(Array.from(engine.rxDesc.slice(D_OPT_SACK, D_OPT_SACK + 8)), [
      10,
      20,
      30,
      40,
      50,
      60,
      0,
      0,
    ]);
    assert.equal(engine.rxDesc[D_OPT_MSS], -1, "MSS only on SYN");
    // Without timestamps all 4 blocks fit.
    seg.hasTs = false;
    seg.toDesc(d);
    const s3 = engine.encode(TX_PAYLOAD_OFF, 0);
    assert.equal(TX_PAYLOAD_OFF - s3, 54 + 36);
    assert.equal(engine.decode(s3, TX_PAYLOAD_OFF - s3), 0);
    assert.equal(engine.rxDesc[D_OPT_SACK_N], 4);
    // SYN with SACK-permitted only, then with timestamps only.
    Object.assign(seg, { flags: F_SYN, sackOk: true, hasTs: false, mss: -1, ws: -1 });
    seg.toDesc(d);
    const s4 = engine.encode(TX_PAYLOAD_OFF, 0);
    assert.deepEqual(Array.from(engine.mem.slice(s4 + 54, TX_PAYLOAD_OFF)), [1, 1, 4, 2]);
    Object.assign(seg, { sackOk: false, hasTs: true });
    seg.toDesc(d);
    const s5 = engine.encode(TX_PAYLOAD_OFF, 0);
    assert.deepEqual(Array.from(engine.mem.slice(s5 + 54, s5 + 58)), [1, 1, 8, 10]);
  });

  Deno.test(`${engine.kind}: UDP, ICMP, ARP, VLAN and raw IPv4 encode to the reference bytes`, () => {
    const payload = payloadOf(33, 7);
    engine.mem.set(payload, TX_PAYLOAD_OFF);
    // UDP
    let d = txBase(engine, K_UDP, CLIENT, true);
    d[D_SRC_PORT] = 5353;
    d[D_DST_PORT] = 53;
    let s = engine.encode(TX_PAYLOAD_OFF, payload.length);
    assert.deepEqual(
      engine.mem.slice(s, TX_PAYLOAD_OFF + 33),
      udpFrame({}, CLIENT, 5353, 53, payload),
    );
    assert.equal(engine.decode(s, TX_PAYLOAD_OFF + 33 - s), 0);
    assert.equal(engine.rxDesc[D_KIND], K_UDP);
    assert.equal(engine.rxDesc[D_UDP_LEN], 41);
    assert.equal(engine.rxDesc[D_DST_PORT], 53);
    assert.equal(engine.rxDesc[D_PAYLOAD_LEN], 33);
    // ICMP echo request with a VLAN tag.
    d = txBase(engine, K_ICMP, CLIENT, true);
    d[D_VLAN] = 0x2005;
    d[D_ICMP_TYPE] = 8;
    d[D_ICMP_REST] = 0x12340001;
    s = engine.encode(TX_PAYLOAD_OFF, payload.length);
    assert.deepEqual(
      engine.mem.slice(s, TX_PAYLOAD_OFF + 33),
      icmpFrame({ vlan: 0x2005 }, CLIENT, 8, 0, 0x12340001, payload),
    );
    assert.equal(engine.decode(s, TX_PAYLOAD_OFF + 33 - s), 0);
    const r = engine.rxDesc;
    assert.deepEqual([r[D_KIND], r[D_VLAN], r[D_ETHERTYPE], r[D_ICMP_TYPE], r[D_ICMP_CODE]], [
      K_ICMP,
      0x2005,
      0x800,
      8,
      0,
    ]);
    assert.equal(r[D_ICMP_REST], 0x12340001);
    assert.equal(r[D_L3_OFF], s + 18);
    assert.equal(r[D_PAYLOAD_OFF], TX_PAYLOAD_OFF);
    // ARP request
    d = txBase(engine, K_ARP, CLIENT, true);
    d[D_ETH_DST_HI] = 0xffff;
    d[D_ETH_DST_LO] = -1;
    d[D_ARP_OP] = 1;
    d[D_ARP_SHA_HI] = 0x0200;
    d[D_ARP_SHA_LO] = 0x0a;
    d[D_ARP_SPA] = CLIENT.src | 0;
    d[D_ARP_TPA] = CLIENT.dst | 0;
    s = engine.encode(TX_PAYLOAD_OFF, 0);
    const bcast = [255, 255, 255, 255, 255, 255];
    assert.deepEqual(
      engine.mem.slice(s, TX_PAYLOAD_OFF),
      arpFrame({ dst: bcast }, 1, MAC_A, CLIENT.src, [0, 0, 0, 0, 0, 0], CLIENT.dst),
    );
    assert.equal(engine.decode(s, 42), 0);
    assert.deepEqual(
      [
        r[D_KIND],
        r[D_ARP_OP],
        r[D_ARP_SHA_HI],
        r[D_ARP_SHA_LO],
        r[D_ARP_SPA]! >>> 0,
        r[D_ARP_THA_LO],
        r[D_ARP_TPA]! >>> 0,
      ],
      [K_ARP, 1, 0x0200, 0x0a, CLIENT.src, 0, CLIENT.dst],
    );
    assert.deepEqual([r[D_ETH_DST_HI], r[D_ETH_DST_LO], r[D_ETH_SRC_LO]], [0xffff, -1, 0x0a]);
    // Raw IPv4 fragment with protocol 17 and MF set.
    d = txBase(engine, K_IPV4_FRAGMENT, { ...CLIENT, frag: 0x2000 }, true);
    d[D_IP_PROTO] = 17;
    s = engine.encode(TX_PAYLOAD_OFF, 32);
    assert.deepEqual(
      engine.mem.slice(s, TX_PAYLOAD_OFF + 32),
      rawIpFrame({}, { ...CLIENT, frag: 0x2000 }, 17, payload.subarray(0, 32)),
    );
    assert.equal(engine.decode(s, TX_PAYLOAD_OFF + 32 - s), 0);
    assert.deepEqual([r[D_KIND], r[D_IP_PROTO], r[D_IP_FRAG], r[D_L4_LEN], r[D_PAYLOAD_LEN]], [
      K_IPV4_FRAGMENT,
      17,
      0x2000,
      32,
      32,
    ]);
  });

  Deno.test(`${engine.kind}: encode errors`, () => {
    const d = txBase(engine, K_NONE, CLIENT, true);
    assert.equal(engine.encode(TX_PAYLOAD_OFF, 0), -ENC_BAD_KIND);
    d[D_KIND] = K_UDP;
    assert.equal(engine.encode(TX_PAYLOAD_OFF, 65535 - 28 + 1), -ENC_TOO_LONG);
    assert.equal(engine.encode(TX_PAYLOAD_OFF, 65535 - 28) > 0, true);
    assert.equal(engine.encode(41, 0), -ENC_NO_HEADROOM);
    assert.equal(engine.encode(42, 0), 0);
    d[D_KIND] = K_TCP;
    d[D_OPT_MSS] = -1;
    d[D_OPT_WS] = -1;
    d[D_OPT_SACK_N] = 5;
    assert.equal(engine.encode(TX_PAYLOAD_OFF, 0), -ENC_BAD_OPTIONS);
  });

  Deno.test(`${engine.kind}: decode verdicts for every malformed layer`, () => {
    const ip = CLIENT;
    const t: TcpSpec = { srcPort: 1000, dstPort: 80, seq: 1, ack: 2, flags: F_ACK, wnd: 100 };
    const check = (frame: Uint8Array, want: number, what: string, len = frame.length): void => {
      engine.mem.set(frame, RX_OFF);
      const v = engine.decode(RX_OFF, len);
      assert.equal(v, want, what);
      assert.equal(engine.rxDesc[D_VERDICT], want, what);
      assert.equal(engine.rxDesc[D_FRAME_OFF], RX_OFF);
      assert.equal(engine.rxDesc[D_FRAME_LEN], len);
    };
    const tcpWith = (options: number[]): Uint8Array =>
      tcpFrame({}, ip, { ...t, options }, payloadOf(5, 1));
    const good = tcpWith([]);
    check(good, 0, "valid");
    check(good, DROP_FRAME_TOO_LONG, "too long", 65535 + 19);
    check(good, DROP_ETH_TRUNCATED, "13 bytes", 13);
    const tagged = tcpFrame({ vlan: 5 }, ip, t, payloadOf(5, 1));
    check(tagged, 0, "tagged");
    check(tagged, DROP_VLAN_TRUNCATED, "tag cut", 17);
    check(good, DROP_IP_TRUNCATED, "ip cut", 14 + 19);
    const mutate = (f: Uint8Array, i: number, v: number): Uint8Array => {
      const c = f.slice();
      c[i] = v;
      return c;
    };
    check(mutate(good, 14, 0x65), DROP_IP_BAD_VERSION, "version 6");
    check(mutate(good, 14, 0x44), DROP_IP_BAD_HLEN, "ihl 4");
    check(mutate(good, 14, 0x4f), DROP_IP_BAD_HLEN, "ihl 15 beyond the data", 14 + 40);
    check(mutate(good, 17, 19), DROP_IP_BAD_TOTLEN, "total < hlen");
    check(good, DROP_IP_BAD_TOTLEN, "total > available", good.length - 1);
    check(mutate(good, 22, 63), DROP_IP_BAD_CHECKSUM, "ttl changed");
    // Ethernet padding beyond the total length is allowed.
    const padded = new Uint8Array(100);
    padded.set(good);
    check(padded, 0, "padded");
    assert.equal(engine.rxDesc[D_PAYLOAD_LEN], 5);
    // A fragment: L4 not parsed, so a broken TCP header does not matter.
    const frag = tcpFrame(
      {},
      { ...ip, frag: 0x2000 },
      { ...t, options: [9, 9, 9, 9] },
      payloadOf(1, 1),
    );
    check(frag, 0, "fragment");
    assert.equal(engine.rxDesc[D_KIND], K_IPV4_FRAGMENT);
    check(rawIpFrame({}, ip, 99, payloadOf(3, 3)), 0, "proto 99");
    assert.equal(engine.rxDesc[D_KIND], K_IPV4_OTHER);
    // TCP
    check(rawIpFrame({}, ip, 6, payloadOf(19, 0)), DROP_TCP_TRUNCATED, "tcp 19");
    check(mutate(good, 46, 0x40), DROP_TCP_BAD_HLEN, "doff 4");
    check(mutate(good, 46, 0xf0), DROP_TCP_BAD_HLEN, "doff 15 beyond the segment");
    check(mutate(good, 56, 0x55), DROP_TCP_BAD_CHECKSUM, "payload byte changed");
    check(tcpWith([2, 4, 5, 180]), 0, "mss");
    assert.equal(engine.rxDesc[D_OPT_MSS], 1460);
    // A known option of the wrong size is skipped, the segment kept (as Linux; RFC 9293 MUST-7).
    check(tcpWith([2, 3, 5, 1]), 0, "mss len 3");
    assert.equal(engine.rxDesc[D_OPT_MSS], -1);
    check(tcpWith([3, 4, 5, 1]), 0, "ws len 4");
    assert.equal(engine.rxDesc[D_OPT_WS], -1);
    check(tcpWith([4, 3, 0, 1]), 0, "sackok len 3");
    assert.equal(engine.rxDesc[D_OPT_SACK_OK], 0);
    check(tcpWith([1, 1, 5, 6, 0, 0, 0, 0]), 0, "sack len 6");
    assert.equal(engine.rxDesc[D_OPT_SACK_N], 0);
    check(tcpWith([8, 8, 0, 0, 0, 0, 0, 0]), 0, "ts len 8");
    assert.equal(engine.rxDesc[D_OPT_TS], 0);
    // An illegal length, or an option past the header, ends the parse; the segment is kept
    // with the options before it (as Linux).
    check(tcpWith([2, 4, 5, 180, 1, 1, 30, 0]), 0, "len 0");
    assert.equal(engine.rxDesc[D_OPT_MSS], 1460);
    check(tcpWith([1, 1, 30, 1]), 0, "len 1");
    check(tcpWith([1, 1, 1, 30]), 0, "no room for the length");
    check(tcpWith([2, 4, 5, 180, 1, 1, 3, 3]), 0, "past the header");
    assert.equal(engine.rxDesc[D_OPT_MSS], 1460);
    assert.equal(engine.rxDesc[D_OPT_WS], -1);
    check(tcpWith([30, 4, 9, 9, 3, 3, 9, 1]), 0, "unknown kind skipped");
    assert.equal(engine.rxDesc[D_OPT_WS], 9);
    check(tcpWith([0, 2, 3, 0]), 0, "EOL stops the parse");
    assert.equal(engine.rxDesc[D_OPT_MSS], -1);
    // UDP
    const u = udpFrame({}, ip, 7, 9, payloadOf(4, 4));
    check(u, 0, "udp");
    check(rawIpFrame({}, ip, 17, payloadOf(7, 0)), DROP_UDP_TRUNCATED, "udp 7");
    check(mutate(u, 39, 7), DROP_UDP_BAD_LENGTH, "udp length 7");
    check(mutate(u, 39, 13), DROP_UDP_BAD_LENGTH, "udp length beyond the datagram");
    check(mutate(u, 43, u[43]! ^ 1), DROP_UDP_BAD_CHECKSUM, "udp data changed");
    const noSum = mutate(mutate(u, 40, 0), 41, 0);
    check(mutate(noSum, 43, 0), 0, "udp checksum 0 is none");
    // ICMP
    const ic = icmpFrame({}, ip, 8, 0, 0x10002, payloadOf(6, 6));
    check(ic, 0, "icmp");
    check(rawIpFrame({}, ip, 1, payloadOf(7, 0)), DROP_ICMP_TRUNCATED, "icmp 7");
    check(mutate(ic, 34, 0), DROP_ICMP_BAD_CHECKSUM, "icmp type changed");
    // ARP
    const a = arpFrame({}, 2, MAC_A, 1, MAC_B, 2);
    check(a, 0, "arp");
    check(a, DROP_ARP_TRUNCATED, "arp 27", 14 + 27);
    check(mutate(a, 15, 6), DROP_ARP_UNSUPPORTED, "htype 6");
    check(mutate(a, 19, 16), DROP_ARP_UNSUPPORTED, "plen 16");
    // IPv4 options are skipped: IHL 6 with four NOP/EOL option bytes.
    const withOpts = new Uint8Array(u.length + 4);
    withOpts.set(u.subarray(0, 34));
    withOpts.set([1, 1, 1, 0], 34);
    withOpts.set(u.subarray(34), 38);
    withOpts[14] = 0x46;
    withOpts[17] = u[17]! + 4;
    withOpts[24] = withOpts[25] = 0;
    const hc = refChecksum(withOpts.subarray(14, 38));
    withOpts[24] = hc >>> 8;
    withOpts[25] = hc & 0xff;
    check(withOpts, 0, "ip options");
    assert.deepEqual(
      [engine.rxDesc[D_KIND], engine.rxDesc[D_IP_HLEN], engine.rxDesc[D_L4_OFF]],
      [K_UDP, 24, RX_OFF + 38],
    );
    // Another EtherType
    check(mutate(a, 12, 0x86), 0, "ethertype 0x8606");
    assert.equal(engine.rxDesc[D_KIND], K_ETH_OTHER);
  });

  Deno.test(`${engine.kind}: decode fills every field of a TCP frame`, () => {
    const opts = [
      2,
      4,
      5,
      180,
      1,
      3,
      3,
      14,
      4,
      2,
      8,
      10,
      0,
      0,
      0,
      5,
      0,
      0,
      0,
      6,
      5,
      10,
      0xff,
      0xff,
      0xff,
      0xff,
      0,
      0,
      0,
      9,
    ];
    const ip: IpSpec = {
      src: ip4("10.1.2.3"),
      dst: ip4("172.16.5.6"),
      tos: 0x10,
      id: 0xbeef,
      ttl: 3,
    };
    const frame = tcpFrame({ vlan: 7 }, ip, {
      srcPort: 65535,
      dstPort: 1,
      seq: 0xdeadbeef,
      ack: 0x01020304,
      flags: 0xff,
      wnd: 0x8000,
      urg: 0x1234,
      options: [...opts, 0, 0],
    }, payloadOf(11, 2));
    assert.equal(decodeAt(engine, frame, RX_OFF + 1), 0);
    const r = engine.rxDesc;
    assert.deepEqual(
      [r[D_ETH_DST_HI], r[D_ETH_DST_LO], r[D_VLAN], r[D_ETHERTYPE], r[D_L3_OFF]],
      [0x0200, 0x0b, 7, 0x0800, RX_OFF + 19],
    );
    assert.deepEqual(
      [
        r[D_IP_HLEN],
        r[D_IP_TOS],
        r[D_IP_TOTLEN],
        r[D_IP_ID],
        r[D_IP_FRAG],
        r[D_IP_TTL],
        r[D_IP_PROTO],
      ],
      [20, 0x10, 20 + 52 + 11, 0xbeef, 0x4000, 3, 6],
    );
    assert.deepEqual([r[D_IP_SRC]! >>> 0, r[D_IP_DST]! >>> 0], [ip.src, ip.dst]);
    assert.deepEqual([r[D_L4_OFF], r[D_L4_LEN]], [RX_OFF + 39, 52 + 11]);
    const s = new TcpSegment().fromDesc(r);
    assert.deepEqual(
      [
        s.srcPort,
        s.dstPort,
        s.seq,
        s.ack,
        s.flags,
        s.wnd,
        s.urg,
        s.mss,
        s.ws,
        s.sackOk,
        s.hasTs,
        s.tsVal,
        s.tsEcr,
      ],
      [65535, 1, 0xdeadbeef, 0x01020304, 0xff, 0x8000, 0x1234, 1460, 14, true, true, 5, 6],
    );
    assert.deepEqual([s.sackCount, s.sack[0], s.sack[1]], [1, 0xffffffff, 9]);
    assert.deepEqual([r[D_TCP_HLEN], s.payloadOff, s.payloadLen], [52, RX_OFF + 91, 11]);
  });

  Deno.test(`${engine.kind}: spans outside packet memory are the caller's error`, () => {
    const size = engine.mem.length < PKT_SIZE ? engine.mem.length : PKT_SIZE;
    assert.throws(() => engine.decode(size - 10, 20), RangeError);
    assert.throws(() => engine.decode(-1, 20), RangeError);
    assert.throws(() => engine.decodeIpv4(RX_OFF, -1), RangeError);
    assert.throws(() => engine.checksum(size, 1, 0), RangeError);
    assert.throws(() => engine.encode(size, 1), RangeError);
    assert.equal(engine.checksum(size - 2, 2, 0), refChecksum(engine.mem.subarray(size - 2, size)));
  });

  Deno.test(`${engine.kind}: decodeIpv4 reads a datagram without Ethernet`, () => {
    const frame = udpFrame({}, CLIENT, 1, 2, payloadOf(3, 0)).subarray(14);
    engine.mem.set(frame, RX_OFF);
    assert.equal(engine.decodeIpv4(RX_OFF, frame.length), 0);
    const r = engine.rxDesc;
    assert.deepEqual([r[D_KIND], r[D_L3_OFF], r[D_ETHERTYPE], r[D_VLAN], r[D_PAYLOAD_LEN]], [
      K_UDP,
      RX_OFF,
      0x800,
      -1,
      3,
    ]);
    assert.equal(engine.decodeIpv4(RX_OFF, 65535 + 19), DROP_FRAME_TOO_LONG);
    assert.equal(engine.decodeIpv4(RX_OFF, 10), DROP_IP_TRUNCATED);
  });
}
