/** The layer's timer queue (timer_heap.ts): order, one live entry per item, lazy re-queueing. */

import assert from "node:assert/strict";
import fc from "fast-check";
import { TimerHeap } from "../../src/tcp/timer_heap.ts";
import { IP_B, TcpPair } from "../support/tcp_pair.ts";

Deno.test("timer heap: pops due items in time order, each once, at its earliest time", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 1000 }))),
      (ops) => {
        const h = new TimerHeap<number>();
        const earliest = new Map<number, number>();
        for (const [item, at] of ops) {
          h.schedule(item, at);
          earliest.set(item, Math.min(earliest.get(item) ?? Infinity, at));
        }
        const popped: number[] = [];
        let last = -1;
        for (let now = 0; now <= 1000; now += 7) {
          for (let x = h.popDue(now); x !== undefined; x = h.popDue(now)) {
            assert.ok(earliest.get(x)! <= now);
            assert.ok(earliest.get(x)! >= last - 7);
            last = earliest.get(x)!;
            popped.push(x);
          }
        }
        for (let x = h.popDue(Infinity); x !== undefined; x = h.popDue(Infinity)) popped.push(x);
        assert.deepEqual(
          [...popped].sort((a, b) => a - b),
          [...earliest.keys()].sort((a, b) => a - b),
        );
        assert.equal(h.peek(), Infinity);
      },
    ),
  );
  const h = new TimerHeap<string>();
  h.schedule("a", 10);
  h.remove("a");
  assert.equal(h.popDue(100), undefined, "a removed item is not returned");
});

Deno.test("timer heap: removals and earlier deadlines interleaved keep the order and the set", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 1000 })),
        { maxLength: 400 },
      ),
      (ops) => {
        const h = new TimerHeap<number>();
        const live = new Map<number, number>();
        for (const [del, item, at] of ops) {
          if (del) {
            h.remove(item);
            live.delete(item);
          } else {
            h.schedule(item, at);
            live.set(item, Math.min(live.get(item) ?? Infinity, at));
          }
        }
        const popped: [number, number][] = [];
        for (let x = h.popDue(Infinity); x !== undefined; x = h.popDue(Infinity)) {
          popped.push([x, live.get(x)!]);
        }
        assert.deepEqual(
          popped.map(([x]) => x).sort((a, b) => a - b),
          [...live.keys()].sort((a, b) => a - b),
        );
        for (let i = 1; i < popped.length; i++) assert.ok(popped[i - 1]![1] <= popped[i]![1]);
      },
    ),
  );
});

Deno.test("timer heap: entries of removed items do not pile up (closed connections are not kept)", () => {
  const h = new TimerHeap<object>();
  const keep = Array.from({ length: 10 }, () => ({}));
  keep.forEach((k, i) => h.schedule(k, 7_200_000 + i)); // keepalives two hours away
  for (let i = 0; i < 100_000; i++) {
    const c = {};
    h.schedule(c, 7_200_000 + i);
    h.schedule(c, 1000 + i); // a deadline moved earlier: the first entry goes stale
    h.remove(c); // the connection closed
  }
  assert.ok(h.size <= 2 * keep.length + 64, `heap holds ${h.size} entries for 10 live items`);
  const out: object[] = [];
  for (let x = h.popDue(Infinity); x !== undefined; x = h.popDue(Infinity)) out.push(x);
  assert.deepEqual(out, keep);
});

Deno.test("timer heap: a deadline moved earlier and back again does not pile up entries", () => {
  const h = new TimerHeap<string>();
  for (let i = 0; i < 10_000; i++) {
    h.schedule("c", 7_200_000); // keepalive, two hours away
    h.schedule("c", i + 1); // a retransmission timer, earlier
    assert.equal(h.popDue(i + 1), "c"); // fires; the connection is queued at its keepalive again
  }
  h.schedule("c", 7_200_000);
  assert.ok(h.size <= 2 + 64, `heap holds ${h.size} entries for one item`);
  assert.equal(h.popDue(Infinity), "c");
  assert.equal(h.popDue(Infinity), undefined);
});

Deno.test("timer heap: 500 connections with keepalive times 10 ms apart probe each on time", () => {
  const p = new TcpPair({ faults: { delayMs: 1 } });
  const l = p.b.listen(0, 80);
  const conns = Array.from({ length: 500 }, () => p.a.connect(IP_B, 80, p.now));
  p.advance(20);
  while (l.accept()) { /* accepted */ }
  assert.ok(conns.every((c) => c.state === "ESTABLISHED"));
  const t0 = p.now;
  conns.forEach((c, i) => c.setKeepAlive(true, 10_000 + 10 * i));
  p.poll(); // the keepalive timers are armed from this poll's time
  const probes = () => p.a.stats()["tcp-keepalive-probe"] ?? 0;
  for (const k of [0, 1, 99, 250, 499]) {
    p.advance(t0 + 10_000 + 10 * k + 5 - p.now);
    assert.equal(probes(), k + 1, `${k + 1} probes by ${10_000 + 10 * k + 5} ms`);
  }
});
