// IPv6 reassembly (src/iface/fragments6.ts), both engines decoding the fragments: in order,
// reverse and any order with duplicates (fast-check), overlaps drop the whole datagram and its
// later fragments (RFC 5722), an inconsistent last fragment, empty fragments, the 65535 bound,
// the first fragment's unfragmentable part and Next Header (RFC 8200 4.5), every limit at its
// edge (datagrams, fragments per datagram, memory, the 60 s timeout) and the quote of an
// expired first fragment; RFC 7112 incomplete header chains.

import assert from "node:assert/strict";
import fc from "fast-check";
import type { Engine } from "../../src/kernels/engine.ts";
import { incompleteChain, Reassembler6 } from "../../src/iface/fragments6.ts";
import { resolveLimits } from "../../src/iface/limits.ts";
import { REASM_OFF } from "../../src/iface/transmit.ts";
import {
  D_IP6_EXT,
  D_KIND,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  DROP_IP6_FRAG_BAD_LENGTH,
  EXT6_DEST_OPTS,
  K_IPV6_FRAGMENT,
  K_UDP6,
  RX_OFF,
} from "../../src/wire/layout.ts";
import { engines } from "../support/wire_frames.ts";
import { cut, echo6, fragFrame, pattern, udp6 } from "../support/frag6_frames.ts";

/** Decode `frame` at RX_OFF; it must be a fragment. */
function decodeFrag(e: Engine, frame: Uint8Array): void {
  e.mem.set(frame, RX_OFF);
  const v = e.decode(RX_OFF, frame.length);
  assert.equal(v, 0, `decode verdict ${v}`);
  assert.equal(e.rxDesc[D_KIND], K_IPV6_FRAGMENT);
}

function add(e: Engine, r: Reassembler6, frame: Uint8Array, now = 0) {
  decodeFrag(e, frame);
  return r.add(e.mem, e.rxDesc, now);
}

/** Take the completed datagram, decode it at REASM_OFF; returns its bytes. */
function take(e: Engine, r: Reassembler6): Uint8Array {
  const len = r.takeInto(e.mem, REASM_OFF);
  assert.ok(len > 0);
  return e.mem.slice(REASM_OFF, REASM_OFF + len);
}

