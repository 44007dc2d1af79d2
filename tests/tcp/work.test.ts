/**
 * The TCP layer tells its driver when it has work (`TcpLayer.onWork`): when a socket call
 * queues output (the dirty list becomes non-empty) or sends a segment itself (a reset), never
 * from inside the driver's own calls (`input`, `poll`), after which the driver polls anyway.
 */
import assert from "node:assert/strict";
import { IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

function counting(p: TcpPair): { a: number; b: number } {
  const n = { a: 0, b: 0 };
  p.a.onWork = () => n.a++;
  p.b.onWork = () => n.b++;
  return n;
}

Deno.test("work: connect and write signal once until the next poll", () => {
  const p = new TcpPair();
  const n = counting(p);
  p.b.listen(0, 80);
  const c = p.a.connect(IP_B, 80, p.now);
  assert.equal(n.a, 1, "the SYN is queued");
  assert.equal(p.a.pollAt(), 0);
  p.run(() => c.state === "ESTABLISHED");
  assert.equal(n.a, 1, "the handshake ran inside input and poll: no signal");
  assert.equal(n.b, 0);
  c.write(new Uint8Array(100));
  c.write(new Uint8Array(100));
  assert.equal(n.a, 2, "one signal for two writes before a poll");
  p.poll();
  c.write(new Uint8Array(100));
  assert.equal(n.a, 3, "a write after the poll signals again");
});

Deno.test("work: arriving data and the replies it causes do not signal", () => {
  const p = new TcpPair();
  const [c, s] = openPair(p);
  const n = counting(p);
  c.write(new Uint8Array(20_000));
  assert.equal(n.a, 1);
  p.advance(200);
  assert.equal(s.readable, 20_000);
  assert.equal(n.a, 1);
  assert.equal(n.b, 0, "b took data and sent ACKs only inside input and poll");
});

Deno.test("work: reading that opens the window, shutdownWrite and abort signal", () => {
  const p = new TcpPair({ tcpB: { rcvBuf: 8192 } });
  const [c, s] = openPair(p);
  const n = counting(p);
  c.write(new Uint8Array(8192));
  p.advance(200);
  assert.equal(s.readable, 8192, "b's window is full");
  const buf = new Uint8Array(8192);
  assert.equal(s.read(buf.subarray(0, 100)), 100);
  assert.equal(n.b, 0, "100 bytes read: no window update due yet");
  assert.equal(s.read(buf), 8092);
  assert.equal(n.b, 1, "the window reopened: an update is queued");
  p.poll();
  s.shutdownWrite();
  assert.equal(n.b, 2, "the FIN is queued");
  p.advance(100);
  const before = n.a;
  c.abort(); // the RST leaves from the socket call itself
  assert.equal(n.a, before + 1);
  assert.equal(c.state, "CLOSED");
});
