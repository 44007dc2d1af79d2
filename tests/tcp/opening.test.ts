/**
 * Opening connections under pressure: an active open on a tuple in TIME-WAIT (Linux
 * tcp_tw_reuse, RFC 6191) and a passive open under a SYN flood (RFC 4987 3.4).
 */

import assert from "node:assert/strict";
import { F_SYN } from "../../src/wire/layout.ts";
import { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";

Deno.test("connect on a TIME-WAIT tuple: reused after a second with timestamps (Linux tcp_tw_reuse)", () => {
  for (const timestamps of [true, false]) {
    const p = new TcpPair({ capture: true, faults: { delayMs: 2 }, tcpA: { timestamps } });
    const l = p.b.listen(0, 80);
    const open = () => {
      const c = p.a.connect(IP_B, 80, p.now, { localPort: 40000 });
      let s: ReturnType<typeof l.accept> = null;
      assert.ok(p.run(() => c.state === "ESTABLISHED" && (s ??= l.accept()) !== null, 1000));
      return [c, s!] as const;
    };
    const [c, s] = open();
    const iss1 = p.captured.find((r) => r.from === "a" && r.flags & F_SYN)!.seq;
    c.write(new Uint8Array(5000));
    c.close();
    p.advance(20);
    s.read(new Uint8Array(5000));
    s.close();
    p.advance(20);
    assert.equal(c.state, "TIME-WAIT");
    const busy = () => p.a.connect(IP_B, 80, p.now, { localPort: 40000 });
    assert.throws(busy, { code: "addr-in-use" } as unknown as Error); // the same second
    p.advance(1000);
    if (!timestamps) {
      assert.throws(busy, { code: "addr-in-use" } as unknown as Error); // no PAWS: never
      continue;
    }
    p.captured.length = 0;
    const [c2, s2] = open();
    assert.equal(c.state, "CLOSED");
    assert.equal(c.error, null);
    assert.equal(p.a.stats()["tcp-time-wait-reuse"], 1);
    // The new ISS lies beyond everything the old connection sent (SYN + 5000 + FIN).
    const iss2 = p.captured.find((r) => r.from === "a" && r.flags & F_SYN)!.seq;
    assert.ok(((iss2 - iss1) >>> 0) >= 5002 + 65535, `ISS ${iss1} then ${iss2}`);
    c2.write(new Uint8Array(100).fill(9));
    p.advance(50);
    assert.equal(s2.readable, 100);
  }
});

/** A segment from a to b on the pair's tuple. */
function seg(c: { localPort: number; remotePort: number }, flags: number, seq: number): TcpSegment {
  const x = new TcpSegment();
  x.srcIp = IP_A;
  x.dstIp = IP_B;
  x.srcPort = c.localPort;
  x.dstPort = c.remotePort;
  x.flags = flags;
  x.seq = seq >>> 0;
  x.wnd = 65535;
  return x;
}

Deno.test("SYN flood: a half-open queue under pressure expires old entries sooner (Linux)", () => {
  const p = new TcpPair({ tcpB: { synBacklog: 16, syncookies: false } });
  p.b.listen(0, 80);
  let port = 20000;
  const syn = () => {
    const x = seg({ localPort: port++, remotePort: 80 }, F_SYN, port * 7919);
    x.srcIp = 0x0a000063; // spoofed: the SYN+ACKs go nowhere
    p.b.input(x, p.now);
  };
  // 10 SYNs a second for 60 s. Without pruning the first 16 would hold the queue for 127 s
  // (1 + 2 + ... + 64, synRetries 6) and every later SYN would be dropped.
  for (let i = 0; i < 600; i++) {
    syn();
    p.advance(100);
  }
  const created = 600 - (p.b.stats()["tcp-syn-backlog-full"] ?? 0);
  assert.ok(created >= 60, `only ${created} half-open entries in 60 s`);
  assert.ok(p.b.connectionCount <= 16);
  // A queue at most half full keeps the full retry count (the pressure is gone).
  p.advance(200_000);
  assert.equal(p.b.connectionCount, 0);
  for (let i = 0; i < 8; i++) syn();
  p.advance(100_000);
  assert.equal(p.b.connectionCount, 8, "entries of a half-full queue expired early");
  p.advance(30_000);
  assert.equal(p.b.connectionCount, 0);
});
