/**
 * The DNS message codec (RFC 1035 4): queries byte for byte, answers of every decoded type,
 * name compression, and malformed messages (truncated anywhere, pointer loops, forward
 * pointers, long names, bad label types, wrong data lengths) giving a clear error, never an
 * exception; random bytes and random mutations never throw (fast-check).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeDns,
  encodeDnsQuery,
  encodeName,
  formatIpv6,
  TYPE_A,
  TYPE_AAAA,
  TYPE_CAA,
  TYPE_CNAME,
  TYPE_MX,
  TYPE_SOA,
  TYPE_SRV,
  TYPE_TXT,
} from "../../src/wire/dns.ts";
import { aData, buildResponse, txtData } from "../support/dns_server.ts";

Deno.test("dns codec: a query is the RFC 1035 header, question and class IN", () => {
  const q = encodeDnsQuery(0xbeef, "Www.Example.test.", TYPE_A);
  assert.deepEqual([...q.subarray(0, 12)], [0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(
    [...q.subarray(12)],
    [3, 87, 119, 119, 7, 69, 120, 97, 109, 112, 108, 101, 4, 116, 101, 115, 116, 0, 0, 1, 0, 1],
  );
  const d = decodeDns(q);
  assert.ok(d.ok);
  assert.deepEqual(d.message.questions, [{ name: "www.example.test", type: 1, class: 1 }]);
  assert.equal(d.message.rd, true);
  assert.equal(d.message.qr, false);
  assert.deepEqual([...encodeName(".")], [0]);
});

Deno.test("dns codec: names that cannot go on the wire are refused with TypeError", () => {
  assert.throws(() => encodeName("a..b"), /empty label/);
  assert.throws(() => encodeName("x".repeat(64) + ".test"), /label longer than 63/);
  assert.throws(() => encodeName(Array(60).fill("abcd").join(".")), /longer than 255/);
  assert.throws(() => encodeName("bücher.test"), /punycode/);
  assert.throws(() => encodeName("a b.test"), TypeError);
  assert.throws(() => encodeDnsQuery(70000, "a", 1), RangeError);
  assert.throws(() => encodeDnsQuery(1, "a", 0), RangeError);
  // The longest legal name: 253 characters, 255 bytes on the wire.
  const longest = [63, 63, 63, 61].map((n) => "a".repeat(n)).join(".");
  assert.equal(encodeName(longest).length, 255);
});

Deno.test("dns codec: answers of every decoded type, compressed and not", () => {
  const q = encodeDnsQuery(7, "h.test", TYPE_A);
  const aaaa = new Uint8Array(16);
  aaaa.set([0x20, 0x01, 0x0d, 0xb8], 0);
  aaaa[15] = 1;
  const mx = Uint8Array.from([0, 10, 2, 109, 120, 0xc0, 12]); // 10 mx.h.test (pointer)
  const srv = Uint8Array.from([0, 1, 0, 2, 0x1f, 0x90, 0xc0, 12]);
  const caa = Uint8Array.from([128, 5, ...new TextEncoder().encode("issuepki.test")]);
  const soa = Uint8Array.from([
    ...encodeName("ns.test"),
    0xc0,
    12,
    ...[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5],
  ]);
  const r = buildResponse(q, {
    answers: [
      { type: TYPE_A, ttl: 300, rdata: aData("10.7.0.50") },
      { type: TYPE_AAAA, ttl: 300, rdata: aaaa },
      { type: TYPE_CNAME, ttl: 300, rdata: encodeName("Other.Test") },
      { type: TYPE_MX, ttl: 300, rdata: mx },
      { type: TYPE_SRV, ttl: 300, rdata: srv },
      { type: TYPE_CAA, ttl: 300, rdata: caa },
      { type: TYPE_SOA, ttl: 300, rdata: soa },
      {
        name: "t.test",
        type: TYPE_TXT,
        ttl: 0xffffffff,
        rdata: Uint8Array.from([...txtData("ab"), ...txtData("")]),
      },
      { type: 99, ttl: 1, rdata: Uint8Array.from([1, 2, 3]) },
    ],
  });
  const d = decodeDns(r);
  assert.ok(d.ok, d.ok ? "" : d.error);
  const data = d.message.answers.map((a) => a.data);
  assert.deepEqual(data, [
    "10.7.0.50",
    "2001:db8::1",
    "other.test",
    { preference: 10, exchange: "mx.h.test" },
    { priority: 1, weight: 2, port: 8080, target: "h.test" },
    { critical: true, tag: "issue", value: "pki.test" },
    { mname: "ns.test", rname: "h.test", serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 },
    ["ab", ""],
    Uint8Array.from([1, 2, 3]),
  ]);
  assert.equal(d.message.answers[7]!.ttl, 0, "RFC 2181 8: top bit set reads as 0");
  assert.equal(d.message.answers[7]!.name, "t.test");
  assert.equal(d.message.answers[0]!.name, "h.test");
  assert.equal(d.message.qr, true);
});

Deno.test("dns codec: IPv6 text per RFC 5952", () => {
  const v = (hex: string) => Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  assert.equal(formatIpv6(v("00000000000000000000000000000001")), "::1");
  assert.equal(formatIpv6(v("00000000000000000000000000000000")), "::");
  assert.equal(formatIpv6(v("20010db8000000010000000000000001")), "2001:db8:0:1::1");
  assert.equal(formatIpv6(v("20010db8000100010001000100010001")), "2001:db8:1:1:1:1:1:1");
  assert.equal(formatIpv6(v("20010db8000000000001000000000001")), "2001:db8::1:0:0:1");
});

Deno.test("dns codec: malformed messages give a clear error, not an exception", () => {
  const q = encodeDnsQuery(7, "h.test", TYPE_A);
  const good = buildResponse(q, { answers: [{ type: TYPE_A, ttl: 5, rdata: aData("1.2.3.4") }] });
  const bad = (b: Uint8Array | number[], re: RegExp) => {
    const r = decodeDns(Uint8Array.from(b));
    assert.ok(!r.ok, `accepted ${[...b]}`);
    assert.match(r.error, re);
  };
  bad([1, 2, 3], /no full header/);
  for (let n = 12; n < good.length; n++) bad(good.subarray(0, n), /ends at byte/);
  const hdr = [0, 7, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
  bad([...hdr, 0xc0, 12, 0, 1, 0, 1], /does not point backward/); // self pointer
  bad([...hdr, 1, 97, 0xc0, 14, 0, 1, 0, 1], /does not point backward/); // forward
  bad([...hdr, 0x40, 0, 0, 1, 0, 1], /label type 0x40/);
  bad(
    [...hdr, ...Array(5).fill([63, ...Array(63).fill(97)]).flat(), 0, 0, 1, 0, 1],
    /longer than 255/,
  );
  // An A record with 5 bytes of data; a TXT string running past its record.
  const a5 = buildResponse(q, {
    answers: [{ type: TYPE_A, ttl: 5, rdata: Uint8Array.from([1, 2, 3, 4, 5]) }],
  });
  bad(a5, /bad data of 5 bytes/);
  const txt = buildResponse(q, {
    answers: [{ type: TYPE_TXT, ttl: 5, rdata: Uint8Array.from([9, 97]) }],
  });
  bad(txt, /bad data/);
  // MX whose name runs past the record's length.
  const mx = buildResponse(q, {
    answers: [{ type: TYPE_MX, ttl: 5, rdata: Uint8Array.from([0, 1, 2, 97]) }],
  });
  const r = decodeDns(mx);
  assert.ok(!r.ok);
  // A chain of backward pointers is followed, bounded.
  const chain = [
    ...hdr.slice(0, 5),
    2,
    ...hdr.slice(6),
    1,
    97,
    0,
    0,
    1,
    0,
    1,
    0xc0,
    12,
    0,
    1,
    0,
    1,
  ];
  const c = decodeDns(Uint8Array.from(chain));
  assert.ok(c.ok && c.message.questions[1]!.name === "a");
});

Deno.test("dns codec: random bytes and mutated answers never throw (fast-check)", () => {
  const q = encodeDnsQuery(7, "h.test", TYPE_A);
  const good = buildResponse(q, {
    answers: [
      { type: TYPE_A, ttl: 5, rdata: aData("1.2.3.4") },
      { type: TYPE_MX, ttl: 5, rdata: Uint8Array.from([0, 10, 0xc0, 12]) },
      { type: TYPE_TXT, ttl: 5, rdata: txtData("hello") },
    ],
    soaTtl: 30,
  });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      const r = decodeDns(b);
      return r.ok || r.error.length > 0;
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(good.length - 1), fc.nat(255)), { minLength: 1, maxLength: 6 }),
      (muts) => {
        const b = good.slice();
        for (const [i, v] of muts) b[i] = v;
        const r = decodeDns(b);
        return r.ok || r.error.length > 0;
      },
    ),
    { numRuns: 5000 },
  );
  // Names round-trip through encode and decode.
  const label = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
  fc.assert(
    fc.property(fc.array(label, { minLength: 1, maxLength: 8 }), fc.nat(65535), (ls, id) => {
      const name = ls.join(".");
      const d = decodeDns(encodeDnsQuery(id, name, TYPE_A));
      return d.ok && d.message.id === id && d.message.questions[0]!.name === name;
    }),
  );
});
