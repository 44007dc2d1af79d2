/**
 * An ACK war between two of our stacks, found by the whole-stack fuzz (seed 8008): a spoofed
 * SYN with the tuple of a connection that just closed (the client in TIME-WAIT, the server
 * CLOSED) opens a half-open connection on the server; its SYN-ACK is unacceptable to the
 * client in TIME-WAIT, which answers with an ACK (RFC 9293 3.10.7.4); that ACK's sequence
 * number is below the half-open connection's rcv.nxt, so it answers with an ACK too, and so
 * on without end: 800000 frames per millisecond in the fuzz. Each answer is what RFC 9293
 * says, so the loop must be broken by rate limiting the ACKs sent in reply to unacceptable
 * segments, as Linux does (net.ipv4.tcp_invalid_ratelimit, 500 ms per connection, applied in
 * synchronized states and TIME-WAIT; RFC 5961 section 7 asks for the same kind of limit).
 */

import assert from "node:assert/strict";
import { PEER_IP, TCP_PORT, VICTIM_IP } from "../support/fuzz_corpus.ts";
import { layoutOf, repairChecksums } from "../support/fuzz_frames.ts";
import { loadTcpFactory } from "../support/fuzz_tcp_types.ts";
import { World } from "../support/fuzz_world.ts";

const tcp = await loadTcpFactory();

function run(kind: "js" | "wasm"): number {
  const w = new World({ kind, seed: 1, tcp });
  const listener = w.victim.tcp!.listen(0, TCP_PORT, 8);
  const client = w.peer.tcp!.connect(VICTIM_IP, TCP_PORT, w.now, { localPort: 42114 });
  w.settle();
  const server = listener.accept();
  assert.ok(server !== null);
  client.write(new Uint8Array(10));
  client.shutdownWrite();
  w.tick(1);
  const buf = new Uint8Array(100);
  server.read(buf);
  assert.ok(server.readEof);
  server.close();
  w.tick(1);
  client.read(buf);
  client.close();
  w.tick(300); // past delayed ACKs: the server is CLOSED, the client in TIME-WAIT
  assert.equal(client.state, "TIME-WAIT");
  // The spoofed SYN: the client's tuple, sequence number beyond the client's snd.nxt.
  const last = w.recent.at(-1)!;
  const syn = last.slice();
  const l = layoutOf(syn);
  const seq = ((syn[l.l4 + 4]! << 24) | (syn[l.l4 + 5]! << 16) | (syn[l.l4 + 6]! << 8) |
    syn[l.l4 + 7]!) >>> 0;
  const s2 = (seq + 1) >>> 0;
  syn.set([s2 >>> 24, (s2 >>> 16) & 0xff, (s2 >>> 8) & 0xff, s2 & 0xff], l.l4 + 4);
  syn[l.l4 + 13] = 0x02;
  repairChecksums(syn);
  assert.equal(
    ((syn[l.l3 + 12]! << 24) | (syn[l.l3 + 13]! << 16) | (syn[l.l3 + 14]! << 8) |
      syn[l.l3 + 15]!) >>> 0,
    PEER_IP,
  );
  w.inject(syn);
  const before = w.moved;
  w.pump(20000);
  return w.moved - before;
}

for (const kind of ["js", "wasm"] as const) {
  Deno.test({
    name: `robust ack storm (${kind}): a spoofed SYN on a closed tuple starts no ACK war`,
    ignore: tcp === null,
    fn() {
      const moved = run(kind);
      assert.ok(moved < 100, `${moved} frames exchanged after one spoofed SYN`);
    },
  });
}
