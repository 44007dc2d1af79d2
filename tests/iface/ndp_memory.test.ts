// Two interfaces over the in-memory link pair (one engine each, virtual time): DAD on both,
// then one pings the other's link-local and global addresses through address resolution, and
// neighbor unreachability detection runs its course both ways: REACHABLE, STALE after
// ReachableTime, DELAY on use, a unicast probe after 5 s answered with a solicited
// advertisement (REACHABLE again); once the peer is gone, the probes fail and the entry is
// deleted, and a new resolution reports the address unreachable.

import assert from "node:assert/strict";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { RX_OFF, RX_SIZE } from "../../src/wire/layout.ts";
import { Interface } from "../../src/iface/interface.ts";
import { createMemoryLinkPair } from "../../src/link/memory.ts";
import type { Link } from "../../src/link/link.ts";
import { ND_STATE_NAMES } from "../../src/iface/neighbor6.ts";
import { formatIpv6 } from "../../src/wire/ipv6_address.ts";
import { makeEngine } from "../support/iface_harness.ts";
import { ip6 } from "../support/ndp_frames.ts";

class Node {
  readonly engine;
  readonly iface: Interface;
  readonly meta = new Int32Array(128);
  alive = true;
  constructor(kind: EngineKind, readonly link: Link, v4: number, v6: string, mac: number) {
    this.engine = makeEngine(kind);
    this.iface = new Interface(this.engine, link, {
      address: v4,
      prefixLength: 24,
      mtu: link.mtu,
      mac: Uint8Array.from([2, 0, 0, 0, 0, mac]),
      ipv6: [{ address: ip6(v6), prefixLength: 64 }],
    });
  }
  step(now: number): void {
    const n = this.link.receive(this.engine.mem.subarray(RX_OFF, RX_OFF + RX_SIZE), this.meta, 64);
    if (!this.alive) return;
    for (let i = 0; i < n; i++) {
      this.iface.receive(RX_OFF + this.meta[2 * i]!, this.meta[2 * i + 1]!, now);
    }
    this.iface.poll(now);
  }
}

for (const [ka, kb] of [["js", "wasm"], ["wasm", "js"]] as [EngineKind, EngineKind][]) {
  Deno.test(`ndp memory (${ka}<->${kb}): resolution, ping6 both addresses, NUD probe answered, then failure`, () => {
    const [la, lb] = createMemoryLinkPair({ mtu: 1500 });
    const a = new Node(ka, la, 0x0a090001, "fd00:99::1", 1);
    const b = new Node(kb, lb, 0x0a090002, "fd00:99::2", 2);
    let now = 0;
    const run = (ms: number, until: () => boolean = () => false) => {
      for (let t = 0; t < ms && !until(); t++) {
        now++;
        a.step(now);
        b.step(now);
      }
    };
    try {
      a.iface.start(now);
      b.iface.start(now);
      run(1100);
      const ha = a.iface.ip6Host;
      const hb = b.iface.ip6Host;
      assert.ok(!ha.dadPending && !hb.dadPending);
      const replies: string[] = [];
      ha.onEchoReply6 = (from, _id, seq) => replies.push(`${formatIpv6(from)} ${seq}`);
      const bll = b.iface.linkLocal;
      assert.ok(ha.ping6(bll, 1, 1, new Uint8Array(100), now));
      assert.ok(ha.ping6(ip6("fd00:99::2"), 1, 2, new Uint8Array(1452), now));
      run(50, () => replies.length === 2);
      assert.deepEqual(replies.sort(), ["fd00:99::2 2", `${formatIpv6(bll)} 1`]);
      const entry = () => ha.nd.cache.get(ip6("fd00:99::2"))!;
      assert.equal(ND_STATE_NAMES[entry().state], "REACHABLE");
      assert.deepEqual([entry().macHi, entry().macLo], [0x0200, 2]);
      // B learned A from A's solicitations (STALE, RFC 4861 7.2.3).
      assert.equal(ND_STATE_NAMES[hb.nd.cache.get(ip6("fd00:99::1"))!.state], "STALE");
      // NUD: STALE after ReachableTime (15..45 s), DELAY on use, PROBE 5 s later, answered.
      run(46000);
      assert.equal(ND_STATE_NAMES[entry().state], "STALE");
      ha.ping6(ip6("fd00:99::2"), 1, 3, new Uint8Array(8), now);
      assert.equal(ND_STATE_NAMES[entry().state], "DELAY");
      run(5001, () => ND_STATE_NAMES[entry().state] !== "DELAY");
      run(100, () => ND_STATE_NAMES[entry().state] === "REACHABLE");
      assert.equal(ND_STATE_NAMES[entry().state], "REACHABLE", "the unicast probe was answered");
      assert.ok(replies.includes("fd00:99::2 3"));
      // B goes away: after the next ReachableTime and a use, the probes fail and the entry goes.
      b.alive = false;
      run(46000);
      ha.ping6(ip6("fd00:99::2"), 1, 4, new Uint8Array(8), now);
      run(5000 + 3 * 1000 + 10);
      assert.equal(ha.nd.cache.get(ip6("fd00:99::2")), undefined);
      assert.equal(ha.nd.cache.probeFailures, 1);
      const gone: string[] = [];
      ha.onUnreachable6 = (x) => gone.push(formatIpv6(x));
      ha.ping6(ip6("fd00:99::2"), 1, 5, new Uint8Array(8), now);
      run(3100);
      assert.deepEqual(gone, ["fd00:99::2"]);
      assert.equal(a.iface.stats()["ndp-failed"], 1);
    } finally {
      la.close();
      lb.close();
    }
  }); // deno-fmt-ignore-line
}
