/**
 * Short run of the whole-stack fuzz harness (tests/support/fuzz_run.ts): mutated real frames
 * and random bytes injected into a victim stack over each engine in lockstep, between the
 * frames of live echo transfers. No exception escapes, every frame is counted, the engines
 * agree on every verdict and answer, the protected transfers complete byte-exact, memory
 * stays within the limits. The long run is `deno task fuzz`. TCPIP_SEED overrides the seed.
 */

import assert from "node:assert/strict";
import { runFuzz } from "../support/fuzz_run.ts";
import { loadTcpFactory } from "../support/fuzz_tcp_types.ts";
import { hex, layoutOf, mutate, repairChecksums } from "../support/fuzz_frames.ts";
import { Rng } from "../support/rng.ts";
import { seedCorpus } from "../support/fuzz_corpus.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { RX_OFF } from "../../src/wire/layout.ts";

const SEED = Number(Deno.env.get("TCPIP_SEED") ?? 8008);

Deno.test("robust fuzz: checksum repair makes every seed frame decode cleanly", () => {
  const e = createJsEngine();
  for (const f of seedCorpus()) {
    const g = f.slice();
    const l = layoutOf(g);
    if (l.ethertype === 0x0800 && g.length > l.l3 + 11) g[l.l3 + 10] = g[l.l3 + 10]! ^ 0xff;
    repairChecksums(g);
    e.mem.set(g, RX_OFF);
    assert.equal(e.decode(RX_OFF, g.length), 0, hex(g));
  }
});

Deno.test("robust fuzz: mutations are reproducible from the seed", () => {
  const a = new Rng(5), b = new Rng(5);
  const src = seedCorpus()[10]!;
  for (let i = 0; i < 200; i++) {
    assert.deepEqual(mutate(a, src), mutate(b, src));
  }
});

Deno.test("robust fuzz: interface level, both engines, 4000 frames", () => {
  const r = runFuzz({ seed: SEED, frames: 4000, tcp: null });
  assert.equal(r.frames, 4000);
  // The mutations reach deep: TCP, UDP, ICMP, ARP and reassembly all saw frames.
  for (const k of ["tcp-in", "udp-in", "icmp-in", "arp-in", "ip-fragments-in"]) {
    assert.ok((r.histogram[k] ?? 0) > 0, `no frame reached ${k}`);
  }
});

Deno.test("robust fuzz: whole stack with live transfers, both engines, 8000 frames", async (t) => {
  const tcp = await loadTcpFactory();
  if (tcp === null) {
    console.warn("skipped: src/tcp/tcp_layer.ts (TcpLayer) is not there yet");
    return;
  }
  await t.step("fuzz", () => {
    // tolerateStorms: the TCP layer's known ACK war (tests/e2e/robust_ack_storm.test.ts) is cut and
    // counted instead of failing the run; set it to false once that bug is fixed.
    const r = runFuzz({ seed: SEED, frames: 8000, tcp, bytes: 8000, tolerateStorms: true });
    if (r.storms > 0) console.warn(`${r.storms} frame loops cut (known ACK-war bug)`);
    assert.ok(r.sessions > 0, "no session of live transfers completed");
    assert.ok((r.histogram["tcp-in"] ?? 0) > 0);
  });
});
