/**
 * The driver: the only asynchronous core of the stack. It owns the clock, the link and the
 * timers; drains frames from the link into the engine's receive area in batches, hands them to
 * the interface layer (which feeds TCP), runs the TCP and interface timers, and sleeps until
 * the next deadline or the next frame. Socket calls schedule a flush with `kick()` so that
 * writes go out at once (the TCP layer never transmits from a socket call by itself).
 *
 * In virtual-clock mode the driver never sleeps or sets timers: a `Simulation` (see
 * `stack_sim.ts`) calls `step()` and moves the clock to the earliest deadline.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import type { Engine } from "./kernels/engine.ts";
import { RX_OFF, RX_SIZE } from "./wire/layout.ts";
import { type ChecksumFn, frameRoom, type Link } from "./link/link.ts";
import { jsChecksum } from "./kernels/js/checksum.ts";
import { Interface, type InterfaceOptions } from "./iface/interface.ts";
import type { TcpHandler } from "./tcp/contract.ts";
import { type Clock, realClock } from "./stack_clock.ts";

/**
 * Frames drained per pass. Small enough that a burst cannot fill a receive buffer before the
 * application gets to read (64 full frames are 93 KB; the default buffer is 256 KiB).
 */
const BATCH = 64;
/**
 * Bytes of the receive area offered to the link per pass, at least two frames' room. With
 * offload a frame may be 64 KiB: without this bound one pass could take a whole receive
 * window (256 KiB: four frames) before the application reads, and our ACK would close the
 * window. Plain frames are unaffected (64 of 1514 bytes fit).
 */
const BATCH_BYTES = 128 * 1024;
/** A batch that took longer than this (ms) sends its output on a fresh clock (see #pass). */
const LONG_BATCH_MS = 1;
/** Loopback rounds per pass: looped frames received, then the TCP output they caused sent. */
const LOOPBACK_ROUNDS = 16;
/** Consecutive microtask-driven services before one macrotask yield (fairness). */
const MICRO_RUN = 64;

/** Frames up to this size carry headers only (Ethernet, IPv6, TCP with options): no data. */
const HEADER_ONLY = 128;

/** True when each of the `n` frames of `meta` is at most `HEADER_ONLY` bytes. */
function smallFrames(meta: Int32Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (meta[2 * i + 1]! > HEADER_ONLY) return false;
  return true;
}

/** What the driver needs of the TCP layer (`TcpLayer` of src/tcp/tcp_layer.ts has it). */
export interface DriverTcp extends TcpHandler {
  /** Stack shutdown: "reset" sends RST on every connection; "graceful" sends FIN. */
  closeAll(mode: "reset" | "graceful", now: number): void;
  /** Live connections. */
  readonly connectionCount: number;
  /** Layer counters. */
  stats(): Record<string, number>;
  /** Set by the driver: the layer calls it when it has work (queued output, earlier deadline). */
  onWork?: (() => void) | null;
  /**
   * Set by a real-time driver: handshake ACKs wait for the application's first turn (so its
   * first data carries them), released by `releaseAcks()` (TcpLayer.holdHandshakeAck).
   */
  holdHandshakeAck?: boolean;
  /** Handshake ACKs held. */
  readonly heldAcks?: number;
  /** The application had its turn: held handshake ACKs go at the next poll. */
  releaseAcks?(): void;
}

/** What the driver is built from. */
export interface DriverOptions<T extends DriverTcp> {
  /** The link (already wrapped by any decorators). The driver owns it and closes it. */
  link: Link;
  /** The hot-path engine. */
  engine: Engine;
  /** Interface options (address, prefix, gateway, mac, limits); `mtu` defaults to link.mtu. */
  iface: Omit<InterfaceOptions, "mtu"> & { mtu?: number };
  /**
   * Build the TCP layer over the engine and the interface (its `TcpTransmit`), for example
   * `(engine, tx) => new TcpLayer(engine, tx, tuning)`.
   */
  createTcp: (engine: Engine, tx: Interface) => T;
  /** The clock; real by default. */
  clock?: Clock;
  /** Extra deadline sources, besides the link's own `nextDueAt()` capability. */
  deadlines?: ReadonlyArray<() => number>;
}

/** An Internet checksum over views of the engine's packet memory by the engine itself. */
function engineChecksum(engine: Engine): ChecksumFn {
  return (m, off, len, initial) => {
    const mem = engine.mem; // replaced when the WASM memory grows
    if (m.buffer !== mem.buffer) return jsChecksum(m, off, len, initial);
    return engine.checksum(m.byteOffset - mem.byteOffset + off, len, initial);
  };
}

