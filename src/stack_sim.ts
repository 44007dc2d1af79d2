/**
 * Whole-stack simulation in virtual time: several drivers (usually over memory links, with or
 * without a fault injector) stepped together. Frames are delivered and timers run exactly as
 * in real mode, but when nothing moves the clock jumps to the earliest deadline, so a
 * simulated minute of retransmission timeouts takes milliseconds.
 *
 * @module
 */

import type { Driver } from "./stack.ts";
import type { VirtualClock } from "./stack_clock.ts";

/** Something that can be stepped: a driver, or an object holding one (a stack). */
export interface Steppable {
  /** One service pass; returns the frames received. */
  step(): number;
  /** The earliest deadline in ms (Infinity when none). */
  pollAt(): number;
}

/** Limits for `Simulation.run`. */
export interface RunLimits {
  /** Virtual milliseconds after which `run` fails (default 600000). */
  maxVirtualMs?: number;
  /** Service rounds after which `run` fails (default 10000000). */
  maxRounds?: number;
}

/**
 * Steps several stacks that share one virtual clock.
 *
 * @example Run two drivers until a promise settles
 * ```ts
 * import { Simulation } from "./stack_sim.ts";
 * import { VirtualClock } from "./stack_clock.ts";
 * const clock = new VirtualClock();
 * const sim = new Simulation(clock, []);
 * const value = await sim.run(Promise.resolve(42));
 * if (value !== 42) throw new Error("wrong value");
 * ```
 */
export class Simulation {
  /** The shared clock. */
  readonly clock: VirtualClock;
  #members: Steppable[];
  #extra: Array<() => number> = [];

  /** Simulate `members` (drivers or stacks) on `clock`. */
  constructor(clock: VirtualClock, members: ReadonlyArray<Steppable | Driver>) {
    this.clock = clock;
    this.#members = [...members];
  }

  /** Add a member. */
  add(member: Steppable): void {
    this.#members.push(member);
  }

  /** Add an extra deadline source (for example a fault injector's `nextDueAt`). */
  addDeadline(source: () => number): void {
    this.#extra.push(source);
  }

  /** One round: step every member once. Returns the frames received in total. */
  step(): number {
    let moved = 0;
    for (const m of this.#members) moved += m.step();
    return moved;
  }

  /** The earliest deadline of every member (Infinity when none). */
  pollAt(): number {
    let t = Infinity;
    for (const m of this.#members) t = Math.min(t, m.pollAt());
    for (const d of this.#extra) t = Math.min(t, d());
    return t;
  }

  /**
   * Step the members, letting application code run between rounds, until `until` settles;
   * when a round moves no frame the clock jumps to the earliest deadline. Resolves (or
   * rejects) like `until`. Throws when nothing is left to happen (stalled) or a limit is hit.
   */
  async run<T>(until: Promise<T>, limits: RunLimits = {}): Promise<T> {
    let settled = false;
    until.then(() => settled = true, () => settled = true);
    const start = this.clock.now();
    const maxMs = limits.maxVirtualMs ?? 600_000;
    const maxRounds = limits.maxRounds ?? 10_000_000;
    for (let round = 0; !settled; round++) {
      if (round >= maxRounds) throw new Error(`Simulation did not settle in ${maxRounds} rounds`);
      let moved = this.step();
      await yieldTask();
      if (settled) break;
      if (moved === 0) moved = this.step();
      if (moved === 0) {
        await yieldTask();
        if (settled) break;
        if (this.step() > 0) continue;
        const at = this.pollAt();
        if (!Number.isFinite(at)) {
          throw new Error(`Simulation stalled at ${this.clock.now()} ms: nothing left to happen`);
        }
        this.clock.advanceTo(Math.max(at, this.clock.now() + 1));
        if (this.clock.now() - start > maxMs) {
          throw new Error(`Simulation did not settle within ${maxMs} virtual ms`);
        }
      }
    }
    return await until;
  }

  /** Advance virtual time by `ms`, stepping through every deadline on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    for (let i = 0; i < 10_000_000; i++) {
      while (this.step() > 0) await yieldTask();
      await yieldTask();
      const at = this.pollAt();
      if (at > end) break;
      this.clock.advanceTo(Math.max(at, this.clock.now() + 1));
    }
    this.clock.advanceTo(end);
    this.step();
    await yieldTask();
  }
}

/**
 * Let application code run: a few dozen microtask turns (enough for promise chains several
 * awaits deep). Macrotask yields (setTimeout 0) cost about 2 ms each in Deno, far too slow for
 * a simulation of thousands of rounds.
 */
async function yieldTask(): Promise<void> {
  for (let i = 0; i < 32; i++) await null;
}
