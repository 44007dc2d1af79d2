/**
 * The interface layer's per-frame cost, JS engine (baseline) against WASM engine: receive of
 * a TCP segment up to the TCP handler, an ICMP echo request answered, a UDP datagram queued
 * to a socket, and sendTcp of a full segment from a send ring. Groups `<operation> <bytes>`,
 * benches `js` and `wasm`.
 *
 *   deno bench -A bench/iface_bench.ts
 *
 * @module
 */

import type { EngineKind } from "../src/kernels/engine.ts";
import { F_ACK, F_PSH, K_TCP, RX_OFF } from "../src/wire/layout.ts";
import { Harness, OUR_IP, PEER_IP } from "../tests/support/iface_harness.ts";
import { segment } from "../tests/support/segment.ts";

const KINDS: EngineKind[] = ["js", "wasm"];

function setup(kind: EngineKind): Harness {
  const h = new Harness(kind);
  h.learnPeer();
  h.iface.attachTcp({
    input() {},
    icmpError() {},
    unreachable() {},
    poll() {},
    pollAt: () => Infinity,
  });
  return h;
}

function peerTcp(h: Harness, n: number): Uint8Array {
  const s = segment({
    srcIp: PEER_IP,
    dstIp: OUR_IP,
    srcPort: 40000,
    dstPort: 80,
    seq: 101,
    ack: 2001,
    flags: F_PSH | F_ACK,
    wnd: 65535,
    ts: { val: 0 },
  });
  return h.build(K_TCP, new Uint8Array(n).fill(7), (d) => s.toDesc(d));
}

for (const size of [128, 1500]) {
  for (const kind of KINDS) {
    const h = setup(kind);
    const f = peerTcp(h, size - 14 - 20 - 32);
    h.engine.mem.set(f, RX_OFF);
    Deno.bench({
      name: kind,
      group: `iface-rx-tcp ${size}`,
      baseline: kind === "js",
      fn: () => h.iface.receive(RX_OFF, f.length, 0),
    });
  }
  for (const kind of KINDS) {
    const h = setup(kind);
    const f = h.icmp(8, 0, 1, new Uint8Array(size - 14 - 28));
    h.engine.mem.set(f, RX_OFF);
    Deno.bench({
      name: kind,
      group: `iface-echo ${size}`,
      baseline: kind === "js",
      fn: () => {
        h.engine.mem.set(f, RX_OFF); // the reply may be built over nothing here; keep it honest
        h.iface.receive(RX_OFF, f.length, 0);
        h.sent.length = 0;
      },
    });
  }
  for (const kind of KINDS) {
    const h = setup(kind);
    const sock = h.iface.udpBind(7000);
    const f = h.udp(1, 7000, new Uint8Array(size - 14 - 28));
    h.engine.mem.set(f, RX_OFF);
    Deno.bench({
      name: kind,
      group: `iface-rx-udp ${size}`,
      baseline: kind === "js",
      fn: () => {
        h.iface.receive(RX_OFF, f.length, 0);
        sock.receive();
      },
    });
  }
  for (const kind of KINDS) {
    const h = setup(kind);
    // Counting sink: no copy of the frame, like a link that writes straight from packet memory.
    (h.sent as unknown as { push: () => number }).push = () => 0;
    const ring = h.engine.sndCreate(1 << 16, 2001);
    const n = size - 14 - 20 - 32;
    h.engine.sndWrite(ring, new Uint8Array(n));
    const s = segment({
      srcIp: OUR_IP,
      dstIp: PEER_IP,
      srcPort: 80,
      dstPort: 40000,
      seq: 2001,
      ack: 201,
      flags: F_PSH | F_ACK,
      ts: { val: 0 },
      payloadLen: n,
    });
    Deno.bench({
      name: kind,
      group: `iface-tx-tcp ${size}`,
      baseline: kind === "js",
      fn: () => void h.iface.sendTcp(s, ring, 0),
    });
  }
}