/** The method of a {@link DriverMember} that `Driver.close` calls. */
export const STACK_CLOSED: unique symbol = Symbol("stack closed");

/** What joins a driver (`Driver.join`): a state for a graceful close, a hook for its end. */
export interface DriverMember {
  /** The RFC 9293 state of the member's connection. */
  readonly state: string;
  /** The driver closed. */
  [STACK_CLOSED](): void;
}

/** A frame watcher installed on `Driver.observer` (the trace API). Must not throw. */
export interface FrameObserver {
  /** A frame the driver received (before processing) or sent. */
  frame(dir: "in" | "out", buf: Uint8Array, off: number, len: number): void;
  /** The end of a service pass (states may have changed without a frame). */
  passEnd(): void;
}

/** How `Driver.close` ends open connections. */
export type CloseMode = "reset" | "graceful";

/**
 * The driver of one stack.
 *
 * @example Two drivers over a memory link in virtual time
 * ```ts
 * import { Driver } from "./stack.ts";
 * import { VirtualClock } from "./stack_clock.ts";
 * import { createJsEngine } from "./kernels/js_engine.ts";
 * import { createMemoryLinkPair } from "./link/memory.ts";
 * import { TcpLayer } from "./tcp/tcp_layer.ts";
 * const clock = new VirtualClock();
 * const [a] = createMemoryLinkPair();
 * const d = new Driver({
 *   link: a, engine: createJsEngine(), clock,
 *   iface: { address: 0x0a070002, prefixLength: 24 },
 *   createTcp: (engine, tx) => new TcpLayer(engine, tx),
 * });
 * d.start();
 * d.step();
 * await d.close("reset");
 * ```
 */
export class Driver<T extends DriverTcp = DriverTcp> {
  /** The hot-path engine. */
  readonly engine: Engine;
  /** The link, owned by the driver. */
  readonly link: Link;
  /**
   * Why the link failed (a TAP device deleted under the stack: `BadResource`), or null. The
   * stack then closes itself as `close("reset")` would, and connections report this error.
   */
  linkError: Error | null = null;
  /** The interface layer. */
  readonly iface: Interface;
  /** The TCP layer. */
  readonly tcp: T;
  /** The clock. */
  readonly clock: Clock;
  /** Sees every frame in and out, then the end of each pass (the trace API, src/api/trace.ts). */
  get observer(): FrameObserver | null {
    return this.#observer;
  }
  set observer(o: FrameObserver | null) {
    this.#observer = o;
    // Frames a trace reads get complete checksums; otherwise the link may keep partial ones.
    this.link.keepPartialChecksums?.(o === null);
  }
  #observer: FrameObserver | null = null;

  #meta = new Int32Array(2 * BATCH);
  #deadlines: ReadonlyArray<() => number>;
  #started = false;
  #closed = false;
  #kickPending = false;
  #continuePending = false;
  #microRun = 0;
  /** The application has work queued (accepts): the next continued pass yields first. */
  #appFirst = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #yieldTimer: ReturnType<typeof setImmediate> | undefined;
  /** The turn after which held handshake ACKs are released (see #service). */
  #ackTurn: ReturnType<typeof setImmediate> | undefined;
  #linkWait: Promise<void> | null = null;
  #closeHooks = new Set<() => void>();
  #tracked = new Set<{ readonly state: string }>();
  #framesIn = 0;
  /** Frames handed to the link since the current pass began. */
  #sentInPass = 0;
  #services = 0;
  #rxBytes: number;
  #rx: Uint8Array | null = null;
  #room: number;

  /** Build the layers; nothing runs until `start()`. */
  constructor(options: DriverOptions<T>) {
    this.engine = options.engine;
    this.link = options.link;
    this.clock = options.clock ?? realClock;
    this.#deadlines = options.deadlines ?? [];
    const sink = {
      send: (b: Uint8Array, o: number, l: number) => {
        this.#sentInPass++;
        this.observer?.frame("out", b, o, l);
        try {
          this.link.send(b, o, l);
        } catch (e) {
          this.#linkFailed(e);
        }
      },
    };
    this.iface = new Interface(this.engine, sink, {
      ...options.iface,
      mtu: options.iface.mtu ?? this.link.mtu,
      maxSendFrame: options.iface.maxSendFrame ?? this.link.maxSendFrame,
    });
    this.tcp = options.createTcp(this.engine, this.iface);
    this.iface.attachTcp(this.tcp);
    this.tcp.onWork = () => this.kick();
    if (!this.clock.virtual && "holdHandshakeAck" in this.tcp) this.tcp.holdHandshakeAck = true;
    // Checksum help (link.ts): a link with offloads completes the kernel's partial checksums
    // in the frames it reads into packet memory, with the engine's checksum (WASM: ~5x the JS
    // one at 64 KiB). Corking: it merges the TCP segments of one pass (see #service).
    this.link.useChecksum?.(engineChecksum(this.engine));
    this.link.keepPartialChecksums?.(true); // vouched for (rxChecksumValid), never verified
    this.#room = frameRoom(this.link);
    this.#rxBytes = Math.min(RX_SIZE, Math.max(BATCH_BYTES, 2 * this.#room));
  }

