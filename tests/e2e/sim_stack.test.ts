/**
 * Whole-stack simulation: two stacks (interface + TCP + driver + API) over a memory link,
 * optionally through the fault injector, in virtual time. Seeded and reproducible: the seed
 * is printed on failure.
 */
import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack, type Link, type NetStack } from "../../mod.ts";
import { Simulation, VirtualClock, withFaults } from "../../testing.ts";
import type { Conn } from "../../src/api/conn.ts";
import { traceLink } from "../../tools/demo_lib.ts";
import { pattern } from "../support/rng.ts";

const A = "10.9.0.1";
const B = "10.9.0.2";

async function readExactly(conn: Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) throw new Error(`EOF after ${got} of ${n} bytes`);
    got += r;
  }
  return out;
}

async function world(
  opts: {
    engine?: "js" | "wasm";
    wrapA?: (l: Link, c: VirtualClock) => Link;
    wrapB?: (l: Link, c: VirtualClock) => Link;
    isnA?: number;
    isnB?: number;
  } = {},
): Promise<{ clock: VirtualClock; sim: Simulation; a: NetStack; b: NetStack; la: Link }> {
  const clock = new VirtualClock(1000);
  const [la0, lb0] = createMemoryLinkPair({ queueLimit: 4096 });
  const la = opts.wrapA ? opts.wrapA(la0, clock) : la0;
  const lb = opts.wrapB ? opts.wrapB(lb0, clock) : lb0;
  const engine = opts.engine ?? "js";
  const a = await createStack({
    link: la,
    address: `${A}/24`,
    engine,
    clock,
    ...(opts.isnA !== undefined ? { tcp: { isn: () => opts.isnA! } } : {}),
  });
  const b = await createStack({
    link: lb,
    address: `${B}/24`,
    engine,
    clock,
    ...(opts.isnB !== undefined ? { tcp: { isn: () => opts.isnB! } } : {}),
  });
  const sim = new Simulation(clock, [a, b]);
  return { clock, sim, a, b, la };
}

Deno.test("sim: the seed note's handshake and first exchange, number for number", async () => {
  let traced: ReturnType<typeof traceLink> | undefined;
  const w = await world({
    isnA: 100,
    isnB: 2000,
    wrapA: (l, c) => (traced = traceLink(l, () => c.now())),
  });
  const listener = w.b.listen({ port: 80 });
  const story = (async () => {
    const accepted = listener.accept();
    const conn = await w.a.connect({ hostname: B, port: 80 });
    const server = await accepted;
    await conn.write(new Uint8Array(100).fill(0x47)); // the client's 100-byte request
    await readExactly(server, 100);
    await server.write(new Uint8Array(500).fill(0x48)); // the server's 500-byte reply
    await readExactly(conn, 500);
    return { conn, server };
  })();
  const { conn, server } = await w.sim.run(story);
  await w.sim.advance(300); // let the delayed ACK go out
  const t = traced!.trace.map((e) => ({
    dir: e.dir,
    flags: e.flags & 0x17,
    seq: e.seq,
    ack: e.ack,
    len: e.len,
  }));
  // RFC 9293 3.5: SYN SEQ 100; SYN+ACK SEQ 2000 ACK 101; ACK SEQ 101 ACK 2001.
  assert.deepEqual(t[0], { dir: "out", flags: 0x02, seq: 100, ack: 0, len: 0 });
  assert.deepEqual(t[1], { dir: "in", flags: 0x12, seq: 2000, ack: 101, len: 0 });
  assert.deepEqual({ ...t[2], flags: t[2]!.flags & 0x13 }, {
    dir: "out",
    flags: 0x10,
    seq: 101,
    ack: 2001,
    len: 0,
  });
  const data = t.filter((e) => e.len > 0);
  assert.deepEqual(data[0], {
    dir: "out",
    flags: 0x10 | (data[0]!.flags & 8),
    seq: 101,
    ack: 2001,
    len: 100,
  });
  assert.deepEqual(data[1], {
    dir: "in",
    flags: 0x10 | (data[1]!.flags & 8),
    seq: 2001,
    ack: 201,
    len: 500,
  });
  assert.ok(
    t.some((e) => e.dir === "out" && e.seq === 201 && e.ack === 2501),
    "the client acknowledges the reply with SEQ 201 ACK 2501",
  );
  conn.close();
  server.close();
  listener.close();
  await w.a.close();
  await w.b.close();
});

