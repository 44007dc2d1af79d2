import assert from "node:assert/strict";
import { Reassembler } from "../../src/iface/fragments.ts";
import { resolveLimits } from "../../src/iface/limits.ts";
import { Ipv4Header } from "../../src/wire/ipv4_header.ts";

/** The decoded header of a fragment: header at mem[0..20), data at mem[100..100+len). */
function ip(len: number, src: number, id: number, fragField: number): Ipv4Header {
  const h = new Ipv4Header();
  h.headerOff = 0;
  h.headerLen = 20;
  h.payloadOff = 100;
  h.payloadLen = len;
  h.src = src;
  h.dst = 2;
  h.proto = 17;
  h.id = id;
  h.frag = fragField;
  return h;
}

/** A 20-byte IPv4 header at mem[0..20) and `data` placed at mem[100..). */
function frag(data: Uint8Array): Uint8Array {
  const mem = new Uint8Array(100 + data.length);
  mem[0] = 0x45;
  mem[9] = 17;
  mem.set(data, 100);
  return mem;
}

function payload(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function add(r: Reassembler, data: Uint8Array, off: number, more: boolean, now = 0, id = 1) {
  const piece = data.subarray(
    off,
    off + (more ? Math.min(1480, data.length - off) : data.length - off),
  );
  const mem = frag(piece);
  return r.add(mem, ip(piece.length, 1, id, (more ? 0x2000 : 0) | (off / 8)), now);
}

Deno.test("fragments: in-order and out-of-order fragments reassemble into one datagram", () => {
  const r = new Reassembler(resolveLimits({}));
  const data = payload(4000);
  assert.equal(add(r, data, 2960, false), "held");
  assert.equal(add(r, data, 0, true), "held");
  assert.equal(add(r, data, 1480, true), "complete");
  const out = new Uint8Array(5000);
  const len = r.takeInto(out, 10);
  assert.equal(len, 4020);
  assert.equal((out[12]! << 8) | out[13]!, 4020);
  assert.equal(out[16], 0);
  assert.deepEqual(out.subarray(30, 30 + 4000), data);
  // The header checksum verifies.
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (out[10 + i]! << 8) | out[10 + i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  assert.equal(sum, 0xffff);
  assert.equal(r.memory, 0);
  assert.equal(r.datagrams, 0);
});

Deno.test("fragments: overlaps drop the whole datagram and later fragments of it", () => {
  const r = new Reassembler(resolveLimits({}));
  const data = payload(4000);
  assert.equal(add(r, data, 0, true), "held");
  const mem = frag(data.subarray(8, 808));
  assert.equal(r.add(mem, ip(800, 1, 1, 0x2000 | 1), 0), "frag-overlap");
  assert.equal(r.memory, 0);
  assert.equal(add(r, data, 1480, true), "frag-dead");
  assert.equal(add(r, data, 2960, false), "frag-dead");
  assert.equal(r.poll(30000), 0);
  assert.equal(r.datagrams, 0);
});

Deno.test("fragments: exact duplicates are dropped alone", () => {
  const r = new Reassembler(resolveLimits({}));
  const data = payload(3000);
  assert.equal(add(r, data, 0, true), "held");
  assert.equal(add(r, data, 0, true), "frag-duplicate");
  assert.equal(add(r, data, 1480, true), "held");
  assert.equal(add(r, data, 2960, false), "complete");
});

Deno.test("fragments: bad lengths, oversize and inconsistent last fragments", () => {
  const r = new Reassembler(resolveLimits({}));
  const mem = frag(payload(100));
  assert.equal(r.add(mem, ip(100, 1, 1, 0x2000), 0), "frag-bad-length");
  assert.equal(r.add(mem, ip(0, 1, 1, 0), 0), "frag-bad-length");
  assert.equal(r.add(mem, ip(100, 1, 1, 0x1fff), 0), "frag-too-long");
  assert.equal(r.add(mem, ip(96, 1, 2, 0x2000 | 100), 0), "held");
  // A last fragment that ends before held data is inconsistent.
  assert.equal(r.add(mem, ip(8, 1, 2, 10), 0), "frag-overlap");
});

Deno.test("fragments: timeout abandons datagrams and reports fragment zero", () => {
  const r = new Reassembler(resolveLimits({ fragTimeoutMs: 1000 }));
  const data = payload(3000);
  add(r, data, 0, true, 5);
  add(r, data, 1480, true, 5, 2);
  assert.equal(r.pollAt(), 1005);
  const seen: number[] = [];
  assert.equal(r.poll(1004, () => seen.push(0)), 0);
  assert.equal(r.poll(1005, (d) => seen.push(d.header === null ? -1 : d.data.length)), 2);
  assert.deepEqual(seen.sort(), [-1, 8]);
  assert.equal(r.memory, 0);
  assert.equal(r.pollAt(), Infinity);
});

Deno.test("fragments: a fragment flood stays within memory and datagram bounds", () => {
  const limits = resolveLimits({ fragMemory: 65536, fragDatagrams: 16, fragPerDatagram: 8 });
  const r = new Reassembler(limits);
  const piece = frag(payload(1480));
  const seen = new Set<string>();
  for (let id = 0; id < 1000; id++) {
    for (let k = 0; k < 12; k++) {
      const res = r.add(piece, ip(1480, 9, id, 0x2000 | (k * 185 * 2)), 0);
      seen.add(res);
      assert.ok(r.memory <= limits.fragMemory);
      assert.ok(r.datagrams <= limits.fragDatagrams);
    }
  }
  assert.ok(seen.has("frag-memory-full"));
  r.poll(limits.fragTimeoutMs);
  assert.equal(r.memory, 0);
  const r2 = new Reassembler(resolveLimits({ fragDatagrams: 16, fragPerDatagram: 4 }));
  seen.clear();
  for (let id = 0; id < 100; id++) {
    for (let k = 0; k < 6; k++) {
      seen.add(r2.add(piece, ip(1480, 9, id, 0x2000 | (k * 185)), 0));
      assert.ok(r2.datagrams <= 16);
    }
  }
  assert.ok(seen.has("frag-too-many-datagrams"));
  assert.ok(seen.has("frag-too-many-fragments"));
});
