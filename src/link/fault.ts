/**
 * A decorator that impairs a link like a bad network: seeded drop, duplicate, reorder,
 * corrupt, delay with jitter and a rate limit, each optional. Deterministic: the same seed, the
 * same frames and the same clock readings give the same faults (a virtual clock in
 * simulations, `performance.now` in real runs).
 *
 * Direction: inbound frames (those `receive()` returns) by default; `direction: "out"` impairs
 * what `send()` transmits and `"both"` does both, each direction with its own queue.
 *
 * Per frame, in this order (every frame draws the same seven random numbers, so changing one
 * rate does not shift the others' decisions):
 * 1. drop with probability `drop`;
 * 2. duplicate with probability `duplicate` (the copy follows right behind);
 * 3. rate limit: each copy takes len * 8 / `rateBitsPerSec` on a serial link after the
 *    previous one (like netem `rate`);
 * 4. delay by `delayMs` plus a uniform jitter in [0, `jitterMs`) (jitter may reorder frames,
 *    as with netem);
 * 5. reorder with probability `reorder`: the frame is held `reorderMs` longer, so frames behind
 *    it overtake it;
 * 6. corrupt with probability `corrupt`: one random bit flipped after the Ethernet header (so
 *    the frame still reaches the stack and its IP or TCP checksum must catch it).
 *
 * Held frames (delayed, rate limited) live in a bounded pool (`queueLimit`, default 1000
 * frames); beyond it they are dropped and counted as `overflow`. Inbound frames are released
 * by `receive()` once due; outbound ones by the next `send()`, `receive()` or `wait()` call
 * after they are due. `nextDueAt()` tells a driver when to call again.
 *
 * Capabilities (link.ts): corking, checksum help and `sameThreadPeer` are forwarded;
 * `counters()` returns `fault-*` plus the wrapped link's counters; `nextDueAt()` is this
 * injector's (and the wrapped link's). Large frames are adapted: an oversized IPv4 or IPv6
 * TCP frame from a link with segmentation offload is cut into MTU-sized segments (segment.ts)
 * before the faults apply, so drops and delays hit wire-sized frames as on a real network; any other
 * oversized frame is dropped and counted as `oversize`. Frames leaving the injector therefore
 * never exceed mtu + 18 bytes and it declares no `maxFrame` of its own.
 *
 * @module
 */

import { type ChecksumFn, frameRoom, type Link } from "./link.ts";
import { segmentFrame } from "./segment.ts";
import { HoldQueue, Random } from "./fault_queue.ts";
export type { Link };

/** Options of {@link withFaults}. Probabilities are in [0, 1]. */
export interface FaultOptions {
  /** Seed of the random sequence (any integer). */
  seed: number;
  /** Probability that a frame is lost. */
  drop?: number;
  /** Probability that a frame arrives twice. */
  duplicate?: number;
  /** Probability that a frame is held `reorderMs` longer, so later frames overtake it. */
  reorder?: number;
  /** Probability that one bit of a frame (after the Ethernet header) is flipped. */
  corrupt?: number;
  /** Fixed delay added to every frame, in milliseconds. */
  delayMs?: number;
  /** Uniform random extra delay in [0, jitterMs). */
  jitterMs?: number;
  /** Serialization rate in bits per second (absent: unlimited). */
  rateBitsPerSec?: number;
  /** Clock in milliseconds: the virtual clock in simulations, performance.now in real runs. */
  clock: () => number;
  /** Which frames to impair: "in" (received; the default), "out" (sent) or "both". */
  direction?: "in" | "out" | "both";
  /** Extra hold of a reordered frame in milliseconds (default max(1, delayMs + jitterMs)). */
  reorderMs?: number;
  /** Frames each direction may hold at once (default 1000). */
  queueLimit?: number;
}

/**
 * Fault counters (a type alias, so it is also a `Record<string, number>`). `frames` counts
 * frames that entered the injector; `delivered` those that left it (duplicates included).
 */
export type FaultStats = {
  /** Frames that entered the injector. */
  frames: number;
  /** Frames dropped on purpose. */
  dropped: number;
  /** Frames sent twice. */
  duplicated: number;
  /** Frames with a flipped bit. */
  corrupted: number;
  /** Frames held back to be overtaken. */
  reordered: number;
  /** Frames released later than they arrived (delay, jitter, rate limit or reorder). */
  delayed: number;
  /** Copies dropped because the hold pool was full. */
  overflow: number;
  /** Frames released (duplicates included). */
  delivered: number;
  /** Large frames (beyond mtu + 18) cut into MTU-sized segments before the faults applied. */
  segmented: number;
  /** Frames beyond mtu + 18 that could not be cut (not IPv4 or IPv6 TCP): dropped. */
  oversize: number;
};

/** A link with faults: counters and the next release time. */
export interface FaultLink extends Link {
  /** Counters, by name. */
  readonly faultStats: FaultStats;
  /** The wrapped link. */
  readonly inner: Link;
  /**
   * Clock time at which the next held frame is due (Infinity when none), including the
   * wrapped link's own `nextDueAt()` when it has one.
   */
  nextDueAt(): number;
  /** `faultStats` as `fault-<name>`, plus the wrapped link's counters. */
  counters(): Record<string, number>;
}