/** Loss cases: both directions at once stress ACKs piggybacked on retransmitted data. */
const LOSS_CASES: ReadonlyArray<{ loss: number; seed: number; both: boolean; ignore?: boolean }> = [
  { loss: 0, seed: 1, both: true },
  { loss: 0.02, seed: 11, both: true },
  { loss: 0.1, seed: 12, both: false },
  { loss: 0.1, seed: 12, both: true },
  { loss: 0.2, seed: 31, both: true },
];

for (const { loss, seed, both, ignore } of LOSS_CASES) {
  const name = `sim: 1 MiB ${both ? "each way" : "one way"} at ${loss * 100}% loss is byte-exact ` +
    `(seed ${seed})`;
  Deno.test({ name, ignore: ignore ?? false }, async () => {
    const faults = (l: Link, c: VirtualClock, s: number): Link =>
      loss === 0 ? l : withFaults(l, { seed: s, drop: loss, clock: () => c.now() });
    const w = await world({
      wrapA: (l, c) => faults(l, c, seed),
      wrapB: (l, c) => faults(l, c, seed + 1000),
    });
    const up = pattern(1048576, seed);
    const down = both ? pattern(1048576, seed + 1) : new Uint8Array(0);
    const listener = w.b.listen({ port: 9000 });
    try {
      const run = (async () => {
        const accepted = listener.accept();
        const conn = await w.a.connect({ hostname: B, port: 9000 });
        const server = await accepted;
        const [, , gotUp, gotDown] = await Promise.all([
          conn.write(up).then(() => conn.closeWrite()),
          server.write(down).then(() => server.closeWrite()),
          readExactly(server, up.length),
          readExactly(conn, down.length),
        ]);
        assert.equal(await conn.read(new Uint8Array(1)), null);
        assert.equal(await server.read(new Uint8Array(1)), null);
        const info = conn.info();
        conn.close();
        server.close();
        return { gotUp, gotDown, info };
      })();
      const r = await w.sim.run(run, { maxVirtualMs: 3_600_000 });
      assert.ok(r.gotUp.every((v, i) => v === up[i]), `upload differs (seed ${seed})`);
      assert.ok(r.gotDown.every((v, i) => v === down[i]), `download differs (seed ${seed})`);
      if (loss > 0) assert.ok(r.info.retransmits > 0, `no retransmissions at ${loss} loss`);
    } catch (err) {
      console.error(`failing seed: ${seed}`);
      throw err;
    } finally {
      listener.close();
      await w.a.close();
      await w.b.close();
    }
  });
}

Deno.test("sim: delay, jitter, reordering, duplicates and corruption; byte-exact (seed 77)", async () => {
  const seed = 77;
  const faults = (l: Link, c: VirtualClock, s: number): Link =>
    withFaults(l, {
      seed: s,
      delayMs: 10,
      jitterMs: 5,
      reorder: 0.05,
      duplicate: 0.02,
      corrupt: 0.01,
      drop: 0.01,
      clock: () => c.now(),
    });
  const w = await world({
    engine: "wasm",
    wrapA: (l, c) => faults(l, c, seed),
    wrapB: (l, c) => faults(l, c, seed + 1),
  });
  const data = pattern(1048576, seed);
  const listener = w.b.listen({ port: 9100 });
  try {
    const run = (async () => {
      const accepted = listener.accept();
      const conn = await w.a.connect({ hostname: B, port: 9100 });
      const server = await accepted;
      const [, got] = await Promise.all([
        conn.write(data).then(() => conn.closeWrite()),
        readExactly(server, data.length),
      ]);
      const info = conn.info();
      conn.close();
      server.close();
      return { got, info };
    })();
    const t0 = w.clock.now();
    const r = await w.sim.run(run, { maxVirtualMs: 3_600_000 });
    assert.ok(r.got.every((v, i) => v === data[i]), `bytes differ (seed ${seed})`);
    // 20 ms or more of round trip: the transfer took virtual time, driven by the deadlines.
    assert.ok(w.clock.now() - t0 >= 100, `only ${w.clock.now() - t0} virtual ms passed`);
    const st = w.b.stats();
    assert.ok((st["fault-delayed"] ?? 0) > 0, JSON.stringify(st));
  } catch (err) {
    console.error(`failing seed: ${seed}`);
    throw err;
  } finally {
    listener.close();
    await w.a.close();
    await w.b.close();
  }
});

