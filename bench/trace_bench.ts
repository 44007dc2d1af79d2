/**
 * What following a connection costs: a 8 MiB transfer between two whole stacks (the timed part: the transfer only) over the memory
 * link in virtual time (WASM engine), with nothing observing the driver (baseline), with a
 * no-op observer installed (the cost of the hook itself), and with `stack.trace()` open on both
 * stacks and drained (decoding every segment into an event).
 *
 *   deno bench -A bench/trace_bench.ts
 *
 * @module
 */
import { createMemoryLinkPair, createStack, type NetStack } from "../mod.ts";
import { Simulation, VirtualClock } from "../testing.ts";

const TOTAL = 8 << 20;

async function transfer(observe: "none" | "noop" | "trace", b: Deno.BenchContext): Promise<void> {
  const clock = new VirtualClock();
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: "10.9.0.1/24", clock });
  const z = await createStack({ link: lb, address: "10.9.0.2/24", clock });
  const sim = new Simulation(clock, [a, z]);
  const drains: Array<Promise<number>> = [];
  for (const s of [a, z] as NetStack[]) {
    if (observe === "noop") s.driver.observer = { frame() {}, passEnd() {} };
    if (observe === "trace") {
      const t = s.trace({ limit: 1 << 16 });
      drains.push((async () => {
        let n = 0;
        for await (const _ of t) n++;
        return n;
      })());
    }
  }
  const listener = z.listen({ port: 80 });
  const accepted = listener.accept();
  const c = await sim.run(a.connect({ hostname: "10.9.0.2", port: 80 }));
  const s = await sim.run(accepted);
  b.start();
  const sending = c.write(new Uint8Array(TOTAL));
  const buf = new Uint8Array(65536);
  let got = 0;
  while (got < TOTAL) got += (await sim.run(s.read(buf))) ?? 0;
  await sim.run(sending);
  b.end();
  listener.close();
  await a.close();
  await z.close();
  const events = await Promise.all(drains);
  if (observe === "trace" && !(events[0]! > 5000)) throw new Error(`only ${events[0]} events`);
}

// JIT warm-up, so that the first member of the group does not pay for it.
Deno.bench("warm-up (not compared)", { group: "warm-up" }, async (b) => {
  await transfer("trace", b);
});
Deno.bench("transfer 8 MiB, no observer", { group: "trace", baseline: true }, async (b) => {
  await transfer("none", b);
});
Deno.bench("transfer 8 MiB, no-op observer", { group: "trace" }, async (b) => {
  await transfer("noop", b);
});
Deno.bench("transfer 8 MiB, stack.trace() on both stacks", { group: "trace" }, async (b) => {
  await transfer("trace", b);
});