const FRAME_OVERHEAD = 18;
const PULL_FRAMES = 64;

class FaultInjector implements FaultLink {
  readonly name: string;
  readonly mtu: number;
  readonly inner: Link;
  readonly sameThreadPeer: boolean | undefined;
  readonly #st: FaultStats = {
    frames: 0,
    dropped: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    delayed: 0,
    overflow: 0,
    delivered: 0,
    segmented: 0,
    oversize: 0,
  };
  #o: Required<Omit<FaultOptions, "seed" | "clock" | "direction" | "rateBitsPerSec">> & {
    rate: number;
  };
  #clock: () => number;
  #rng: Random;
  #in: HoldQueue | null;
  #out: HoldQueue | null;
  #scratch: Uint8Array;
  #scratchMeta = new Int32Array(2 * PULL_FRAMES);
  #cut: Uint8Array;

  constructor(inner: Link, options: FaultOptions) {
    if (typeof options?.clock !== "function") {
      throw new TypeError(
        "Fault option clock must be a function returning milliseconds " +
          "(in real runs: clock: () => performance.now(); a simulation passes its virtual clock)",
      );
    }
    this.inner = inner;
    this.name = inner.name;
    this.mtu = inner.mtu;
    this.sameThreadPeer = inner.sameThreadPeer;
    this.#clock = options.clock;
    this.#rng = new Random(options.seed);
    const prob = (key: "drop" | "duplicate" | "reorder" | "corrupt"): number => {
      const p = options[key] ?? 0;
      if (!(p >= 0 && p <= 1)) {
        throw new RangeError(`Fault probability ${key} must be in [0, 1], got ${p}`);
      }
      return p;
    };
    const nonNeg = (key: "delayMs" | "jitterMs" | "reorderMs", dflt: number): number => {
      const v = options[key] ?? dflt;
      if (!(v >= 0 && v < Infinity)) {
        throw new RangeError(`Fault option ${key} must be >= 0, got ${v}`);
      }
      return v;
    };
    const delayMs = nonNeg("delayMs", 0);
    const jitterMs = nonNeg("jitterMs", 0);
    const rate = options.rateBitsPerSec ?? Infinity;
    if (!(rate > 0)) throw new RangeError(`Fault option rateBitsPerSec must be > 0, got ${rate}`);
    const queueLimit = options.queueLimit ?? 1000;
    if (!Number.isInteger(queueLimit) || queueLimit < 1) {
      throw new RangeError(`Fault option queueLimit must be a positive integer, got ${queueLimit}`);
    }
    this.#o = {
      drop: prob("drop"),
      duplicate: prob("duplicate"),
      reorder: prob("reorder"),
      corrupt: prob("corrupt"),
      delayMs,
      jitterMs,
      reorderMs: nonNeg("reorderMs", Math.max(1, delayMs + jitterMs)),
      queueLimit,
      rate,
    };
    const direction = options.direction ?? "in";
    if (direction !== "in" && direction !== "out" && direction !== "both") {
      throw new TypeError(`Fault option direction must be "in", "out" or "both", got ${direction}`);
    }
    const slot = this.mtu + FRAME_OVERHEAD;
    this.#in = direction === "out" ? null : new HoldQueue(queueLimit, slot);
    this.#out = direction === "in" ? null : new HoldQueue(queueLimit, slot);
    // Room for a full pull of the wrapped link, whose frames may be large (offload).
    this.#scratch = new Uint8Array(Math.max(2 * 65553, 16 * slot, 8 * frameRoom(inner)));
    this.#cut = new Uint8Array(slot);
  }

  cork(): void {
    this.inner.cork?.();
  }

  uncork(): void {
    this.inner.uncork?.();
  }

  useChecksum(fn: ChecksumFn): void {
    this.inner.useChecksum?.(fn);
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = { ...this.inner.counters?.() };
    for (const [k, v] of Object.entries(this.#st)) out[`fault-${k}`] = v;
    return out;
  }

  get faultStats(): FaultStats {
    return this.#st;
  }

  nextDueAt(): number {
    const own = Math.min(this.#in?.peekDue() ?? Infinity, this.#out?.peekDue() ?? Infinity);
    return Math.min(own, this.inner.nextDueAt?.() ?? Infinity);
  }

  receive(buf: Uint8Array, meta: Int32Array, max: number): number {
    const now = this.#clock();
    this.#flushOut(now);
    const q = this.#in;
    if (q === null) return this.inner.receive(buf, meta, max);
    // Pull what the wrapped link holds (bounded by the pool size), impairing each frame.
    const sm = this.#scratchMeta;
    for (let pulled = 0; pulled < q.limit;) {
      const n = this.inner.receive(this.#scratch, sm, PULL_FRAMES);
      for (let i = 0; i < n; i++) this.#admit(q, this.#scratch, sm[2 * i]!, sm[2 * i + 1]!, now);
      pulled += n;
      if (n === 0) break;
    }
    const room = this.mtu + FRAME_OVERHEAD;
    if (meta.length < 2 * max) max = meta.length >> 1;
    let off = 0;
    let n = 0;
    while (n < max && q.peekDue() <= now && buf.length - off >= room) {
      const s = q.pop();
      const len = q.lens[s]!;
      buf.set((q.slots[s] as Uint8Array).subarray(0, len), off);
      meta[2 * n] = off;
      meta[2 * n + 1] = len;
      off += len;
      n++;
    }
    this.#st.delivered += n;
    return n;
  }

  send(buf: Uint8Array, off: number, len: number): void {
    const now = this.#clock();
    const q = this.#out;
    if (q === null) {
      this.inner.send(buf, off, len);
      return;
    }
    if (!(off >= 0 && len >= 14 && off + len <= buf.length && len <= this.mtu + FRAME_OVERHEAD)) {
      throw new RangeError(
        `Frame [${off}, ${off + len}) is outside the buffer or does not fit ${this.name}`,
      );
    }
    this.#impair(q, buf, off, len, now);
    this.#flushOut(now);
  }

  wait(timeoutMs: number): Promise<void> {
    const now = this.#clock();
    this.#flushOut(now);
    const inDue = this.#in?.peekDue() ?? Infinity;
    if (inDue <= now) return Promise.resolve();
    const next = Math.min(inDue, this.#out?.peekDue() ?? Infinity);
    return this.inner.wait(Math.min(timeoutMs, next - now));
  }

  close(): void {
    this.#in?.clear();
    this.#out?.clear();
    this.inner.close();
  }

  #flushOut(now: number): void {
    const q = this.#out;
    if (q === null) return;
    while (q.peekDue() <= now) {
      const s = q.pop();
      this.#st.delivered++;
      this.inner.send(q.slots[s] as Uint8Array, 0, q.lens[s]!);
    }
  }

  /** A frame from the wrapped link: cut first when it is larger than the wire allows. */
  #admit(q: HoldQueue, src: Uint8Array, off: number, len: number, now: number): void {
    if (len <= this.mtu + FRAME_OVERHEAD) return this.#impair(q, src, off, len, now);
    const cuts = segmentFrame(src, off, len, this.mtu, this.#cut, (f, l) => {
      this.#impair(q, f, 0, l, now);
    });
    if (cuts > 0) this.#st.segmented++;
    else this.#st.oversize++;
  }

  /** Apply the faults to one frame and hold its copies in `q`. */
  #impair(q: HoldQueue, src: Uint8Array, off: number, len: number, now: number): void {
    const o = this.#o;
    const st = this.#st;
    const rng = this.#rng;
    // Seven draws per frame, always, so each decision depends only on the seed and frame index.
    const rDrop = rng.next();
    const rDup = rng.next();
    const rReorder = rng.next();
    const rJitter = rng.next();
    const rCorrupt = rng.next();
    const rPos = rng.next();
    const rBit = rng.next();
    st.frames++;
    if (rDrop < o.drop) {
      st.dropped++;
      return;
    }
    const copies = rDup < o.duplicate ? 2 : 1;
    if (copies === 2) st.duplicated++;
    const reordered = rReorder < o.reorder;
    if (reordered) st.reordered++;
    const corrupt = rCorrupt < o.corrupt && len > 14;
    let delayed = false;
    for (let c = 0; c < copies; c++) {
      let due = now;
      if (o.rate !== Infinity) {
        q.busyUntil = Math.max(now, q.busyUntil) + (len * 8 * 1000) / o.rate;
        due = q.busyUntil;
      }
      due += o.delayMs + rJitter * o.jitterMs;
      if (reordered) due += o.reorderMs;
      if (due > now) delayed = true;
      const s = q.push(src, off, len, due);
      if (s < 0) {
        st.overflow++;
        continue;
      }
      if (corrupt && c === 0) {
        const at = 14 + Math.floor(rPos * (len - 14));
        (q.slots[s] as Uint8Array)[at]! ^= 1 << Math.floor(rBit * 8);
        st.corrupted++;
      }
    }
    if (delayed) st.delayed++;
  }
}

/**
 * Wrap `link` with seeded faults (see the module documentation for the order and direction).
 *
 * @example
 * ```ts
 * import { createMemoryLinkPair } from "./memory.ts";
 * import { withFaults } from "./fault.ts";
 * let now = 0;
 * const [a, b] = createMemoryLinkPair();
 * const lossy = withFaults(b, { seed: 1, drop: 0.5, delayMs: 10, clock: () => now });
 * for (let i = 0; i < 100; i++) a.send(new Uint8Array(60), 0, 60);
 * const buf = new Uint8Array(1 << 20);
 * const meta = new Int32Array(256);
 * console.assert(lossy.receive(buf, meta, 128) === 0); // all held for 10 ms
 * now = lossy.nextDueAt();
 * const got = lossy.receive(buf, meta, 128);
 * console.assert(got + lossy.faultStats.dropped === 100);
 * a.close();
 * lossy.close();
 * ```
 */
export function withFaults(link: Link, options: FaultOptions): FaultLink {
  return new FaultInjector(link, options);
}
