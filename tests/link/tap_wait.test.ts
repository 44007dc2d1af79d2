/**
 * Adaptive busy polling of the TAP waiter (src/link/tap/wait.ts), counted in spins, misses,
 * skips and parks rather than timed: an eventfd stands in for the device (readable when
 * written), so no root is needed. A starved receiver (frames never come within the spin)
 * stops spinning after a few misses; a request/response peer (the reply is ready by the time
 * the spin looks) keeps spinning; a hit after misses restores spinning.
 */
import assert from "node:assert/strict";
import { TapWaiter } from "../../src/link/tap/wait.ts";
import {
  addressOf,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  type Libc,
  libc,
  setIov,
} from "../../src/link/tap/libc.ts";
import type { TapStats } from "../../src/link/tap/types.ts";
import { setImmediate } from "node:timers";

function zeroStats(): TapStats {
  return {
    rxFrames: 0,
    rxDryReads: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    txErrors: 0,
    parkedWaits: 0,
    readyWaits: 0,
    busyPollHits: 0,
    busyPollMisses: 0,
    busyPollSkips: 0,
    rxGsoFrames: 0,
    rxChecksumsCompleted: 0,
    rxChecksumsKept: 0,
    rxLargestFrame: 0,
    rxBadHeader: 0,
    txGsoFrames: 0,
    txMerged: 0,
    arpAnswered: 0,
    ndAnswered: 0,
    txDropped: 0,
  };
}

/** An eventfd "device": `arrive()` makes it readable, `drain()` empties it. */
function fakeDevice(c: Libc): { fd: number; arrive(): void; drain(): void; close(): void } {
  const fd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  assert.ok(fd >= 0);
  const buf = new Uint8Array(new ArrayBuffer(8));
  const iov = new Uint32Array(new ArrayBuffer(16));
  setIov(iov, addressOf(buf), 8);
  return {
    fd,
    arrive: () => {
      new DataView(buf.buffer).setBigUint64(0, 1n, true);
      c.writev(fd, iov, 1);
    },
    drain: () => void c.readv(fd, iov, 1),
    close: () => void c.close(fd),
  };
}

const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted" &&
  Deno.build.os === "linux";

Deno.test({
  name: "busy polling: a starved receiver stops spinning after a few misses",
  ignore: !ffi,
  fn: async () => {
    const c = libc();
    const dev = fakeDevice(c);
    const stats = zeroStats();
    const w = new TapWaiter(c, dev.fd, "fake0", 50, stats);
    try {
      const waits = 40;
      for (let i = 0; i < waits; i++) {
        w.lastRxAt = performance.now(); // traffic a moment ago: busy polling applies
        await w.wait(1); // nothing arrives
      }
      const spins = stats.busyPollHits + stats.busyPollMisses;
      assert.equal(stats.busyPollHits, 0);
      // Without adaptation: 40 spins. With it: spins at waits 1, 2, 4, 7, 12, 21, 38.
      assert.ok(spins <= 8, `${spins} spins in ${waits} waits`);
      // Every wait either spun or skipped, but for a wait whose 1 ms traffic window had passed
      // because the process was descheduled between setting lastRxAt and waiting (at most 2).
      const decided = spins + stats.busyPollSkips;
      assert.ok(decided <= waits && decided >= waits - 2, `${decided} of ${waits} waits decided`);
      assert.ok(stats.parkedWaits >= waits - 1);
    } finally {
      w.close();
      dev.close();
    }
  },
});

Deno.test({
  name: "busy polling: request/response keeps spinning, and a hit after misses restores it",
  ignore: !ffi,
  fn: async () => {
    const c = libc();
    const dev = fakeDevice(c);
    const stats = zeroStats();
    const w = new TapWaiter(c, dev.fd, "fake0", 5000, stats);
    try {
      // Misses first: the spin budget backs off.
      for (let i = 0; i < 6; i++) {
        w.lastRxAt = performance.now();
        await w.wait(1);
      }
      assert.ok(stats.busyPollMisses >= 2);
      // Now the peer answers while the application runs (queued before the spin looks).
      let hitsFrom = -1;
      for (let i = 0; i < 40; i++) {
        w.lastRxAt = performance.now();
        setImmediate(() => dev.arrive());
        const before = stats.busyPollHits;
        await w.wait(1000);
        dev.drain();
        if (hitsFrom < 0 && stats.busyPollHits > before) hitsFrom = i;
      }
      assert.ok(hitsFrom >= 0 && hitsFrom <= 16, `first hit at wait ${hitsFrom}`);
      // From the first hit on, the waits are answered by the spin, not skipped or parked. A
      // loaded machine may deschedule us past one 5 ms spin now and then: allow two such misses.
      const hits = stats.busyPollHits;
      assert.ok(
        hits >= 40 - hitsFrom - 2 && hits <= 40 - hitsFrom,
        `${hits} hits from ${hitsFrom}`,
      );
    } finally {
      w.close();
      dev.close();
    }
  },
});

Deno.test({
  name: "tap wait: right after a read that found the device dry, a wait does not poll first",
  ignore: !ffi,
  fn: async () => {
    const c = libc();
    const dev = fakeDevice(c);
    const stats = zeroStats();
    const w = new TapWaiter(c, dev.fd, "fake0", 5000, stats);
    try {
      // Not drained: a frame already there is found by the wait's first poll.
      dev.arrive();
      await w.wait(1000);
      assert.equal(stats.readyWaits, 1);
      // Drained a moment ago (the device's last readv said EAGAIN): no first poll, yet a
      // frame that arrived since is found by the spin all the same.
      w.drainedAt = performance.now();
      w.lastRxAt = performance.now();
      await w.wait(1000);
      assert.equal(stats.readyWaits, 1, "the first poll was skipped");
      assert.equal(stats.busyPollHits, 1, "the spin found the frame");
      assert.equal(w.drainedAt, -Infinity, "it holds for one wait only");
      // Without busy polling (the 1 ms window passed), the parked poll finds it.
      w.drainedAt = performance.now();
      w.lastRxAt = -Infinity;
      await w.wait(1000);
      assert.equal(stats.readyWaits, 1);
      assert.equal(stats.parkedWaits, 1, "found by the parked poll");
      // Drained long ago (a pass processed large frames since): the first poll looks.
      w.drainedAt = performance.now() - 1;
      await w.wait(1000);
      assert.equal(stats.readyWaits, 2, "found by the first poll");
    } finally {
      w.close();
      dev.close();
    }
  },
});
