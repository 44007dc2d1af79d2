/**
 * Connection churn in virtual time over both engines (the short sibling of `deno task soak`):
 * 2000 connections opened 200 at a time between two stacks, each carrying a small echo, then
 * closed from both sides. Afterwards nothing is left: no connection, no TCP or interface timer,
 * and the stream buffers were given back (the engine accepts the same number again without
 * growing). Runs with Deno's sanitizers on.
 */

import assert from "node:assert/strict";
import { TCP_PORT, VICTIM_IP } from "../support/fuzz_corpus.ts";
import { type ConnLike, loadTcpFactory } from "../support/fuzz_tcp_types.ts";
import { World } from "../support/fuzz_world.ts";

const tcp = await loadTcpFactory();

function churn(w: World, total: number, parallel: number): number {
  const listener = w.victim.tcp!.listen(0, TCP_PORT, parallel);
  const buf = new Uint8Array(256);
  let ok = 0;
  for (let base = 0; base < total; base += parallel) {
    const clients: ConnLike[] = [];
    for (let i = 0; i < parallel; i++) {
      clients.push(w.peer.tcp!.connect(VICTIM_IP, TCP_PORT, w.now));
    }
    const servers: ConnLike[] = [];
    // The first SYNs wait behind ARP (64 frames per address): the rest come on retry.
    for (let t = 0; t < 100 && servers.length < parallel; t++) {
      w.tick(1, true);
      for (let c = listener.accept(); c !== null; c = listener.accept()) servers.push(c);
    }
    assert.equal(servers.length, parallel);
    for (const [i, c] of clients.entries()) {
      c.write(new Uint8Array(100).fill((base + i) & 0xff));
      c.shutdownWrite();
    }
    w.tick(1);
    for (const s of servers) {
      const n = s.read(buf);
      s.write(buf.subarray(0, n));
      s.close();
    }
    w.tick(1);
    for (const [i, c] of clients.entries()) {
      const n = c.read(buf);
      if (n === 100 && buf[99] === ((base + i) & 0xff) && c.readEof) ok++;
      c.close();
    }
    w.tick(1);
  }
  listener.close();
  return ok;
}

for (const kind of ["js", "wasm"] as const) {
  Deno.test({
    name: `robust churn (${kind}): 2000 connections leave nothing behind`,
    ignore: tcp === null,
    fn() {
      const w = new World({ kind, seed: 5, tcp, tcpOptions: { timeWaitMs: 1000 } });
      assert.equal(churn(w, 2000, 200), 2000, "every echo came back byte-exact");
      // TIME-WAIT (1 s), ARP aging: step virtual time until every timer has run.
      for (let i = 0; i < 200 && Number.isFinite(w.victim.pollAt() + w.peer.pollAt()); i++) {
        w.tick(1000, true);
      }
      assert.equal(w.victim.tcp!.connectionCount, 0);
      assert.equal(w.peer.tcp!.connectionCount, 0);
      assert.equal(w.victim.tcp!.pollAt(), Infinity, "a TCP timer was left behind");
      assert.equal(w.peer.tcp!.pollAt(), Infinity, "a TCP timer was left behind");
      // The buffers were given back: the packet memory does not grow for another round.
      const size = w.victim.engine.mem.buffer.byteLength;
      assert.equal(churn(w, 400, 200), 400);
      assert.equal(w.victim.engine.mem.buffer.byteLength, size, "packet memory grew");
      assert.equal(w.storms, 0);
    },
  });
}
