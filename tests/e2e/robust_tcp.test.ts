/**
 * Attacks on the TCP layer through the whole receive path (frames into the interface), over
 * both engines, by a scripted peer that crafts every segment (tests/support/fuzz_raw_peer.ts):
 * blind reset, SYN and data injection (RFC 5961 sections 3 to 5, challenge ACKs rate limited
 * per section 7), a SYN flood (RFC 4987: bounded half-open queue, no cookies), out-of-order
 * floods (RFC 9293 3.10.7.4, bounded reassembly), a zero-window peer (RFC 9293 3.8.6.1 persist,
 * bounded by the user timeout, RFC 5482) and a vanished peer (RFC 9293 3.8.3, RFC 1122 4.2.3.5
 * retry limits). The real connection survives every blind attack and loses no data.
 */

import assert from "node:assert/strict";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { VICTIM_IP, VICTIM_MAC } from "../support/fuzz_corpus.ts";
import { RawPeer, type Seen } from "../support/fuzz_raw_peer.ts";
import { type ConnLike, loadTcpFactory, type TcpLike } from "../support/fuzz_tcp_types.ts";
import { Node } from "../support/fuzz_world.ts";

const factory = await loadTcpFactory();
const ignore = factory === null;
if (ignore) console.warn("robust_tcp: src/tcp/tcp_layer.ts is not there yet; tests ignored");

const F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16;

function setup(kind: EngineKind, options: Record<string, unknown> = {}) {
  const node = new Node(kind, VICTIM_IP, VICTIM_MAC, 7, factory, undefined, options);
  const tcp = node.tcp as TcpLike;
  const listener = tcp.listen(0, 80, 64);
  const peer = new RawPeer(node);
  return { node, tcp, listener, peer };
}

function established(kind: EngineKind, options: Record<string, unknown> = {}) {
  const s = setup(kind, options);
  s.peer.handshake(40000, 1000);
  const conn = s.listener.accept();
  assert.ok(conn !== null, "the handshake did not complete");
  assert.equal(conn.state, "ESTABLISHED");
  return { ...s, conn };
}

function bytes(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 31 + seed * 7) & 0xff);
}

function readAll(conn: ConnLike): Uint8Array {
  const parts: number[] = [];
  const buf = new Uint8Array(65536);
  for (let n = conn.read(buf); n > 0; n = conn.read(buf)) parts.push(...buf.subarray(0, n));
  return Uint8Array.from(parts);
}

/** Pure ACKs from the victim (challenge ACKs and plain ACKs look alike on the wire). */
function acks(seen: Seen[]): Seen[] {
  return seen.filter((x) => x.seg.flags === F_ACK && x.payload.length === 0);
}

/** Step virtual time to the victim's deadlines until `done` or `maxMs` passes. */
function runUntil(peer: RawPeer, done: () => boolean, maxMs: number, onSeen?: (s: Seen[]) => void) {
  const end = peer.now + maxMs;
  while (!done() && peer.now < end) {
    const at = peer.node.pollAt();
    const step = Number.isFinite(at) ? Math.max(1, Math.ceil(at) - peer.now) : 1000;
    const seen = peer.advance(Math.min(step, 1000));
    onSeen?.(seen);
  }
}

