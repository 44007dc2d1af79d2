import assert from "node:assert/strict";
import { openTap } from "../../src/link/tap/tap.ts";
import { createNetns, requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { ip4, udpFrame } from "../support/wire_frames.ts";

const OUR_MAC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
const OUR_IP = [10, 7, 0, 2];
const KERNEL_IP = [10, 7, 0, 1];

/** An ARP request (RFC 826) from us for `target`, built by hand. */
function arpRequest(target: number[]): Uint8Array {
  return new Uint8Array([
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ...OUR_MAC,
    0x08,
    0x06,
    0x00,
    0x01,
    0x08,
    0x00,
    6,
    4,
    0x00,
    0x01,
    ...OUR_MAC,
    ...OUR_IP,
    0,
    0,
    0,
    0,
    0,
    0,
    ...target,
  ]);
}

Deno.test({
  name: "tap: the kernel answers a hand-built ARP request inside a namespace",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ link, ifname, ns }) => {
      assert.equal(ifname, "tap0");
      assert.equal(link.mtu, 1500);
      const shown = await ns.run(["ip", "-o", "link", "show", "tap0"]);
      assert.match(shown.stdout, /mtu 1500/);
      const req = arpRequest(KERNEL_IP);
      link.send(req, 0, req.length);
      const buf = new Uint8Array(1 << 17);
      const meta = new Int32Array(128);
      const deadline = performance.now() + 3000;
      let reply: Uint8Array | null = null;
      while (reply === null && performance.now() < deadline) {
        await link.wait(500);
        const n = link.receive(buf, meta, 64);
        for (let i = 0; i < n; i++) {
          const f = buf.subarray(meta[2 * i]!, meta[2 * i]! + meta[2 * i + 1]!);
          if (f.length >= 42 && f[12] === 0x08 && f[13] === 0x06 && f[21] === 2) reply = f.slice();
        }
      }
      assert.ok(reply, "no ARP reply from the kernel within 3 s");
      assert.deepEqual([...reply.subarray(0, 6)], OUR_MAC, "reply goes to our MAC");
      assert.deepEqual([...reply.subarray(28, 32)], KERNEL_IP, "sender is the kernel's address");
      assert.deepEqual([...reply.subarray(32, 38)], OUR_MAC);
      assert.deepEqual([...reply.subarray(38, 42)], OUR_IP);
      assert.ok(link.stats.txFrames === 1 && link.stats.rxFrames >= 1);
    });
  },
});

Deno.test("tap: names over 15 bytes and bad names are refused before any system call", () => {
  assert.throws(() => openTap({ name: "a-very-long-tap-name" }), {
    name: "RangeError",
    message: 'TAP device name "a-very-long-tap-name" is 20 bytes, the limit is 15',
  });
  assert.throws(() => openTap({ name: "" }), TypeError);
  assert.throws(() => openTap({ name: "tap/0" }), TypeError);
  assert.throws(() => openTap({ name: "tap0", mtu: 40 }), RangeError);
});

Deno.test({
  name: "tap: clear errors for a missing namespace, a missing device, an existing one, a busy one",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    assert.throws(
      () => openTap({ name: "tap0", netns: "dtcp-no-such-namespace" }),
      (e: Error) => e instanceof Deno.errors.NotFound && /does not exist/.test(e.message),
    );
    const ns = await createNetns();
    try {
      assert.throws(
        () => openTap({ name: "tapx", create: false, netns: ns.name }),
        (e: Error) =>
          e instanceof Deno.errors.NotFound && /tapx: it does not exist in network/.test(e.message),
      );
      const a = openTap({ name: "tapx", create: true, mtu: 9000, netns: ns.name });
      try {
        assert.equal(a.mtu, 9000);
        const shown = await ns.run(["ip", "-o", "link", "show", "tapx"]);
        assert.match(shown.stdout, /mtu 9000/);
        assert.match(shown.stdout, /[<,]UP[,>]/);
        assert.throws(
          () => openTap({ name: "tapx", create: true, netns: ns.name }),
          (e: Error) => e instanceof Deno.errors.AlreadyExists && /already exists/.test(e.message),
        );
        assert.throws(
          () => openTap({ name: "tapx", netns: ns.name }),
          (e: Error) => e instanceof Deno.errors.Busy && /busy/.test(e.message),
        );
        assert.throws(
          () => openTap({ name: "lo", create: false, netns: ns.name }),
          (e: Error) =>
            e instanceof Deno.errors.AlreadyExists && /not a TAP device/.test(e.message),
        );
        // The device lives only in the namespace.
        const main = await new Deno.Command("ip", { args: ["-o", "link"], stdout: "piped" })
          .output();
        assert.doesNotMatch(new TextDecoder().decode(main.stdout), /\btapx\b/);
      } finally {
        a.close();
      }
      // A non-persistent device disappears with its last file descriptor.
      const gone = await ns.run(["ip", "link", "show", "tapx"]);
      assert.notEqual(gone.code, 0);
    } finally {
      await ns.delete();
    }
  },
});

