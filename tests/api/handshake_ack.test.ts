/**
 * The handshake ACK and the application's first data, through the socket API on the real
 * clock (two stacks over the memory link, the client traced): a fresh stack's first client
 * sends the ACK alone (the seed note's three segments); once it has seen its application
 * write at once, a client that writes at once sends its request with the ACK on it and no
 * pure ACK before it (RFC 9293 3.10.7.3); a
 * client that reads first (the server speaks first) and one that does neither for a while
 * still send the ACK alone within the application's turn, so the server's accept() does not
 * wait for the client's first write.
 */
import assert from "node:assert/strict";
import {
  type Conn,
  createMemoryLinkPair,
  createStack,
  type NetStack,
  type TraceEvent,
  type TraceSegmentEvent,
} from "../../mod.ts";

const F_ACK = 16, F_SYN = 2;

async function pair(): Promise<{ client: NetStack; server: NetStack; close(): Promise<void> }> {
  const [la, lb] = createMemoryLinkPair();
  const client = await createStack({ link: la, address: "10.9.0.1/24" });
  const server = await createStack({ link: lb, address: "10.9.0.2/24" });
  return {
    client,
    server,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

/** The client's segments, in order, from its trace (closed and drained). */
async function segments(
  trace: AsyncIterable<TraceEvent> & { close(): void },
): Promise<TraceSegmentEvent[]> {
  trace.close();
  const out: TraceSegmentEvent[] = [];
  for await (const ev of trace) if (ev.type === "segment") out.push(ev);
  return out;
}

/** The client's segments after the SYN-ACK, as "flags/len". */
function afterSynAck(segs: TraceSegmentEvent[]): TraceSegmentEvent[] {
  const i = segs.findIndex((s) => s.dir === "in" && s.flags === (F_SYN | F_ACK));
  assert.ok(i >= 0, "no SYN-ACK in the trace");
  return segs.slice(i + 1).filter((s) => s.dir === "out");
}

async function readAll(conn: Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const k = await conn.read(out.subarray(got));
    if (k === null) break;
    got += k;
  }
  return out.subarray(0, got);
}

Deno.test("handshake ACK: a client that writes at once sends its request with the ACK, no pure ACK", async () => {
  const w = await pair();
  try {
    const lis = w.server.listen({ port: 80 });
    const trace = w.client.trace();
    const ports: number[] = [];
    const once = async (): Promise<void> => {
      const accepted = lis.accept();
      const conn = await w.client.connect({ hostname: "10.9.0.2", port: 80 });
      await conn.write(new TextEncoder().encode("hello"));
      const s = await accepted;
      assert.equal(new TextDecoder().decode(await readAll(s, 5)), "hello");
      ports.push(conn.localAddr.port);
      s.close();
      conn.close();
    };
    // Until the stack has seen its application write at once (within a few ms of the ACK: a
    // cold first turn on a loaded machine may take longer), then one more.
    for (let i = 0; i < 10 && !w.client.stats()["tcp-ack-alone-avoidable"]; i++) await once();
    assert.equal(w.client.stats()["tcp-ack-alone-avoidable"], 1);
    await once();
    lis.close();
    const segs = await segments(trace);
    const of = (port: number) => afterSynAck(segs.filter((s) => s.local === `10.9.0.1:${port}`));
    // The first: the ACK alone, then the request (as the seed note draws it).
    const first = of(ports[0]!);
    assert.deepEqual([first[0]!.flags, first[0]!.len], [F_ACK, 0]);
    assert.equal(first[1]!.len, 5);
    // The last: the request carries the ACK.
    const last = ports.at(-1)!;
    const out = of(last);
    assert.equal(out[0]!.len, 5, JSON.stringify(out.map((x) => [x.flags, x.len])));
    assert.equal(out[0]!.flags & F_ACK, F_ACK);
    const synAck = segs.find((s) =>
      s.local === `10.9.0.1:${last}` && s.dir === "in" && s.flags === (F_SYN | F_ACK)
    )!;
    assert.equal(out[0]!.ack, (synAck.seq + 1) >>> 0);
    assert.equal(w.client.stats()["tcp-ack-hold-carried"], 1);
  } finally {
    await w.close();
  }
});

Deno.test("handshake ACK: a client that reads first sends the ACK alone and gets the banner", async () => {
  const w = await pair();
  try {
    const lis = w.server.listen({ port: 80 });
    const trace = w.client.trace();
    const served = (async () => {
      const s = await lis.accept();
      await s.write(new TextEncoder().encode("220 ready\r\n"));
      return s;
    })();
    const conn = await w.client.connect({ hostname: "10.9.0.2", port: 80 });
    assert.equal(new TextDecoder().decode(await readAll(conn, 11)), "220 ready\r\n");
    const out = afterSynAck(await segments(trace));
    assert.equal(out[0]!.flags, F_ACK);
    assert.equal(out[0]!.len, 0);
    (await served).close();
    conn.close();
    lis.close();
  } finally {
    await w.close();
  }
});

Deno.test("handshake ACK: a client that neither reads nor writes still completes the server's accept", async () => {
  const w = await pair();
  try {
    const lis = w.server.listen({ port: 80 });
    let acceptedAt = Infinity;
    const accepted = lis.accept().then((s) => {
      acceptedAt = performance.now();
      return s;
    });
    const conn = await w.client.connect({ hostname: "10.9.0.2", port: 80 });
    // The application does something else for 200 ms: the ACK does not wait for it.
    const idleEnd = performance.now() + 200;
    await new Promise((r) => setTimeout(r, 200));
    const s = await accepted;
    assert.ok(acceptedAt < idleEnd, `accepted ${acceptedAt - idleEnd} ms after the idle time`);
    s.close();
    conn.close();
    lis.close();
  } finally {
    await w.close();
  }
});
