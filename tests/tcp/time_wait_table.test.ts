/**
 * The TIME-WAIT table (src/tcp/time_wait.ts) against a model: random adds, ends, restarts of
 * 2 MSL and expiry; lookups by four-tuple, keys that go stale, expiry in time order, the bound.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { TimeWaitTable } from "../../src/tcp/time_wait.ts";

interface Model {
  key: number;
  expiry: number;
}

const tupleOf = (i: number) => ({
  localIp: 0x0a000001,
  localPort: 40000 + (i % 7),
  // IPv4 and IPv6-handle-sized addresses alike (>= 2^32, src/wire/ip_handle.ts).
  remoteIp: i % 3 === 0 ? 2 ** 32 + i : 0x0a000100 + i,
  remotePort: 80 + (i % 5),
});

const op = fc.oneof(
  fc.record({ k: fc.constant("add" as const), i: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ k: fc.constant("end" as const), i: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ k: fc.constant("restart" as const), i: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ k: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ k: fc.constant("evict" as const) }),
);

Deno.test("TIME-WAIT table: lookups, keys, expiry order and the bound agree with a model", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 40 }), fc.array(op, { maxLength: 300 }), (max, ops) => {
      const t = new TimeWaitTable(max, 7);
      const live = new Map<number, Model>();
      const dead: number[] = [];
      let now = 0;
      const end = (i: number) => {
        const m = live.get(i)!;
        live.delete(i);
        dead.push(m.key);
      };
      for (const o of ops) {
        if (o.k === "add") {
          if (live.has(o.i)) continue; // a tuple has one record at most (the layer checks)
          const key = t.add(tupleOf(o.i), now + 1000, 1000);
          if (live.size >= max) {
            assert.equal(key, -1, "added past the bound");
            continue;
          }
          assert.ok(key >= 0);
          live.set(o.i, { key, expiry: now + 1000 });
        } else if (o.k === "end" || o.k === "restart") {
          const m = live.get(o.i);
          const tu = tupleOf(o.i);
          const slot = t.find(tu.localIp, tu.localPort, tu.remoteIp, tu.remotePort);
          assert.equal(slot, m ? m.key % 2 ** 24 : -1);
          if (!m) continue;
          if (o.k === "end") {
            t.free(slot);
            end(o.i);
          } else {
            t.expiry[slot] = m.expiry = now + 1000;
          }
        } else if (o.k === "tick") {
          now += o.ms;
          let last = -Infinity;
          for (let s = t.popExpired(now); s >= 0; s = t.popExpired(now)) {
            const i = [...live].find(([, m]) => m.key % 2 ** 24 === s)?.[0];
            assert.ok(i !== undefined, `slot ${s} expired but is not live`);
            const m = live.get(i)!;
            assert.ok(m.expiry <= now, "expired early");
            assert.ok(m.expiry >= last, "expired out of order");
            last = m.expiry;
            t.free(s);
            end(i);
          }
          for (const m of live.values()) assert.ok(m.expiry > now, "an expired record was kept");
        } else {
          const s = t.popOldest();
          if (live.size === 0) {
            assert.equal(s, -1);
            continue;
          }
          const min = Math.min(...[...live.values()].map((m) => m.expiry));
          const i = [...live].find(([, m]) => m.key % 2 ** 24 === s)![0];
          assert.equal(live.get(i)!.expiry, min, "not the one nearest its expiry");
          t.free(s);
          end(i);
        }
        assert.equal(t.size, live.size);
        assert.ok(t.size <= max);
        for (const m of live.values()) assert.ok(t.isLive(m.key));
        for (const k of dead) assert.ok(!t.isLive(k), "an ended record's key is still live");
      }
      for (const [i] of live) {
        const tu = tupleOf(i);
        assert.ok(t.find(tu.localIp, tu.localPort, tu.remoteIp, tu.remotePort) >= 0);
      }
    }),
  );
});

Deno.test("TIME-WAIT table: grows to many records and finds each; bad bounds are RangeErrors", () => {
  const n = 20000;
  const t = new TimeWaitTable(n);
  const tu = (i: number) => ({
    localIp: 0x0a000001,
    localPort: 1024 + (i % 60000),
    remoteIp: 0x0a000002 + Math.floor(i / 60000),
    remotePort: 80,
  });
  for (let i = 0; i < n; i++) assert.ok(t.add(tu(i), i, 1000) >= 0);
  assert.equal(t.add(tu(n), n, 1000), -1);
  for (let i = 0; i < n; i += 97) {
    const x = tu(i);
    assert.ok(t.find(x.localIp, x.localPort, x.remoteIp, x.remotePort) >= 0);
  }
  assert.equal(t.find(0x0a000001, 1, 0x0a000002, 80), -1);
  let expired = 0;
  for (let s = t.popExpired(n / 2 - 1); s >= 0; s = t.popExpired(n / 2 - 1)) {
    t.free(s);
    expired++;
  }
  assert.equal(expired, n / 2);
  assert.equal(t.size, n / 2);
  for (const bad of [-1, 1.5, NaN, 2 ** 24 + 1]) {
    assert.throws(() => new TimeWaitTable(bad), RangeError);
  }
});
