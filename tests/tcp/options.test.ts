import assert from "node:assert/strict";
import { F_SYN } from "../../src/wire/layout.ts";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

Deno.test("window scale, timestamps and SACK negotiated on the SYN; SYN windows unscaled", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [c, s] = openPair(p);
  const [syn, synAck] = p.captured;
  assert.ok(syn!.flags & F_SYN && synAck!.flags & F_SYN);
  assert.equal(syn!.ws, 7); // chosen for rcvBufMax: 6 MiB >> 7 fits 16 bits (Linux: 7 too)
  assert.ok(syn!.sackOk && syn!.hasTs && synAck!.sackOk && synAck!.hasTs);
  assert.equal(syn!.wnd, 65535);
  assert.equal(synAck!.ws, 7);
  const i = c.info();
  assert.deepEqual([i.sndWscale, i.rcvWscale, i.timestamps, i.sack], [7, 7, true, true]);
  c.write(new Uint8Array(100));
  p.advance(100);
  const last = p.captured.filter((r) => r.from === "b").pop()!;
  assert.ok(last.hasTs);
  // Free space in whole 1448-byte segments (receiver SWS avoidance, as Linux), scaled.
  assert.equal(last.wnd, (Math.floor((262144 - 100) / 1448) * 1448) >> 7);
  void s;
});

Deno.test("clean fallback when the peer offers no options", () => {
  const p = new TcpPair({
    capture: true,
    tcpB: { windowScale: false, timestamps: false, sack: false },
    faults: { delayMs: 5 },
  });
  const [c, s] = openPair(p);
  const synAck = p.captured[1]!;
  assert.equal(synAck.ws, -1);
  assert.ok(!synAck.hasTs && !synAck.sackOk);
  const i = c.info();
  assert.deepEqual([i.sndWscale, i.rcvWscale, i.timestamps, i.sack], [0, 0, false, false]);
  assert.equal(i.mss, 1460);
  c.write(new Uint8Array(100000));
  const buf = new Uint8Array(1 << 17);
  p.advance(500, () => s.read(buf));
  const fromA = p.captured.filter((r) => r.from === "a" && !(r.flags & F_SYN));
  assert.ok(fromA.every((r) => !r.hasTs && r.ws === -1));
  assert.ok(fromA.every((r) => r.wnd <= 65535));
  assert.equal(s.info().bytesIn, 100000);
});

Deno.test("SACK blocks (at most 3 with timestamps) on ACKs while data is held out of order", () => {
  const p = new TcpPair({ capture: true, seed: 4, faults: { delayMs: 5, loss: 0.05 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(200000));
  const buf = new Uint8Array(1 << 18);
  p.run(() => s.info().bytesIn === 200000, 60000, () => s.read(buf));
  const sacks = p.captured.filter((r) => r.from === "b" && r.sackCount > 0);
  assert.ok(sacks.length > 0);
  assert.ok(sacks.every((r) => r.sackCount <= 3));
  for (const r of sacks) {
    for (let i = 0; i < r.sackCount; i++) {
      const dsack = i === 0 && ((r.sack[1]! - r.ack) | 0) <= 0; // RFC 2883: a duplicate, first
      assert.ok(dsack || ((r.sack[2 * i]! - r.ack) | 0) > 0, "blocks lie above the cumulative ACK");
    }
  }
});

Deno.test("RTT measured from timestamps", () => {
  const p = new TcpPair({ faults: { delayMs: 20 } });
  const [c, s] = openPair(p);
  c.write(new Uint8Array(50000));
  const buf = new Uint8Array(1 << 16);
  p.advance(1000, () => s.read(buf));
  const i = c.info();
  assert.ok(i.srttMs >= 40 && i.srttMs <= 90, `srtt ${i.srttMs}`);
});
