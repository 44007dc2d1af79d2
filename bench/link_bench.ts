/**
 * Link benchmarks: the TAP read path (empty drain, burst drain, parked-wait wake-up), the TAP
 * write path, the memory pair and the two decorators. The TAP group runs only where TAP tests
 * can (root, /dev/net/tun): it creates its own namespace with a TAP device, and an AF_PACKET
 * socket inside that namespace injects frames out of the device's kernel side so that bursts
 * of a known size wait in the device queue. The namespace is deleted when the run ends.
 *
 *   deno bench -A bench/link_bench.ts
 *
 * @module
 */

import { withFaults } from "../src/link/fault.ts";
import {
  addressOf,
  AF_PACKET,
  ETH_P_ALL_BE,
  libc,
  SOCK_CLOEXEC,
  SOCK_RAW,
} from "../src/link/tap/libc.ts";
import { createMemoryLinkPair } from "../src/link/memory.ts";
import { withPcap } from "../src/link/pcap.ts";
import { openTap, type TapLink } from "../src/link/tap/tap.ts";
import { enterNetns } from "../src/link/tap/setup.ts";
import { createNetns, type Netns, tapAvailable } from "../tools/netns.ts";

const FRAME = 1514;
const BURST = 256;
const rxBuf = new Uint8Array(2 * 1024 * 1024);
const meta = new Int32Array(2 * 1024);

/** A full-size UDP-like frame addressed to our MAC (content does not matter to the link). */
function testFrame(len: number): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
  for (let i = 14; i < len; i++) f[i] = i & 255;
  return f;
}
const frame = testFrame(FRAME);

interface TapRig {
  ns: Netns;
  link: TapLink;
  inject(count: number): void;
}

async function tapRig(): Promise<TapRig> {
  const ns = await createNetns();
  const link = openTap({ name: "tap0", create: true, netns: ns.name });
  const r = await ns.run(["ip", "link", "set", "tap0", "txqueuelen", "4096"]);
  if (r.code !== 0) throw new Error(r.stderr);
  // AF_PACKET socket bound to tap0 inside the namespace: what it sends comes out of our fd.
  const c = libc();
  const leave = enterNetns(c, ns.name);
  let sock = -1;
  let ifindex = 0;
  try {
    sock = c.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, ETH_P_ALL_BE);
    ifindex = c.if_nametoindex(new TextEncoder().encode("tap0\0"));
  } finally {
    leave();
  }
  if (sock < 0 || ifindex === 0) throw new Error("Cannot open the packet socket");
  const sll = new Uint8Array(new ArrayBuffer(20)); // struct sockaddr_ll
  const v = new DataView(sll.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, ETH_P_ALL_BE, true);
  v.setInt32(4, ifindex, true);
  if (c.bind(sock, sll, 20) < 0) throw new Error("Cannot bind the packet socket");
  const iov = new Uint32Array(new ArrayBuffer(16));
  const addr = addressOf(frame);
  iov[0] = addr >>> 0;
  iov[1] = Math.floor(addr / 4294967296);
  iov[2] = frame.length;
  addEventListener("unload", () => {
    c.close(sock);
    link.close();
    new Deno.Command("ip", { args: ["netns", "delete", ns.name] }).outputSync();
  });
  return {
    ns,
    link,
    inject(count: number): void {
      for (let i = 0; i < count; i++) {
        if (c.writev(sock, iov, 1) < 0) throw new Error("Packet socket write failed");
      }
    },
  };
}

const reason = tapAvailable();
const rig = reason === null ? await tapRig() : null;
if (rig === null) console.warn(`TAP benchmarks skipped: ${reason}`);

if (rig !== null) {
  const { link, inject } = rig;
  Deno.bench("tap receive, nothing waiting (one readv, EAGAIN)", { group: "tap" }, () => {
    link.receive(rxBuf, meta, 1024);
  });

  Deno.bench(`tap receive, drain a burst of ${BURST} x ${FRAME}-byte frames`, {
    group: "tap",
    baseline: true,
  }, (b) => {
    inject(BURST);
    b.start();
    let got = 0;
    while (got < BURST) {
      const n = link.receive(rxBuf, meta, 1024);
      if (n === 0) break;
      got += n;
    }
    b.end();
    if (got !== BURST) throw new Error(`drained ${got} of ${BURST}`);
  });

  Deno.bench("tap wait, parked poll woken by one frame", { group: "tap" }, async () => {
    const p = link.wait(1000);
    inject(1);
    await p;
    link.receive(rxBuf, meta, 1024);
  });

  const small = testFrame(60);
  small[0] = 0x02;
  small[5] = 0x77; // not the kernel's MAC: it drops the frame early
  Deno.bench("tap send, one 60-byte frame (writev)", { group: "tap-tx" }, () => {
    link.send(small, 0, 60);
  });
  Deno.bench("tap send, one 1514-byte frame (writev)", { group: "tap-tx" }, () => {
    link.send(frame, 0, FRAME);
  });

  Deno.bench(
    "tap idle: CPU used by 1 s of parked waits",
    { group: "idle", n: 1, warmup: 0 },
    async () => {
      const cpu0 = cpuMs();
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) await link.wait(100);
      const wall = performance.now() - t0;
      console.log(
        `idle: ${(cpuMs() - cpu0).toFixed(2)} ms CPU in ${wall.toFixed(0)} ms of waiting`,
      );
    },
  );
}

/** CPU time of this process in milliseconds (live threads, from schedstat). */
function cpuMs(): number {
  let ns = 0;
  for (const t of Deno.readDirSync("/proc/self/task")) {
    try {
      ns += Number(Deno.readTextFileSync(`/proc/self/task/${t.name}/schedstat`).split(" ")[0]);
    } catch { /* exited */ }
  }
  return ns / 1e6;
}

const [ma, mb] = createMemoryLinkPair({ queueLimit: BURST });
Deno.bench(`memory pair, ${BURST} x ${FRAME}-byte frames sent and received`, {
  group: "memory",
  baseline: true,
}, () => {
  for (let i = 0; i < BURST; i++) ma.send(frame, 0, FRAME);
  let got = 0;
  while (got < BURST) got += mb.receive(rxBuf, meta, 1024);
});

const pcapPath = Deno.makeTempFileSync({ suffix: ".pcap" });
const [pa, pb] = createMemoryLinkPair({ queueLimit: BURST });
const traced = withPcap(pa, pcapPath);
Deno.bench(`pcap over memory pair, ${BURST} frames sent and captured`, { group: "memory" }, () => {
  for (let i = 0; i < BURST; i++) traced.send(frame, 0, FRAME);
  let got = 0;
  while (got < BURST) got += pb.receive(rxBuf, meta, 1024);
  traced.flush();
});

let fnow = 0;
const [fa, fb] = createMemoryLinkPair({ queueLimit: BURST });
const faulty = withFaults(fb, { seed: 1, drop: 0.01, duplicate: 0.01, clock: () => fnow++ });
Deno.bench(
  `faults over memory pair, ${BURST} frames (1% drop, 1% duplicate)`,
  { group: "memory" },
  () => {
    for (let i = 0; i < BURST; i++) fa.send(frame, 0, FRAME);
    for (let k = 0; k < 4; k++) faulty.receive(rxBuf, meta, 1024);
  },
);

addEventListener("unload", () => {
  ma.close();
  mb.close();
  traced.close();
  pb.close();
  fa.close();
  faulty.close();
  Deno.removeSync(pcapPath);
});
