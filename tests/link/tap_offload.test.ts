/**
 * TAP offloads (IFF_VNET_HDR, TUN_F_CSUM | TUN_F_TSO4): the virtio-net header helpers against
 * both engines' decoders, then, in a network namespace each test creates and deletes, the
 * kernel's large segments (GSO, up to 64 KiB) arriving byte-exact at our stack, our frames
 * reaching the kernel, ping and ARP (frames with an all-zero header) still answered.
 *
 * The TAP tests need root and /dev/net/tun: they skip with the reason elsewhere, and fail
 * when TCPIP_REQUIRE_TAP=1.
 */
import assert from "node:assert/strict";
import { createStack, type Link, type NetStack, type TapLink } from "../../mod.ts";
import { type FaultLink, withFaults } from "../../testing.ts";
import { jsChecksum } from "../../src/kernels/js/checksum.ts";
import { foldSum, pseudoHeaderSum } from "../../src/wire/checksum.ts";
import {
  completeChecksum,
  readVnetHeader,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_TCPV4,
  type VnetHeader,
  writeVnetHeader,
} from "../../src/link/tap/vnet.ts";
import { type Netns, requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { pattern } from "../support/interop_env.ts";
import { connectRetry, exchange, py, pyResult, sha } from "../support/kernel_peer.ts";
import { decodeAt, engines, ip4, refChecksum, tcpFrame, udpFrame } from "../support/wire_frames.ts";
import { SegmentMerger } from "../../src/link/tap/gso.ts";

const KERNEL = "10.7.0.1";
const OURS = "10.7.0.2";
const MIB16 = 16 * 1048576;
const ignore = tapIgnore();

/** A TCP frame as the kernel hands it with NEEDS_CSUM: the checksum field holds the folded
 * pseudo-header sum. Returns it with the frame's true checksum. */
function partialTcp(payloadLen: number, seed: number): { frame: Uint8Array; check: number } {
  const src = ip4("10.7.0.1");
  const dst = ip4("10.7.0.2");
  const frame = tcpFrame({}, { src, dst }, {
    srcPort: 5001,
    dstPort: 40000,
    seq: 101,
    ack: 2001,
    flags: 0x18,
    wnd: 502,
    options: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
  }, pattern(payloadLen, seed));
  const at = 14 + 20 + 16;
  const check = (frame[at]! << 8) | frame[at + 1]!;
  const partial = foldSum(pseudoHeaderSum(src, dst, 6, frame.length - 34));
  frame[at] = partial >>> 8;
  frame[at + 1] = partial & 0xff;
  return { frame, check };
}

Deno.test("vnet: header fields round-trip, little-endian", () => {
  const h: VnetHeader = {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: VNET_GSO_TCPV4,
    hdrLen: 66,
    gsoSize: 1448,
    csumStart: 34,
    csumOffset: 16,
  };
  const b = new Uint8Array(10);
  writeVnetHeader(b, h);
  assert.deepEqual([...b], [1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0]);
  const out = readVnetHeader(b, { ...h, flags: 0, gsoSize: 0 });
  assert.deepEqual(out, h);
  assert.throws(() => readVnetHeader(new Uint8Array(9), out), RangeError);
});

Deno.test("vnet: a completed partial checksum decodes as a valid segment, both engines", () => {
  for (const payloadLen of [0, 1, 1447, 1448, 20000, 65535 - 20 - 32]) {
    const { frame, check } = partialTcp(payloadLen, payloadLen + 1);
    for (const e of engines()) {
      // At an odd offset too: frames lie back to back in the receive area.
      for (const off of [327680, 327681]) {
        e.mem.set(frame, off);
        assert.ok(completeChecksum(e.mem, off, frame.length, 34, 16, jsChecksum));
        const got = (e.mem[off + 50]! << 8) | e.mem[off + 51]!;
        assert.equal(got, check === 0 ? 0xffff : check, `${e.kind} ${payloadLen} @${off}`);
        assert.equal(decodeAt(e, e.mem.subarray(off, off + frame.length), off), 0);
        // The engine's own checksum gives the same answer.
        e.mem.set(frame, off);
        const fn = (m: Uint8Array, o: number, l: number, i: number): number =>
          e.checksum(m.byteOffset + o, l, i);
        assert.ok(completeChecksum(e.mem, off, frame.length, 34, 16, fn));
        assert.equal((e.mem[off + 50]! << 8) | e.mem[off + 51]!, got);
      }
    }
  }
});

Deno.test("vnet: a zero result is stored as 0xffff; offsets beyond the frame are refused", () => {
  // A UDP datagram whose checksum comes out as 0: as Linux skb_checksum_help, 0xffff.
  const src = ip4("10.7.0.1");
  const dst = ip4("10.7.0.2");
  let found = false;
  for (let x = 0; x < 65536 && !found; x++) {
    const payload = new Uint8Array([x >>> 8, x & 0xff]);
    const frame = udpFrame({}, { src, dst }, 53, 53, payload);
    if (((frame[40]! << 8) | frame[41]!) !== 0xffff) continue;
    const partial = foldSum(pseudoHeaderSum(src, dst, 17, 10));
    frame[40] = partial >>> 8;
    frame[41] = partial & 0xff;
    assert.ok(completeChecksum(frame, 0, frame.length, 34, 6, jsChecksum));
    assert.equal((frame[40]! << 8) | frame[41]!, 0xffff);
    found = true;
  }
  assert.ok(found, "no payload gives a zero UDP checksum");
  const f = new Uint8Array(60);
  assert.equal(completeChecksum(f, 0, 60, 34, 25, jsChecksum), false);
  assert.equal(completeChecksum(f, 0, 60, 58, 0, jsChecksum), true);
  assert.equal(completeChecksum(f, 0, 60, 59, 0, jsChecksum), false);
});

/** Segment `i` of a flow: seq 1000 + 1448 i, `len` bytes of the pattern at that offset. */
function segment(
  i: number,
  len: number,
  over: { flags?: number; ack?: number; ts?: number; seq?: number } = {},
): Uint8Array {
  const ts = over.ts ?? 7;
  return tcpFrame({}, { src: ip4("10.7.0.2"), dst: ip4("10.7.0.1"), id: i }, {
    srcPort: 40000,
    dstPort: 5001,
    seq: over.seq ?? 1000 + 1448 * i,
    ack: over.ack ?? 2001,
    flags: over.flags ?? 0x10,
    wnd: 1000,
    options: [1, 1, 8, 10, 0, 0, 0, ts, 0, 0, 0, 9],
  }, STREAM.subarray(1448 * i, 1448 * i + len));
}
const STREAM = pattern(1448 * 64, 21);

Deno.test("gso: consecutive segments merge into one valid frame with a GSO header", () => {
  const m = new SegmentMerger();
  const segs = [
    segment(0, 1448),
    segment(1, 1448),
    segment(2, 1448),
    segment(3, 500, { flags: 0x18 }),
  ];
  for (const f of segs) assert.ok(m.offer(f, 0, f.length));
  assert.equal(m.count, 4);
  // After a short (or pushed) segment nothing more is taken.
  const more = segment(4, 1448, { seq: 1000 + 1448 * 3 + 500 });
  assert.equal(m.offer(more, 0, more.length), false);
  const len = m.finish();
  assert.equal(len, 66 + 3 * 1448 + 500);
  const h = readVnetHeader(m.hdr, {
    flags: 0,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 0,
    csumOffset: 0,
  });
  assert.deepEqual(h, {
    flags: VNET_F_NEEDS_CSUM,
    gsoType: VNET_GSO_TCPV4,
    hdrLen: 66,
    gsoSize: 1448,
    csumStart: 34,
    csumOffset: 16,
  });
  const frame = m.buf.slice(0, len);
  assert.equal((frame[16]! << 8) | frame[17]!, len - 14, "IPv4 total length");
  assert.equal(refChecksum(frame.subarray(14, 34)), 0, "IPv4 header checksum");
  assert.equal(frame[47]! & 0x08, 0x08, "PSH of the last segment");
  assert.deepEqual(frame.subarray(66), STREAM.subarray(0, 3 * 1448 + 500));
  // What the kernel does with NEEDS_CSUM gives a segment both engines accept.
  assert.ok(completeChecksum(frame, 0, len, 34, 16, jsChecksum));
  for (const e of engines()) assert.equal(decodeAt(e, frame, 327680), 0, e.kind);
  m.reset();
  assert.equal(m.count, 0);
});

Deno.test("gso: a single segment goes out as it came; other flows and flags are not merged", () => {
  const m = new SegmentMerger();
  const one = segment(0, 1448);
  assert.ok(m.offer(one, 0, one.length));
  assert.equal(m.finish(), one.length);
  assert.deepEqual([...m.hdr], new Array(10).fill(0));
  assert.deepEqual(m.buf.subarray(0, one.length), one);
  const refused: [string, Uint8Array][] = [
    ["other ACK number", segment(1, 1448, { ack: 2002 })],
    ["a hole in the sequence", segment(2, 1448)],
    ["other timestamps", segment(1, 1448, { ts: 8 })],
    ["FIN", segment(1, 1448, { flags: 0x11 })],
  ];
  for (const [what, f] of refused) assert.equal(m.offer(f, 0, f.length), false, what);
  const bigger = tcpFrame({}, { src: ip4("10.7.0.2"), dst: ip4("10.7.0.1") }, {
    srcPort: 40000,
    dstPort: 5001,
    seq: 2448,
    ack: 2001,
    flags: 0x10,
    wnd: 1000,
    options: [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9],
  }, new Uint8Array(1449));
  assert.equal(m.offer(bigger, 0, bigger.length), false, "longer than the first");
  const next = segment(1, 1448);
  assert.ok(m.offer(next, 0, next.length));
  m.reset();
  // Nothing held: pure ACKs, SYNs and non-TCP frames are never taken.
  const ack = segment(0, 0);
  assert.equal(m.offer(ack, 0, ack.length), false, "pure ACK");
  const syn = segment(0, 10, { flags: 0x12 });
  assert.equal(m.offer(syn, 0, syn.length), false, "SYN");
  const udp = udpFrame({}, { src: 1, dst: 2 }, 1, 2, new Uint8Array(100));
  assert.equal(m.offer(udp, 0, udp.length), false, "UDP");
  assert.equal(m.count, 0);
  // A pushed segment with nothing held ends the merge before it starts: written as it is.
  const pushed = segment(0, 1, { flags: 0x18 });
  assert.equal(m.offer(pushed, 0, pushed.length), false, "PSH, nothing held");
  assert.equal(m.count, 0);
});

// ---- Through a TAP device with offloads, against the kernel in a namespace

/**
 * A TAP link that loses every `everyIn`-th data frame it reads and every `everyOut`-th data
 * frame sent through it (frames over 1000 bytes; deterministic, no seed needed), and passes
 * the offload hooks on (`withFaults` holds MTU-sized frames only).
 */
class DropEvery implements Link {
  readonly name: string;
  readonly mtu: number;
  droppedIn = 0;
  droppedOut = 0;
  #in = 0;
  #out = 0;
  constructor(readonly inner: TapLink, readonly everyIn: number, readonly everyOut: number) {
    this.name = inner.name;
    this.mtu = inner.mtu;
  }
  receive(buf: Uint8Array, meta: Int32Array, max: number): number {
    const n = this.inner.receive(buf, meta, max);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const off = meta[2 * i]!;
      const len = meta[2 * i + 1]!;
      if (len > 1000 && ++this.#in % this.everyIn === 0) {
        this.droppedIn++;
        continue;
      }
      meta[2 * kept] = off;
      meta[2 * kept + 1] = len;
      kept++;
    }
    return kept;
  }
  send(buf: Uint8Array, off: number, len: number): void {
    if (len > 1000 && ++this.#out % this.everyOut === 0) {
      this.droppedOut++;
      return;
    }
    this.inner.send(buf, off, len);
  }
  wait(timeoutMs: number): Promise<void> {
    return this.inner.wait(timeoutMs);
  }
  close(): void {
    this.inner.close();
  }
  cork(): void {
    this.inner.cork();
  }
  uncork(): void {
    this.inner.uncork();
  }
  useChecksum(fn: Parameters<TapLink["useChecksum"]>[0]): void {
    this.inner.useChecksum(fn);
  }
}

