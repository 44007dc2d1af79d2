/**
 * TIME-WAIT as a compact record (src/tcp/time_wait.ts): the connection's buffers and state go
 * when it enters TIME-WAIT, and the record answers crafted segments as the whole connection
 * did (RFC 9293 3.10.7.4, RFC 7323 PAWS, RFC 5961), ends after 2 MSL, and is bounded by
 * `maxTimeWait` (`tcp-time-wait-overflow`).
 */

import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Engine } from "../../src/kernels/engine.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import {
  type TcpConnection,
  type TcpEvent,
  TcpLayer,
  type TcpOptions,
} from "../../src/tcp/tcp_layer.ts";
import { F_ACK, F_FIN, F_RST, F_SYN } from "../../src/wire/layout.ts";
import type { TcpSegment } from "../../src/wire/tcp_segment.ts";
import { segment } from "../support/segment.ts";
import { type Captured, IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

/** Count the rings an engine creates and destroys. */
function countRings(e: Engine): { live: () => number } {
  let live = 0;
  const m = e as unknown as Record<string, (...a: unknown[]) => unknown>;
  const pairs = [["sndCreate", "sndDestroy"], ["rcvCreate", "rcvDestroy"]] as const;
  for (const [make, end] of pairs) {
    const mk = m[make]!.bind(e), en = m[end]!.bind(e);
    m[make] = (...a: unknown[]) => (live++, mk(...a));
    m[end] = (...a: unknown[]) => (live--, en(...a));
  }
  return { live: () => live };
}

/**
 * A pair whose client `c` closed first and is in TIME-WAIT, its peer `s` CLOSED. Segments from
 * a are captured but no longer delivered (b would answer them with RSTs).
 */
function timeWait(tcpA: Partial<TcpOptions> = {}, events?: TcpEvent[]) {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 }, tcpA });
  const rings = countRings(p.ea);
  const [c, s] = openPair(p);
  if (events) c.onEvent = (ev) => events.push(ev);
  c.write(new Uint8Array(3000).fill(1));
  s.write(new Uint8Array(2000).fill(2));
  p.advance(20);
  c.read(new Uint8Array(4000));
  s.read(new Uint8Array(4000));
  c.close();
  p.advance(20);
  s.close();
  p.advance(20);
  assert.equal(c.state, "TIME-WAIT");
  assert.equal(s.state, "CLOSED");
  p.blackhole.a = true;
  p.captured.length = 0;
  return { p, c, rings };
}

/** A segment from the peer of `c` (b) to a. */
function from(c: TcpConnection, spec: Parameters<typeof segment>[0]): TcpSegment {
  return segment({
    srcIp: IP_B,
    dstIp: IP_A,
    srcPort: c.remotePort,
    dstPort: c.localPort,
    wnd: 1000,
    ...spec,
  });
}

/** With timestamps: TSval `tsVal`, echoing `tsEcr`. */
function withTs(s: TcpSegment, tsVal: number, tsEcr = 0): TcpSegment {
  s.hasTs = true;
  s.tsVal = tsVal >>> 0;
  s.tsEcr = tsEcr >>> 0;
  return s;
}

function sentByA(p: TcpPair): Captured[] {
  const out = p.captured.filter((r) => r.from === "a");
  p.captured.length = 0;
  return out;
}

Deno.test("TIME-WAIT: the connection's buffers go on entry; a record of it stays (time_wait.ts)", () => {
  const events: TcpEvent[] = [];
  const { p, c, rings } = timeWait({}, events);
  assert.equal(rings.live(), 0, "send and receive rings released on entering TIME-WAIT");
  assert.equal(p.a.find(c.localIp, c.localPort, c.remoteIp, c.remotePort), undefined);
  assert.equal(p.a.connectionCount, 1, "the record counts as a connection");
  assert.equal(p.a.timeWaitCount, 1);
  assert.equal(p.a.stats()["tcp-time-wait"], 1);
  // Its owner had closed it: it is done for the owner, the state reads TIME-WAIT for 2 MSL.
  assert.ok(events.includes("closed"));
  assert.equal(c.info().state, "TIME-WAIT");
  assert.equal(c.writable, 0);
  assert.throws(() => c.write(new Uint8Array(1)), { code: "broken-pipe" } as unknown as Error);
  // The peer's FIN came in the last 20 ms: 2 MSL (60 s) from then.
  p.advance(59970);
  assert.equal(c.state, "TIME-WAIT");
  p.advance(31);
  assert.equal(c.state, "CLOSED");
  assert.equal(c.error, null);
  assert.equal(p.a.connectionCount, 0);
  assert.equal(p.a.pollAt(), Infinity);
  assert.deepEqual(sentByA(p), [], "TIME-WAIT ends silently");
});

