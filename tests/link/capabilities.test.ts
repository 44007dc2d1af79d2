/**
 * Link capabilities (src/link/link.ts): the driver finds them without guessing, and the pcap
 * writer and the fault injector forward or adapt them: counters survive any stack of
 * wrappers, corking and checksum help reach an offload link through pcap and faults, large
 * frames are cut by the fault injector, the driver's timers run on its own clock.
 */
import assert from "node:assert/strict";
import { createStack, type Link, withPcap } from "../../mod.ts";
import { withFaults } from "../../testing.ts";
import { createMemoryLinkPair } from "../../src/link/memory.ts";
import { frameRoom } from "../../src/link/link.ts";
import { segmentFrame } from "../../src/link/segment.ts";
import type { ChecksumFn } from "../../src/link/link.ts";
import { ip4, refChecksum, tcpFrame } from "../support/wire_frames.ts";
import { pattern } from "../support/interop_env.ts";
import { Driver } from "../../src/stack.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { TcpLayer } from "../../src/tcp/tcp_layer.ts";

/** A memory link dressed as an offload link: records the capability calls it gets. */
function offloadLike(inner: Link): Link & { calls: string[]; checksums: ChecksumFn[] } {
  const calls: string[] = [];
  const checksums: ChecksumFn[] = [];
  return {
    name: inner.name,
    mtu: inner.mtu,
    maxFrame: 65553,
    calls,
    checksums,
    receive: (b, m, n) => inner.receive(b, m, n),
    send: (b, o, l) => inner.send(b, o, l),
    wait: (t) => inner.wait(t),
    close: () => inner.close(),
    cork: () => void calls.push("cork"),
    uncork: () => void calls.push("uncork"),
    useChecksum: (fn) => void checksums.push(fn),
    counters: () => ({ "tap-rx-frames": 7 }),
  };
}