async function withOffloadStack(
  engine: "wasm" | "js",
  fn: (ctx: { ns: Netns; stack: NetStack; link: TapLink }) => Promise<void>,
  lossy?: (link: TapLink) => Link,
): Promise<void> {
  if (!requireTapOrSkip()) return;
  await withTapNamespace(
    { kernelAddr: `${KERNEL}/24`, offload: true },
    async ({ ns, link, ifname }) => {
      assert.equal(link.offload, true);
      // The kernel now believes the device segments TCP itself.
      const k = await ns.run(["ethtool", "-k", ifname]);
      if (k.code === 0) assert.match(k.stdout, /tcp-segmentation-offload: on/);
      const stack = await createStack({
        link: lossy?.(link) ?? link,
        address: `${OURS}/24`,
        engine,
      });
      try {
        await fn({ ns, stack, link });
      } finally {
        await stack.close();
      }
    },
  );
}

/**
 * The offload counters hold up: large frames arrived, every header was usable. `kept`: the
 * stack runs on the device itself, which then leaves the kernel's partial checksums as they
 * came (vouched for, `keepPartialChecksums`); behind a wrapper it completes them.
 */
function checkOffloaded(link: TapLink, stack: NetStack, kept = true): void {
  const s = link.stats;
  console.log(
    `  tap: ${s.rxFrames} frames in, ${s.rxGsoFrames} GSO, ${s.rxChecksumsCompleted} ` +
      `checksums completed, ${s.rxChecksumsKept} kept partial, largest ${s.rxLargestFrame} bytes; ${s.txFrames} frames out, ` +
      `${s.txMerged} merged into ${s.txGsoFrames} GSO frames, ${s.txErrors} errors`,
  );
  assert.ok(s.txGsoFrames > 0, "no segments merged on send");
  assert.equal(s.txErrors, 0);
  assert.ok(s.rxGsoFrames > 0, "no GSO frame arrived");
  assert.ok(s.rxLargestFrame > 1514, `largest frame only ${s.rxLargestFrame} bytes`);
  if (kept) {
    assert.ok(s.rxChecksumsKept > 0, "no partial checksum left as it came");
    assert.equal(s.rxChecksumsCompleted, 0, "partial checksums completed for nothing");
  } else {
    assert.ok(s.rxChecksumsCompleted > 0, "no partial checksum to complete");
    assert.equal(s.rxChecksumsKept, 0, "partial checksums kept behind a wrapper");
  }
  assert.equal(s.rxBadHeader, 0);
  const bad = Object.entries(stack.stats()).filter(([k, v]) =>
    /checksum/.test(k) && !k.startsWith("tap-") && v !== 0
  );
  assert.deepEqual(bad, [], "frames dropped for their checksum");
}

