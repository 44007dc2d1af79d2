/**
 * Busy polling after frames sent (`TapOptions.busyPollAfter: "send"`, src/link/tap/wait.ts),
 * the mode of the gateway: a wait parks at once (no spin after a frame received, which would
 * hold back the event loop), and a pass that sent a frame expecting an answer (data, SYN,
 * UDP) starts a spin that resolves the parked wait as soon as the answer is there. Counted in hits, misses and parks,
 * not timed. The waiter tests use an eventfd as the device (no root); the last test runs over
 * a TAP device in a namespace against the kernel's UDP echo.
 */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { TapWaiter } from "../../src/link/tap/wait.ts";
import { openTap } from "../../src/link/tap/tap.ts";
import {
  addressOf,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  type Libc,
  libc,
  setIov,
} from "../../src/link/tap/libc.ts";
import type { TapStats } from "../../src/link/tap/types.ts";
import { createNetns, requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { ip4, tcpFrame, udpFrame } from "../support/wire_frames.ts";

function zeroStats(): TapStats {
  return {
    rxFrames: 0,
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
    rxLargestFrame: 0,
    rxBadHeader: 0,
    txGsoFrames: 0,
    txMerged: 0,
    arpAnswered: 0,
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

/** One macrotask turn. */
const turn = () => new Promise<void>((r) => setImmediate(r));

Deno.test('tap: busyPollAfter must be "receive" or "send"', () => {
  assert.throws(
    () => openTap({ name: "tap0", busyPollAfter: "always" as "send" }),
    (e: Error) => e instanceof TypeError && /busyPollAfter/.test(e.message),
  );
});

Deno.test({
  name: "busy polling after send: waits park at once; a spin after a send resolves the wait",
  ignore: !ffi,
  fn: async () => {
    const c = libc();
    const dev = fakeDevice(c);
    const stats = zeroStats();
    const w = new TapWaiter(c, dev.fd, "fake0", 5000, stats, true);
    try {
      // Traffic a moment ago, but no spin: the wait parks at once.
      w.lastRxAt = performance.now();
      let done = false;
      const first = w.wait(5000).then(() => void (done = true));
      assert.equal(stats.parkedWaits, 1);
      assert.equal(stats.busyPollHits + stats.busyPollMisses, 0);
      // A send that gets no answer: the spin misses, the wait stays parked.
      w.sent();
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(stats.busyPollMisses, 1);
      assert.equal(done, false, "a missed spin leaves the wait parked");
      // The answer comes later: the parked poll resolves the wait.
      dev.arrive();
      await first;
      dev.drain();
      await turn();
      // Request/response: the answer is there when the spin looks (queued before it).
      const rounds = 20;
      const hits0 = stats.busyPollHits;
      for (let i = 0; i < rounds; i++) {
        const q = w.wait(5000);
        setImmediate(() => dev.arrive());
        w.sent();
        await q;
        await turn();
        dev.drain();
      }
      const hits = stats.busyPollHits - hits0;
      // Most waits end by the spin; one may now and then end by a stale parked poll of the
      // previous round first (that poll also saw the frame), which is no miss.
      assert.ok(hits >= rounds / 2, `${hits} hits in ${rounds} rounds: ${JSON.stringify(stats)}`);
      assert.equal(stats.busyPollMisses, 1);
    } finally {
      w.close();
      dev.close();
    }
  },
});

Deno.test({
  name:
    "busy polling after send: with no wait parked, the next wait spins first and parks only on a miss",
  ignore: !ffi,
  fn: async () => {
    const c = libc();
    const dev = fakeDevice(c);
    const stats = zeroStats();
    const w = new TapWaiter(c, dev.fd, "fake0", 5000, stats, true);
    try {
      // A pass sent a frame expecting an answer (the wait that began it already ended).
      w.sent();
      setImmediate(() => dev.arrive()); // the answer, there when the spin looks
      await w.wait(5000);
      dev.drain();
      assert.equal(stats.busyPollHits, 1);
      assert.equal(stats.parkedWaits, 0, "answered by the spin: no poll parked");
      // The same with no answer: the spin misses, then the wait parks.
      w.sent();
      const late = w.wait(5000);
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(stats.busyPollMisses, 1);
      assert.equal(stats.parkedWaits, 1);
      dev.arrive();
      await late;
      dev.drain();
      // Without a send the wait parks at once.
      const plain = w.wait(5000);
      assert.equal(stats.parkedWaits, 2);
      dev.arrive();
      await plain;
    } finally {
      w.close();
      dev.close();
    }
  },
});

Deno.test({
  name: "busy polling after send: a no-op in the default mode; close settles a spinning wait",
  ignore: !ffi,
  fn: async () => {
    const c = libc();
    const dev = fakeDevice(c);
    const stats = zeroStats();
    const w = new TapWaiter(c, dev.fd, "fake0", 5000, stats); // "receive": spins after frames
    try {
      const q = w.wait(5000); // no traffic: parks
      w.sent();
      await turn();
      assert.equal(stats.busyPollHits + stats.busyPollMisses + stats.busyPollSkips, 0);
      dev.arrive();
      await q;
      dev.drain();
    } finally {
      w.close();
      dev.close();
    }
    const dev2 = fakeDevice(c);
    const w2 = new TapWaiter(c, dev2.fd, "fake1", 5000, zeroStats(), true);
    const q2 = w2.wait(60_000);
    w2.sent(); // a spin is scheduled; close cancels it and wakes the parked poll
    w2.close();
    await q2;
    dev2.close();
  },
});

const OUR_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

Deno.test({
  name: "tap: busyPollAfter send answers the kernel's replies by the spin; no spin after pure ACKs",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const ns = await createNetns("dtbs-");
    const link = openTap({
      name: "tap0",
      mtu: 1500,
      create: true,
      netns: ns.name,
      peer: "10.7.0.1/24",
      busyPollUs: 20_000,
      busyPollAfter: "send",
    });
    try {
      const neigh = await ns.run(
        ["ip", "neigh", "add", "10.7.0.2", "lladdr", "02:00:00:00:00:02", "dev", "tap0"],
      );
      assert.equal(neigh.code, 0, neigh.stderr);
      const kernelMac = (await ns.run(["cat", "/sys/class/net/tap0/address"])).stdout.trim()
        .split(":").map((h) => parseInt(h, 16));
      // The kernel's UDP echo answers each datagram a millisecond later: the answer comes
      // while the spin after our send looks (20 ms budget: room for a loaded machine).
      const count = 30;
      const py = "import socket, time\n" +
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n" +
        "s.bind(('10.7.0.1', 9999)); s.settimeout(20)\n" +
        "print('ready', flush=True)\n" +
        `for _ in range(${count}):\n` +
        "    d, a = s.recvfrom(64); time.sleep(0.001); s.sendto(d, a)\n";
      const echo = ns.spawn(["/usr/bin/python3", "-c", py], { stdout: "piped" });
      const out = echo.stdout.getReader();
      const first = await out.read();
      assert.match(new TextDecoder().decode(first.value), /ready/);
      const buf = new Uint8Array(1 << 17);
      const meta = new Int32Array(256);
      const frame = (i: number) =>
        udpFrame(
          { dst: kernelMac, src: OUR_MAC },
          { src: ip4("10.7.0.2"), dst: ip4("10.7.0.1"), id: i },
          9,
          9999,
          new Uint8Array([i]),
        );
      // A wait parked before the send (as the driver's is), then one pass that sends.
      let got = 0;
      const deadline = performance.now() + 20_000;
      for (let i = 0; i < count && performance.now() < deadline; i++) {
        let answered = false;
        const req = frame(i);
        let wait = link.wait(500);
        link.cork?.();
        link.send(req, 0, req.length);
        link.uncork?.();
        while (!answered && performance.now() < deadline) {
          await wait;
          const n = link.receive(buf, meta, 64);
          for (let k = 0; k < n; k++) {
            const off = meta[2 * k]!;
            if (buf[off + 23] === 17 && buf[off + 34] === 0x27 && buf[off + 42] === i) {
              answered = true;
            }
          }
          if (!answered) wait = link.wait(500);
        }
        if (answered) got++;
      }
      assert.equal((await echo.status).code, 0);
      await out.cancel();
      assert.equal(got, count);
      const s = link.stats;
      assert.ok(s.busyPollHits > count / 2, `${s.busyPollHits} hits: ${JSON.stringify(s)}`);
      // A pass that sends only pure ACKs (what a bulk receiver sends) starts no spin.
      const spins = s.busyPollHits + s.busyPollMisses + s.busyPollSkips;
      const pending = link.wait(100);
      link.cork?.();
      for (let i = 0; i < 3; i++) {
        const f = tcpFrame(
          { dst: kernelMac, src: OUR_MAC },
          { src: ip4("10.7.0.2"), dst: ip4("10.7.0.1"), id: 200 + i },
          { srcPort: 40000 + i, dstPort: 9, seq: 1, ack: 1, flags: 0x10, wnd: 512 },
          new Uint8Array(0),
        );
        link.send(f, 0, f.length);
      }
      link.uncork?.();
      await pending;
      assert.equal(s.busyPollHits + s.busyPollMisses + s.busyPollSkips, spins);
    } finally {
      link.close();
      await link.wait(0);
      await ns.delete();
    }
  },
});