Deno.test("TIME-WAIT record: a retransmitted FIN is acknowledged again and restarts 2 MSL", () => {
  const { p, c } = timeWait();
  const t0 = p.now;
  p.advance(30000);
  const nxt = c.rcv.nxt;
  const ts = c.rcv.tsRecent + 5;
  p.a.input(withTs(from(c, { flags: F_FIN | F_ACK, seq: nxt - 1, ack: c.snd.max }), ts), p.now);
  const [ack, ...more] = sentByA(p);
  assert.deepEqual(more, []);
  assert.equal(ack!.flags, F_ACK);
  assert.equal(ack!.seq, c.snd.max);
  assert.equal(ack!.ack, nxt);
  assert.equal(ack!.hasTs, true);
  assert.equal(ack!.tsVal, p.now >>> 0);
  assert.equal(ack!.tsEcr, c.rcv.tsRecent, "an old FIN does not move TS.Recent");
  assert.equal(ack!.sackCount, 0);
  assert.ok(ack!.wnd > 0, "the window the connection last offered");
  assert.equal(p.a.stats()["tcp-unacceptable"], 1);
  // 2 MSL counts from the retransmitted FIN.
  p.advance(t0 + 89999 - p.now);
  assert.equal(c.state, "TIME-WAIT");
  p.advance(2);
  assert.equal(c.state, "CLOSED");
});

Deno.test("TIME-WAIT record: text is acknowledged, not delivered; a pure ACK gets nothing", () => {
  const { p, c } = timeWait();
  const nxt = c.rcv.nxt, ts = c.rcv.tsRecent + 1;
  const data = withTs(from(c, { flags: F_ACK, seq: nxt, ack: c.snd.max }), ts);
  data.payloadLen = 100;
  p.a.input(data, p.now);
  const [ack] = sentByA(p);
  assert.equal(ack!.ack, nxt, "RCV.NXT stays: the text is ignored (RFC 9293 3.10.7.4)");
  assert.equal(ack!.tsEcr, ts, "an acceptable segment's timestamp is echoed (RFC 7323 4.3)");
  assert.equal(c.readable, 0);
  p.a.input(withTs(from(c, { flags: F_ACK, seq: nxt, ack: c.snd.max }), ts + 1), p.now);
  assert.deepEqual(sentByA(p), []);
  // An ACK of data never sent: ACKed and dropped (rate limited, as invalidAck).
  p.a.input(withTs(from(c, { flags: F_ACK, seq: nxt, ack: c.snd.max + 10 }), ts + 2), p.now);
  assert.equal(sentByA(p).length, 1);
  p.a.input(withTs(from(c, { flags: F_ACK, seq: nxt, ack: c.snd.max + 10 }), ts + 2), p.now);
  assert.deepEqual(sentByA(p), []);
  assert.equal(p.a.stats()["tcp-ack-unsent"], 2);
  assert.equal(p.a.stats()["tcp-ack-rate-limited"], 1);
  // PAWS (RFC 7323 5.3): an older timestamp on text is dropped with an ACK.
  const old = withTs(from(c, { flags: F_ACK, seq: nxt, ack: c.snd.max }), ts - 1000);
  old.payloadLen = 10;
  p.a.input(old, p.now + 600);
  assert.equal(sentByA(p).length, 1);
  assert.equal(p.a.stats()["tcp-paws"], 1);
  assert.equal(c.state, "TIME-WAIT");
});

