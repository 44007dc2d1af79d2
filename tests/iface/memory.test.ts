/**
 * Two interfaces over the in-memory link pair with the fault injector (duplicates, reordering,
 * jitter; seeded) and a virtual clock: ARP resolution both ways, pings of every size up to
 * 20000 bytes (fragmented both ways), UDP echo of fragmented datagrams, and loss of every
 * frame ending in ARP failure.
 */

import assert from "node:assert/strict";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { RX_OFF, RX_SIZE } from "../../src/wire/layout.ts";
import { Interface } from "../../src/iface/interface.ts";
import { parseIpv4 } from "../../src/iface/routing.ts";
import { createMemoryLinkPair } from "../../src/link/memory.ts";
import { type FaultOptions, withFaults } from "../../src/link/fault.ts";
import type { Link } from "../../src/link/link.ts";
import { makeEngine } from "../support/iface_harness.ts";
import { rng } from "../support/rng.ts";

const SEED = Number(Deno.env.get("TCPIP_SEED") ?? 77);
const A = parseIpv4("10.9.0.1");
const B = parseIpv4("10.9.0.2");

class Node {
  readonly engine;
  readonly iface: Interface;
  readonly meta = new Int32Array(128);
  constructor(kind: EngineKind, readonly link: Link, address: number, seed: number) {
    this.engine = makeEngine(kind);
    this.iface = new Interface(this.engine, link, {
      address,
      prefixLength: 24,
      mtu: link.mtu,
      random: rng(seed),
    });
  }
  step(now: number): number {
    const n = this.link.receive(this.engine.mem.subarray(RX_OFF, RX_OFF + RX_SIZE), this.meta, 64);
    for (let i = 0; i < n; i++) {
      this.iface.receive(RX_OFF + this.meta[2 * i]!, this.meta[2 * i + 1]!, now);
    }
    this.iface.poll(now);
    return n;
  }
}

function pair(kindA: EngineKind, kindB: EngineKind, faults: Omit<FaultOptions, "seed" | "clock">) {
  const clock = { now: 0 };
  const [la, lb] = createMemoryLinkPair({ mtu: 1500 });
  const fa = withFaults(la, { seed: SEED, clock: () => clock.now, ...faults });
  const fb = withFaults(lb, { seed: SEED + 1, clock: () => clock.now, ...faults });
  const a = new Node(kindA, fa, A, 1);
  const b = new Node(kindB, fb, B, 2);
  const run = (ms: number, until: () => boolean = () => false) => {
    for (let t = 0; t < ms && !until(); t++) {
      clock.now++;
      a.step(clock.now);
      b.step(clock.now);
    }
  };
  return { a, b, clock, run, close: () => (fa.close(), fb.close()) };
}

for (const [ka, kb] of [["js", "wasm"], ["wasm", "js"]] as [EngineKind, EngineKind][]) {
  Deno.test(`iface memory (${ka}<->${kb}): pings and UDP echo through duplicates, reordering and jitter (seed ${SEED})`, () => {
    const { a, b, run, close } = pair(ka, kb, {
      duplicate: 0.1,
      reorder: 0.2,
      jitterMs: 3,
      delayMs: 1,
    });
    try {
      a.iface.start(0);
      b.iface.start(0);
      const replies = new Map<number, Uint8Array>();
      a.iface.onEchoReply = (from, ident, seq, data) => {
        assert.equal(from, B);
        assert.equal(ident, 0x4242);
        replies.set(seq, data);
      };
      const sizes = [0, 56, 1472, 1473, 3000, 8000, 20000];
      for (const [seq, n] of sizes.entries()) {
        a.iface.ping(B, 0x4242, seq, new Uint8Array(n).map((_, i) => (i * 13 + seq) & 0xff));
        run(200, () => replies.has(seq));
        const got = replies.get(seq);
        assert.ok(got, `no echo reply for ${n} bytes`);
        assert.equal(got.length, n);
        assert.ok(got.every((v, i) => v === ((i * 13 + seq) & 0xff)));
      }
      const echo = b.iface.udpBind(7);
      echo.onReadable = () => {
        for (let d = echo.receive(); d; d = echo.receive()) {
          echo.send(d.data, d.remoteIp, d.remotePort);
        }
      };
      const client = a.iface.udpBind(0);
      for (const n of [1, 1472, 1473, 5000, 65507]) {
        const msg = new Uint8Array(n).map((_, i) => (i * 7) & 0xff);
        client.send(msg, B, 7);
        let back: Uint8Array | null = null;
        run(300, () => {
          // The link duplicates frames: a late copy of the previous echo may come first.
          for (let d = client.receive(); d && back === null; d = client.receive()) {
            if (d.data.length === n) back = d.data;
          }
          return back !== null;
        });
        assert.ok(back, `no UDP echo of ${n} bytes`);
        assert.deepEqual(back, msg);
      }
      // Duplicated fragments of completed datagrams start partial ones that time out.
      run(30001);
      const sa = a.iface.stats(), sb = b.iface.stats();
      assert.equal(sa["frag-memory"], 0);
      assert.equal(sb["frag-memory"], 0);
      assert.ok(
        (sb["frag-duplicate"] ?? 0) + (sa["frag-duplicate"] ?? 0) > 0,
        "duplicates were exercised",
      );
    } finally {
      close();
    }
  });
}

Deno.test("iface memory: a peer that never answers ARP fails after the retries", () => {
  const { a, run, close } = pair("js", "js", { drop: 1 });
  try {
    const calls: number[] = [];
    a.iface.attachTcp({
      input() {},
      icmpError() {},
      unreachable: (ip) => calls.push(ip),
      poll() {},
      pollAt: () => Infinity,
    });
    a.iface.udpBind(0).send(new Uint8Array(10), B, 9);
    run(5000);
    assert.deepEqual(calls, [B]);
    assert.equal(a.iface.stats()["arp-failed"], 1);
    assert.equal(a.iface.stats()["arp-out"], 3);
  } finally {
    close();
  }
});