for (const e of engines()) {
  const name = (s: string) => `fragments6 (${e.kind}): ${s}`;

  Deno.test(name("in order and in reverse, the datagram comes back byte for byte"), () => {
    for (const reverse of [false, true]) {
      const r = new Reassembler6(resolveLimits({}));
      const dg = udp6(e, pattern(4000));
      const frames = cut(dg, 1448);
      if (reverse) frames.reverse();
      const results = frames.map((f) => add(e, r, f));
      assert.deepEqual(results, ["held", "held", "complete"]);
      assert.deepEqual(take(e, r), dg);
      assert.equal(e.decodeIpv6(REASM_OFF, dg.length), 0);
      assert.equal(e.rxDesc[D_KIND], K_UDP6);
      assert.equal(e.rxDesc[D_PAYLOAD_LEN], 4000);
      assert.equal(r.memory, 0);
      assert.equal(r.datagrams, 0);
    }
  });

  Deno.test(name("any order, any sizes, duplicates: complete exactly once (property)"), () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9000 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.integer(),
        (size, units, dups, seed) => {
          const r = new Reassembler6(resolveLimits({}));
          const dg = udp6(e, pattern(size, seed & 0xff));
          const plen = dg.length - 40;
          const pieces: Uint8Array[] = [];
          let off = 0;
          for (let i = 0; off < plen; i++) {
            const len = Math.min(units[i % units.length]! * 8, plen - off);
            pieces.push(fragFrame(dg, off, len, off + len < plen, { id: seed }));
            off += len;
          }
          // One piece is an atomic fragment (not reassembled, RFC 6946); more than 256 is past
          // fragPerDatagram (tested at its edge below).
          if (pieces.length < 2 || pieces.length > 256) return;
          // A seeded shuffle, then exact duplicates inserted (RFC 8200 4.5 allows dropping them).
          let s = seed >>> 0;
          for (let i = pieces.length - 1; i > 0; i--) {
            s = (Math.imul(s, 1103515245) + 12345) >>> 0;
            const j = s % (i + 1);
            [pieces[i], pieces[j]] = [pieces[j]!, pieces[i]!];
          }
          const order = [...pieces];
          for (const d of dups) order.splice(d % (order.length + 1), 0, pieces[d % pieces.length]!);
          let done = 0;
          for (const f of order) {
            const res = add(e, r, f);
            if (res === "complete") {
              done++;
              assert.deepEqual(take(e, r), dg);
              break; // later duplicates would start a new datagram (the state is gone)
            }
            assert.ok(res === "held" || res === "frag6-duplicate", res);
          }
          assert.equal(done, 1);
          assert.equal(r.memory, 0);
        },
      ),
      { numRuns: 60 },
    );
  });

  Deno.test(name("an overlap drops the datagram and its later fragments (RFC 5722)"), () => {
    const r = new Reassembler6(resolveLimits({}));
    const dg = udp6(e, pattern(4000));
    assert.equal(add(e, r, fragFrame(dg, 0, 1448, true)), "held");
    assert.equal(add(e, r, fragFrame(dg, 1440, 800, true), 5), "frag6-overlap");
    assert.equal(r.memory, 0);
    assert.equal(add(e, r, fragFrame(dg, 1448, 1448, true)), "frag6-dead");
    assert.equal(add(e, r, fragFrame(dg, 2896, dg.length - 40 - 2896, false)), "frag6-dead");
    assert.equal(add(e, r, fragFrame(dg, 0, 1448, true)), "frag6-dead");
    assert.equal(r.datagrams, 1);
    // Dead datagrams are not reported at their timeout; then the identification is free again.
    const seen: unknown[] = [];
    assert.equal(r.poll(60000, (x) => seen.push(x)), 0);
    assert.deepEqual(seen, []);
    assert.equal(r.datagrams, 0);
    for (const f of cut(dg, 1448).slice(0, 2)) assert.equal(add(e, r, f, 60001), "held");
    assert.equal(add(e, r, cut(dg, 1448)[2]!, 60001), "complete");
    // A fragment inside another one overlaps too, as does a second, different last fragment.
    const r2 = new Reassembler6(resolveLimits({}));
    assert.equal(add(e, r2, fragFrame(dg, 8, 1000, true)), "held");
    assert.equal(add(e, r2, fragFrame(dg, 16, 16, true)), "frag6-overlap");
    const r3 = new Reassembler6(resolveLimits({}));
    assert.equal(add(e, r3, fragFrame(dg, 2896, dg.length - 40 - 2896, false)), "held");
    assert.equal(add(e, r3, fragFrame(dg, 1448, 8, false)), "frag6-overlap");
    const r4 = new Reassembler6(resolveLimits({}));
    assert.equal(add(e, r4, fragFrame(dg, 2896, 8, false)), "held");
    assert.equal(add(e, r4, fragFrame(dg, 2896, 16, true)), "frag6-overlap");
  });

  Deno.test(name("datagrams are told apart by source, destination and identification"), () => {
    const r = new Reassembler6(resolveLimits({}));
    const a = udp6(e, pattern(2000, 1));
    const b = echo6(e, pattern(2000, 2), 1, 1, Uint8Array.from({ length: 16 }, (_, i) => i));
    const fa = cut(a, 1448, { id: 9 });
    const fb = cut(b, 1448, { id: 9 });
    const fc2 = cut(a, 1448, { id: 10 });
    assert.equal(add(e, r, fa[0]!), "held");
    assert.equal(add(e, r, fb[0]!), "held");
    assert.equal(add(e, r, fc2[1]!), "held");
    assert.equal(r.datagrams, 3);
    assert.equal(add(e, r, fb[1]!), "complete");
    assert.deepEqual(take(e, r), b);
    assert.equal(add(e, r, fa[1]!), "complete");
    assert.deepEqual(take(e, r), a);
  });

  Deno.test(name("the first fragment's unfragmentable part and Next Header are kept"), () => {
    const r = new Reassembler6(resolveLimits({}));
    const dg = udp6(e, pattern(3000));
    // Destination options (PadN) before the fragment header: part of the unfragmentable part.
    const dopt = Uint8Array.from([0, 0, 1, 4, 0, 0, 0, 0]);
    const plen = dg.length - 40;
    // The later fragment names another Next Header: only fragment zero's counts (4.5).
    assert.equal(add(e, r, fragFrame(dg, 1448, plen - 1448, false, { nextHeader: 6 })), "held");
    assert.equal(add(e, r, fragFrame(dg, 0, 1448, true, { unfrag: dopt })), "complete");
    const out = take(e, r);
    assert.equal(out.length, dg.length + 8);
    assert.equal(out[6], 60);
    assert.equal(out[40], 17); // the destination options now name UDP
    assert.equal((out[4]! << 8) | out[5]!, plen + 8);
    assert.deepEqual(out.subarray(48), dg.subarray(40));
    assert.equal(e.decodeIpv6(REASM_OFF, out.length), 0);
    assert.equal(e.rxDesc[D_KIND], K_UDP6);
    assert.equal(e.rxDesc[D_IP6_EXT], EXT6_DEST_OPTS);
  });

  Deno.test(name("length rules: empty, M-bit multiple of 8, 65535 bound"), () => {
    const r = new Reassembler6(resolveLimits({}));
    const dg = udp6(e, pattern(3000));
    assert.equal(add(e, r, fragFrame(dg, 8, 0, true)), "frag6-empty");
    // M set and 12 bytes: the decoder drops it (Parameter Problem code 0, RFC 8200 4.5).
    const odd = fragFrame(dg, 0, 12, true);
    e.mem.set(odd, RX_OFF);
    assert.equal(e.decode(RX_OFF, odd.length), DROP_IP6_FRAG_BAD_LENGTH);
    // Fragments each within 65535, together past it with fragment zero's extra header.
    const big = udp6(e, pattern(1000));
    const last = new Uint8Array(40 + 65528);
    last.set(big.subarray(0, 40));
    const dopt = Uint8Array.from([0, 0, 1, 4, 0, 0, 0, 0]);
    assert.equal(add(e, r, fragFrame(last, 65520, 8, false, { id: 77 })), "held");
    assert.equal(add(e, r, fragFrame(big, 0, 8, true, { id: 77, unfrag: dopt })), "frag6-too-long");
  });

  Deno.test(name("fragDatagrams, fragPerDatagram and fragMemory at their edges"), () => {
    const r = new Reassembler6(resolveLimits({ fragDatagrams: 3 }));
    const dg = udp6(e, pattern(3000));
    for (let id = 0; id < 3; id++) {
      assert.equal(add(e, r, fragFrame(dg, 0, 8, true, { id })), "held");
    }
    assert.equal(add(e, r, fragFrame(dg, 0, 8, true, { id: 3 })), "frag6-too-many-datagrams");
    assert.equal(add(e, r, fragFrame(dg, 8, 8, true, { id: 2 })), "held"); // an existing one

    const p = new Reassembler6(resolveLimits({ fragPerDatagram: 4 }));
    for (let i = 0; i < 4; i++) assert.equal(add(e, p, fragFrame(dg, i * 8, 8, true)), "held");
    assert.equal(add(e, p, fragFrame(dg, 32, 8, true)), "frag6-too-many-fragments");

    // Buffers are 2048 bytes at least and double, and the first fragment's 48 header bytes
    // count too: 4192 holds two datagrams' first pieces.
    const m = new Reassembler6(resolveLimits({ fragMemory: 4192 }));
    assert.equal(add(e, m, fragFrame(dg, 0, 1448, true, { id: 1 })), "held");
    assert.equal(add(e, m, fragFrame(dg, 0, 1448, true, { id: 2 })), "held");
    assert.equal(m.memory, 4192);
    assert.equal(add(e, m, fragFrame(dg, 0, 1448, true, { id: 3 })), "frag6-memory-full");
    assert.equal(m.datagrams, 2); // the refused one left no entry
    assert.equal(add(e, m, fragFrame(dg, 1448, 1448, true, { id: 1 })), "frag6-memory-full");
    // With 6240 bytes one of them can grow to 4096, not both.
    const g = new Reassembler6(resolveLimits({ fragMemory: 6240 }));
    const one = cut(dg, 1448, { id: 1 });
    const two = cut(dg, 1448, { id: 2 });
    assert.equal(add(e, g, one[0]!), "held");
    assert.equal(add(e, g, two[0]!), "held");
    assert.equal(add(e, g, one[1]!), "held");
    assert.equal(g.memory, 6240);
    assert.equal(add(e, g, two[1]!), "frag6-memory-full");
    assert.equal(add(e, g, one[2]!), "complete"); // fits its buffer: completes, frees 4096
    assert.equal(g.memory, 2096);
    assert.equal(add(e, g, two[1]!), "held");
    // A later fragment first (2048), then fragment zero's headers need 48 more bytes.
    const h = new Reassembler6(resolveLimits({ fragMemory: 2048 + 47 }));
    assert.equal(add(e, h, fragFrame(dg, 8, 8, true)), "held");
    assert.equal(add(e, h, fragFrame(dg, 0, 8, true)), "frag6-memory-full");
    assert.equal(h.memory, 2048);
  });

  Deno.test(name("frag6TimeoutMs: abandoned at 60 s, first fragment quoted"), () => {
    const r = new Reassembler6(resolveLimits({}));
    const dg = echo6(e, pattern(3000));
    const frames = cut(dg, 1448);
    assert.equal(add(e, r, frames[0]!, 1000), "held");
    assert.equal(add(e, r, frames[1]!, 30000), "held");
    assert.equal(add(e, r, cut(dg, 1448, { id: 5 })[1]!, 2000), "held"); // no fragment zero
    assert.equal(r.pollAt(), 61000);
    const seen: { quote: Uint8Array; macHi: number; macLo: number }[] = [];
    assert.equal(r.poll(60999, (x) => seen.push(x)), 0);
    assert.equal(r.datagrams, 2);
    assert.equal(r.poll(61000, (x) => seen.push(x)), 1);
    assert.equal(seen.length, 1);
    const q = seen[0]!.quote;
    assert.equal(q.length, 1232); // 48 header bytes and 1184 of the first fragment's 1448
    assert.deepEqual(q, frames[0]!.subarray(14, 14 + 1232));
    assert.equal(seen[0]!.macHi, 0x0200);
    assert.equal(seen[0]!.macLo, 1);
    assert.equal(r.poll(62000, (x) => seen.push(x)), 1);
    assert.equal(seen.length, 1); // fragment zero never came: nothing to quote
    assert.equal(r.memory, 0);
    assert.equal(r.pollAt(), Infinity);
    const short = new Reassembler6(resolveLimits({ frag6TimeoutMs: 5 }));
    assert.equal(add(e, short, frames[0]!, 0), "held");
    assert.equal(short.poll(5), 1);
  });

  Deno.test(name("RFC 7112: first fragments without the whole header chain"), () => {
    const dg = udp6(e, pattern(100));
    const check = (frame: Uint8Array) => {
      decodeFrag(e, frame);
      return incompleteChain(e.mem, e.rxDesc);
    };
    assert.equal(check(fragFrame(dg, 0, 8, true)), false); // the UDP header is there
    const tcpish = fragFrame(dg, 0, 16, true, { nextHeader: 6 });
    assert.equal(check(tcpish), true); // 16 of TCP's 20 bytes
    assert.equal(check(fragFrame(dg, 0, 24, true, { nextHeader: 6 })), false);
    // Destination options (8 bytes) then UDP: 8 bytes hold only the options.
    const withOpts = new Uint8Array(dg.length + 8);
    withOpts.set(dg.subarray(0, 40));
    withOpts.set([17, 0, 1, 4, 0, 0, 0, 0], 40);
    withOpts.set(dg.subarray(40), 48);
    assert.equal(check(fragFrame(withOpts, 0, 8, true, { nextHeader: 60 })), true);
    assert.equal(check(fragFrame(withOpts, 0, 16, true, { nextHeader: 60 })), false);
    // A header whose length runs past the fragment (routing header of 16 bytes, 8 present).
    withOpts[41] = 1;
    assert.equal(check(fragFrame(withOpts, 0, 8, true, { nextHeader: 43 })), true);
    // No Next Header needs nothing; another protocol one byte.
    assert.equal(check(fragFrame(dg, 0, 8, true, { nextHeader: 59 })), false);
    const d = e.rxDesc;
    assert.equal(d[D_PAYLOAD_OFF]! > 0, true);
  });

  Deno.test(name("hostile fragment streams stay within every bound (property)"), () => {
    const limits = resolveLimits({ fragMemory: 65536, fragDatagrams: 8, fragPerDatagram: 16 });
    const dg = udp6(e, pattern(8000));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.integer({ min: 0, max: 11 }),
            off: fc.integer({ min: 0, max: 999 }),
            units: fc.integer({ min: 1, max: 180 }),
            more: fc.boolean(),
            t: fc.integer({ min: 0, max: 70000 }),
          }),
          { maxLength: 120 },
        ),
        (frags) => {
          const r = new Reassembler6(limits);
          let now = 0;
          for (const f of frags) {
            now = Math.max(now, f.t);
            const off = f.off * 8;
            const len = Math.min(f.units * 8, dg.length - 40 - off);
            if (len <= 0 || (off === 0 && !f.more)) continue; // atomic: not a fragment
            r.poll(now);
            const res = add(e, r, fragFrame(dg, off, len, f.more, { id: f.id }), now);
            if (res === "complete") assert.ok(r.takeInto(e.mem, REASM_OFF) > 0);
            assert.ok(r.memory <= limits.fragMemory, `memory ${r.memory}`);
            assert.ok(r.datagrams <= limits.fragDatagrams);
          }
          r.poll(now + limits.frag6TimeoutMs);
          assert.equal(r.memory, 0);
          assert.equal(r.datagrams, 0);
        },
      ),
      { numRuns: 40 },
    );
  });
}