Deno.test("TIME-WAIT record: RST out of window ignored, inexact challenged, exact ends it", () => {
  const { p, c } = timeWait();
  const nxt = c.rcv.nxt;
  p.a.input(from(c, { flags: F_RST, seq: nxt + 0x40000000 }), p.now);
  assert.deepEqual(sentByA(p), []);
  assert.equal(p.a.stats()["tcp-rst-out-of-window"], 1);
  p.a.input(from(c, { flags: F_RST, seq: nxt + 10 }), p.now);
  const [challenge] = sentByA(p);
  assert.equal(challenge!.flags, F_ACK, "RFC 5961 3.2 challenge ACK");
  assert.equal(challenge!.ack, nxt);
  assert.equal(c.state, "TIME-WAIT");
  p.a.input(from(c, { flags: F_RST, seq: nxt }), p.now);
  assert.equal(c.state, "CLOSED", "RFC 9293 3.10.7.4: an exact RST ends TIME-WAIT");
  assert.equal(p.a.connectionCount, 0);
  assert.equal(p.a.stats()["tcp-rst-received"], 1);
});

Deno.test("TIME-WAIT record: an old SYN gets an ACK; a newer one opens a new incarnation (RFC 6191)", () => {
  const p = new TcpPair({ capture: true, faults: { delayMs: 2 } });
  const l = p.b.listen(0, 80);
  const c = p.a.connect(IP_B, 80, p.now, { localPort: 40000 });
  let s: TcpConnection | null = null;
  assert.ok(p.run(() => c.state === "ESTABLISHED" && (s ??= l.accept()) !== null, 1000));
  s!.close(); // the server closes first: b holds the record
  p.advance(20);
  c.close();
  p.advance(100);
  assert.equal(s!.state, "TIME-WAIT");
  assert.equal(p.b.timeWaitCount, 1);
  p.blackhole.b = true;
  p.captured.length = 0;
  const syn = (seq: number, ts: number) =>
    withTs(
      segment({ srcIp: IP_A, dstIp: IP_B, srcPort: 40000, dstPort: 80, flags: F_SYN, seq }),
      ts,
    );
  const nxt = s!.rcv.nxt, recent = s!.rcv.tsRecent;
  p.b.input(syn(nxt - 100000, recent - 900), p.now); // old sequence and timestamp
  const acks = p.captured.filter((r) => r.from === "b");
  assert.equal(acks.length, 1);
  assert.equal(acks[0]!.flags, F_ACK);
  assert.equal(acks[0]!.ack, nxt);
  assert.equal(s!.state, "TIME-WAIT");
  p.captured.length = 0;
  p.b.input(syn(nxt - 100000, recent + 1000), p.now); // newer timestamp
  const synAck = p.captured.filter((r) => r.from === "b");
  assert.equal(synAck.length, 1);
  assert.equal(synAck[0]!.flags, F_SYN | F_ACK);
  assert.equal(s!.state, "CLOSED");
  assert.equal(p.b.stats()["tcp-time-wait-reuse"], 1);
  assert.equal(p.b.timeWaitCount, 0);
});

Deno.test("TIME-WAIT records are bounded by maxTimeWait: the oldest goes, counted", () => {
  const p = new TcpPair({ faults: { delayMs: 2 }, tcpA: { maxTimeWait: 3 } });
  const l = p.b.listen(0, 80);
  const clients: TcpConnection[] = [];
  for (let i = 0; i < 5; i++) {
    const [c, s] = openPair(p, 80, l);
    c.close();
    p.advance(20);
    s.close();
    p.advance(20);
    clients.push(c);
    p.advance(1000);
  }
  assert.equal(p.a.timeWaitCount, 3);
  assert.equal(p.a.connectionCount, 3);
  assert.equal(p.a.stats()["tcp-time-wait-overflow"], 2);
  assert.deepEqual(clients.map((c) => c.state), [
    "CLOSED",
    "CLOSED",
    "TIME-WAIT",
    "TIME-WAIT",
    "TIME-WAIT",
  ]);
  assert.ok(clients.every((c) => c.error === null));
  p.advance(60000);
  assert.equal(p.a.timeWaitCount, 0);
  assert.ok(clients.every((c) => c.state === "CLOSED"));
});

