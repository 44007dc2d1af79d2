// Buffer auto-tuning (src/tcp/buf_tune.ts): the receive buffer grows with what the reader
// drains per RTT, the send ring with cwnd, each up to its maximum and within the layer's budget.
import assert from "node:assert/strict";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair, Stream } from "../support/tcp_transfer.ts";
import { resolveOptions, TCP_DEFAULTS } from "../../src/tcp/types.ts";
import { F_SYN } from "../../src/wire/layout.ts";

const MIB = 1 << 20;

/** A 5 ms RTT pair moving `bytes` a -> b with a prompt reader; returns the pair and ends. */
function transfer(bytes: number, tcpA = {}, tcpB = {}, engine: "js" | "wasm" = "wasm") {
  const p = new TcpPair({ faults: { delayMs: 2.5 }, tcpA, tcpB, engine, capture: true });
  const [c, s] = openPair(p);
  const st = new Stream(c, s, bytes, 7, 65536);
  const ok = p.run(() => st.done, 120000, () => st.pump());
  assert.ok(ok && st.done, `transfer incomplete: ${st.received} of ${bytes}`);
  assert.equal(st.bad, -1, "corrupted byte");
  return { p, c, s };
}

for (const engine of ["js", "wasm"] as const) {
  Deno.test(`${engine}: the receive window and send ring grow to their maximum, data intact`, () => {
    const { p, c, s } = transfer(48 * MIB, { sndBufMax: 2 * MIB }, { rcvBufMax: 3 * MIB }, engine);
    // Grown from 256 KiB up to (and never past) the maxima.
    assert.equal(s.rcv.buf, 3 * MIB);
    assert.equal(c.snd.buf, 2 * MIB);
    // The peer saw a window beyond the initial 256 KiB: scale 6 was chosen for 3 MiB on the SYN.
    assert.equal(s.info().rcvWscale, 6);
    const fromB = p.captured.filter((r) => r.from === "b" && !(r.flags & F_SYN));
    const maxWnd = Math.max(...fromB.map((r) => r.wnd)) << 6;
    assert.ok(maxWnd > 2 * MIB && maxWnd <= 3 * MIB, `largest window ${maxWnd}`);
    assert.equal(p.b.stats()["tcp-buffer-growth-bytes"], 3 * MIB - 262144);
  });
}

Deno.test("a slow reader does not grow the receive buffer", () => {
  const p = new TcpPair({ faults: { delayMs: 2.5 } });
  const [c, s] = openPair(p);
  const st = new Stream(c, s, 8 * MIB, 3);
  const buf = new Uint8Array(4096);
  // The reader takes 4 KiB per ms (about 32 Mbit/s): far less than the window per RTT.
  let t = 0;
  p.run(() => st.written === 8 * MIB && t > 2000, 10000, () => {
    while (c.writable > 0 && st.written < 8 * MIB) {
      st.written += c.write(new Uint8Array(Math.min(65536, 8 * MIB - st.written)));
    }
    const ms = Math.floor(p.now);
    if (ms > t) {
      t = ms;
      s.read(buf);
    }
  });
  assert.equal(s.rcv.buf, 262144);
});

Deno.test("autotune: false, or an explicit rcvBuf / sndBuf, pins the buffers", () => {
  const a = resolveOptions(TCP_DEFAULTS, { autotune: false });
  assert.deepEqual([a.rcvBufMax, a.sndBufMax], [262144, 262144]);
  const b = resolveOptions(TCP_DEFAULTS, { rcvBuf: 65536 });
  assert.deepEqual([b.rcvBuf, b.rcvBufMax, b.sndBufMax], [65536, 65536, 4 * MIB]);
  const c = resolveOptions(TCP_DEFAULTS, { rcvBuf: 65536, rcvBufMax: MIB });
  assert.deepEqual([c.rcvBuf, c.rcvBufMax], [65536, MIB]);
  // A maximum below the default initial size lowers the initial size.
  const d = resolveOptions(TCP_DEFAULTS, { sndBufMax: 100000 });
  assert.deepEqual([d.sndBuf, d.sndBufMax], [100000, 100000]);
  assert.throws(() => resolveOptions(TCP_DEFAULTS, { rcvBuf: MIB, rcvBufMax: 65536 }), RangeError);
  assert.throws(() => resolveOptions(TCP_DEFAULTS, { rcvBufMax: 0 }), RangeError);
  assert.throws(() => resolveOptions(TCP_DEFAULTS, { bufferBudget: -1 }), RangeError);
  const { c: cc, s } = transfer(8 * MIB, { autotune: false }, { autotune: false });
  assert.equal(s.rcv.buf, 262144);
  assert.equal(cc.snd.buf, 262144);
  assert.equal(s.info().rcvWscale, 3); // chosen for the pinned 256 KiB
});

Deno.test("the layer's budget caps growth across connections and returns on close", () => {
  const budget = 1 * MIB;
  const p = new TcpPair({
    faults: { delayMs: 2.5 },
    tcpB: { bufferBudget: budget, rcvBufMax: 4 * MIB },
  });
  const pairs = [openPair(p, 80), openPair(p, 81), openPair(p, 82)];
  const streams = pairs.map(([c, s], i) => new Stream(c, s, 16 * MIB, i));
  const ok = p.run(() => streams.every((st) => st.done), 300000, () => {
    for (const st of streams) st.pump();
  });
  assert.ok(ok, "transfers incomplete");
  for (const st of streams) assert.equal(st.bad, -1);
  const grown = pairs.map(([, s]) => s.rcv.buf - 262144);
  const stats = p.b.stats();
  // Exactly at the edge: every byte of the budget used, none beyond it, the rest refused.
  assert.equal(grown.reduce((x, y) => x + y, 0), budget, `growth ${grown}`);
  assert.equal(stats["tcp-buffer-growth-bytes"], budget);
  assert.ok(stats["tcp-buffer-growth-refused"]! > 0);
  for (const [c, s] of pairs) {
    c.close();
    s.close();
  }
  p.advance(1000);
  assert.equal(p.b.stats()["tcp-buffer-growth-bytes"], 0);
});
