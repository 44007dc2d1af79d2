/**
 * Internals for tests, simulations and benchmarks (the `./testing.ts` export): the hot-path
 * engine contract, the virtual clock and the seeded simulation runner, and the fault
 * injector. Programs that only need sockets use `mod.ts`.
 *
 * @example Two stacks in virtual time through a lossy link
 * ```ts
 * import { createMemoryLinkPair, createStack } from "./mod.ts";
 * import { Simulation, VirtualClock, withFaults } from "./testing.ts";
 * const clock = new VirtualClock();
 * const [la, lb] = createMemoryLinkPair();
 * const lossy = withFaults(la, { seed: 1, drop: 0.1, clock: () => clock.now() });
 * const a = await createStack({ link: lossy, address: "10.9.0.1/24", clock });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24", clock });
 * const sim = new Simulation(clock, [a, b]);
 * const l = b.listen({ port: 80 });
 * const accepted = l.accept();
 * const conn = await sim.run(a.connect({ hostname: "10.9.0.2", port: 80 }));
 * (await sim.run(accepted)).close();
 * conn.close();
 * l.close();
 * await a.close();
 * await b.close();
 * ```
 *
 * @module
 */

export type { BufferOps, Engine, WireOps } from "./src/kernels/engine.ts";
export { createJsEngine } from "./src/kernels/js_engine.ts";
export { createWasmEngine } from "./src/kernels/wasm_engine.ts";
export { VirtualClock } from "./src/stack_clock.ts";
export type { Clock } from "./src/stack_clock.ts";
export type { ChecksumFn, Link } from "./src/link/link.ts";
export { type RunLimits, Simulation, type Steppable } from "./src/stack_sim.ts";
export { type FaultLink, type FaultOptions, type FaultStats, withFaults } from "./src/link/mod.ts";
