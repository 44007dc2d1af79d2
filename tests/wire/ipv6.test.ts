// IPv6 decode in both engines, case by case: every malformed or refused datagram gets its
// named drop (and the Parameter Problem pointer RFC 8200 section 4 asks for), atomic
// fragments are processed whole (RFC 6946), the extension-header limit holds at its edge, and
// the address text helpers read and write RFC 5952 text.

import assert from "node:assert/strict";
import {
  D_ICMP_TYPE,
  D_IP6_EXT,
  D_IP6_FRAG_HDR,
  D_IP6_PTR,
  D_IP_HLEN,
  D_IP_ID,
  D_IP_PROTO,
  D_KIND,
  D_PAYLOAD_LEN,
  D_VERDICT,
  DROP_ICMP6_BAD_CHECKSUM,
  DROP_ICMP6_TRUNCATED,
  DROP_IP6_BAD_LENGTH,
  DROP_IP6_BAD_VERSION,
  DROP_IP6_EXT_TRUNCATED,
  DROP_IP6_FRAG_BAD_LENGTH,
  DROP_IP6_HBH_NOT_FIRST,
  DROP_IP6_OPT_DISCARD,
  DROP_IP6_OPT_OVERRUN,
  DROP_IP6_OPT_UNKNOWN,
  DROP_IP6_ROUTING_UNKNOWN,
  DROP_IP6_TOO_MANY_HEADERS,
  DROP_IP6_TRUNCATED,
  DROP_UDP6_ZERO_CHECKSUM,
  DROP_UDP_BAD_CHECKSUM,
  EXT6_DEST_OPTS,
  EXT6_FRAGMENT,
  EXT6_HOP_BY_HOP,
  EXT6_MAX,
  EXT6_ROUTING,
  K_ICMP6,
  K_IPV6_FRAGMENT,
  K_IPV6_OTHER,
  K_UDP6,
  RX_OFF,
  TX_IP6_DST,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { dropName } from "../../src/wire/drop.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { engines } from "../support/wire_frames.ts";
import type { Engine } from "../../src/kernels/engine.ts";
import {
  D_ICMP_CODE,
  D_ICMP_REST,
  D_IP_TTL,
  D_SRC_PORT,
  D_VLAN,
  K_ICMP6 as KIND_ICMP6,
} from "../../src/wire/layout.ts";

const SRC = parseIpv6("fd00::1")!;
const DST = parseIpv6("fd00::2")!;

/** An Ethernet frame with an ICMPv6 echo request or a UDP datagram from fd00::1 to fd00::2. */
function frame(e: Engine, kind: number, payload = new Uint8Array(8)): Uint8Array {
  const d = e.txDesc;
  d.fill(0);
  d[D_KIND] = kind;
  d[D_VLAN] = -1;
  d[D_IP_TTL] = 64;
  d[D_ICMP_TYPE] = 128;
  d[D_ICMP_CODE] = 0;
  d[D_ICMP_REST] = 0x00010001;
  d[D_SRC_PORT] = 5353;
  e.mem.set(SRC, TX_IP6_SRC);
  e.mem.set(DST, TX_IP6_DST);
  e.mem.set(payload, TX_PAYLOAD_OFF);
  const start = e.encode(TX_PAYLOAD_OFF, payload.length);
  assert.ok(start >= 0);
  return e.mem.slice(start, TX_PAYLOAD_OFF + payload.length);
}

/** `f` with extension headers (Next Header bytes relinked) before its upper layer. */
function withExt(f: Uint8Array, ...headers: [number, number[]][]): Uint8Array {
  const bytes: number[] = [];
  const nhs = [...headers.map((h) => h[0]), f[20]!];
  headers.forEach(([, b], i) => bytes.push(nhs[i + 1]!, ...b.slice(1)));
  const out = new Uint8Array(f.length + bytes.length);
  out.set(f.subarray(0, 54));
  out.set(bytes, 54);
  out.set(f.subarray(54), 54 + bytes.length);
  out[20] = nhs[0]!;
  const plen = out.length - 54;
  out[18] = plen >> 8;
  out[19] = plen & 0xff;
  return out;
}

function decode(e: Engine, f: Uint8Array): Int32Array {
  e.mem.set(f, RX_OFF);
  e.decode(RX_OFF, f.length);
  return e.rxDesc;
}

const PAD8 = [0, 0, 1, 4, 0, 0, 0, 0]; // an 8-byte options header of PadN
const ROUTING0 = [0, 0, 4, 0, 0, 0, 0, 0]; // segment routing, segments left 0

for (const e of engines()) {
  Deno.test(`${e.kind} ipv6: ICMPv6 and UDP decode with their pseudo-header checksums`, () => {
    const r = decode(e, frame(e, KIND_ICMP6));
    assert.deepEqual([r[D_VERDICT], r[D_KIND], r[D_ICMP_TYPE], r[D_PAYLOAD_LEN]], [
      0,
      K_ICMP6,
      128,
      8,
    ]);
    assert.equal(formatIpv6(e.mem, RX_OFF + 14 + 8), "fd00::1");
    const u = frame(e, K_UDP6);
    assert.equal(decode(e, u)[D_KIND], K_UDP6);
    // A changed address breaks the pseudo-header checksum.
    const bad = u.slice();
    bad[14 + 39]! ^= 1;
    assert.equal(decode(e, bad)[D_VERDICT], DROP_UDP_BAD_CHECKSUM);
    const badIcmp = frame(e, KIND_ICMP6);
    badIcmp[14 + 23]! ^= 1;
    assert.equal(decode(e, badIcmp)[D_VERDICT], DROP_ICMP6_BAD_CHECKSUM);
    // RFC 8200 section 8.1: UDP over IPv6 without a checksum is dropped.
    const zero = u.slice();
    zero[54 + 6] = zero[54 + 7] = 0;
    assert.equal(decode(e, zero)[D_VERDICT], DROP_UDP6_ZERO_CHECKSUM);
    assert.equal(dropName(DROP_UDP6_ZERO_CHECKSUM), "udp6-zero-checksum");
  });

  Deno.test(`${e.kind} ipv6: header-level drops`, () => {
    const f = frame(e, KIND_ICMP6);
    assert.equal(decode(e, f.subarray(0, 53))[D_VERDICT], DROP_IP6_TRUNCATED);
    const v4 = f.slice();
    v4[14] = 0x45;
    assert.equal(decode(e, v4)[D_VERDICT], DROP_IP6_BAD_VERSION);
    assert.equal(decode(e, f.subarray(0, f.length - 1))[D_VERDICT], DROP_IP6_BAD_LENGTH);
    const short = f.slice();
    short[19] = 4; // payload length 4: ICMPv6 needs 8
    assert.equal(decode(e, short)[D_VERDICT], DROP_ICMP6_TRUNCATED);
    // Link padding after the payload is ignored.
    const padded = new Uint8Array(f.length + 6);
    padded.set(f);
    assert.equal(decode(e, padded)[D_VERDICT], 0);
  });

  Deno.test(`${e.kind} ipv6: extension headers walked, refused ones named`, () => {
    const f = frame(e, KIND_ICMP6);
    // Hop-by-hop (router alert, action 00), routing with segments left 0, destination options.
    const ok = withExt(f, [0, [0, 0, 5, 2, 0, 0, 1, 0]], [43, ROUTING0], [60, PAD8]);
    let r = decode(e, ok);
    assert.deepEqual([r[D_VERDICT], r[D_KIND], r[D_IP_HLEN]], [0, K_ICMP6, 64]);
    assert.equal(r[D_IP6_EXT], EXT6_HOP_BY_HOP | EXT6_ROUTING | EXT6_DEST_OPTS);
    // Hop-by-hop after another header: code 1, pointing at the Next Header that named it.
    r = decode(e, withExt(f, [60, PAD8], [0, PAD8]));
    assert.deepEqual([r[D_VERDICT], r[D_IP6_PTR]], [DROP_IP6_HBH_NOT_FIRST, 40]);
    // Unknown options by their action bits (RFC 8200 section 4.2).
    const opt = (t: number) => withExt(f, [60, [0, 0, t, 4, 0, 0, 0, 0]]);
    assert.equal(decode(e, opt(0x1e))[D_VERDICT], 0); // 00: skip
    assert.equal(decode(e, opt(0x5e))[D_VERDICT], DROP_IP6_OPT_DISCARD); // 01
    r = decode(e, opt(0x9e)); // 10: Parameter Problem code 2 at the option type
    assert.deepEqual([r[D_VERDICT], r[D_IP6_PTR]], [DROP_IP6_OPT_UNKNOWN, 42]);
    r = decode(e, opt(0xde)); // 11: the same (the caller spares multicast destinations)
    assert.deepEqual([r[D_VERDICT], r[D_IP6_PTR]], [DROP_IP6_OPT_UNKNOWN, 42]);
    const overrun = withExt(f, [60, [0, 0, 1, 9, 0, 0, 0, 0]]);
    assert.equal(decode(e, overrun)[D_VERDICT], DROP_IP6_OPT_OVERRUN);
    // Routing with segments left: code 0 at the routing type.
    r = decode(e, withExt(f, [43, [0, 0, 0, 1, 0, 0, 0, 0]]));
    assert.deepEqual([r[D_VERDICT], r[D_IP6_PTR]], [DROP_IP6_ROUTING_UNKNOWN, 42]);
    // A header longer than the payload.
    const long = withExt(f, [60, PAD8]);
    long[55] = 3;
    assert.equal(decode(e, long)[D_VERDICT], DROP_IP6_EXT_TRUNCATED);
    // An unknown upper layer names its Next Header byte; 59 is No Next Header.
    r = decode(e, withExt(f, [60, PAD8]).map((b, i) => i === 54 ? 253 : b));
    assert.deepEqual([r[D_VERDICT], r[D_KIND], r[D_IP_PROTO], r[D_IP6_PTR]], [
      0,
      K_IPV6_OTHER,
      253,
      40,
    ]);
  });

  Deno.test(`${e.kind} ipv6: at most EXT6_MAX extension headers`, () => {
    const f = frame(e, KIND_ICMP6);
    const hs = (n: number) => new Array(n).fill(0).map((): [number, number[]] => [60, PAD8]);
    assert.equal(decode(e, withExt(f, ...hs(EXT6_MAX)))[D_VERDICT], 0);
    assert.equal(decode(e, withExt(f, ...hs(EXT6_MAX + 1)))[D_VERDICT], DROP_IP6_TOO_MANY_HEADERS);
  });

  Deno.test(`${e.kind} ipv6: fragments, atomic fragments and bad fragment lengths`, () => {
    const f = frame(e, KIND_ICMP6, new Uint8Array(16));
    const frag = (fo: number) => withExt(f, [44, [0, 0, fo >> 8, fo & 0xff, 0, 0, 0x12, 0x34]]);
    // Atomic (RFC 6946): offset 0, M clear, processed whole with its identification kept.
    let r = decode(e, frag(0));
    assert.deepEqual([r[D_VERDICT], r[D_KIND], r[D_IP_ID], r[D_IP6_FRAG_HDR]], [
      0,
      K_ICMP6,
      0x1234,
      RX_OFF + 54,
    ]);
    assert.equal(r[D_IP6_EXT], EXT6_FRAGMENT);
    r = decode(e, frag(1)); // first fragment, M set, 24 bytes
    assert.deepEqual([r[D_VERDICT], r[D_KIND], r[D_IP_PROTO], r[D_PAYLOAD_LEN]], [
      0,
      K_IPV6_FRAGMENT,
      58,
      24,
    ]);
    const odd = frag(1).subarray(0, f.length + 8 - 1);
    odd[19]! -= 1;
    r = decode(e, odd);
    assert.deepEqual([r[D_VERDICT], r[D_IP6_PTR]], [DROP_IP6_FRAG_BAD_LENGTH, 4]);
  });
}

Deno.test("ipv6 address text: RFC 5952 canonical form and strict parsing", () => {
  const cases: [string, string][] = [
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8::0001", "2001:db8::1"],
    ["::", "::"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["fe80:0:0:0:200:5eff:fe00:5301", "fe80::200:5eff:fe00:5301"],
    ["1:0:1:0:0:0:1:1", "1:0:1::1:1"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
  ];
  for (const [text, canon] of cases) assert.equal(formatIpv6(parseIpv6(text)!), canon, text);
  for (const bad of ["", "1", "1:2", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::"]) {
    assert.equal(parseIpv6(bad), null, bad);
  }
});