for (const kind of ["js", "wasm"] as const) {
  Deno.test({
    name: `robust tcp (${kind}): blind RST (RFC 5961 section 3)`,
    ignore,
    fn() {
      const { peer, conn } = established(kind);
      peer.take();
      // Out of window: dropped silently.
      peer.send({ flags: F_RST, seq: peer.sndNxt + 0x40000000 });
      assert.deepEqual(peer.take(), []);
      assert.equal(conn.state, "ESTABLISHED");
      // In window, not exact: a challenge ACK carrying snd.nxt and rcv.nxt; the connection stays.
      peer.send({ flags: F_RST, seq: peer.sndNxt + 100 });
      const ch = acks(peer.take());
      assert.equal(ch.length, 1, "one challenge ACK");
      assert.equal(ch[0]!.seg.seq, peer.rcvNxt);
      assert.equal(ch[0]!.seg.ack, peer.sndNxt);
      assert.equal(conn.state, "ESTABLISHED");
      // RFC 5961 section 7: challenge ACKs are rate limited.
      for (let i = 0; i < 2000; i++) peer.send({ flags: F_RST, seq: peer.sndNxt + 1 + i });
      const many = acks(peer.take()).length;
      assert.ok(many < 2000, `2000 in-window RSTs drew ${many} challenge ACKs: not rate limited`);
      assert.equal(conn.state, "ESTABLISHED");
      // The real connection still carries data, byte-exact.
      const data = bytes(500, 1);
      peer.sendData(data);
      assert.deepEqual(readAll(conn), data);
      // The exact sequence number resets it (RFC 5961 3.2).
      peer.send({ flags: F_RST, seq: peer.sndNxt });
      assert.equal(conn.state, "CLOSED");
      assert.equal(conn.error?.code, "reset");
    },
  });

  Deno.test({
    name: `robust tcp (${kind}): blind SYN on an established connection (RFC 5961 section 4)`,
    ignore,
    fn() {
      const { peer, conn } = established(kind);
      peer.take();
      for (const seq of [peer.sndNxt + 10, peer.sndNxt + 0x40000000, peer.sndNxt - 5]) {
        peer.send({ flags: F_SYN, seq, ack: 0 });
        const seen = peer.take();
        assert.equal(seen.filter((x) => (x.seg.flags & F_RST) !== 0).length, 0, "no RST");
        assert.equal(acks(seen).length, 1, "a challenge ACK");
        assert.equal(conn.state, "ESTABLISHED");
      }
      const data = bytes(300, 2);
      peer.sendData(data);
      assert.deepEqual(readAll(conn), data);
    },
  });

  Deno.test({
    name: `robust tcp (${kind}): blind data injection (RFC 5961 section 5, RFC 9293 3.10.7.4)`,
    ignore,
    fn() {
      const { peer, conn } = established(kind);
      peer.take();
      const evil = new Uint8Array(100).fill(0xee);
      // ACK beyond what the victim sent: discarded, answered with an ACK (RFC 9293 3.10.7.4).
      peer.send({ flags: F_ACK | F_PSH, ack: peer.rcvNxt + 100000, payload: evil });
      // ACK too old (before snd.una - max.snd.wnd): discarded, challenge ACK (RFC 5961 5.2).
      peer.send({ flags: F_ACK | F_PSH, ack: peer.rcvNxt - 0x40000000, payload: evil });
      // Sequence number outside the receive window: discarded, ACK.
      peer.send({ flags: F_ACK | F_PSH, seq: peer.sndNxt + 0x20000000, payload: evil });
      // No ACK flag at all: discarded (RFC 9293 3.10.7.4 fifth check).
      peer.send({ flags: F_PSH, payload: evil });
      assert.equal(conn.readable, 0, "injected bytes were accepted");
      assert.ok(acks(peer.take()).length >= 2);
      const data = bytes(1000, 3);
      peer.sendData(data);
      assert.deepEqual(readAll(conn), data);
      assert.equal(conn.state, "ESTABLISHED");
    },
  });

  Deno.test({
    name: `robust tcp (${kind}): SYN flood keeps the half-open queue bounded (RFC 4987)`,
    ignore,
    fn() {
      const backlog = 16;
      const { node, tcp, listener, peer } = setup(kind, { synBacklog: backlog, syncookies: false });
      const counts: number[] = [];
      for (let i = 0; i < 5000; i++) {
        const src = (0x0a090000 | (3 + (i % 250))) >>> 0;
        peer.send({ srcIp: src, srcPort: 1024 + (i % 60000), flags: F_SYN, seq: i * 7919, ack: 0 });
        if (i % 100 === 0) {
          peer.take();
          counts.push(tcp.connectionCount);
        }
      }
      peer.take();
      assert.ok(
        Math.max(...counts, tcp.connectionCount) <= backlog,
        `half-open connections grew to ${Math.max(...counts)}`,
      );
      assert.equal(listener.accept(), null);
      // When the flood stops, the half-open entries time out and a real client gets in.
      runUntil(peer, () => tcp.connectionCount === 0, 600000);
      assert.equal(tcp.connectionCount, 0, "half-open connections never expired");
      peer.now += 1;
      peer.handshake(40001, 5000);
      const conn = listener.accept();
      assert.ok(conn !== null, "a legitimate client could not connect after the flood");
      assert.equal(conn.remotePort, 40001);
      assert.ok(node.stats()["tcp-in"]! >= 5000);
    },
  });

  Deno.test({
    name: `robust tcp (${kind}): a peer sending every other segment, then the holes`,
    ignore,
    fn() {
      const { peer, conn } = established(kind);
      const base = peer.sndNxt;
      const seg = 100, count = 200;
      const data = bytes(seg * count, 4);
      const piece = (i: number) => {
        peer.send({
          flags: F_ACK,
          seq: base + i * seg,
          payload: data.subarray(i * seg, (i + 1) * seg),
        });
      };
      for (let i = 1; i < count; i += 2) piece(i);
      assert.equal(conn.readable, 0);
      const dupAcks = acks(peer.take());
      assert.ok(dupAcks.length > 0, "out-of-order data must be acknowledged at once");
      assert.ok(dupAcks.every((x) => x.seg.ack === base), "the ACK stays at the first hole");
      // Data far beyond the window is not held (bounded memory).
      peer.send({ flags: F_ACK, seq: base + 0x100000, payload: bytes(1000, 5) });
      for (let i = 0; i < count; i += 2) piece(i);
      // Islands past the range cap were dropped: a real sender retransmits them.
      for (let i = 1; i < count; i += 2) piece(i);
      assert.deepEqual(readAll(conn), data);
      peer.sndNxt = base + data.length;
      const last = acks([...peer.take(), ...peer.advance(200)]).at(-1); // delayed ACK
      assert.equal(last?.seg.ack, (base + data.length) >>> 0);
    },
  });

  Deno.test({
    name: `robust tcp (${kind}): one byte at a time in reverse order`,
    ignore,
    fn() {
      const { peer, conn } = established(kind);
      const base = peer.sndNxt;
      const data = bytes(3000, 6);
      for (let i = data.length - 1; i >= 1; i--) {
        peer.send({ flags: F_ACK, seq: base + i, payload: data.subarray(i, i + 1) });
      }
      assert.equal(conn.readable, 0);
      peer.send({ flags: F_ACK, seq: base, payload: data.subarray(0, 1) });
      assert.deepEqual(readAll(conn), data);
    },
  });

  Deno.test({
    name: `robust tcp (${kind}): a vanished peer ends the connection after the retries`,
    ignore,
    fn() {
      const { tcp, peer, conn } = established(kind, { maxRetries: 5 });
      const events: string[] = [];
      (conn as unknown as { onEvent: ((e: string) => void) | null }).onEvent = (e) =>
        events.push(e);
      assert.equal(conn.write(bytes(5000, 7)), 5000);
      let sent = 0;
      runUntil(peer, () => conn.state === "CLOSED", 3600000, (s) => {
        sent += s.filter((x) => x.payload.length > 0).length;
      });
      assert.equal(conn.state, "CLOSED");
      assert.equal(conn.error?.code, "timed-out");
      assert.ok(events.includes("closed"));
      assert.equal(tcp.connectionCount, 0, "the connection leaked");
      assert.ok(sent > 0 && sent < 100, `${sent} data segments for 5 retries`);
      // Nothing is left to do for this connection (the listener keeps no timer).
      assert.equal(tcp.pollAt(), Infinity);
    },
  });

  Deno.test({
    name: `robust tcp (${kind}): a zero-window peer is bounded by the user timeout`,
    ignore,
    fn() {
      const { tcp, peer, listener } = setup(kind, { userTimeoutMs: 30000 });
      peer.handshake(40002, 9000, 0);
      const conn = listener.accept();
      assert.ok(conn !== null);
      conn.write(bytes(5000, 8));
      let probes = 0;
      runUntil(peer, () => conn.state === "CLOSED", 600000, (seen) => {
        for (const s of seen) {
          probes++;
          // Answer every probe: still no room.
          if (s.seg.seq !== 0xffffffff) peer.send({ flags: F_ACK, wnd: 0 });
        }
      });
      assert.ok(probes > 0, "no window probe was sent");
      assert.equal(conn.state, "CLOSED");
      assert.equal(conn.error?.code, "timed-out");
      assert.ok(peer.now <= 120000, `ended after ${peer.now} ms`);
      assert.equal(tcp.connectionCount, 0);
    },
  });

  Deno.test({
    name: `robust tcp (${kind}): FIN and data after RST or close are not accepted`,
    ignore,
    fn() {
      const { peer, conn } = established(kind);
      peer.send({ flags: F_ACK | F_FIN });
      peer.sndNxt++;
      peer.take();
      assert.equal(conn.state, "CLOSE-WAIT");
      // Data after the FIN is outside any acceptable range (RFC 9293 3.10.7.4 eighth step).
      peer.send({ flags: F_ACK | F_PSH, payload: bytes(50, 9) });
      assert.equal(conn.readable, 0);
      assert.equal(conn.readEof, true);
    },
  });
}

Deno.test({
  name: "robust tcp: a RST reaching a listener is counted as a drop",
  fn() {
    const { node, peer } = setup("js");
    const before = JSON.stringify(node.tcp!.stats());
    peer.send({ flags: F_RST, seq: 5, ack: 0, srcPort: 5555 });
    assert.notEqual(JSON.stringify(node.tcp!.stats()), before, "no TCP counter moved");
  },
});

Deno.test({
  name: "robust tcp: the user timeout ends a zero-window connection on time",
  fn() {
    const { peer, listener } = setup("js", { userTimeoutMs: 30000 });
    peer.handshake(40003, 9000, 0);
    const conn = listener.accept()!;
    conn.write(bytes(5000, 10));
    runUntil(peer, () => conn.state === "CLOSED", 600000, (seen) => {
      for (const _ of seen) peer.send({ flags: F_ACK, wnd: 0 });
    });
    assert.equal(conn.error?.code, "timed-out");
    assert.ok(peer.now <= 31000, `ended after ${peer.now} ms, user timeout 30000 ms`);
  },
});