Deno.test("sim: a dead path times out in virtual time", async () => {
  let cut = false;
  const cutter = (l: Link): Link => ({
    name: l.name,
    mtu: l.mtu,
    receive: (buf, meta, max) => {
      const n = l.receive(buf, meta, max);
      return cut ? 0 : n;
    },
    send: (buf, off, len) => {
      if (!cut) l.send(buf, off, len);
    },
    wait: (ms) => l.wait(ms),
    close: () => l.close(),
  });
  const w = await world({ wrapA: cutter });
  const listener = w.b.listen({ port: 90 });
  const run = (async () => {
    const accepted = listener.accept();
    const conn = await w.a.connect({ hostname: B, port: 90, tcp: { maxRetries: 4 } });
    const server = await accepted;
    cut = true;
    await conn.write(new Uint8Array(1000));
    const t0 = w.clock.now();
    try {
      await conn.read(new Uint8Array(10));
      return { error: null as unknown, elapsed: w.clock.now() - t0, server };
    } catch (err) {
      return { error: err, elapsed: w.clock.now() - t0, server };
    }
  })();
  const wall = performance.now();
  const r = await w.sim.run(run, { maxVirtualMs: 3_600_000 });
  assert.ok(r.error instanceof Deno.errors.TimedOut, `expected TimedOut, got ${r.error}`);
  assert.ok(r.elapsed >= 1000, `timed out after only ${r.elapsed} virtual ms`);
  assert.ok(performance.now() - wall < 5000, "virtual time must not wait for real");
  r.server.close();
  listener.close();
  await w.a.close();
  await w.b.close();
});

Deno.test("sim: no route and no ARP answer fail with NetworkUnreachable", async () => {
  const w = await world();
  await assert.rejects(
    w.a.connect({ hostname: "192.168.1.1", port: 80 }),
    (e: unknown) =>
      e instanceof Deno.errors.NetworkUnreachable && e.message === "No route to 192.168.1.1:80",
  );
  const run = w.a.connect({ hostname: "10.9.0.3", port: 80 }).then(
    () => null,
    (e: unknown) => e,
  );
  const err = await w.sim.run(run);
  assert.ok(err instanceof Deno.errors.NetworkUnreachable, `got ${err}`);
  assert.match((err as Error).message, /10\.9\.0\.3:80/);
  await w.a.close();
  await w.b.close();
});

Deno.test("sim: 100 concurrent connections echo 10 KiB each", async () => {
  const w = await world({ engine: "wasm" });
  const listener = w.b.listen({ port: 7 });
  const serving = (async () => {
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      const c = await listener.accept();
      tasks.push((async () => {
        const buf = new Uint8Array(4096);
        for (;;) {
          const n = await c.read(buf);
          if (n === null) break;
          await c.write(buf.subarray(0, n));
        }
        await c.closeWrite();
        c.close();
      })());
    }
    await Promise.all(tasks);
  })();
  const clients = Array.from({ length: 100 }, async (_, i) => {
    const data = pattern(10240, i + 1);
    const c = await w.a.connect({ hostname: B, port: 7 });
    const [, got] = await Promise.all([
      c.write(data).then(() => c.closeWrite()),
      readExactly(c, data.length),
    ]);
    assert.ok(got.every((v, j) => v === data[j]), `connection ${i} differs`);
    c.close();
  });
  await w.sim.run(Promise.all([...clients, serving]));
  assert.ok(w.b.stats()["tcp-connections"]! <= 100);
  listener.close();
  await w.a.close();
  await w.b.close();
});
