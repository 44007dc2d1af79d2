// Reuse of stream buffers: a handle freed by a closed connection is handed to the next one
// (both engines, most recently freed first), and its storage comes back from the pool (JS) or
// the WASM heap: whatever bytes the old connection left there, the reused buffer starts empty
// and never lets one of them out.
import assert from "node:assert/strict";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import { RX_OFF } from "../../src/wire/layout.ts";

const CAP = 64 * 1024;

for (const [name, make] of [["js", createJsEngine], ["wasm", createWasmEngine]] as const) {
  Deno.test(`${name}: a reused send ring starts empty and copies only its own bytes`, () => {
    const e = make();
    const old = e.sndCreate(CAP, 1000);
    // The old connection leaves unacknowledged bytes behind (0xAA), storage allocated.
    assert.equal(e.sndWrite(old, new Uint8Array(5000).fill(0xaa)), 5000);
    assert.equal(e.sndRelease(old, 2000), 1000);
    e.sndDestroy(old);

    const h = e.sndCreate(CAP, 70000);
    assert.equal(h, old, "the freed handle is reused");
    assert.equal(e.sndLength(h), 0);
    assert.equal(e.sndFree(h), CAP);
    assert.equal(e.sndHead(h), 70000);
    assert.throws(() => e.sndCopy(h, 70000, 1, RX_OFF), RangeError); // nothing held to copy
    assert.throws(() => e.sndCopy(h, 2000, 10, RX_OFF), RangeError); // the old sequence space

    assert.equal(e.sndWrite(h, new Uint8Array(300).fill(0x55)), 300);
    e.mem.fill(0, RX_OFF, RX_OFF + 400);
    e.sndCopy(h, 70000, 300, RX_OFF);
    const out = e.mem.slice(RX_OFF, RX_OFF + 400);
    assert.ok(out.subarray(0, 300).every((b) => b === 0x55), "only the new bytes");
    assert.ok(out.subarray(300).every((b) => b === 0), "nothing past them was written");
    assert.throws(() => e.sndCopy(h, 70000, 301, RX_OFF), RangeError);
  });

  Deno.test(`${name}: a reused receive buffer starts empty: no old bytes, holes or SACK`, () => {
    const e = make();
    const old = e.rcvCreate(CAP, 500);
    const m = e.mem;
    m.fill(0xbb, RX_OFF, RX_OFF + 3000);
    assert.equal(e.rcvInsert(old, 500, RX_OFF, 1000), 1000); // in order, unread
    assert.equal(e.rcvInsert(old, 3000, RX_OFF, 1000), 0); // held beyond a hole
    assert.equal(e.rcvHeld(old), 1000);
    e.rcvDestroy(old);

    const h = e.rcvCreate(CAP, 9000);
    assert.equal(h, old, "the freed handle is reused");
    assert.equal(e.rcvReadable(h), 0);
    assert.equal(e.rcvHeld(h), 0);
    assert.equal(e.rcvNext(h), 9000);
    assert.equal(e.rcvWindow(h), CAP);
    assert.equal(e.rcvSack(h, new Uint32Array(8), 4), 0);
    const user = new Uint8Array(4000);
    assert.equal(e.rcvRead(h, user), 0, "nothing of the old connection is readable");

    // The old out-of-order range's sequence numbers mean nothing now: data at 9000 comes in
    // order, and only the new bytes are read.
    e.mem.fill(0x66, RX_OFF, RX_OFF + 200);
    assert.equal(e.rcvInsert(h, 9000, RX_OFF, 200), 200);
    assert.equal(e.rcvRead(h, user), 200);
    assert.ok(user.subarray(0, 200).every((b) => b === 0x66));
    assert.ok(user.subarray(200).every((b) => b === 0), "no byte past the new ones");
    assert.equal(e.rcvHeld(h), 0);
  });
}