Deno.test({
  name: "tap offload: kernel client to our server, 16 MiB each way, SHA-256 equal, GSO frames",
  ignore,
  async fn() {
    await withOffloadStack("wasm", async ({ ns, stack, link }) => {
      const listener = stack.listen({ port: 5001 });
      const data = pattern(MIB16, 11);
      const peer = py(ns, ["connect", OURS, "5001", String(MIB16), "12", "both"]);
      const conn = await listener.accept();
      const ours = await exchange(conn, data);
      conn.close();
      listener.close();
      const [sentSha, recvSha, recvLen] = await pyResult(peer);
      assert.equal(ours.recvLen, MIB16);
      assert.equal(ours.recvSha, sentSha, "bytes from the kernel differ");
      assert.equal(recvSha, sha(data), "bytes to the kernel differ");
      assert.equal(Number(recvLen), MIB16);
      checkOffloaded(link, stack);
    });
  },
});

Deno.test({
  name: "tap offload: our client to a kernel server, JS engine, 16 MiB each way, SHA-256 equal",
  ignore,
  async fn() {
    await withOffloadStack("js", async ({ ns, stack, link }) => {
      const data = pattern(MIB16, 13);
      const peer = py(ns, ["listen", KERNEL, "5002", String(MIB16), "14", "both"]);
      const conn = await connectRetry(stack, KERNEL, 5002);
      const ours = await exchange(conn, data);
      conn.close();
      const [sentSha, recvSha, recvLen] = await pyResult(peer);
      assert.equal(ours.recvSha, sentSha, "bytes from the kernel differ");
      assert.equal(recvSha, sha(data), "bytes to the kernel differ");
      assert.equal(Number(recvLen), MIB16);
      checkOffloaded(link, stack);
    });
  },
});

