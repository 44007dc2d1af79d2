/**
 * Waiting for a TAP device's next frame without spinning the event loop: a zero-timeout
 * synchronous `poll` first (well under a microsecond on V8's fast FFI path); when nothing is
 * waiting, one `nonblocking` FFI `poll` parked in another thread on the device and an eventfd
 * that `close()` signals. A parked poll costs no CPU; its wake-up costs tens of microseconds,
 * paid once per burst since `receive()` then drains every frame the device holds.
 *
 * Busy polling (`busyPollUs`, default 50, as Linux `busy_poll`): within 1 ms of the last frame,
 * a wait lets the event loop run what is queued (the application's reply first), then checks
 * the device without parking for up to that long, which takes the wake-up out of a
 * request/response round trip (88 to 34 us over TAP). An idle link never spins.
 *
 * Adaptive (spin only while it pays): a spin that ends without a frame was wasted CPU, as
 * when a bulk receiver is starved by a slow sender (frames every few hundred microseconds:
 * fixed 50 us spins after each cost ~40% of a core). One miss is forgiven (a scheduling
 * hiccup); after two in a row the next wait parks at once, and every further miss doubles
 * that (2, 4 ... 64 waits); a spin that finds a frame resets it. Counted in waits, not time, so the policy is deterministic: a request/response
 * peer keeps hitting and keeps its low latency; a slow trickle spins about once per 64 waits.
 *
 * No poll that cannot find anything: a wait within 10 us of a read that found the device dry
 * after header-only frames, with no write since (`drainedAt`, kept by the device), goes
 * straight to the spin or the park, which find a frame that arrived meanwhile all the same.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import type { TapStats } from "./types.ts";
import {
  addressOf,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  errnoName,
  errnoNow,
  type Libc,
  POLLIN,
  setIov,
} from "./libc.ts";

const ONE = 1n;
const TWO = 2n;
/** Busy polling applies this long after the last frame received (ms). */
const BUSY_POLL_WINDOW_MS = 1;
/** A wait this soon after a receive() ended on EAGAIN skips its first poll (ms). */
const DRAINED_FRESH_MS = 0.01;
/** Waits skipped after a run of misses, at most (adaptive busy polling). */
const MAX_SKIP = 64;

/** The wait side of one TAP device. */
export class TapWaiter {
  /** When `receive()` last returned frames (performance.now() ms). */
  lastRxAt = -Infinity;
  /**
   * When the device's last `receive()` ended on EAGAIN (performance.now() ms), -Infinity when
   * a frame was read or written since or a wait began (kept by the device).
   */
  drainedAt = -Infinity;
  #c: Libc;
  #evfd: number;
  #stats: TapStats;
  #closed = false;
  #pollNow = new Int32Array(new ArrayBuffer(8)); // struct pollfd { int fd; short events, revents }
  #pollPark = new Int32Array(new ArrayBuffer(16)); // tap fd and eventfd, owned by the parked poll
  #parked: Promise<void> | null = null;
  #parkedUntil = 0;
  #busyPollMs: number;
  /** The busy poll queued: its promise's resolve and its immediate (no object per wait). */
  #spin: (() => void) | null = null;
  #spinHandle: ReturnType<typeof setImmediate> | undefined;
  /** When the current busy poll began (ms) and how long its wait may last in all. */
  #spinStart = 0;
  #spinTimeout = 0;
  #evBuf = new Uint8Array(new ArrayBuffer(8));
  #evIov = new Uint32Array(new ArrayBuffer(16));
  /** Waits that park at once before the next spin (adaptive busy polling). */
  #skip = 0;
  /** The skip after the next miss: 0 (one miss forgiven), 1, 2, 4 ... MAX_SKIP; a hit resets. */
  #backoff = 0;
  /** The eventfd was written by wakeSoon() and must be drained. */
  #woken = false;

  /** Waits on `fd` (device `ifname`), counting into `stats`. Throws if no eventfd is left. */
  constructor(c: Libc, fd: number, ifname: string, busyPollUs: number, stats: TapStats) {
    this.#c = c;
    this.#stats = stats;
    this.#busyPollMs = busyPollUs / 1000;
    this.#evfd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#evfd < 0) {
      const e = errnoNow(c);
      throw new Error(`Cannot create the wake-up eventfd of TAP device ${ifname}: ${errnoName(e)}`);
    }
    this.#pollNow[0] = fd;
    this.#pollNow[1] = POLLIN;
    this.#pollPark[0] = fd;
    this.#pollPark[1] = POLLIN;
    this.#pollPark[2] = this.#evfd;
    this.#pollPark[3] = POLLIN;
    setIov(this.#evIov, addressOf(this.#evBuf), 8);
  }

