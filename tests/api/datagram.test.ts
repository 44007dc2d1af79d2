/**
 * The driver and the datagram API without the TCP layer (a stub stands in): UDP over a memory
 * link with the real clock and in virtual time, clean shutdown, and over TAP: ping, UDP echo
 * with the kernel, idle CPU.
 */
import assert from "node:assert/strict";
import { Driver, type DriverTcp } from "../../src/stack.ts";
import { Simulation } from "../../src/stack_sim.ts";
import { VirtualClock } from "../../src/stack_clock.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { createWasmEngine } from "../../src/kernels/wasm_engine.ts";
import { createMemoryLinkPair } from "../../src/link/memory.ts";
import { DatagramConn } from "../../src/api/datagram.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import type { Link } from "../../src/link/link.ts";
import type { Clock } from "../../src/stack_clock.ts";

function stubTcp(): DriverTcp {
  return {
    input() {},
    icmpError() {},
    unreachable() {},
    poll() {},
    pollAt: () => Infinity,
    closeAll() {},
    connectionCount: 0,
    stats: () => ({}),
  };
}

function driver(link: Link, address: number, engine: "js" | "wasm", clock?: Clock): Driver {
  const d = new Driver({
    link,
    engine: engine === "js" ? createJsEngine() : createWasmEngine(),
    iface: { address, prefixLength: 24 },
    createTcp: stubTcp,
    ...(clock ? { clock } : {}),
  });
  d.start();
  return d;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("driver: UDP round trips over a memory link, real clock, both engines", async () => {
  const [la, lb] = createMemoryLinkPair();
  const a = driver(la, 0x0a090001, "js");
  const b = driver(lb, 0x0a090002, "wasm");
  const ua = new DatagramConn(a, a.iface.udpBind(5000));
  const ub = new DatagramConn(b, b.iface.udpBind(5001));
  for (let i = 0; i < 200; i++) {
    await ua.send(enc.encode(`m${i}`), { transport: "udp", hostname: "10.9.0.2", port: 5001 });
    const [d, from] = await ub.receive();
    assert.equal(dec.decode(d), `m${i}`);
    assert.deepEqual(from, { transport: "udp", hostname: "10.9.0.1", port: 5000 });
    await ub.send(d, from);
    const [e] = await ua.receive();
    assert.equal(dec.decode(e), `m${i}`);
  }
  assert.ok(a.driverStats()["driver-frames-in"]! >= 200); // 200 replies + ARP
  const pending = ua.receive();
  ua.close();
  await assert.rejects(pending, Deno.errors.BadResource);
  await assert.rejects(ua.send(new Uint8Array(1), ub.addr), Deno.errors.BadResource);
  ub.close();
  await a.close();
  await b.close();
  assert.equal(a.closed, true);
});

Deno.test("driver: closing the stack rejects pending receives; async iteration ends", async () => {
  const [la, lb] = createMemoryLinkPair();
  const a = driver(la, 0x0a090001, "js");
  const b = driver(lb, 0x0a090002, "js");
  const ub = new DatagramConn(b, b.iface.udpBind(7));
  const seen: string[] = [];
  const loop = (async () => {
    for await (const [d] of ub) seen.push(dec.decode(d));
  })();
  const ua = new DatagramConn(a, a.iface.udpBind(0));
  assert.ok(ua.addr.port >= 49152);
  await ua.send(enc.encode("x"), { transport: "udp", hostname: "10.9.0.2", port: 7 });
  while (seen.length === 0) await new Promise((r) => setTimeout(r, 1));
  await b.close();
  await loop;
  assert.deepEqual(seen, ["x"]);
  await a.close();
});

Deno.test("driver: virtual clock, the simulation delivers datagrams without real waiting", async () => {
  const clock = new VirtualClock(0);
  const [la, lb] = createMemoryLinkPair();
  const a = driver(la, 0x0a090001, "wasm", clock);
  const b = driver(lb, 0x0a090002, "js", clock);
  const sim = new Simulation(clock, [a, b]);
  const ua = new DatagramConn(a, a.iface.udpBind(1000));
  const ub = new DatagramConn(b, b.iface.udpBind(1001));
  const story = (async () => {
    await ua.send(
      enc.encode("hi"),
      ub.addr.hostname === "0.0.0.0"
        ? { transport: "udp", hostname: "10.9.0.2", port: 1001 }
        : ub.addr,
    );
    const [d] = await ub.receive();
    return dec.decode(d);
  })();
  assert.equal(await sim.run(story), "hi");
  // Nothing else is due: advancing an hour of virtual time is instant.
  const wall = performance.now();
  await sim.advance(3_600_000);
  assert.ok(performance.now() - wall < 2000);
  assert.ok(clock.now() >= 3_600_000);
  ua.close();
  ub.close();
  await a.close();
  await b.close();
});

Deno.test({
  name: "driver: over TAP the kernel pings us and exchanges UDP; idle CPU near zero",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ ns, link }) => {
      const d = driver(link, 0x0a070002, "wasm");
      try {
        const ping = await ns.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.7.0.2"]);
        assert.match(ping.stdout, /3 received/);
        const u = new DatagramConn(d, d.iface.udpBind(5353));
        const echo = (async () => {
          const [x, from] = await u.receive();
          await u.send(x, from);
        })();
        const py = await ns.run([
          "python3",
          "-c",
          `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"hello udp", ("10.7.0.2", 5353))
print(s.recvfrom(100)[0].decode())`,
        ]);
        await echo;
        u.close();
        assert.equal(py.stdout.trim(), "hello udp", py.stderr);
        const cpu = (): number => {
          const s = Deno.readTextFileSync("/proc/self/stat");
          const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
          return (Number(f[11]) + Number(f[12])) / 100;
        };
        const c0 = cpu();
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, 2000));
        const share = (cpu() - c0) / ((performance.now() - t0) / 1000);
        console.log(`  idle driver on TAP: ${(share * 100).toFixed(2)}% of a core`);
        assert.ok(share < 0.05);
      } finally {
        await d.close();
      }
    });
  },
});
