// Memory policy of the stream buffers: idle connections are cheap, storage is given back when a
// buffer drains, and running out of WASM memory is a clear Error that leaves the engine usable.
import assert from "node:assert/strict";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import { RX_OFF } from "../../src/wire/layout.ts";

const MiB = 1024 * 1024;

Deno.test("wasm: 10,000 idle connections (256 KiB buffers each way) fit in 4 MiB", () => {
  const e = createWasmEngine();
  const before = e.mem.length;
  for (let i = 0; i < 10000; i++) {
    e.rcvCreate(256 * 1024, i);
    e.sndCreate(256 * 1024, i);
  }
  // About 100 bytes of heap per connection; WASM memory grows in doublings.
  assert.ok(e.mem.length - before <= 4 * MiB, `grew by ${e.mem.length - before} bytes`);
});

Deno.test("wasm: drained buffers give their rings back", () => {
  const e = createWasmEngine();
  const n = 1000;
  for (let i = 0; i < n; i++) {
    e.rcvCreate(256 * 1024, 0);
    e.sndCreate(256 * 1024, 0);
  }
  const before = e.mem.length;
  const user = new Uint8Array(2000);
  for (let i = 0; i < n; i++) {
    assert.equal(e.rcvInsert(i, 0, RX_OFF, 1460), 1460);
    assert.equal(e.rcvRead(i, user), 1460);
    assert.equal(e.sndWrite(i, user), 2000);
    assert.equal(e.sndRelease(i, 2000), 2000);
  }
  // Without giving storage back this would be 1000 * 512 KiB = 500 MiB.
  assert.ok(e.mem.length - before <= 8 * MiB, `grew by ${e.mem.length - before} bytes`);
});

Deno.test("js: drained buffers keep working after their rings are pooled", () => {
  const e = createJsEngine();
  const user = new Uint8Array(2000);
  for (let i = 0; i < 100; i++) {
    const h = e.rcvCreate(64 * 1024, 7);
    const s = e.sndCreate(64 * 1024, 7);
    e.mem.fill(i, RX_OFF, RX_OFF + 10);
    assert.equal(e.rcvInsert(h, 7, RX_OFF, 10), 10);
    assert.equal(e.rcvRead(h, user), 10);
    assert.equal(user[9], i);
    assert.equal(e.sndWrite(s, user.subarray(0, 10)), 10);
    assert.equal(e.sndRelease(s, 17), 10);
    e.rcvDestroy(h);
    e.sndDestroy(s);
  }
});

Deno.test("wasm: running out of memory is a clear Error and the engine stays usable", () => {
  const e = createWasmEngine();
  const handles: number[] = [];
  let failure: Error | null = null;
  // 1 GiB rings (touched only near their end) until the 4 GiB of wasm32 memory run out.
  for (let i = 0; i < 5 && failure === null; i++) {
    const h = e.rcvCreate(2 ** 30, 0);
    handles.push(h);
    try {
      assert.equal(e.rcvInsert(h, 2 ** 30 - 10, RX_OFF, 10), 0);
    } catch (err) {
      failure = err as Error;
    }
  }
  assert.ok(failure !== null, "expected the WASM memory to run out");
  assert.match(
    failure.message,
    /^Cannot allocate WASM memory for the storage of a 1073741824-byte receive buffer/,
  );
  // The failed buffer is unchanged and every other buffer still works.
  const last = handles[handles.length - 1]!;
  assert.equal(e.rcvHeld(last), 0);
  assert.equal(e.rcvLastInsert(last), 0);
  assert.equal(e.rcvHeld(handles[0]!), 10);
  const h = e.rcvCreate(1000, 5);
  e.mem.fill(9, RX_OFF, RX_OFF + 100);
  assert.equal(e.rcvInsert(h, 5, RX_OFF, 100), 100);
  // Destroyed big rings are reused by the next big ring.
  e.rcvDestroy(handles[0]!);
  const again = e.rcvCreate(2 ** 30, 0);
  assert.equal(e.rcvInsert(again, 1, RX_OFF, 10), 0);
  assert.equal(e.rcvHeld(again), 10);
});

for (const [name, make] of [["js", createJsEngine], ["wasm", createWasmEngine]] as const) {
  Deno.test(`${name}: handle tables are bounded at 2^20 and reuse freed handles`, () => {
    const e = make();
    for (let i = 0; i < 2 ** 20; i++) e.sndCreate(100, 0);
    assert.throws(() => e.sndCreate(100, 0), /^Error: Cannot create more than 1048576 send rings/);
    e.sndDestroy(12345);
    assert.equal(e.sndCreate(100, 0), 12345);
  });
}