  /** Resolve when a frame may be read, after `timeoutMs`, or when the link closes. */
  wait(timeoutMs: number): Promise<void> {
    if (this.#closed) return this.#parked ?? Promise.resolve();
    const c = this.#c;
    // Right after a receive() that read the device dry (its readv said EAGAIN a few
    // microseconds ago, and nothing was written since, whose answer the kernel would queue
    // inside the write) a poll almost never finds a frame (a handful in 10,000 waits of a
    // connection loop): skip it; a frame that did arrive since is found by the spin or the
    // parked poll below all the same. Later (a pass that processed large frames) it may well
    // find the next one (a bulk receiver's waits): poll.
    const now = performance.now();
    const fresh = now - this.drainedAt < DRAINED_FRESH_MS;
    this.drainedAt = -Infinity;
    if (!fresh && c.poll(this.#pollNow, ONE, 0) > 0) {
      this.#stats.readyWaits++;
      return Promise.resolve();
    }
    if (!(timeoutMs > 0)) return Promise.resolve();
    if (
      this.#parked === null && this.#spin === null && this.#busyPollMs > 0 &&
      now - this.lastRxAt < BUSY_POLL_WINDOW_MS
    ) {
      if (this.#skip === 0) return this.#busyPoll(timeoutMs);
      this.#skip--;
      this.#stats.busyPollSkips++;
    }
    return this.#park(timeoutMs);
  }

  /**
   * End the current wait soon although the device has nothing (the link made up frames of
   * its own, a TUN's ARP replies): a spin settles, a parked poll is woken by the eventfd.
   */
  wakeSoon(): void {
    if (this.#closed) return;
    if (this.#spin !== null) {
      clearImmediate(this.#spinHandle);
      this.#spin();
      this.#spin = null;
      return;
    }
    if (this.#parked !== null && !this.#woken) {
      this.#woken = true;
      new DataView(this.#evBuf.buffer).setBigUint64(0, 1n, true);
      this.#c.writev(this.#evfd, this.#evIov, 1);
    }
  }

  /**
   * Busy polling: traffic a moment ago, so the next frame is likely near. Once the event loop
   * has run what is queued (the application's replies come first), check the device without
   * parking for up to `busyPollUs`, then park for the rest of the wait.
   */
  #busyPoll(timeoutMs: number): Promise<void> {
    this.#spinStart = performance.now();
    this.#spinTimeout = timeoutMs;
    return new Promise<void>((resolve) => {
      this.#spin = resolve;
      this.#spinHandle = setImmediate(this.#onSpin);
    });
  }

  /** The spin of #busyPoll, made once (not a closure per wait). */
  readonly #onSpin = (): void => {
    const resolve = this.#spin!;
    this.#spin = null;
    if (this.#closed) return resolve();
    const end = performance.now() + this.#busyPollMs;
    do {
      if (this.#c.poll(this.#pollNow, ONE, 0) > 0) {
        this.#stats.busyPollHits++;
        this.#backoff = 0;
        return resolve();
      }
    } while (performance.now() < end);
    // A miss: the spin did not pay; park at once for the next waits (see the module).
    this.#stats.busyPollMisses++;
    this.#skip = this.#backoff;
    this.#backoff = Math.min(MAX_SKIP, Math.max(1, this.#backoff * 2));
    const left = this.#spinTimeout - (performance.now() - this.#spinStart);
    if (!(left > 0)) return resolve();
    this.#park(left).then(resolve);
  };

  /** Park one poll of the device and the close eventfd in another thread. */
  #park(timeoutMs: number): Promise<void> {
    const c = this.#c;
    const until = performance.now() + timeoutMs;
    if (this.#parked === null) {
      const ms = timeoutMs === Infinity ? -1 : Math.min(Math.ceil(timeoutMs), 0x7fffffff);
      this.#stats.parkedWaits++;
      this.#parkedUntil = until;
      this.#parked = c.pollAsync(this.#pollPark, TWO, ms).then(() => {
        this.#parked = null;
        if (this.#closed) this.#closeEventFd();
        else if (this.#woken) {
          this.#woken = false;
          c.readv(this.#evfd, this.#evIov, 1); // drain: the next parked poll must not return
        }
      });
      return this.#parked;
    }
    if (until >= this.#parkedUntil) return this.#parked;
    // A poll with a later deadline is already parked: race it against a timer of our own.
    const parked = this.#parked;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, until - performance.now());
      parked.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Stop waiting: a spinning wait settles at once, a parked poll is woken (the eventfd is
   * closed only once that poll has returned, so its descriptor number cannot be reused under
   * it). Call before the device's descriptor is closed.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#spin !== null) {
      clearImmediate(this.#spinHandle);
      this.#spin();
      this.#spin = null;
    }
    if (this.#parked !== null) {
      new DataView(this.#evBuf.buffer).setBigUint64(0, 1n, true);
      this.#c.writev(this.#evfd, this.#evIov, 1);
    } else {
      this.#closeEventFd();
    }
  }

  #closeEventFd(): void {
    if (this.#evfd >= 0) {
      this.#c.close(this.#evfd);
      this.#evfd = -1;
    }
  }
}
