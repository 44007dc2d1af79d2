// Internet checksum (RFC 1071) in every engine, the pseudo-header sum and the incremental
// update of RFC 1624.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checksumUpdate16,
  checksumUpdate32,
  foldSum,
  pseudoHeaderSum,
} from "../../src/wire/checksum.ts";
import { RX_OFF } from "../../src/wire/layout.ts";
import { engines, refChecksum } from "../support/wire_frames.ts";

const SEED = Number(Deno.env.get("TCPIP_SEED") ?? 0x5eed1071);

for (const engine of engines()) {
  Deno.test(`${engine.kind}: checksum of the RFC 1071 section 3 example`, () => {
    const data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    for (const off of [RX_OFF, RX_OFF + 1, RX_OFF + 2, RX_OFF + 3]) {
      engine.mem.set(data, off);
      assert.equal(engine.checksum(off, 8, 0), ~0xddf2 & 0xffff);
      // Odd length: the last byte is padded with zero (0xf7 -> 0xf700).
      assert.equal(engine.checksum(off, 7, 0), refChecksum(new Uint8Array(data.slice(0, 7))));
      // With an initial partial sum, as for the pseudo-header.
      assert.equal(engine.checksum(off, 8, 0x1234), refChecksum(new Uint8Array(data), 0x1234));
    }
    assert.equal(engine.checksum(RX_OFF, 0, 0), 0xffff);
    assert.equal(engine.checksum(RX_OFF, 0, 0xffff), 0);
  });

  Deno.test(`${engine.kind}: checksum equals the byte-at-a-time reference`, () => {
    const prop = fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.nat(64),
      fc.nat(0xffffffff),
      (data, shift, initial) => {
        const off = RX_OFF + shift;
        engine.mem.set(data, off);
        assert.equal(engine.checksum(off, data.length, initial), refChecksum(data, initial));
      },
    );
    fc.assert(prop, { seed: SEED, numRuns: 300 });
  });

  Deno.test(`${engine.kind}: checksum of long runs (carries and 64 KiB)`, () => {
    const m = engine.mem;
    for (const len of [65535, 65536, 70001, 262144, 1_100_001]) {
      for (const fill of [0xff, 0x5a]) {
        for (const shift of [0, 1, 3]) {
          const off = RX_OFF + shift;
          m.fill(fill, off, off + len);
          assert.equal(engine.checksum(off, len, 0), refChecksum(m.subarray(off, off + len)));
        }
      }
    }
    const data = m.subarray(RX_OFF, RX_OFF + 9000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    for (let len = 0; len < 200; len++) {
      assert.equal(engine.checksum(RX_OFF + 5, len, 7), refChecksum(data.subarray(5, 5 + len), 7));
    }
  });
}

Deno.test("pseudoHeaderSum adds the addresses, protocol and length as 16-bit words", () => {
  assert.equal(pseudoHeaderSum(0xc0a80001, 0xc0a80002, 17, 8), 0xc0a8 + 1 + 0xc0a8 + 2 + 17 + 8);
  assert.equal(pseudoHeaderSum(-1, -1, 6, 65535), 4 * 0xffff + 6 + 65535);
});

Deno.test("foldSum folds with end-around carry", () => {
  assert.equal(foldSum(0x2ddf0), 0xddf2);
  assert.equal(foldSum(0xffff), 0xffff);
  assert.equal(foldSum(0x1fffe), 0xffff);
  assert.equal(foldSum(2 ** 48 + 3), 4);
});

Deno.test("checksumUpdate16/32 match a full recomputation (RFC 1624)", () => {
  // RFC 1624 section 4: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives 0x0000, not 0xffff.
  assert.equal(checksumUpdate16(0xdd2f, 0x5555, 0x3285), 0x0000);
  const prop = fc.property(
    fc.uint8Array({ minLength: 8, maxLength: 64 }),
    fc.nat(0xffffffff),
    fc.nat(),
    (raw, value, at) => {
      const data = raw.subarray(0, raw.length & ~1);
      const i = (at % ((data.length - 4) / 2)) * 2;
      const before = refChecksum(data);
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const old32 = view.getUint32(i);
      const old16 = view.getUint16(i);
      view.setUint16(i, value & 0xffff);
      const after16 = refChecksum(data);
      assert.equal(checksumUpdate16(before, old16, value & 0xffff), after16);
      view.setUint32(i, value);
      assert.equal(checksumUpdate32(before, old32, value), refChecksum(data));
    },
  );
  fc.assert(prop, { seed: SEED, numRuns: 500 });
});