Deno.test("maxTimeWait 0: an active close goes straight to CLOSED, counted", () => {
  const p = new TcpPair({ faults: { delayMs: 2 }, tcpA: { maxTimeWait: 0 } });
  const [c, s] = openPair(p);
  c.close();
  p.advance(20);
  s.close();
  p.advance(20);
  assert.equal(c.state, "CLOSED");
  assert.equal(c.error, null);
  assert.equal(p.a.connectionCount, 0);
  assert.equal(p.a.stats()["tcp-time-wait-overflow"], 1);
  assert.throws(() => new TcpPair({ tcpA: { maxTimeWait: -1 } }), RangeError);
  assert.throws(() => new TcpPair({ tcpA: { maxTimeWait: 1.5 } }), RangeError);
});

Deno.test("TIME-WAIT after a half-close: the owner keeps its handle and unread data until it closes", () => {
  const p = new TcpPair({ faults: { delayMs: 2 } });
  const [c, s] = openPair(p);
  const events: TcpEvent[] = [];
  c.onEvent = (ev) => events.push(ev);
  c.shutdownWrite();
  p.advance(20);
  s.write(new Uint8Array(500).fill(7));
  s.close();
  p.advance(100);
  assert.equal(c.state, "TIME-WAIT");
  assert.equal(p.a.timeWaitCount, 1);
  assert.ok(!events.includes("closed"));
  const buf = new Uint8Array(1000);
  assert.equal(c.read(buf), 500, "data received before the FIN stays readable");
  assert.equal(buf[499], 7);
  assert.ok(c.readEof);
  c.close(); // done with it: told at once, the record lives on
  assert.ok(events.includes("closed"));
  assert.equal(c.state, "TIME-WAIT");
  p.advance(60000);
  assert.equal(c.state, "CLOSED");
  assert.equal(events.filter((e) => e === "closed").length, 1);
  // Left open, the handle hears "closed" when the record ends.
  const [c2, s2] = openPair(p, 81);
  const ev2: TcpEvent[] = [];
  c2.onEvent = (ev) => ev2.push(ev);
  c2.shutdownWrite();
  p.advance(20);
  s2.close();
  p.advance(100);
  assert.equal(c2.state, "TIME-WAIT");
  p.advance(60000);
  assert.equal(c2.state, "CLOSED");
  assert.deepEqual(ev2.filter((e) => e === "closed"), ["closed"]);
});

Deno.test("TIME-WAIT tuples stay in use: ephemeral ports skip them, a fixed port waits", () => {
  const p = new TcpPair({
    faults: { delayMs: 1 },
    tcpA: { timestamps: false },
    tcpB: { synBacklog: 1000 },
  });
  const l = p.b.listen(0, 80, 1000);
  const held = new Set<number>();
  // RFC 6056 algorithm 4 steps its counter by 1-8 a connection: 6000 connections toward one
  // server go round the 16384 ports, onto tuples still in TIME-WAIT.
  for (let wave = 0; wave < 12; wave++) {
    const cs: TcpConnection[] = [];
    for (let i = 0; i < 500; i++) {
      const c = p.a.connect(IP_B, 80, p.now);
      assert.ok(!held.has(c.localPort), `port ${c.localPort} of a TIME-WAIT tuple taken`);
      cs.push(c);
    }
    let n = 0;
    p.run(() => {
      for (let s = l.accept(); s; s = l.accept()) {
        n++;
        s.onEvent = (ev) => ev === "readable" && s.readEof && s.close();
      }
      return n === cs.length;
    }, 10000);
    for (const c of cs) c.close();
    p.advance(100);
    for (const c of cs) {
      assert.equal(c.state, "TIME-WAIT");
      held.add(c.localPort);
    }
  }
  assert.equal(p.a.timeWaitCount, 6000);
  assert.equal(held.size, 6000);
  const port = [...held][0]!;
  assert.throws(
    () => p.a.connect(IP_B, 80, p.now, { localPort: port }),
    { code: "addr-in-use" } as unknown as Error,
  );
});