Deno.test("capabilities: stats() keeps fault-* and the link's counters with pcap set", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    // Wire-sized frames (no TSO): one fault-injector frame per frame the memory link received.
    const [la, lb] = createMemoryLinkPair({ tso: false });
    const faulty = withFaults(lb, { seed: 5, drop: 0.1, clock: () => performance.now() });
    const a = await createStack({ link: la, address: "10.9.0.1/24", engine: "js" });
    const b = await createStack({ link: faulty, address: "10.9.0.2/24", pcap: path });
    const listener = b.listen({ port: 7 });
    const conn = await a.connect({ hostname: "10.9.0.2", port: 7 });
    const peer = await listener.accept();
    await conn.write(new Uint8Array(20000));
    const buf = new Uint8Array(32768);
    let got = 0;
    while (got < 20000) {
      const n = await peer.read(buf);
      if (n === null) break;
      got += n;
    }
    assert.equal(got, 20000);
    const s = b.stats();
    assert.ok(s["fault-frames"]! > 10, JSON.stringify(s));
    assert.equal(s["fault-frames"], s["fault-dropped"]! + s["fault-delivered"]!);
    assert.ok(s["pcap-records"]! > 10);
    assert.ok(s["memory-received"]! >= s["fault-frames"]!);
    assert.equal(a.stats()["fault-frames"], undefined);
    conn.close();
    peer.close();
    listener.close();
    await a.close();
    await b.close();
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("capabilities: corking and checksum help reach an offload link through pcap and faults", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const [la, lb] = createMemoryLinkPair();
    const inner = offloadLike(lb);
    const wrapped = withFaults(inner, { seed: 1, clock: () => performance.now() });
    assert.equal(wrapped.maxFrame, undefined, "the injector cuts large frames: none leave it");
    const traced = withPcap(wrapped, path);
    const a = await createStack({ link: la, address: "10.9.0.1/24", engine: "js" });
    const b = await createStack({ link: traced, address: "10.9.0.2/24" });
    b.listen({ port: 7 });
    const conn = await a.connect({ hostname: "10.9.0.2", port: 7 });
    assert.equal(inner.checksums.length, 1, "the engine's checksum reached the link");
    assert.ok(inner.calls.filter((c) => c === "cork").length >= 1);
    assert.equal(
      inner.calls.filter((c) => c === "cork").length,
      inner.calls.filter((c) => c === "uncork").length,
    );
    const s = b.stats();
    assert.equal(s["tap-rx-frames"], 7, "the innermost counters survive two wrappers");
    assert.ok(s["fault-frames"]! >= 2 && s["pcap-records"]! >= 2);
    // pcap forwards the large-frames capability of what it wraps.
    assert.equal(withPcap(inner, path).maxFrame, 65553);
    conn.close();
    await a.close();
    await b.close();
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("capabilities: pcap forwards the checksums a link vouches for, the fault injector none", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const [la, lb] = createMemoryLinkPair();
    const vouching: Link = { ...offloadLike(lb), rxChecksumValid: (i) => i % 2 === 0 };
    const traced = withPcap(vouching, path);
    assert.deepEqual([0, 1, 2].map((i) => traced.rxChecksumValid?.(i)), [true, false, true]);
    const faulty = withFaults(vouching, { seed: 1, clock: () => performance.now() });
    assert.equal(faulty.rxChecksumValid, undefined, "frames it may corrupt are not vouched for");
    assert.equal(withPcap(faulty, path).rxChecksumValid?.(0), false);
    traced.close();
    la.close();
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("capabilities: the driver skips the TCP checksum only of frames the link vouches for", async () => {
  // A link that hands the stack two SYNs with a wrong TCP checksum: the first vouched for
  // (taken), the second not (dropped, counted).
  const frames = [1, 0].map((vouched) => ({
    vouched,
    bytes: (() => {
      const f = tcpFrame({ dst: [2, 0, 0, 0, 0, 2] }, {
        src: ip4("10.9.0.1"),
        dst: ip4("10.9.0.2"),
      }, {
        srcPort: 40000 + vouched,
        dstPort: 7,
        seq: 1000,
        ack: 0,
        flags: 0x02,
        wnd: 65535,
      }, new Uint8Array(0));
      f[14 + 20 + 16]! ^= 0xff; // the TCP checksum
      return f;
    })(),
  }));
  const sent: Uint8Array[] = [];
  let batch: typeof frames = [];
  const waiter: { wake: (() => void) | null } = { wake: null };
  const link: Link = {
    name: "vouching",
    mtu: 1500,
    receive(buf, meta, max) {
      let off = 0, n = 0;
      const got = batch.splice(0, max);
      for (const f of got) {
        buf.set(f.bytes, off);
        meta[2 * n] = off;
        meta[2 * n + 1] = f.bytes.length;
        off += f.bytes.length;
        n++;
      }
      vouchedNow = got.map((f) => f.vouched === 1);
      return n;
    },
    rxChecksumValid: (i) => vouchedNow[i] === true,
    send: (b, o, l) => void sent.push(b.slice(o, o + l)),
    wait: (t) =>
      new Promise<void>((r) => {
        waiter.wake = r;
        if (t !== Infinity) setTimeout(r, t);
      }),
    close: () => waiter.wake?.(),
  };
  let vouchedNow: boolean[] = [];
  const stack = await createStack({ link, address: "10.9.0.2/24", mac: "02:00:00:00:00:02" });
  try {
    stack.listen({ port: 7 });
    batch = frames.slice();
    waiter.wake?.();
    for (let i = 0; i < 100 && stack.stats()["tcp-bad-checksum"] === undefined; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    // The vouched SYN reached TCP (a half-open connection; its SYN-ACK waits for ARP), the
    // other was dropped for its checksum.
    const st = stack.stats();
    assert.equal(st["tcp-in"], 1, JSON.stringify(st));
    assert.equal(st["tcp-bad-checksum"], 1);
    assert.equal(st["tcp-connections"], 1);
  } finally {
    await stack.close();
  }
});

Deno.test("capabilities: the driver lets the link keep partial checksums unless a trace reads frames", async () => {
  const [link, other] = createMemoryLinkPair();
  const asked: boolean[] = [];
  const keeping: Link = { ...offloadLike(link), keepPartialChecksums: (k) => void asked.push(k) };
  const driver = new Driver({
    link: keeping,
    engine: createJsEngine(),
    iface: { address: 0x0a090002, prefixLength: 24 },
    createTcp: (engine, tx) => new TcpLayer(engine, tx),
  });
  assert.deepEqual(asked, [true], "asked at once: nothing but the stack reads the frames");
  driver.observer = { frame: () => {}, passEnd: () => {} };
  assert.deepEqual(asked, [true, false], "a trace reads them: complete checksums");
  driver.observer = null;
  assert.deepEqual(asked, [true, false, true]);
  // Decorators that record or alter frames do not forward it (their frames stay complete).
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const traced = withPcap(keeping, path);
    assert.equal(traced.keepPartialChecksums, undefined);
    assert.equal(withFaults(keeping, { seed: 1, clock: () => 0 }).keepPartialChecksums, undefined);
    traced.close();
  } finally {
    await Deno.remove(path);
  }
  await driver.close();
  other.close();
});

/** A 64 KiB-ish TCP segment as an offload link delivers it (valid checksum, one frame). */
function largeSegment(payloadLen: number, flags = 0x18): Uint8Array {
  return tcpFrame({}, { src: ip4("10.7.0.1"), dst: ip4("10.7.0.2") }, {
    srcPort: 5001,
    dstPort: 40000,
    seq: 0xfffff000, // wraps inside the segment
    ack: 2001,
    flags,
    wnd: 502,
    options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
  }, pattern(payloadLen, 3));
}

Deno.test("capabilities: segmentFrame cuts a large segment into valid MTU-sized ones", () => {
  const big = largeSegment(60000, 0x19); // ACK + PSH + FIN
  const cuts: Uint8Array[] = [];
  const n = segmentFrame(big, 0, big.length, 1500, new Uint8Array(1514), (f, len) => {
    cuts.push(f.slice(0, len));
  });
  const mss = 1500 - 20 - 32;
  assert.equal(n, Math.ceil(60000 / mss));
  let payload: number[] = [];
  cuts.forEach((c, i) => {
    assert.ok(c.length <= 1514);
    assert.equal(refChecksum(c.subarray(14, 34)), 0, "IPv4 header checksum");
    const tcpLen = c.length - 34;
    const pseudo = (10 << 8 | 7) + 1 + (10 << 8 | 7) + 2 + 6 + tcpLen;
    assert.equal(refChecksum(c.subarray(34), pseudo), 0, `TCP checksum of cut ${i}`);
    const seq = new DataView(c.buffer).getUint32(38);
    assert.equal(seq, (0xfffff000 + i * mss) >>> 0);
    const last = i === cuts.length - 1;
    assert.equal(c[47], last ? 0x19 : 0x10, "FIN and PSH only on the last cut");
    payload = payload.concat([...c.subarray(66)]);
  });
  assert.deepEqual(payload, [...pattern(60000, 3)]);
  assert.equal(segmentFrame(new Uint8Array(100), 0, 100, 1500, new Uint8Array(1514), () => {}), 0);
});

Deno.test("capabilities: the fault injector cuts large inbound frames, counts what it cannot", () => {
  const [a, b] = createMemoryLinkPair({ mtu: 9000 });
  // The wrapped link says it delivers large frames; its MTU for the wire is 1500.
  const big: Link = Object.assign(Object.create(b) as Link, { mtu: 1500, maxFrame: 65553 });
  assert.equal(frameRoom(big), 65553);
  const f = withFaults(big, { seed: 2, drop: 0.2, clock: () => 0 });
  const seg = largeSegment(8000);
  a.send(seg, 0, seg.length);
  const junk = new Uint8Array(4000); // oversized, not IPv4 TCP
  a.send(junk, 0, junk.length);
  const buf = new Uint8Array(1 << 20);
  const meta = new Int32Array(128);
  const n = f.receive(buf, meta, 64);
  const st = f.faultStats;
  assert.equal(st.segmented, 1);
  assert.equal(st.oversize, 1);
  assert.equal(st.frames, Math.ceil(8000 / 1448), "faults apply to each wire-sized cut");
  assert.equal(n, st.frames - st.dropped);
  for (let i = 0; i < n; i++) assert.ok(meta[2 * i + 1]! <= 1514);
  assert.equal(f.counters()["fault-oversize"], 1);
  a.close();
  f.close();
});

Deno.test("capabilities: the driver's timers run on its own clock", async () => {
  // A clock far from performance.now(): a timer delay computed against performance.now()
  // would wait ~1000 s for a deadline 30 ms ahead on the driver's clock.
  const offset = 1_000_000;
  const clock = { now: () => Math.floor(performance.now()) + offset, virtual: false };
  const [link, other] = createMemoryLinkPair();
  let due = Infinity;
  const driver = new Driver({
    link,
    engine: createJsEngine(),
    clock,
    deadlines: [() => due],
    iface: { address: 0x0a090002, prefixLength: 24 },
    createTcp: (engine, tx) => new TcpLayer(engine, tx),
  });
  driver.start();
  await new Promise((r) => setTimeout(r, 20));
  const before = driver.driverStats()["driver-services"]!;
  due = clock.now() + 30;
  driver.step(); // re-arms the timer for the new deadline
  const t0 = performance.now();
  while (driver.driverStats()["driver-services"]! <= before + 1 && performance.now() - t0 < 2000) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const waited = performance.now() - t0;
  assert.ok(waited >= 20 && waited < 1000, `deadline served after ${waited} ms`);
  due = Infinity;
  await driver.close();
  other.close();
});

Deno.test("capabilities: withFaults checks its clock at run time", () => {
  const [a, b] = createMemoryLinkPair();
  assert.throws(
    () => withFaults(a, { seed: 1 } as unknown as Parameters<typeof withFaults>[1]),
    { name: "TypeError", message: /clock must be a function/ },
  );
  a.close();
  b.close();
});

Deno.test("capabilities: sameThreadPeer reaches TCP through pcap and faults (strict auto-tuning)", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const [la, lb] = createMemoryLinkPair();
    assert.equal(la.sameThreadPeer, true, "the memory link's peer shares our thread");
    const clock = () => performance.now();
    const wrapped = withPcap(withFaults(lb, { seed: 1, clock }), path);
    assert.equal(wrapped.sameThreadPeer, true, "forwarded through faults and pcap");
    // A link that does not declare it (TAP, TUN, this dressed one): a network.
    const net = offloadLike(createMemoryLinkPair()[0]);
    assert.equal(withFaults(net, { seed: 1, clock }).sameThreadPeer, undefined);
    const a = await createStack({ link: la, address: "10.9.0.1/24", engine: "js" });
    const b = await createStack({ link: wrapped, address: "10.9.0.2/24", engine: "js" });
    const c = await createStack({ link: net, address: "10.9.0.3/24", engine: "js" });
    const d = await createStack({
      link: createMemoryLinkPair()[0],
      address: "10.9.0.4/24",
      engine: "js",
      tcp: { sameThreadPeer: false }, // the caller's word wins
    });
    assert.deepEqual(
      [a, b, c, d].map((s) => s.driver.tcp.options.sameThreadPeer),
      [true, true, false, false],
    );
    for (const s of [a, b, c, d]) await s.close();
  } finally {
    await Deno.remove(path);
  }
});
