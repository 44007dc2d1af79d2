import assert from "node:assert/strict";
import type { TcpConnection, TcpState } from "../../src/tcp/tcp_layer.ts";
import { IP_A, IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

/** Run the pair for `ms` and return the distinct states each connection went through. */
function trace(p: TcpPair, conns: TcpConnection[], ms: number): TcpState[][] {
  const seen = conns.map((c) => [c.state]);
  const note = () =>
    conns.forEach((c, i) => {
      const s = seen[i]!;
      if (s[s.length - 1] !== c.state) s.push(c.state);
    });
  const end = p.now + ms;
  for (let i = 0; i < 100000 && p.step(end); i++) note();
  p.now = end;
  p.poll();
  note();
  return seen;
}

function pair(): TcpPair {
  return new TcpPair({
    tcpA: { timeWaitMs: 500 },
    tcpB: { timeWaitMs: 500 },
    faults: { delayMs: 5 },
  });
}

interface Row {
  name: string;
  run: () => void;
}

// Every transition of the RFC 9293 section 3.3.2 diagram.
const rows: Row[] = [
  {
    name: "CLOSED -> SYN-SENT -> ESTABLISHED (active open)",
    run() {
      const p = pair();
      p.b.listen(0, 80);
      const c = p.a.connect(IP_B, 80, p.now);
      assert.deepEqual(trace(p, [c], 100), [["SYN-SENT", "ESTABLISHED"]]);
    },
  },
  {
    name: "LISTEN -> SYN-RECEIVED -> ESTABLISHED (passive open)",
    run() {
      const p = pair();
      const l = p.b.listen(0, 80);
      const c = p.a.connect(IP_B, 80, p.now);
      p.poll();
      p.step(); // SYN arrives at b
      assert.equal((l as unknown as { halfOpen: number }).halfOpen, 1);
      assert.equal(l.accept(), null);
      trace(p, [c], 100);
      const s = l.accept()!;
      assert.equal(s.state, "ESTABLISHED");
    },
  },
  {
    name: "SYN-RECEIVED -> LISTEN on RST (half-open forgotten)",
    run() {
      const p = pair();
      const l = p.b.listen(0, 80);
      const c = p.a.connect(IP_B, 80, p.now);
      p.poll();
      p.step(); // SYN at b, SYN+ACK in flight
      c.abort(); // a forgets; the SYN+ACK gets a RST from a
      trace(p, [], 100);
      assert.equal((l as unknown as { halfOpen: number }).halfOpen, 0);
      assert.equal(p.b.connectionCount, 0);
    },
  },
  {
    name: "SYN-SENT -> SYN-RECEIVED -> ESTABLISHED (simultaneous open)",
    run() {
      const p = pair();
      const a = p.a.connect(IP_B, 5000, p.now, { localPort: 6000 });
      const b = p.b.connect(IP_A, 6000, p.now, { localPort: 5000 });
      assert.deepEqual(trace(p, [a, b], 200), [
        ["SYN-SENT", "SYN-RECEIVED", "ESTABLISHED"],
        ["SYN-SENT", "SYN-RECEIVED", "ESTABLISHED"],
      ]);
    },
  },
  {
    name: "SYN-RECEIVED -> FIN-WAIT-1 on close (simultaneous open, then close)",
    run() {
      const p = pair();
      const a = p.a.connect(IP_B, 5000, p.now, { localPort: 6000 });
      const b = p.b.connect(IP_A, 6000, p.now, { localPort: 5000 });
      p.run(() => a.state === "SYN-RECEIVED", 100);
      a.close();
      assert.equal(a.state, "FIN-WAIT-1");
      const seen = trace(p, [a, b], 100);
      assert.deepEqual(seen, [["FIN-WAIT-1", "FIN-WAIT-2"], ["SYN-RECEIVED", "CLOSE-WAIT"]]); // one FIN+ACK: ESTABLISHED, then CLOSE-WAIT
      b.close();
      assert.deepEqual(trace(p, [a, b], 2000), [["FIN-WAIT-2", "TIME-WAIT", "CLOSED"], [
        "LAST-ACK",
        "CLOSED",
      ]]);
      assert.equal(a.state, "CLOSED");
      assert.equal(b.state, "CLOSED");
      assert.equal(a.error, null);
    },
  },
  {
    name: "SYN-SENT -> CLOSED on close",
    run() {
      const p = pair();
      const c = p.a.connect(IP_B, 80, p.now);
      p.poll();
      c.close();
      assert.equal(c.state, "CLOSED");
      assert.equal(c.error, null);
      assert.equal(p.a.connectionCount, 0);
    },
  },
  {
    name: "SYN-SENT -> CLOSED on RST (refused)",
    run() {
      const p = pair();
      const c = p.a.connect(IP_B, 81, p.now);
      assert.deepEqual(trace(p, [c], 100), [["SYN-SENT", "CLOSED"]]);
      assert.equal(c.error?.code, "refused");
      assert.equal(p.b.stats()["tcp-no-listener"], 1);
    },
  },
  {
    name:
      "ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED; CLOSE-WAIT -> LAST-ACK -> CLOSED",
    run() {
      const p = pair();
      const [c, s] = openPair(p);
      assert.equal(c.state, "ESTABLISHED");
      c.close(); // RFC 9293 3.10.4: ESTABLISHED -> FIN-WAIT-1 at once, the FIN follows
      const seen = trace(p, [c, s], 50);
      assert.deepEqual(seen, [["FIN-WAIT-1", "FIN-WAIT-2"], ["ESTABLISHED", "CLOSE-WAIT"]]);
      assert.ok(s.readEof);
      s.close();
      assert.equal(s.state, "LAST-ACK");
      const seen2 = trace(p, [c, s], 1000);
      assert.deepEqual(seen2, [["FIN-WAIT-2", "TIME-WAIT", "CLOSED"], ["LAST-ACK", "CLOSED"]]);
      assert.equal(c.error, null);
      assert.equal(s.error, null);
    },
  },
  {
    name: "FIN-WAIT-1 -> CLOSING -> TIME-WAIT (simultaneous close)",
    run() {
      const p = pair();
      const [c, s] = openPair(p);
      c.close();
      s.close();
      const seen = trace(p, [c, s], 1000);
      const want = ["FIN-WAIT-1", "CLOSING", "TIME-WAIT", "CLOSED"];
      assert.deepEqual(seen, [want, want]);
    },
  },
  {
    name: "FIN-WAIT-1 -> TIME-WAIT on FIN+ACK",
    run() {
      const p = new TcpPair({ tcpA: { timeWaitMs: 500, delayedAckMs: 0 }, faults: { delayMs: 5 } });
      const [c, s] = openPair(p);
      s.onEvent = (ev) => {
        if (ev === "readable" && s.readEof) s.close(); // FIN piggybacks on the ACK of ours
      };
      c.close();
      p.b.poll(p.now);
      const seen = trace(p, [c], 1000);
      assert.deepEqual(seen[0], ["FIN-WAIT-1", "TIME-WAIT", "CLOSED"]);
      assert.equal(seen[0]![seen[0]!.length - 1], "CLOSED");
    },
  },
  {
    name: "ESTABLISHED -> CLOSED on RST (reset) and abort",
    run() {
      const p = pair();
      const [c, s] = openPair(p);
      s.abort();
      assert.equal(s.state, "CLOSED");
      assert.equal(s.error?.code, "aborted");
      assert.deepEqual(trace(p, [c], 100), [["ESTABLISHED", "CLOSED"]]);
      assert.equal(c.error?.code, "reset");
    },
  },
  {
    name: "TIME-WAIT answers a retransmitted FIN and restarts 2 MSL",
    run() {
      const p = pair();
      const [c, s] = openPair(p);
      c.close();
      trace(p, [c, s], 50);
      p.blackhole.a = true; // our last ACK is lost: b retransmits its FIN
      s.close();
      trace(p, [c, s], 100);
      assert.equal(c.state, "TIME-WAIT");
      assert.equal(s.state, "LAST-ACK");
      p.blackhole.a = false;
      trace(p, [c, s], 1500);
      assert.equal(s.state, "CLOSED");
      assert.equal(s.error, null);
    },
  },
];

for (const r of rows) Deno.test(`state transition: ${r.name}`, r.run);

Deno.test("half-close: the peer keeps sending after our FIN", () => {
  const p = pair();
  const [c, s] = openPair(p);
  c.shutdownWrite();
  trace(p, [c, s], 50);
  assert.equal(c.state, "FIN-WAIT-2");
  assert.throws(() => c.write(new Uint8Array(1)), { code: "broken-pipe" } as unknown as Error);
  assert.equal(s.write(new Uint8Array(3000).fill(5)), 3000);
  trace(p, [c, s], 100);
  const buf = new Uint8Array(4000);
  assert.equal(c.read(buf), 3000);
  assert.ok(s.readEof);
  s.shutdownWrite();
  trace(p, [c, s], 50);
  assert.ok(c.readEof);
  assert.equal(c.state, "TIME-WAIT");
});

Deno.test("close with unread data sends RST (RFC 1122 4.2.2.13)", () => {
  const p = pair();
  const [c, s] = openPair(p);
  c.write(new Uint8Array(10));
  trace(p, [c, s], 50);
  assert.equal(s.readable, 10);
  s.close();
  assert.equal(s.state, "CLOSED");
  trace(p, [c], 50);
  assert.equal(c.error?.code, "reset");
});

Deno.test("SYN to a closed port gets RST+ACK with ACK = SEQ + 1", () => {
  const p = new TcpPair({ capture: true, tcpA: { isn: () => 100 } });
  const c = p.a.connect(IP_B, 9, p.now);
  trace(p, [c], 50);
  const rst = p.captured.find((r) => r.from === "b")!;
  assert.equal(rst.flags, 4 | 16);
  assert.equal(rst.seq, 0);
  assert.equal(rst.ack, 101);
  assert.equal(c.error?.code, "refused");
});

Deno.test("listen: addr-in-use, wildcard conflicts, backlog bound", () => {
  const p = new TcpPair({ tcpB: { synBacklog: 2, syncookies: false } });
  p.b.listen(0, 80);
  assert.throws(() => p.b.listen(IP_B, 80), { code: "addr-in-use" } as unknown as Error);
  const conns = [0, 1, 2, 3].map(() => p.a.connect(IP_B, 80, p.now));
  p.poll();
  p.step();
  assert.equal(p.b.stats()["tcp-syn-backlog-full"], 2);
  for (const c of conns) c.abort();
});

Deno.test("a newer SYN ends TIME-WAIT and opens a new connection (RFC 6191)", () => {
  const p = new TcpPair({
    tcpA: { timeWaitMs: 60000 },
    tcpB: { timeWaitMs: 60000 },
    faults: { delayMs: 5 },
  });
  const l = p.b.listen(0, 80);
  const c = p.a.connect(IP_B, 80, p.now, { localPort: 40000 });
  let s: TcpConnection | null = null;
  p.run(() => (s ??= l.accept()) !== null, 1000);
  s!.close(); // the server closes first: it holds TIME-WAIT
  trace(p, [c, s!], 50);
  c.close();
  trace(p, [c, s!], 100);
  assert.equal(s!.state, "TIME-WAIT");
  assert.equal(c.state, "CLOSED");
  p.advance(1000); // the ISN clock moves on
  const c2 = p.a.connect(IP_B, 80, p.now, { localPort: 40000 });
  let s2: TcpConnection | null = null;
  assert.ok(p.run(() => c2.state === "ESTABLISHED" && (s2 ??= l.accept()) !== null, 1000));
  assert.equal(s!.state, "CLOSED");
  assert.equal(p.b.stats()["tcp-time-wait-reuse"], 1);
});