Deno.test("closeAll ends TIME-WAIT records silently", () => {
  const { p, c } = timeWait();
  p.a.closeAll("reset", p.now);
  assert.equal(c.state, "CLOSED");
  assert.equal(p.a.connectionCount, 0);
  assert.deepEqual(sentByA(p), []);
});

Deno.test("a TIME-WAIT record costs far less memory than a connection", () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const mem = () => {
    gc();
    const m = Deno.memoryUsage();
    return m.heapUsed + m.external; // typed-array columns are external memory
  };
  const p = new TcpPair({ faults: { delayMs: 1 }, tcpB: { synBacklog: 5000 } });
  const l = p.b.listen(0, 80, 5000);
  const n = 4000;
  const wave = () => {
    const conns: TcpConnection[] = [];
    for (let i = 0; i < n; i++) conns.push(p.a.connect(IP_B, 80, p.now));
    let accepted = 0;
    p.run(() => {
      for (let s = l.accept(); s; s = l.accept()) {
        accepted++;
        s.onEvent = (ev) => ev === "readable" && s.readEof && s.close();
      }
      return accepted === n;
    }, 60000);
    for (const c of conns) c.close();
    p.advance(100);
  };
  wave(); // the tables grow to their size (the record columns too: what stays is measured)
  p.advance(70000);
  assert.equal(p.a.connectionCount + p.b.connectionCount, 0);
  const before = mem();
  wave();
  assert.equal(p.a.timeWaitCount, n);
  assert.equal(p.b.connectionCount, 0);
  const perRecord = (mem() - before) / n;
  console.log(`memory per TIME-WAIT connection: ${perRecord.toFixed(0)} bytes`);
  assert.ok(perRecord < 512, `${perRecord.toFixed(0)} bytes per TIME-WAIT connection`);
  l.close();
});

Deno.test("a TIME-WAIT record holds the peer's address until it ends (IPv6 handles stay valid)", () => {
  const held = new Map<number, number>();
  const sent: { flags: number; seq: number; ack: number }[] = [];
  const tx = {
    sendTcp: (s: TcpSegment) => (sent.push({ flags: s.flags, seq: s.seq, ack: s.ack }), true),
    pathMtu: () => 1500,
    sourceFor: () => IP_B,
    holdAddress: (ip: number) => (held.set(ip, (held.get(ip) ?? 0) + 1), true),
    releaseAddress: (ip: number) => held.set(ip, held.get(ip)! - 1),
  };
  const layer = new TcpLayer(createJsEngine(), tx, { timestamps: false });
  const l = layer.listen(0, 80);
  const input = (flags: number, seq: number, ack: number) =>
    layer.input(
      segment({
        srcIp: IP_A,
        dstIp: IP_B,
        srcPort: 40000,
        dstPort: 80,
        flags,
        seq,
        ack,
        wnd: 65535,
      }),
      1000,
    );
  input(F_SYN, 100, 0);
  layer.poll(1000);
  const iss = sent.find((s) => s.flags === (F_SYN | F_ACK))!.seq;
  input(F_ACK, 101, iss + 1);
  const s = l.accept()!;
  assert.equal(held.get(IP_A), 1);
  s.close(); // the server closes first: its FIN
  layer.poll(1000);
  input(F_ACK, 101, iss + 2);
  input(F_FIN | F_ACK, 101, iss + 2);
  assert.equal(s.state, "TIME-WAIT");
  assert.equal(layer.timeWaitCount, 1);
  assert.equal(held.get(IP_A), 1, "the record holds the address");
  layer.poll(61001);
  assert.equal(s.state, "CLOSED");
  assert.equal(held.get(IP_A), 0, "released when the record ended");
});
