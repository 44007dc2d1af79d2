/**
 * The handshake's third segment (the ACK of the peer's SYN-ACK, RFC 9293 3.10.7.3) held for
 * the application's first turn (`TcpLayer.holdHandshakeAck`, set by a real-time driver), once
 * the layer has seen its application write at once (ack_hold.ts): the first data or FIN
 * carries it and no pure ACK goes; an application that reads first, or a driver that releases
 * the hold after the application's turn, sends it alone, and holding stops until an avoidable
 * ACK is seen again. A fresh layer's first open, and any layer with the hold off (the default,
 * and every simulation), sends the ACK at the next poll.
 */
import assert from "node:assert/strict";
import { F_ACK, F_FIN, F_SYN } from "../../src/wire/layout.ts";
import type { Captured } from "../support/tcp_pair.ts";
import { TcpPair } from "../support/tcp_pair.ts";
import type { TcpConnection, TcpListener } from "../../src/tcp/tcp_layer.ts";

const IP_B = 0x0a000002;

/**
 * One open from a to b; the application writes one byte as soon as it is connected (`writes`)
 * or asks to read first; then the turn ends (releaseAcks) and the connection is aborted.
 * Returns whether its ACK was held.
 */
function once(p: TcpPair, writes: boolean, port = 80): boolean {
  const c = p.a.connect(IP_B, port, p.now);
  assert.ok(p.run(() => c.state === "ESTABLISHED", 1000));
  const held = p.a.heldAcks === 1;
  if (writes) c.write(new Uint8Array([1]));
  else c.releaseAck();
  p.poll();
  p.a.releaseAcks();
  p.poll();
  c.abort();
  p.run(() => false, p.now + 5);
  return held;
}

/**
 * A client of layer a with the hold on, taught by one open that wrote at once, connected to
 * a listener of b; stops at ESTABLISHED.
 */
function open(): { p: TcpPair; c: TcpConnection; l: TcpListener; from: number } {
  const p = new TcpPair({ capture: true });
  p.a.holdHandshakeAck = true;
  const l = p.b.listen(0, 80);
  p.b.listen(0, 81);
  assert.equal(once(p, true, 81), false); // a fresh layer sends its first ACK alone
  assert.equal(p.a.stats()["tcp-ack-alone-avoidable"], 1);
  const c = p.a.connect(IP_B, 80, p.now);
  assert.ok(p.run(() => c.state === "ESTABLISHED", 1000));
  return { p, c, l, from: p.captured.length };
}

/** Segments a sent after the first `from` captured ones. */
function ours(p: TcpPair, from: number): Captured[] {
  return p.captured.slice(from).filter((x) => x.from === "a");
}

Deno.test("handshake ACK: held while the application has not had its turn", () => {
  const { p, c, from } = open();
  p.poll();
  assert.equal(ours(p, from).length, 0);
  assert.equal(p.a.heldAcks, 1);
  assert.equal(c.state, "ESTABLISHED");
});

Deno.test("handshake ACK: the application's first data carries it, no pure ACK goes", () => {
  const { p, c, l, from } = open();
  const synAck = p.captured.findLast((x) => x.from === "b" && x.flags === (F_SYN | F_ACK))!;
  assert.equal(c.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n")), 18);
  p.poll();
  p.a.releaseAcks(); // the turn ends: nothing is left to send alone
  p.poll();
  const sent = ours(p, from);
  assert.equal(sent.length, 1, JSON.stringify(sent.map((x) => [x.flags, x.len])));
  assert.equal(sent[0]!.flags & F_ACK, F_ACK);
  assert.equal(sent[0]!.ack, (synAck.seq + 1) >>> 0); // <ACK=RCV.NXT>: the SYN-ACK's SYN
  assert.equal(sent[0]!.len, 18);
  // The server completes its handshake on that segment and reads the request.
  let s: TcpConnection | null = null;
  assert.ok(p.run(() => (s ??= l.accept()) !== null && s.readable === 18, 1000));
  assert.equal(p.b.stats()["tcp-no-connection"], undefined);
});

Deno.test("handshake ACK: a FIN sent at once carries it", () => {
  const { p, c, from } = open();
  c.shutdownWrite();
  p.poll();
  const sent = ours(p, from);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.flags & (F_FIN | F_ACK), F_FIN | F_ACK);
  assert.equal(p.a.heldAcks, 0); // the poll saw the FIN carry it
  assert.equal(p.a.stats()["tcp-ack-hold-carried"], 1);
  p.a.releaseAcks();
  p.poll();
  assert.equal(ours(p, from).length, 1);
});

Deno.test("handshake ACK: released after the application's turn, it goes alone", () => {
  const { p, from } = open();
  p.a.releaseAcks();
  assert.equal(p.a.heldAcks, 0);
  p.poll();
  const sent = ours(p, from);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.flags, F_ACK);
  assert.equal(sent[0]!.len, 0);
});

Deno.test("handshake ACK: an application that reads first sends it at the next poll", () => {
  const { p, c, l, from } = open();
  assert.equal(c.read(new Uint8Array(16)), 0);
  c.releaseAck(); // what Conn.read does before it waits
  p.poll();
  const sent = ours(p, from);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.flags, F_ACK);
  // The server's side is established by it: its banner reaches the client.
  let s: TcpConnection | null = null;
  assert.ok(p.run(() => (s ??= l.accept()) !== null, 1000));
  s!.write(new Uint8Array([0x2b, 0x4f, 0x4b]));
  assert.ok(p.run(() => c.readable === 3, 1000));
});

Deno.test("handshake ACK: without the hold (the default) it leaves at the next poll", () => {
  const p = new TcpPair({ capture: true });
  p.b.listen(0, 80);
  const c = p.a.connect(IP_B, 80, p.now);
  assert.ok(p.run(() => c.state === "ESTABLISHED", 1000));
  assert.equal(p.a.heldAcks, 0);
  const synAck = p.captured.findIndex((x) => x.from === "b" && x.flags === (F_SYN | F_ACK));
  const next = p.captured.slice(synAck + 1).find((x) => x.from === "a")!;
  assert.equal(next.flags, F_ACK);
  assert.equal(next.len, 0);
});

Deno.test("handshake ACK: learned from an avoidable ACK, dropped after a hold that did not pay", () => {
  const p = new TcpPair({ capture: true });
  p.a.holdHandshakeAck = true;
  p.b.listen(0, 80);
  // Readers never hold: nothing teaches the layer that its application writes at once.
  assert.deepEqual(Array.from({ length: 4 }, () => once(p, false)), [false, false, false, false]);
  assert.equal(p.a.stats()["tcp-ack-alone-avoidable"], 0);
  // The first writer's ACK goes alone, avoidably; every writer after it holds, and its ACK
  // rides on the data.
  assert.deepEqual(Array.from({ length: 4 }, () => once(p, true)), [false, true, true, true]);
  let s = p.a.stats();
  assert.equal(s["tcp-ack-alone-avoidable"], 1);
  assert.equal(s["tcp-ack-hold-carried"], 3);
  // A reader after them: held, then sent alone; holding stops until a writer teaches it again.
  assert.deepEqual([once(p, false), once(p, false), once(p, true), once(p, true)], [
    true,
    false,
    false,
    true,
  ]);
  s = p.a.stats();
  assert.equal(s["tcp-ack-hold-alone"], 1);
  assert.equal(s["tcp-ack-alone-avoidable"], 2);
  assert.equal(s["tcp-ack-hold-carried"], 4);
});
