/**
 * The driver's reads (src/stack.ts): a kick in the turn of a pass that read the link dry still
 * reads before it sends, whatever the link declares (`sameThreadPeer`), so a frame that
 * arrived meanwhile (a window closed to zero) is seen before data goes out on the old state.
 * Counted in `receive()` calls, not timed.
 */
import assert from "node:assert/strict";
import type { Link } from "../../mod.ts";
import { createMemoryLinkPair } from "../../src/link/memory.ts";
import { Driver } from "../../src/stack.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { TcpLayer } from "../../src/tcp/tcp_layer.ts";

/** A link over `inner` that counts receive() calls and declares `sameThreadPeer`. */
function counting(inner: Link, sameThreadPeer: boolean | undefined): Link & { reads: number } {
  const l = {
    name: inner.name,
    mtu: inner.mtu,
    sameThreadPeer,
    reads: 0,
    receive: (b: Uint8Array, m: Int32Array, n: number) => {
      l.reads++;
      return inner.receive(b, m, n);
    },
    send: (b: Uint8Array, o: number, len: number) => inner.send(b, o, len),
    wait: (t: number) => inner.wait(t),
    close: () => inner.close(),
  };
  return l;
}

/** Let the microtasks and one macrotask turn run. */
const turn = () => new Promise<void>((r) => setTimeout(r, 0));

for (const elsewhere of [true, false]) {
  Deno.test(`driver reads: a kick after a dry pass keeps its read (sameThreadPeer ${!elsewhere})`, async () => {
    const [a, b] = createMemoryLinkPair();
    const link = counting(a, elsewhere ? false : true);
    const driver = new Driver({
      link,
      engine: createJsEngine(),
      iface: { address: 0x0a090002, prefixLength: 24 },
      createTcp: (engine, tx) => new TcpLayer(engine, tx),
    });
    try {
      driver.start();
      await turn();
      const before = link.reads;
      driver.step(); // a pass that reads the link dry
      assert.equal(link.reads, before + 1);
      driver.kick(); // the application's call in the same turn
      await Promise.resolve();
      await Promise.resolve();
      assert.equal(link.reads, before + 2);
      // A frame signalled by the link's wait is read whatever the kick did.
      const frame = new Uint8Array(60);
      frame.fill(0xff, 0, 6); // broadcast, an unknown EtherType: counted and dropped
      frame[12] = 0x88;
      frame[13] = 0xb5;
      b.send(frame, 0, frame.length);
      const got = link.reads;
      await turn();
      assert.ok(link.reads > got, "the wait's pass read the frame");
      assert.equal(driver.driverStats()["driver-frames-in"], 1);
    } finally {
      await driver.close();
      b.close();
    }
  });
}
