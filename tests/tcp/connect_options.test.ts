// Per-connect options: resolved once while the caller passes the same options (connect() is on
// the connection-rate path), yet a changed or different options object is always honoured.
import assert from "node:assert/strict";
import type { TcpOptions } from "../../src/tcp/types.ts";
import { IP_B, TcpPair } from "../support/tcp_pair.ts";

Deno.test("connect options: reused while unchanged, honoured when changed in place", () => {
  const p = new TcpPair();
  p.b.listen(0, 80);
  const over: Partial<TcpOptions> = { congestion: "newreno" };
  const c1 = p.a.connect(IP_B, 80, p.now, { options: over });
  const c2 = p.a.connect(IP_B, 80, p.now, { options: over });
  over.congestion = "cubic"; // the same object, changed by the caller
  const c3 = p.a.connect(IP_B, 80, p.now, { options: over });
  over.rcvBuf = 1 << 16;
  const c4 = p.a.connect(IP_B, 80, p.now, { options: over });
  const c5 = p.a.connect(IP_B, 80, p.now, { options: {} }); // empty: the layer's options
  const c6 = p.a.connect(IP_B, 80, p.now, { options: { congestion: "newreno" } });
  const all = [c1, c2, c3, c4, c5, c6];
  p.run(() => all.every((c) => c.state === "ESTABLISHED"));
  assert.deepEqual(all.map((c) => c.info().congestion), [
    "newreno",
    "newreno",
    "cubic",
    "cubic",
    "cubic",
    "newreno",
  ]);
  assert.equal(c1.opt, c2.opt, "unchanged options resolved once");
  assert.equal(c4.opt.rcvBuf, 1 << 16);
  assert.equal(c4.opt.rcvBufMax, 1 << 16, "an explicit size without a maximum pins it");
  assert.notEqual(c3.opt.rcvBuf, 1 << 16);
});

Deno.test("connect options: invalid ones still throw on every connect", () => {
  const p = new TcpPair();
  const bad: Partial<TcpOptions> = { mss: 0 };
  for (let i = 0; i < 2; i++) {
    assert.throws(() => p.a.connect(IP_B, 80, p.now, { options: bad }), RangeError);
  }
});