Deno.test({
  name: "tap offload: 64 KiB segments lost each way are recovered, 16 MiB each way byte-exact",
  ignore,
  async fn() {
    let lossy: DropEvery | undefined;
    await withOffloadStack("wasm", async ({ ns, stack, link }) => {
      const listener = stack.listen({ port: 5003 });
      const data = pattern(MIB16, 15);
      const peer = py(ns, ["connect", OURS, "5003", String(MIB16), "16", "both"]);
      const conn = await listener.accept();
      const ours = await exchange(conn, data);
      conn.close();
      listener.close();
      const [sentSha, recvSha, recvLen] = await pyResult(peer);
      assert.equal(ours.recvSha, sentSha, "bytes from the kernel differ");
      assert.equal(recvSha, sha(data), "bytes to the kernel differ");
      assert.equal(Number(recvLen), MIB16);
      console.log(`  lost ${lossy!.droppedIn} frames in, ${lossy!.droppedOut} out`);
      assert.ok(lossy!.droppedIn > 0 && lossy!.droppedOut > 0);
      checkOffloaded(link, stack, false);
    }, (link) => (lossy = new DropEvery(link, 23, 211)));
  },
});

Deno.test({
  name: "tap offload: ping (plain and fragmented) and ARP still answered",
  ignore,
  async fn() {
    await withOffloadStack("wasm", async ({ ns, link }) => {
      const ping = await ns.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", OURS]);
      assert.equal(ping.code, 0, `ping failed: ${ping.stdout}`);
      assert.match(ping.stdout, /3 received/);
      const big = await ns.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "-s", "4000", OURS]);
      assert.equal(big.code, 0, `ping -s 4000 failed: ${big.stdout}`);
      assert.match(big.stdout, /2 received/);
      const neigh = await ns.run(["ip", "neigh", "show", OURS]);
      assert.match(neigh.stdout, /lladdr/, "the kernel learned no MAC address for us");
      assert.equal(link.stats.rxBadHeader, 0);
      assert.equal(link.stats.txErrors, 0);
    });
  },
});

