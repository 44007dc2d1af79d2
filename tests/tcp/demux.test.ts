/** The connection table (demux.ts): lookups by four-tuple agree with a plain map. */

import assert from "node:assert/strict";
import fc from "fast-check";
import { ConnTable } from "../../src/tcp/demux.ts";
import type { TcpConnection } from "../../src/tcp/connection.ts";
import { IPV6_HANDLE_BASE } from "../../src/wire/ip_handle.ts";

/** A stand-in connection: the table reads only the four-tuple. */
function conn(lip: number, lport: number, rip: number, rport: number): TcpConnection {
  return { localIp: lip, localPort: lport, remoteIp: rip, remotePort: rport } as TcpConnection;
}

const key = (lip: number, lport: number, rip: number, rport: number) =>
  `${lip}/${lport}/${rip}/${rport}`;

Deno.test("conn table: add, delete and get agree with a map (collisions, growth, IPv6 handles)", () => {
  // Few distinct values: many tuples share ports or addresses, chains form and are cut.
  const ip = fc.constantFrom(0x0a070001, 0x0a070002, 0xffffffff, IPV6_HANDLE_BASE + 1, 1);
  const port = fc.integer({ min: 1, max: 40 });
  const op = fc.tuple(fc.boolean(), ip, port, ip, port);
  fc.assert(
    fc.property(fc.array(op, { maxLength: 600 }), fc.integer(), (ops, seed) => {
      const t = new ConnTable(seed);
      const ref = new Map<string, TcpConnection>();
      for (const [del, lip, lport, rip, rport] of ops) {
        const k = key(lip, lport, rip, rport);
        const old = ref.get(k);
        if (del) {
          if (old) {
            t.delete(old);
            ref.delete(k);
          }
        } else if (!old) {
          const c = conn(lip, lport, rip, rport);
          t.add(c);
          ref.set(k, c);
        }
        assert.equal(t.get(lip, lport, rip, rport), ref.get(k));
      }
      assert.equal(t.size, ref.size);
      for (const c of ref.values()) {
        assert.equal(t.get(c.localIp, c.localPort, c.remoteIp, c.remotePort), c);
      }
      for (const [, lip, lport, rip, rport] of ops) {
        assert.equal(t.has(lip, lport, rip, rport), ref.has(key(lip, lport, rip, rport)));
      }
    }),
  );
});

Deno.test("conn table: 20,000 connections in, every other one out, the rest still found", () => {
  const t = new ConnTable();
  const cs = Array.from({ length: 20000 }, (_, i) => conn(0xc0a80002, 1024 + i, 0xc0a80001, 80));
  for (const c of cs) t.add(c);
  cs.forEach((c, i) => i % 2 === 0 && t.delete(c));
  assert.equal(t.size, 10000);
  cs.forEach((c, i) =>
    assert.equal(t.get(0xc0a80002, 1024 + i, 0xc0a80001, 80), i % 2 ? c : undefined)
  );
  // An int32 bit pattern of an address finds the same connection (as the nested maps did).
  assert.equal(t.get(0xc0a80002 | 0, 1025, 0xc0a80001 | 0, 80), cs[1]);
});
