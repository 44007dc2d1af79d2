/**
 * A scripted DNS server for resolver tests: builds answers to a query (records owned by the
 * question's name through a compression pointer, or by names given in full), and serves them
 * on a stack's UDP socket and TCP listener.
 */
import { decodeDns, encodeName } from "../../src/wire/dns.ts";
import type { NetStack } from "../../mod.ts";

/** One record of a scripted answer. */
export interface FakeRecord {
  /** Owner name (default: the question's name, as a pointer). */
  name?: string;
  type: number;
  ttl: number;
  /** Raw record data. */
  rdata: Uint8Array;
}

/** What the server answers to one query. */
export interface FakeAnswer {
  rcode?: number;
  tc?: boolean;
  answers?: FakeRecord[];
  /** An SOA in the authority section with this TTL and minimum (negative caching). */
  soaTtl?: number;
  /** Change the id (to test mismatches). */
  id?: number;
}

function u16(v: number): number[] {
  return [v >>> 8, v & 255];
}
function u32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

/** A response to `query` as scripted. */
export function buildResponse(query: Uint8Array, a: FakeAnswer): Uint8Array {
  const q = decodeDns(query);
  if (!q.ok) throw new Error(`bad query: ${q.error}`);
  const qEnd = 12 + encodeName(q.message.questions[0]!.name).length + 4;
  const out: number[] = [...query.subarray(0, qEnd)];
  const id = a.id ?? q.message.id;
  out[0] = id >>> 8;
  out[1] = id & 255;
  out[2] = 0x80 | (query[2]! & 0x01) | (a.tc ? 0x02 : 0);
  out[3] = 0x80 | (a.rcode ?? 0);
  const answers = a.answers ?? [];
  out.splice(6, 6, ...u16(answers.length), ...u16(a.soaTtl !== undefined ? 1 : 0), 0, 0);
  for (const r of answers) {
    out.push(...(r.name === undefined ? [0xc0, 12] : encodeName(r.name)));
    out.push(...u16(r.type), 0, 1, ...u32(r.ttl), ...u16(r.rdata.length), ...r.rdata);
  }
  if (a.soaTtl !== undefined) {
    const soa = [
      ...encodeName("ns.test"),
      ...encodeName("admin.test"),
      ...u32(1),
      ...u32(60),
      ...u32(60),
      ...u32(60),
      ...u32(a.soaTtl),
    ];
    out.push(...encodeName("test"), 0, 6, 0, 1, ...u32(a.soaTtl), ...u16(soa.length), ...soa);
  }
  return Uint8Array.from(out);
}

/** An A record's data. */
export function aData(ip: string): Uint8Array {
  return Uint8Array.from(ip.split(".").map(Number));
}

/** A TXT record's data of one string. */
export function txtData(text: string): Uint8Array {
  const b = new TextEncoder().encode(text);
  return Uint8Array.from([b.length, ...b]);
}

/** A running scripted server. */
export interface FakeServer {
  /** Queries received over UDP. */
  udpQueries: number;
  /** Queries received over TCP. */
  tcpQueries: number;
  close(): void;
  done: Promise<void>;
}

/**
 * Serve on `stack` port `port`: `script(query, transport)` returns the answer, or null to stay
 * silent. UDP and TCP (length-prefixed, one query per connection).
 */
export function serveDns(
  stack: NetStack,
  port: number,
  script: (name: string, type: number, transport: "udp" | "tcp") => FakeAnswer | null,
): FakeServer {
  const udp = stack.listenDatagram({ port });
  const tcp = stack.listen({ port });
  const state: FakeServer = {
    udpQueries: 0,
    tcpQueries: 0,
    close() {
      udp.close();
      tcp.close();
    },
    done: Promise.resolve(),
  };
  const answer = (query: Uint8Array, t: "udp" | "tcp"): Uint8Array | null => {
    const q = decodeDns(query);
    if (!q.ok) return null;
    const qq = q.message.questions[0]!;
    const a = script(qq.name, qq.type, t);
    return a === null ? null : buildResponse(query, a);
  };
  const udpLoop = (async () => {
    for await (const [data, from] of udp) {
      state.udpQueries++;
      const r = answer(data, "udp");
      if (r) await udp.send(r, from);
    }
  })();
  const tcpLoop = (async () => {
    for await (const conn of tcp) {
      state.tcpQueries++;
      const head = new Uint8Array(2);
      let got = 0;
      while (got < 2) got += (await conn.read(head.subarray(got))) ?? 2;
      const q = new Uint8Array((head[0]! << 8) | head[1]!);
      got = 0;
      while (got < q.length) {
        const n = await conn.read(q.subarray(got));
        if (n === null) break;
        got += n;
      }
      const r = answer(q, "tcp");
      if (r) await conn.write(Uint8Array.from([...u16(r.length), ...r]));
      conn.close();
    }
  })();
  state.done = Promise.all([udpLoop, tcpLoop]).then(() => {});
  return state;
}
