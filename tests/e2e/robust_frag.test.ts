/**
 * IPv4 fragment floods and overlaps against the interface's reassembly (RFC 791 3.2, RFC 815),
 * over both engines. Policy under test (src/iface/fragments.ts, docs/limits.md): a bounded
 * number of datagrams, of bytes and of fragments per datagram; overlapping fragments kill the
 * whole datagram, as RFC 5722 teaches for IPv6 (no "first wins" or "last wins" ambiguity an
 * attacker could use to slip data past a filter); abandoned datagrams time out after
 * fragTimeoutMs and give their memory back; time-exceeded errors are rate limited.
 */

import assert from "node:assert/strict";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { FrameMaker, UDP_PORT, VICTIM_IP, VICTIM_MAC } from "../support/fuzz_corpus.ts";
import { Node } from "../support/fuzz_world.ts";
import { D_IP_FRAG, D_IP_ID, D_IP_PROTO, K_IPV4_FRAGMENT } from "../../src/wire/layout.ts";

const LIMITS = {
  fragMemory: 65536,
  fragDatagrams: 16,
  fragPerDatagram: 32,
  fragTimeoutMs: 5000,
  icmpErrorBurst: 10,
};

function victim(kind: EngineKind): Node {
  return new Node(kind, VICTIM_IP, VICTIM_MAC, 1, null, LIMITS, {});
}

/** A fragment of protocol UDP with id `id`, byte offset `off` (multiple of 8), MF `more`. */
function frag(m: FrameMaker, id: number, off: number, data: Uint8Array, more: boolean): Uint8Array {
  return m.build(K_IPV4_FRAGMENT, data, (d) => {
    d[D_IP_PROTO] = 17;
    d[D_IP_ID] = id;
    d[D_IP_FRAG] = (more ? 0x2000 : 0) | (off >>> 3);
  });
}

for (const kind of ["js", "wasm"] as const) {
  Deno.test(`robust frag (${kind}): a first-fragment flood stays within every bound`, () => {
    const n = victim(kind);
    const m = new FrameMaker();
    const piece = new Uint8Array(1480);
    for (let id = 0; id < 20000; id++) n.receive(frag(m, id, 0, piece, true), id % 1000);
    const s = n.stats();
    assert.ok(s["frag-memory"]! <= LIMITS.fragMemory);
    assert.ok(s["frag-datagrams"]! <= LIMITS.fragDatagrams);
    assert.ok((s["frag-too-many-datagrams"] ?? 0) + (s["frag-memory-full"] ?? 0) > 19000);
    // Abandoned datagrams time out, give their memory back and leave no timer behind.
    n.poll(1000 + LIMITS.fragTimeoutMs);
    n.out.length = 0;
    const t = n.stats();
    assert.equal(t["frag-memory"], 0);
    assert.equal(t["frag-datagrams"], 0);
    assert.ok(t["frag-timeout"]! > 0);
    assert.ok(t["icmp-errors-out"]! <= LIMITS.icmpErrorBurst, "time-exceeded is rate limited");
    // The time-exceeded errors wait for ARP toward the peer, which never answers here.
    for (let now = 7000; now < 20000; now += 500) n.poll(now);
    assert.equal(n.iface.pollAt(), Infinity, "no timer left behind");
  });

  Deno.test(`robust frag (${kind}): a tiny-fragment flood hits the per-datagram bound`, () => {
    const n = victim(kind);
    const m = new FrameMaker();
    const eight = new Uint8Array(8);
    // Every other 8-byte piece of one datagram: no overlap, never complete.
    for (let i = 0; i < 500; i++) n.receive(frag(m, 7, i * 16, eight, true), 0);
    const s = n.stats();
    assert.equal(s["frag-too-many-fragments"], 500 - LIMITS.fragPerDatagram);
    assert.equal(s["frag-datagrams"], 1);
  });

  Deno.test(`robust frag (${kind}): overlapping fragments drop the whole datagram (RFC 5722)`, () => {
    const n = victim(kind);
    const m = new FrameMaker();
    n.iface.udpBind(UDP_PORT);
    const sock = n.iface.udpBind(UDP_PORT + 1);
    const msg = m.udp(1000, UDP_PORT + 1, new Uint8Array(2000).fill(0x41)).slice(34);
    const evil = msg.slice(1000, 1480).fill(0x42);
    n.receive(frag(m, 1, 0, msg.subarray(0, 1480), true), 0);
    n.receive(frag(m, 1, 1000, evil, true), 0); // overlaps [1000, 1480)
    n.receive(frag(m, 1, 1480, msg.subarray(1480), false), 0);
    assert.equal(sock.receive(), null, "nothing of the overlapped datagram is delivered");
    const s = n.stats();
    assert.equal(s["frag-overlap"], 1);
    assert.equal(s["frag-dead"], 1, "later fragments of the dead datagram are dropped");
    assert.equal(s["frag-memory"], 0, "its memory is freed at once");
    // The same datagram under a fresh id still gets through, byte-exact.
    for (const f of m.fragments(17, msg, 1480, 2)) n.receive(f, 1);
    const got = sock.receive();
    assert.ok(got !== null);
    assert.deepEqual(got.data, msg.slice(8));
  });

  Deno.test(`robust frag (${kind}): a datagram past 65535 bytes is refused`, () => {
    const n = victim(kind);
    const m = new FrameMaker();
    n.receive(frag(m, 3, 65528, new Uint8Array(16), false), 0);
    assert.equal(n.stats()["frag-too-long"], 1);
    assert.equal(n.stats()["frag-memory"], 0);
  });
}
