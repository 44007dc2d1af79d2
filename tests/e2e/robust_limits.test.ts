/**
 * Limits of docs/limits.md tested at their edge, over both engines: the UDP receive queue, the
 * ICMP error burst, the half-open and accept queues of a listener, the send ring against a
 * slow reader, and SYN retries against a silent host. Each test fills the limit exactly, then
 * shows the next item is refused and counted.
 */

import assert from "node:assert/strict";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { FrameMaker, PEER_IP, UDP_PORT, VICTIM_IP, VICTIM_MAC } from "../support/fuzz_corpus.ts";
import { RawPeer } from "../support/fuzz_raw_peer.ts";
import { loadTcpFactory } from "../support/fuzz_tcp_types.ts";
import { Node } from "../support/fuzz_world.ts";

const factory = await loadTcpFactory();
const noTcp = factory === null;

function node(kind: EngineKind, limits = {}, tcp: Record<string, unknown> = {}): Node {
  return new Node(kind, VICTIM_IP, VICTIM_MAC, 3, factory, limits, tcp);
}

for (const kind of ["js", "wasm"] as const) {
  Deno.test(`robust limits (${kind}): UDP receive queue holds exactly udpQueueDatagrams`, () => {
    const n = node(kind, { udpQueueDatagrams: 8 });
    const sock = n.iface.udpBind(UDP_PORT);
    const m = new FrameMaker();
    for (let i = 0; i < 9; i++) n.receive(m.udp(1000, UDP_PORT, new Uint8Array([i])), 0);
    assert.equal(sock.queued, 8);
    assert.equal(n.stats()["udp-queue-full"], 1);
    for (let i = 0; i < 8; i++) assert.equal(sock.receive()?.data[0], i);
  });

  Deno.test(`robust limits (${kind}): ICMP errors stop at the burst, refill with time`, () => {
    const n = node(kind, { icmpErrorBurst: 5, icmpErrorsPerSecond: 10 });
    const m = new FrameMaker();
    n.receive(m.arp(1, PEER_IP, VICTIM_IP), 0); // learn the peer: errors go out at once
    n.out.length = 0;
    for (let i = 0; i < 20; i++) n.receive(m.udp(1000, 9, new Uint8Array(4)), 0);
    assert.equal(n.out.length, 5, "port unreachable errors beyond the burst");
    n.out.length = 0;
    for (let i = 0; i < 20; i++) n.receive(m.udp(1000, 9, new Uint8Array(4)), 1000);
    assert.ok(n.out.length >= 1 && n.out.length <= 10, `${n.out.length} errors after 1 s`);
  });

  Deno.test({
    name: `robust limits (${kind}): synBacklog half-open connections, then refused`,
    ignore: noTcp,
    fn() {
      const n = node(kind, {}, { synBacklog: 4, syncookies: false });
      n.tcp!.listen(0, 80, 16);
      const p = new RawPeer(n);
      for (let i = 0; i < 5; i++) p.send({ srcPort: 2000 + i, flags: 2, seq: 1, ack: 0 });
      const synAcks = p.take().filter((x) => x.seg.flags === 0x12);
      assert.equal(synAcks.length, 4);
      assert.equal(n.tcp!.connectionCount, 4);
      assert.equal(n.stats()["tcp-syn-backlog-full"], 1);
    },
  });

  Deno.test({
    name: `robust limits (${kind}): acceptBacklog connections wait, the next is not accepted`,
    ignore: noTcp,
    fn() {
      const n = node(kind, {}, { acceptBacklog: 3 });
      const listener = n.tcp!.listen(0, 80, 3);
      const p = new RawPeer(n);
      let refused = 0;
      for (let i = 0; i < 5; i++) {
        try {
          p.handshake(3000 + i, 1000 * i);
        } catch {
          refused++; // like Linux: no SYN-ACK while the accept queue is full
        }
      }
      p.take();
      assert.equal(refused, 2);
      const got = [];
      for (let c = listener.accept(); c !== null; c = listener.accept()) got.push(c);
      assert.equal(got.length, 3, "exactly acceptBacklog connections were queued");
      assert.equal(n.stats()["tcp-accept-queue-full"], 2, "the refused SYNs are counted");
    },
  });

  Deno.test({
    name: `robust limits (${kind}): a slow reader bounds the send ring and what is in flight`,
    ignore: noTcp,
    fn() {
      const n = node(kind, {}, { sndBuf: 32768 });
      const listener = n.tcp!.listen(0, 80, 16);
      const p = new RawPeer(n);
      p.handshake(4000, 77, 2000); // the peer offers a 2000-byte window
      const conn = listener.accept()!;
      const big = new Uint8Array(1 << 20);
      assert.equal(conn.write(big), 32768, "write accepts exactly sndBuf bytes");
      assert.equal(conn.write(big), 0);
      let inFlight = 0;
      for (const s of p.advance(1)) inFlight += s.payload.length;
      assert.ok(inFlight > 0 && inFlight <= 2000, `${inFlight} bytes sent into a 2000-byte window`);
      // The reader takes 1000 bytes and opens the window again by 1000 only.
      p.rcvNxt = (p.rcvNxt + 1000) >>> 0;
      p.send({ flags: 0x10, wnd: 2000 });
      let more = 0;
      for (const s of p.advance(1)) more += s.payload.length;
      const edge = 1000 + 2000; // acknowledged + offered window
      assert.ok(inFlight + more <= edge, `${inFlight + more} bytes sent past a ${edge}-byte edge`);
      assert.equal(conn.writable, 1000, "the acknowledged bytes freed exactly that much room");
    },
  });

  Deno.test({
    name: `robust limits (${kind}): synRetries end a connect to a silent host`,
    ignore: noTcp,
    fn() {
      const n = node(kind, {}, { synRetries: 3 });
      const p = new RawPeer(n);
      const conn = n.tcp!.connect(PEER_IP, 80, 0);
      let syns = 0;
      for (let t = 0; t < 120000 && conn.state !== "CLOSED"; t += 250) {
        syns += p.advance(250).filter((x) => x.seg.flags === 2).length;
      }
      assert.equal(conn.state, "CLOSED");
      assert.equal(conn.error?.code, "timed-out");
      assert.equal(syns, 4, "the SYN and 3 retries");
      assert.equal(n.tcp!.connectionCount, 0);
      assert.equal(n.tcp!.pollAt(), Infinity, "no timer left behind");
    },
  });
}
