// Unit tests of the send ring, run over both engines.
import assert from "node:assert/strict";
import { TX_PAYLOAD_OFF } from "../../src/wire/layout.ts";
import { ENGINES, pattern } from "../support/buffers_helpers.ts";

for (const [name, make] of ENGINES) {
  Deno.test(`${name}: snd seed vector: 500-byte reply from SEQ 2001, acked to 2501`, () => {
    const e = make();
    const h = e.sndCreate(65536, 2001);
    assert.equal(e.sndHead(h), 2001);
    assert.equal(e.sndFree(h), 65536);
    assert.equal(e.sndWrite(h, pattern(2001, 500)), 500);
    assert.equal(e.sndLength(h), 500);
    assert.equal(e.sndFree(h), 65036);
    e.sndCopy(h, 2001, 500, TX_PAYLOAD_OFF);
    assert.deepEqual(e.mem.slice(TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + 500), pattern(2001, 500));
    assert.equal(e.sndRelease(h, 2501), 500);
    assert.equal(e.sndHead(h), 2501);
    assert.equal(e.sndLength(h), 0);
    assert.equal(e.sndFree(h), 65536);
    e.sndDestroy(h);
  });

  Deno.test(`${name}: snd backpressure, partial release, copy across the ring's end`, () => {
    const e = make();
    const h = e.sndCreate(1000, 10);
    assert.equal(e.sndWrite(h, pattern(10, 700)), 700);
    assert.equal(e.sndWrite(h, pattern(710, 700)), 300);
    assert.equal(e.sndFree(h), 0);
    assert.equal(e.sndWrite(h, pattern(1010, 1)), 0);
    assert.equal(e.sndRelease(h, 610), 600);
    assert.equal(e.sndHead(h), 610);
    assert.equal(e.sndWrite(h, pattern(1010, 600)), 600); // wraps inside the ring
    assert.equal(e.sndLength(h), 1000);
    // Retransmission of any range, including one that straddles the ring's end.
    for (const [seq, len] of [[610, 1000], [900, 300], [1000, 50], [1609, 1], [610, 0]]) {
      e.mem.fill(0, TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + 1000);
      e.sndCopy(h, seq!, len!, TX_PAYLOAD_OFF);
      assert.deepEqual(e.mem.slice(TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + len!), pattern(seq!, len!));
    }
    // Old and duplicate ACKs release nothing.
    assert.equal(e.sndRelease(h, 600), 0);
    assert.equal(e.sndRelease(h, 610), 0);
    assert.equal(e.sndRelease(h, 1000), 390);
    e.sndCopy(h, 1000, 610, TX_PAYLOAD_OFF);
    assert.deepEqual(e.mem.slice(TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + 610), pattern(1000, 610));
  });

  Deno.test(`${name}: snd across the 2^32 wrap, and an ACK that also covers a FIN`, () => {
    const e = make();
    const start = 0xfffffe00;
    const h = e.sndCreate(4096, start);
    assert.equal(e.sndWrite(h, pattern(start, 1024)), 1024);
    e.sndCopy(h, 0xffffff00, 512, TX_PAYLOAD_OFF);
    assert.deepEqual(e.mem.slice(TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + 512), pattern(0xffffff00, 512));
    assert.equal(e.sndRelease(h, 0x100), 768);
    assert.equal(e.sndHead(h), 0x100);
    // snd.una + 1 past the data: the FIN's sequence number is not in the ring.
    assert.equal(e.sndRelease(h, 0x201), 256);
    assert.equal(e.sndHead(h), 0x200);
    assert.equal(e.sndLength(h), 0);
  });

  Deno.test(`${name}: snd write after draining reuses the ring from the start`, () => {
    const e = make();
    const h = e.sndCreate(3000, 0);
    let seq = 0;
    for (let round = 0; round < 10; round++) {
      assert.equal(e.sndWrite(h, pattern(seq, 1700)), 1700);
      e.sndCopy(h, seq + 200, 1460, TX_PAYLOAD_OFF);
      assert.deepEqual(
        e.mem.slice(TX_PAYLOAD_OFF, TX_PAYLOAD_OFF + 1460),
        pattern(seq + 200, 1460),
      );
      assert.equal(e.sndRelease(h, seq + 1700), 1700);
      seq += 1700;
    }
  });

  Deno.test(`${name}: snd argument checks`, () => {
    const e = make();
    for (const bad of [0, -5, 0.5, 2 ** 30 + 1]) {
      assert.throws(() => e.sndCreate(bad, 0), RangeError, `capacity ${bad}`);
    }
    assert.throws(() => e.sndCreate(10, 2 ** 32), RangeError);
    const h = e.sndCreate(100, 50);
    e.sndWrite(h, pattern(50, 60));
    assert.throws(() => e.sndCopy(h, 49, 1, TX_PAYLOAD_OFF), /send ring holds 60 bytes from 50/);
    assert.throws(() => e.sndCopy(h, 60, 51, TX_PAYLOAD_OFF), RangeError);
    assert.throws(() => e.sndCopy(h, 50, 10, e.mem.length - 5), RangeError);
    e.sndCopy(h, 110, 0, TX_PAYLOAD_OFF); // an empty copy at the end is fine
    assert.throws(() => e.sndWrite(h + 1, new Uint8Array(1)), /Unknown send ring handle/);
    e.sndDestroy(h);
    assert.throws(() => e.sndLength(h), RangeError);
    assert.equal(e.sndCreate(100, 0), h);
  });
}
