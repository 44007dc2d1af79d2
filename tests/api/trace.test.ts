/**
 * The trace API (`stack.trace()`, `conn.trace()`) over the memory link in virtual time: the seed
 * note's exchange as events in order (segments with options and scaled windows, state
 * changes), the per-connection filter, the bounded drop-oldest buffer, the end on close.
 */
import assert from "node:assert/strict";
import type { TraceEvent, TraceSegmentEvent } from "../../mod.ts";
import { seedExchange, seedWorld } from "../support/seed_exchange.ts";

function describe(ev: TraceEvent): string {
  if (ev.type === "state") return `state ${ev.from} -> ${ev.to}`;
  const flags = [[2, "SYN"], [1, "FIN"], [4, "RST"], [8, "PSH"], [16, "ACK"]]
    .filter(([b]) => ev.flags & (b as number)).map(([, n]) => n).join("+");
  return `${ev.dir} ${flags} SEQ ${ev.seq} ACK ${ev.flags & 16 ? ev.ack : "-"} LEN ${ev.len}`;
}

async function drain(trace: AsyncIterable<TraceEvent> & { close(): void }): Promise<TraceEvent[]> {
  trace.close();
  const out: TraceEvent[] = [];
  for await (const ev of trace) out.push(ev);
  return out;
}

Deno.test("trace: the seed note's exchange as events, in order, on both stacks", async () => {
  const w = await seedWorld();
  const ct = w.client.trace();
  const st = w.server.trace();
  try {
    const port = await seedExchange(w);
    const client = await drain(ct);
    assert.deepEqual(client.map(describe), [
      "state CLOSED -> SYN-SENT",
      "out SYN SEQ 100 ACK - LEN 0",
      "in SYN+ACK SEQ 2000 ACK 101 LEN 0",
      "state SYN-SENT -> ESTABLISHED",
      "out ACK SEQ 101 ACK 2001 LEN 0",
      "out PSH+ACK SEQ 101 ACK 2001 LEN 100",
      // The request's ACK rides on the reply, as the seed note draws it (RFC 1122 4.2.3.2).
      "in PSH+ACK SEQ 2001 ACK 201 LEN 500",
      "out ACK SEQ 201 ACK 2501 LEN 0",
    ]);
    const server = await drain(st);
    assert.deepEqual(server.map(describe), [
      "in SYN SEQ 100 ACK - LEN 0",
      "state LISTEN -> SYN-RECEIVED",
      "out SYN+ACK SEQ 2000 ACK 101 LEN 0",
      "in ACK SEQ 101 ACK 2001 LEN 0",
      "state SYN-RECEIVED -> ESTABLISHED",
      "in PSH+ACK SEQ 101 ACK 2001 LEN 100",
      "out PSH+ACK SEQ 2001 ACK 201 LEN 500",
      "in ACK SEQ 201 ACK 2501 LEN 0",
    ]);
    const segs = client.filter((e): e is TraceSegmentEvent => e.type === "segment");
    const syn = segs[0]!;
    assert.equal(syn.local, `10.9.0.1:${port}`);
    assert.equal(syn.remote, "10.9.0.2:80");
    assert.equal(syn.src, syn.local);
    assert.equal(syn.options.mss, 1460);
    assert.equal(syn.options.sackPermitted, true);
    assert.ok(syn.options.wscale !== undefined && syn.options.wscale > 0);
    assert.ok(syn.options.timestamps !== undefined);
    // RFC 7323 2.2: a SYN's window is never scaled.
    assert.equal(syn.windowScaled, syn.window);
    const shiftOurs = syn.options.wscale!;
    const ack = segs[2]!;
    assert.equal(ack.windowScaled, ack.window * 2 ** shiftOurs);
    const shiftPeer = segs[1]!.options.wscale!;
    assert.equal(segs[4]!.windowScaled, segs[4]!.window * 2 ** shiftPeer);
    assert.ok(segs.every((e, i) => i === 0 || e.time >= segs[i - 1]!.time));
    assert.equal(ct.lost, 0);
  } finally {
    await w.close();
  }
});

Deno.test("trace: conn.trace() follows one connection; state changes through the close", async () => {
  const w = await seedWorld();
  try {
    const listener = w.server.listen({ port: 81 });
    const accepted = listener.accept();
    const a = await w.sim.run(w.client.connect({ hostname: "10.9.0.2", port: 81 }));
    const pa = await w.sim.run(accepted);
    const accepted2 = listener.accept();
    const b = await w.sim.run(w.client.connect({ hostname: "10.9.0.2", port: 81 }));
    const pb = await w.sim.run(accepted2);
    const ta = a.trace();
    await w.sim.run(b.write(new Uint8Array(10)));
    await w.sim.run(a.write(new Uint8Array(20)));
    const buf = new Uint8Array(64);
    let got = 0;
    while (got < 20) got += (await w.sim.run(pa.read(buf))) ?? 0;
    a.close();
    // Past the delayed ACK of the FIN (40 ms: it waits for a reply to ride on, as Linux).
    await w.sim.advance(100);
    pa.close();
    await w.sim.advance(200_000); // through TIME-WAIT
    const evs = await drain(ta);
    const local = `${a.localAddr.hostname}:${a.localAddr.port}`;
    assert.ok(evs.every((e) => e.local === local && e.remote === "10.9.0.2:81"));
    assert.deepEqual(evs.map(describe), [
      "out PSH+ACK SEQ 101 ACK 2001 LEN 20",
      "state ESTABLISHED -> FIN-WAIT-1",
      "out FIN+ACK SEQ 121 ACK 2001 LEN 0",
      "in ACK SEQ 2001 ACK 122 LEN 0",
      "state FIN-WAIT-1 -> FIN-WAIT-2",
      "in FIN+ACK SEQ 2001 ACK 122 LEN 0",
      "state FIN-WAIT-2 -> TIME-WAIT",
      "out ACK SEQ 122 ACK 2002 LEN 0",
      "state TIME-WAIT -> CLOSED",
    ]);
    b.close();
    pb.close();
    listener.close();
  } finally {
    await w.close();
  }
});

Deno.test("trace: a reader that falls behind loses the oldest events, counted", async () => {
  const w = await seedWorld();
  const t = w.client.trace({ limit: 3 });
  const full = w.client.trace();
  try {
    await seedExchange(w);
    const all = await drain(full);
    assert.equal(t.pending, 3);
    const kept = await drain(t);
    assert.equal(t.lost, all.length - 3);
    assert.deepEqual(kept, all.slice(-3));
    assert.throws(() => w.client.trace({ limit: 0 }), RangeError);
    assert.throws(() => w.client.trace({ limit: 1.5 }), RangeError);
  } finally {
    await w.close();
  }
});

Deno.test("trace: the iteration ends when the stack closes", async () => {
  const w = await seedWorld();
  const t = w.client.trace();
  const reading = (async () => {
    let n = 0;
    for await (const _ of t) n++;
    return n;
  })();
  await seedExchange(w);
  await w.close();
  assert.ok((await reading) >= 6);
  // A trace opened on a closed stack is over at once.
  const late = w.client.trace();
  assert.equal((await late.next()).done, true);
});