Deno.test({
  name: "tap: close() wakes a parked wait, and wait() times out",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ link }) => {
      const t0 = performance.now();
      await link.wait(50);
      const waited = performance.now() - t0;
      assert.ok(waited >= 45 && waited < 1000, `wait(50) took ${waited} ms`);
      const t1 = performance.now();
      const parked = link.wait(Infinity);
      setTimeout(() => link.close(), 20);
      await parked;
      assert.ok(performance.now() - t1 < 1000);
      assert.equal(link.fd, -1);
      assert.equal(link.receive(new Uint8Array(4096), new Int32Array(8), 4), 0);
      assert.throws(() => link.send(new Uint8Array(60), 0, 60), Deno.errors.BadResource);
    });
  },
});

Deno.test({
  name: "tap: a burst of kernel pings is drained in few receive calls",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ ns, link }) => {
      // A static neighbour entry inside the namespace lets the kernel send to our address
      // without ARP; nothing answers, so ping just sends its preloaded burst.
      const neigh = await ns.run([
        "ip",
        "neigh",
        "add",
        "10.7.0.2",
        "lladdr",
        "02:00:00:00:00:02",
        "dev",
        "tap0",
      ]);
      assert.equal(neigh.code, 0, neigh.stderr);
      const count = 200;
      const ping = ns.run([
        "ping",
        "-n",
        "-q",
        "-c",
        String(count),
        "-l",
        String(count),
        "-W",
        "0.2",
        "10.7.0.2",
      ]);
      const buf = new Uint8Array(1 << 20);
      const meta = new Int32Array(2048);
      let got = 0;
      let calls = 0;
      const deadline = performance.now() + 5000;
      while (got < count && performance.now() < deadline) {
        await link.wait(200);
        const n = link.receive(buf, meta, 1024);
        if (n > 0) calls++;
        for (let i = 0; i < n; i++) {
          const off = meta[2 * i]!;
          if (buf[off + 12] === 0x08 && buf[off + 13] === 0x00 && buf[off + 23] === 1) got++;
        }
      }
      await ping;
      assert.equal(got, count);
      assert.ok(calls < count, `${calls} receive calls for ${count} frames`);
    });
  },
});

Deno.test({
  name: "tap: busy polling answers a wait that follows traffic, without parking a poll",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    for (const busyPollUs of [0, 20_000]) {
      await withTapNamespace({ kernelAddr: "10.7.0.1/24", busyPollUs }, async ({ ns, link }) => {
        const neigh = await ns.run(
          ["ip", "neigh", "add", "10.7.0.2", "lladdr", "02:00:00:00:00:02", "dev", "tap0"],
        );
        assert.equal(neigh.code, 0, neigh.stderr);
        const kernelMac = (await ns.run(["cat", "/sys/class/net/tap0/address"])).stdout.trim()
          .split(":").map((h) => parseInt(h, 16));
        assert.equal(kernelMac.length, 6);
        // Request and response, the traffic busy polling is for: a UDP echo server of the
        // kernel answers each datagram we send a millisecond later (so the answer comes
        // while the wait spins, not before it starts), and we send the next one as soon as
        // the answer is in. Every wait then follows traffic by microseconds and is answered
        // by exactly one frame however the loaded machine schedules the two processes (a
        // sender pacing itself with sleeps delivered two or three frames per wait whenever
        // this process was descheduled: fewer waits than frames, so fewer hits). The spin
        // is long enough for the echo server's wake-up on a loaded machine; what is checked
        // is that the spin answers the wait, not how fast.
        const count = 40;
        const py = "import socket, time\n" +
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n" +
          "s.bind(('10.7.0.1', 9999)); s.settimeout(20)\n" +
          "print('ready', flush=True)\n" +
          `for _ in range(${count}):\n` +
          "    d, a = s.recvfrom(64); time.sleep(0.001); s.sendto(d, a)\n";
        const echo = ns.spawn(["/usr/bin/python3", "-c", py], { stdout: "piped" });
        const out = echo.stdout.getReader();
        const ready = await readLine(out, 20_000);
        assert.equal(ready, "ready");
        const buf = new Uint8Array(1 << 17);
        const meta = new Int32Array(256);
        let got = 0;
        const deadline = performance.now() + 20_000;
        const reqs = Array.from({ length: count }, (_, i) =>
          udpFrame(
            { dst: kernelMac, src: OUR_MAC },
            { src: ip4("10.7.0.2"), dst: ip4("10.7.0.1"), id: i },
            9,
            9999,
            new Uint8Array([i]),
          ));
        for (let i = 0; i < count && performance.now() < deadline; i++) {
          const req = reqs[i]!;
          link.send(req, 0, req.length);
          let answered = false;
          while (!answered && performance.now() < deadline) {
            await link.wait(200);
            const n = link.receive(buf, meta, 64);
            for (let k = 0; k < n; k++) {
              const off = meta[2 * k]!;
              const udp = buf[off + 12] === 0x08 && buf[off + 13] === 0x00 &&
                buf[off + 23] === 17 && buf[off + 34] === 0x27 && buf[off + 35] === 0x0f;
              if (udp && buf[off + 42] === i) answered = true;
            }
          }
          if (answered) got++;
        }
        assert.equal((await echo.status).code, 0);
        await out.cancel();
        assert.equal(got, count);
        if (busyPollUs === 0) assert.equal(link.stats.busyPollHits, 0);
        else {
          assert.ok(
            link.stats.busyPollHits > count / 2,
            `${link.stats.busyPollHits} busy-poll hits: ${JSON.stringify(link.stats)}`,
          );
        }
        // A wait still spinning when the link closes settles at once (no leaked immediate).
        const pending = link.wait(1000);
        link.close();
        await pending;
      });
    }
  },
});