Deno.test({
  name: "tap offload: withFaults over an offload link cuts large frames, loses some, stays exact",
  ignore,
  async fn() {
    let faulty: FaultLink | undefined;
    await withOffloadStack("wasm", async ({ ns, stack, link }) => {
      const size = 4 * 1048576;
      const listener = stack.listen({ port: 5004 });
      const data = pattern(size, 17);
      const peer = py(ns, ["connect", OURS, "5004", String(size), "18", "both"]);
      const conn = await listener.accept();
      const ours = await exchange(conn, data);
      conn.close();
      listener.close();
      const [sentSha, recvSha, recvLen] = await pyResult(peer);
      assert.equal(ours.recvSha, sentSha, "bytes from the kernel differ");
      assert.equal(recvSha, sha(data), "bytes to the kernel differ");
      assert.equal(Number(recvLen), size);
      const s = stack.stats();
      console.log(
        `  faults: ${s["fault-frames"]} frames, ${s["fault-segmented"]} large frames cut, ` +
          `${s["fault-dropped"]} dropped; tap: ${link.stats.txGsoFrames} GSO frames out`,
      );
      assert.ok(s["fault-segmented"]! > 0, "no large frame was cut");
      assert.ok(s["fault-dropped"]! > 0, "no frame was lost");
      assert.equal(s["fault-oversize"], 0);
      assert.ok(link.stats.txGsoFrames > 0, "corking reached the TAP link through the injector");
      assert.ok(faulty!.faultStats.delivered > 0);
    }, (link) => (faulty = withFaults(link, {
      seed: 7,
      drop: 0.005,
      direction: "both",
      clock: () => performance.now(),
    })));
  },
});
