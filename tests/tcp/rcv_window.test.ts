/**
 * The receive window (src/tcp/rcv_window.ts): free space advertised, receiver silly-window
 * avoidance (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3) and the window update after a read.
 */

import assert from "node:assert/strict";
import { F_SYN } from "../../src/wire/layout.ts";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

Deno.test("receiver advertises free space; window update when the reader frees room", () => {
  const p = new TcpPair({
    capture: true,
    tcpB: { rcvBuf: 8192, windowScale: false },
    faults: { delayMs: 5 },
  });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(8192));
  p.advance(200);
  const last = p.captured.filter((r) => r.from === "b").pop()!;
  assert.equal(last.wnd, 0);
  p.captured.length = 0;
  s.read(new Uint8Array(8192));
  p.poll();
  const upd = p.captured.filter((r) => r.from === "b");
  assert.equal(upd.length, 1);
  assert.equal(upd[0]!.wnd, 5 * 1448); // whole segments (receiver SWS avoidance, as Linux)
});

/** Stream `total` bytes b -> a to a reader taking `chunk` bytes every `everyMs`. */
function slowRead(p: TcpPair, total: number, chunk: number, everyMs: number): number {
  const [c, s] = openPair(p);
  const data = new Uint8Array(total).map((_, i) => i * 7);
  const buf = new Uint8Array(chunk);
  let w = 0, r = 0;
  for (let i = 0; i < 100_000 && r < total; i++) {
    if (w < total) w += s.write(data.subarray(w, Math.min(total, w + 30_000)));
    r += c.read(buf);
    p.advance(everyMs);
  }
  assert.equal(r, total, `the reader got ${r} of ${total} bytes (seed ${p.seed})`);
  return c.info().rcvWscale;
}

Deno.test("receiver SWS avoidance: no window smaller than a segment is offered (RFC 1122 4.2.3.3)", () => {
  const cases = [
    { rcvBuf: 16384, timestamps: true, chunk: 100, every: 5 },
    { rcvBuf: 16384, timestamps: true, chunk: 1000, every: 5 },
    { rcvBuf: 16384, timestamps: false, chunk: 700, every: 3 },
    { rcvBuf: 16384, timestamps: true, chunk: 3000, every: 2 },
    { rcvBuf: 262144, timestamps: true, chunk: 7000, every: 2 },
    { rcvBuf: 262144, timestamps: true, chunk: 100, every: 1 },
  ];
  for (const k of cases) {
    const p = new TcpPair({
      capture: true,
      faults: { delayMs: 2 },
      tcpA: { rcvBuf: k.rcvBuf, timestamps: k.timestamps },
    });
    const seg = k.timestamps ? 1448 : 1460;
    const scale = slowRead(p, seg * 60, k.chunk, k.every); // whole segments: no short tail
    const windows = p.captured.filter((r) => r.from === "a" && !(r.flags & F_SYN))
      .map((r) => r.wnd << scale);
    const small = windows.filter((w) => w > 0 && w < seg);
    assert.deepEqual(small, [], `sub-segment windows offered: ${JSON.stringify(k)}`);
    if (k.rcvBuf === 16384 && k.chunk === 100) {
      assert.ok(windows.includes(0), "the slow reader closes the window");
    }
  }
});

Deno.test("receiver SWS avoidance: reading frees room and sends a window update", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 }, tcpA: { rcvBuf: 16384 } });
  const [c, s] = openPair(p);
  s.write(new Uint8Array(40_000));
  p.advance(50);
  assert.equal(c.info().rcvWnd, 0);
  // 16384 = 11 segments + 456 bytes: 456 bytes are free already.
  p.captured.length = 0;
  c.read(new Uint8Array(500)); // 956 free: less than a segment, no update
  p.advance(1);
  assert.equal(p.captured.filter((r) => r.from === "a").length, 0);
  c.read(new Uint8Array(1000)); // 1956 free: the edge moves by one whole segment
  p.advance(1);
  const upd = p.captured.find((r) => r.from === "a");
  assert.equal(upd?.wnd, 1448);
});