/** The next line of a child's output, or null at its end or after `timeoutMs`. */
async function readLine(
  r: ReadableStreamDefaultReader<Uint8Array>,
  timeoutMs: number,
): Promise<string | null> {
  let text = "";
  const dec = new TextDecoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((res) => timer = setTimeout(() => res(null), timeoutMs));
  try {
    while (!text.includes("\n")) {
      const chunk = await Promise.race([r.read(), timeout]);
      if (chunk === null || chunk.done) return null;
      text += dec.decode(chunk.value, { stream: true });
    }
    return text.slice(0, text.indexOf("\n"));
  } finally {
    clearTimeout(timer);
  }
}

/** CPU time of this process in milliseconds (all threads, live ones to the nanosecond). */
function cpuMs(): number {
  let ns = 0;
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      ns += Number(Deno.readTextFileSync(`/proc/self/task/${t.name}/schedstat`).split(" ")[0]);
    } catch { /* thread exited */ }
  }
  return ns / 1e6;
}

Deno.test({
  name: "tap: an idle link waiting on the device uses almost no CPU",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ link }) => {
      const cpu0 = cpuMs();
      const t0 = performance.now();
      for (let i = 0; i < 4; i++) await link.wait(250);
      const wall = performance.now() - t0;
      const used = cpuMs() - cpu0;
      assert.ok(wall >= 990, `waited ${wall} ms`);
      assert.ok(
        used < 0.05 * wall,
        `idle wait used ${used.toFixed(1)} ms CPU in ${wall.toFixed(0)} ms`,
      );
      assert.ok(link.stats.parkedWaits >= 4);
    });
  },
});

Deno.test({
  name: "tap: frames land in a view of WASM memory at its offset, also after the memory grows",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ link }) => {
      const memory = new WebAssembly.Memory({ initial: 40, maximum: 80 });
      const RX = 327680;
      const meta = new Int32Array(64);
      for (let round = 0; round < 2; round++) {
        const req = arpRequest(KERNEL_IP);
        const tx = new Uint8Array(memory.buffer, 4096 + 7, req.length); // odd offset on purpose
        tx.set(req);
        link.send(new Uint8Array(memory.buffer), 4096 + 7, req.length);
        let found = -1;
        const deadline = performance.now() + 3000;
        while (found < 0 && performance.now() < deadline) {
          await link.wait(500);
          const view = new Uint8Array(memory.buffer).subarray(RX, RX + (1 << 17)); // fresh each time
          const n = link.receive(view, meta, 32);
          for (let i = 0; i < n; i++) {
            const at = RX + meta[2 * i]!;
            const all = new Uint8Array(memory.buffer);
            if (all[at + 12] === 0x08 && all[at + 13] === 0x06 && all[at + 21] === 2) found = at;
          }
        }
        assert.ok(found >= RX, `round ${round}: no ARP reply`);
        const all = new Uint8Array(memory.buffer);
        assert.deepEqual([...all.subarray(found + 28, found + 32)], KERNEL_IP);
        memory.grow(8); // detaches the old buffer; the next round must use the new one
      }
    });
  },
});
