/**
 * Adaptive busy polling, measured as a user would: this process's CPU time (/proc/self/stat)
 * while a stack with default options sits on a TAP device idle, holds an idle kernel
 * connection, and reads from a python3 sender that trickles 1 KiB every 10 ms (a starved bulk
 * receiver: frames never arrive within a spin). None of them may keep a core busy; the issue
 * measured ~40% of a core spinning for the slow sender. Bounds are loose (a loaded machine
 * only adds our own work), far below a spinning core.
 */
import assert from "node:assert/strict";
import { createStack, type NetStack } from "../../mod.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";

const OURS = "10.7.0.2";

/** CPU seconds this process used so far (user + system, all threads). */
function cpuSeconds(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Share of one core this process used over `ms` of wall time. */
async function cpuOver(ms: number): Promise<number> {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return (cpuSeconds() - c0) / ((performance.now() - t0) / 1000);
}

/** Accept connections and count what they send until the listener closes. */
function sink(stack: NetStack, port: number): { received(): number; close(): void } {
  const listener = stack.listen({ port });
  let received = 0;
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(65536);
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          received += n;
        }
        conn.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  return { received: () => received, close: () => listener.close() };
}

Deno.test({
  name: "idle cpu: an idle stack, an idle connection and a 1 KiB / 10 ms sender spin no core",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ ns, link }) => {
      const stack = await createStack({ link, address: `${OURS}/24` });
      const server = sink(stack, 9000);
      const children: Deno.ChildProcess[] = [];
      try {
        await new Promise((r) => setTimeout(r, 300));
        const idle = await cpuOver(3000);
        assert.ok(idle < 0.05, `idle stack: ${(idle * 100).toFixed(1)}% of a core`);

        const quiet = "import socket, time\n" +
          `s = socket.create_connection(("${OURS}", 9000), timeout=10)\n` +
          "time.sleep(30)\n";
        children.push(ns.spawn(["python3", "-c", quiet]));
        await new Promise((r) => setTimeout(r, 500));
        const idleConn = await cpuOver(3000);
        assert.ok(idleConn < 0.05, `idle connection: ${(idleConn * 100).toFixed(1)}% of a core`);

        const slow = "import socket, time\n" +
          `s = socket.create_connection(("${OURS}", 9000), timeout=10)\n` +
          "for i in range(3000):\n" +
          "    s.sendall(b'x' * 1024); time.sleep(0.01)\n";
        children.push(ns.spawn(["python3", "-c", slow]));
        await new Promise((r) => setTimeout(r, 500));
        const before = server.received();
        const trickle = await cpuOver(3000);
        const got = server.received() - before;
        assert.ok(got > 100 * 1024, `the slow sender's data arrived: ${got} bytes in 3 s`);
        // ~10% of a core is our real work per 1 KiB frame on a loaded machine; spinning is ~100%.
        assert.ok(trickle < 0.3, `slow sender: ${(trickle * 100).toFixed(1)}% of a core`);
        const s = link.stats;
        assert.ok(
          s.busyPollSkips + s.parkedWaits > s.busyPollHits + s.busyPollMisses,
          `waits mostly park: ${JSON.stringify(s)}`,
        );
      } finally {
        for (const c of children) {
          try {
            c.kill("SIGKILL");
          } catch { /* exited */ }
          await c.status;
        }
        server.close();
        await stack.close();
      }
    });
  },
});