  /** True after `close()` began. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The current time of the driver's clock (integer ms). */
  now(): number {
    return this.clock.now();
  }

  /** Announce the interface and start the loop (a no-op loop in virtual mode). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.iface.start(this.now());
    this.#service();
  }

  /**
   * Schedule a flush soon (in a microtask): the TCP layer's `onWork` and UDP sends call this so
   * that output leaves at once and any new deadline is taken into account.
   */
  kick(): void {
    if (this.#kickPending || this.#closed) return;
    if (this.#appFirst) {
      this.#continue(); // the application catches up first; the next turn flushes this
      return;
    }
    this.#kickPending = true;
    queueMicrotask(this.#onKick);
  }

  // The callbacks of kick, #continue and #schedule, made once (not a closure per call).
  readonly #onKick = (): void => {
    this.#kickPending = false;
    this.#service();
  };
  readonly #onContinue = (): void => {
    this.#continuePending = false;
    this.#service();
  };
  readonly #onWait = (): void => {
    this.#linkWait = null;
    this.#onLinkReady();
  };
  readonly #onAckTurn = (): void => {
    this.#ackTurn = undefined;
    if ((this.tcp.heldAcks ?? 0) === 0) return; // each one went with data or a FIN
    this.tcp.releaseAcks?.();
    this.#service();
  };

  /**
   * The application has work the stack made (connections to accept): the next continued pass
   * waits for a macrotask turn, so that every pending continuation (an accept loop takes a few
   * promise hops per connection) runs first; kicks wait for that turn too. Without it a
   * connection burst filled the accept queue during a run of microtask passes (continued
   * batches, and the kicks of the application's own writes) and the listener dropped
   * handshakes (issue 17).
   */
  deferToApp(): void {
    if (!this.clock.virtual) this.#appFirst = true;
  }

  /**
   * Drain the link, feed every frame to the interface, run the timers: one service pass.
   * Returns the number of frames received. Used directly by simulations (virtual clock).
   */
  step(): number {
    return this.#service();
  }

  /**
   * The earliest deadline of the layers, of the link (frames it holds, `nextDueAt`) and of
   * the extra deadline sources (Infinity: none).
   */
  pollAt(): number {
    let t = Math.min(this.tcp.pollAt(), this.iface.pollAt(), this.link.nextDueAt?.() ?? Infinity);
    for (const d of this.#deadlines) t = Math.min(t, d());
    return t;
  }

  /** Counters of the driver itself. */
  driverStats(): Record<string, number> {
    return { "driver-frames-in": this.#framesIn, "driver-services": this.#services };
  }

  /** Register a function called when the driver closes (API objects reject their waiters). */
  onClose(hook: () => void): () => void {
    this.#closeHooks.add(hook);
    return () => this.#closeHooks.delete(hook);
  }

  /**
   * Track a connection (by its RFC 9293 `state`) so that a graceful close knows when every
   * connection has finished its closing handshake. Returns the function that stops tracking.
   */
  track(conn: { readonly state: string }): () => void {
    this.#tracked.add(conn);
    return () => this.#tracked.delete(conn);
  }

  /**
   * `track` and `onClose` in one, without a closure: `m` counts for a graceful close by its
   * `state`, and its `[STACK_CLOSED]()` runs when the driver closes, until `leave(m)` (each
   * connection of the socket API joins: three closures a connection were a measurable share
   * of a short connection).
   */
  join(m: DriverMember): void {
    this.#tracked.add(m);
  }

  /** Undo `join(m)`. */
  leave(m: DriverMember): void {
    this.#tracked.delete(m);
  }

  /** True when every tracked connection is in TIME-WAIT or CLOSED. */
  #allClosed(): boolean {
    for (const c of this.#tracked) {
      if (c.state !== "TIME-WAIT" && c.state !== "CLOSED") return false;
    }
    return true;
  }

  /**
   * Shut down: end every connection ("reset" sends RST; "graceful" sends FIN and keeps the loop
   * running until `settled()` says the closes are done or `timeoutMs` passes, then resets what
   * remains), stop the loop, close the link and wait for its pending wait to end. Leaves no
   * timer or pending operation behind. Idempotent.
   */
  async close(
    mode: CloseMode = "reset",
    options: { timeoutMs?: number; settled?: () => boolean } = {},
  ): Promise<void> {
    if (this.#closed) return;
    if (mode === "graceful" && this.#started) {
      this.tcp.closeAll("graceful", this.now());
      this.#service();
      const settled = options.settled ?? (() => this.#allClosed());
      const deadline = this.clock.now() + (options.timeoutMs ?? 2000);
      while (!settled() && this.clock.now() < deadline && !this.clock.virtual) {
        await new Promise<void>((resolve) => setTimeout(resolve, 10));
      }
    }
    if (this.#started) {
      this.tcp.closeAll("reset", this.now());
      this.#flush(this.now());
    }
    this.#closed = true;
    for (const hook of [...this.#closeHooks]) hook();
    this.#closeHooks.clear();
    for (const m of [...this.#tracked]) {
      if (STACK_CLOSED in m) (m as DriverMember)[STACK_CLOSED]();
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#yieldTimer !== undefined) clearImmediate(this.#yieldTimer);
    if (this.#ackTurn !== undefined) clearImmediate(this.#ackTurn);
    this.#timer = this.#yieldTimer = this.#ackTurn = undefined;
    this.link.close();
    const pending = this.#linkWait;
    if (pending) await pending;
  }

  /** Output at `now`, timers due by `dueBy` (when the link was read; see TcpLayer.poll). */
  #flush(now: number, dueBy: number = now): void {
    this.tcp.poll(now, dueBy);
    // Frames to our own addresses wait in the interface's loopback queue: receive them and send
    // what they caused, so a loopback exchange completes within the pass (bounded rounds).
    for (let i = 0; i < LOOPBACK_ROUNDS && this.iface.deliverLoopback(now) > 0; i++) {
      this.tcp.poll(now, dueBy);
    }
    this.iface.poll(now);
  }

  /** One service: a pass, then perhaps a second one. */
  #service(): number {
    if (this.#closed || !this.#started) return 0;
    this.#services++;
    const now = this.now();
    const buf = this.#rxView();
    const meta = this.#meta;
    // Every pass reads before it sends, also a kick's right after a pass that read the link
    // dry: a frame that arrived meanwhile (a window closed to zero, a RST) is seen before
    // anything goes out on the state it changes (conformance tcp_window_shrink_respected).
    let n = this.#pass(buf, meta, now);
    let total = n;
    // A kernel on the other end of the link answers some segments inside our write (a SYN
    // with its SYN-ACK, a FIN with its ACK; the kernel's TCP runs in the writing thread):
    // when this pass sent frames and drained the link, read once more now rather than after
    // a turn of the event loop (a few microseconds on each step of a short connection). Only
    // after a batch of header-only frames (no data for the application, which would first
    // read it: two batches of data in a row could close the receive window).
    if (
      !this.clock.virtual && this.#sentInPass > 0 && this.#drained(n, meta) &&
      smallFrames(meta, n) && !this.#closed
    ) {
      n = this.#pass(this.#rxView(), meta, now);
      total += n;
    }
    this.observer?.passEnd();
    const full = !this.#drained(n, meta);
    if (!this.clock.virtual) {
      // Handshake ACKs held for the application's first data (TcpLayer.holdHandshakeAck): the
      // application's continuations run in the microtasks after this pass, and what it writes
      // there is flushed by its kick, ACK included; after that turn (an immediate runs once
      // every queued microtask ran) the ACKs still held go alone. Queued before the link wait
      // below, whose busy poll would otherwise spin first waiting for the peer's answer.
      const held = (this.tcp.heldAcks ?? 0) > 0;
      if (held && this.#ackTurn === undefined) this.#ackTurn = setImmediate(this.#onAckTurn);
      else if (!held && this.#ackTurn !== undefined) {
        clearImmediate(this.#ackTurn); // each one went with data or a FIN
        this.#ackTurn = undefined;
      }
      this.#schedule(full);
    }
    return total;
  }

  /** The receive area: a view made again only when WASM memory grew (engine.ts). */
  #rxView(): Uint8Array {
    const mem = this.engine.mem;
    let v = this.#rx;
    if (v === null || v.buffer !== mem.buffer) {
      v = this.#rx = mem.subarray(RX_OFF, RX_OFF + this.#rxBytes);
    }
    return v;
  }

  /** True when the link gave fewer frames than it could have: nothing more was waiting. */
  #drained(n: number, meta: Int32Array): boolean {
    // More may wait when the batch filled up, in count or in room for another frame, or when
    // looped frames wait.
    return !(n === BATCH || this.iface.loopbackPending > 0 ||
      (n > 0 && this.#rxBytes - (meta[2 * n - 2]! + meta[2 * n - 1]!) < this.#room));
  }

  /** Receive one batch into `buf`, process it, flush the output; frames received. */
  #pass(buf: Uint8Array, meta: Int32Array, now: number): number {
    const link = this.link;
    this.#sentInPass = 0;
    link.cork?.();
    let n = 0;
    try {
      n = link.receive(buf, meta, BATCH);
      for (let i = 0; i < n; i++) {
        // engine.mem, not buf: handling the previous frame may have grown WASM memory (a
        // growing receive buffer), which detaches buf; the frames stay at their offsets.
        this.observer?.frame("in", this.engine.mem, RX_OFF + meta[2 * i]!, meta[2 * i + 1]!);
        // A TCP/UDP checksum the link vouched for (link.ts) is not summed again.
        const l4Valid = link.rxChecksumValid?.(i) === true;
        this.iface.receive(RX_OFF + meta[2 * i]!, meta[2 * i + 1]!, now, l4Valid);
      }
      this.#framesIn += n;
      // Poll after the batch so ACKs and window updates leave without waiting for the rest.
      // After a long batch (large frames take milliseconds, tens on a loaded machine) what
      // leaves is sent on a fresh clock, so a timer it arms (a tail loss probe, 2 SRTT) does
      // not start in the past, and timers fire only if due when the link was read (see
      // #flush). Within a short batch the pass's own clock serves both: a fresh clock there
      // halved the connections/s of 16 clients in flight (bench:e2e).
      const t = n > 0 ? this.now() : now;
      this.#flush(t - now > LONG_BATCH_MS ? t : now, now);
    } catch (e) {
      this.#linkFailed(e); // rethrows all but a lost device
    } finally {
      link.uncork?.();
    }
    return n;
  }

  /** Run another pass soon: in a microtask, or after a macrotask turn now and then. */
  #continue(): void {
    if (this.#appFirst) this.#microRun = MICRO_RUN;
    if (++this.#microRun < MICRO_RUN) {
      // Readers woken by this batch run first (their continuations are already queued), so
      // the application drains the receive buffer between batches and the window stays open.
      if (!this.#continuePending) {
        this.#continuePending = true;
        queueMicrotask(this.#onContinue);
      }
      return;
    }
    if (this.#yieldTimer === undefined) {
      // setImmediate, not setTimeout(0): nested zero timers are clamped to milliseconds, which
      // left the memory link idle half the time (bench:e2e profile); an immediate costs ~4 us.
      this.#yieldTimer = setImmediate(() => {
        this.#yieldTimer = undefined;
        this.#microRun = 0;
        this.#appFirst = false; // every continuation queued before this turn has run
        this.#service();
      });
    }
  }

  /** Arm the link wait and the deadline timer (real mode only). */
  #schedule(more: boolean): void {
    if (more) this.#continue();
    if (this.#linkWait === null) {
      this.#linkWait = this.link.wait(Infinity).then(this.#onWait);
    }
    const at = this.pollAt();
    // Re-armed only for an earlier deadline: one that moved later (a retransmission timer
    // restarted by an ACK, a connection gone) keeps the armed timer, which then fires early
    // into a pass that finds nothing due and arms the new deadline. Short connections move the
    // earliest deadline several times each; a setTimeout per move was a measurable share of
    // a connections/s profile.
    if (at < this.#timerAt) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerAt = at;
      if (Number.isFinite(at)) {
        // On the driver's own clock (the one `at` is on); at least 1 ms: a deadline a layer
        // keeps in the past must not spin the event loop.
        const delay = Math.max(1, Math.ceil(at - this.clock.now()));
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#timerAt = Infinity;
          this.#microRun = 0;
          this.#service();
        }, delay);
      }
    }
  }

  /**
   * The link threw: a link that lost its device (`BadResource`) closes the stack instead of
   * an uncaught error in a timer or a wait callback, which would end the process; anything
   * else is a bug and is rethrown.
   */
  #linkFailed(e: unknown): void {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
    if (this.linkError !== null) return;
    this.linkError = e;
    queueMicrotask(() => void this.close("reset").catch(() => {}));
  }

  #onLinkReady(): void {
    if (this.#closed) return;
    // Frames from an in-process peer can make wait() resolve in a chain of microtasks; the
    // same fairness rule as for continued batches applies.
    this.#continue();
  }
}
