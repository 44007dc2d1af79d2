/**
 * The stub resolver over a memory link against a scripted server on a second stack: answers
 * and CNAME chains, TTL caching and its bound, negative caching of NXDOMAIN, retries over
 * servers, timeouts, TCP after truncation, answers that do not match (id, source) ignored,
 * SERVFAIL, the pending-query bound, abort, hostnames in connect, the hosts map.
 */
import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack, type NetStack } from "../../mod.ts";
import type { DnsOptions } from "../../src/api/dns.ts";
import {
  encodeName,
  RCODE_NXDOMAIN,
  RCODE_SERVFAIL,
  TYPE_A,
  TYPE_CNAME,
  TYPE_MX,
  TYPE_TXT,
} from "../../src/wire/dns.ts";
import { aData, type FakeAnswer, serveDns, txtData } from "../support/dns_server.ts";

type Script = (name: string, type: number, t: "udp" | "tcp") => FakeAnswer | null;

async function world(
  script: Script,
  dns: DnsOptions = {},
): Promise<
  {
    client: NetStack;
    server: NetStack;
    srv: ReturnType<typeof serveDns>;
    [Symbol.asyncDispose](): Promise<void>;
  }
> {
  const [la, lb] = createMemoryLinkPair();
  const server = await createStack({ link: lb, address: "10.9.0.1/24", engine: "js" });
  const client = await createStack({
    link: la,
    address: "10.9.0.2/24",
    engine: "js",
    dns: { servers: ["10.9.0.1"], timeoutMs: 200, ...dns },
  });
  const srv = serveDns(server, 53, script);
  return {
    client,
    server,
    srv,
    async [Symbol.asyncDispose]() {
      srv.close();
      await client.close();
      await server.close();
      await srv.done;
    },
  };
}

const A = (ip: string, ttl = 60) => ({ type: TYPE_A, ttl, rdata: aData(ip) });

Deno.test("dns: A records, CNAME chain, TTL cache, hostnames in connect", async () => {
  await using w = await world((name, type) => {
    if (name === "www.test" && type === TYPE_A) {
      return {
        answers: [
          { type: TYPE_CNAME, ttl: 30, rdata: encodeName("web.test") },
          { name: "web.test", type: TYPE_A, ttl: 60, rdata: aData("10.9.0.1") },
          { name: "web.test", type: TYPE_A, ttl: 60, rdata: aData("10.9.0.9") },
        ],
      };
    }
    if (name === "mail.test" && type === TYPE_MX) {
      return { answers: [{ type: TYPE_MX, ttl: 60, rdata: Uint8Array.from([0, 5, 0xc0, 12]) }] };
    }
    if (name === "www.test" && type === TYPE_CNAME) {
      return { answers: [{ type: TYPE_CNAME, ttl: 30, rdata: encodeName("web.test") }] };
    }
    return { rcode: RCODE_NXDOMAIN };
  });
  const { client, srv } = w;
  assert.deepEqual(await client.resolveDns("WWW.test.", "A"), ["10.9.0.1", "10.9.0.9"]);
  assert.deepEqual(await client.resolveDns("www.test", "A"), ["10.9.0.1", "10.9.0.9"]);
  assert.equal(srv.udpQueries, 1, "second answer from the cache");
  assert.equal(client.stats()["dns-cache-hits"], 1);
  assert.deepEqual(await client.resolveDns("mail.test", "MX"), [{
    preference: 5,
    exchange: "mail.test",
  }]);
  assert.deepEqual(await client.resolveDns("www.test", "CNAME"), ["web.test"]);
  // connect by name: resolved, then connected.
  using l = w.server.listen({ port: 80 });
  const acc = l.accept();
  const conn = await client.connect({ hostname: "www.test", port: 80 });
  assert.equal(conn.remoteAddr.hostname, "10.9.0.1");
  (await acc).close();
  conn.close();
  assert.equal(await client.resolveHost("www.test"), "10.9.0.1");
  await assert.rejects(client.connect({ hostname: "nope.test", port: 80 }), Deno.errors.NotFound);
});

Deno.test("dns: NXDOMAIN is NotFound and cached negatively (SOA minimum); NODATA too", async () => {
  await using w = await world((name) => {
    if (name === "gone.test") return { rcode: RCODE_NXDOMAIN, soaTtl: 30 };
    if (name === "nosoa.test") return { rcode: RCODE_NXDOMAIN };
    return { answers: [] };
  });
  const { client, srv } = w;
  await assert.rejects(
    client.resolveDns("gone.test", "A"),
    (e) => e instanceof Deno.errors.NotFound && /NXDOMAIN/.test(e.message),
  );
  await assert.rejects(client.resolveDns("gone.test", "A"), Deno.errors.NotFound);
  assert.equal(srv.udpQueries, 1, "NXDOMAIN cached (RFC 2308)");
  await assert.rejects(client.resolveDns("nosoa.test", "A"), Deno.errors.NotFound);
  await assert.rejects(client.resolveDns("nosoa.test", "A"), Deno.errors.NotFound);
  assert.equal(srv.udpQueries, 3, "no SOA: not cached");
  await assert.rejects(
    client.resolveDns("empty.test", "TXT"),
    (e) => e instanceof Deno.errors.NotFound && /No TXT record/.test(e.message),
  );
});

Deno.test("dns: a silent server times out; the next server answers; TimedOut when none does", async () => {
  let silent = true;
  await using w = await world(() => (silent ? null : { answers: [A("10.9.0.33")] }), {
    servers: ["10.9.0.1:5300", "10.9.0.1"],
    attempts: 2,
    timeoutMs: 150,
  });
  const { client } = w;
  // Nothing listens on 5300 (the server's ICMP port unreachable is ignored): the first server
  // times out, the second is silent too.
  const t0 = performance.now();
  await assert.rejects(
    client.resolveDns("x.test", "A"),
    (e) =>
      e instanceof Deno.errors.TimedOut && /No DNS server answered for "x.test"/.test(e.message),
  );
  const took = performance.now() - t0;
  assert.ok(took >= 4 * 150 - 20 && took < 4000, `took ${took} ms`);
  assert.equal(w.srv.udpQueries, 2, "two rounds over the second server");
  const st = client.stats();
  assert.equal(st["dns-queries-sent"], 4);
  assert.equal(st["dns-retries"], 3);
  assert.equal(st["dns-timeouts"], 1);
  silent = false;
  assert.deepEqual(await client.resolveDns("y.test", "A"), ["10.9.0.33"]);
});

Deno.test("dns: truncated answer is asked again over TCP", async () => {
  const big = Array.from({ length: 40 }, (_, i) => A(`10.9.${i}.1`, 300));
  await using w = await world((_n, _t, transport) =>
    transport === "udp" ? { tc: true, answers: big.slice(0, 2) } : { answers: big }
  );
  const got = await w.client.resolveDns("many.test", "A");
  assert.equal(got.length, 40);
  assert.equal(got[39], "10.9.39.1");
  assert.equal(w.srv.tcpQueries, 1);
  assert.equal(w.client.stats()["dns-tcp-fallbacks"], 1);
});

Deno.test("dns: mismatched ids and malformed answers are ignored; SERVFAIL is an error", async () => {
  let mode = "bad-id";
  await using w = await world(() => {
    if (mode === "bad-id") return { id: 1, answers: [A("10.9.0.66")] };
    if (mode === "servfail") return { rcode: RCODE_SERVFAIL };
    return { answers: [{ type: TYPE_TXT, ttl: 5, rdata: txtData("hi") }] };
  }, { attempts: 1 });
  // The id check: (1 in 65536 chance the random id is 1: then the answer is right anyway.)
  const r = await w.client.resolveDns("a.test", "A").catch((e) => e);
  if (Array.isArray(r)) assert.deepEqual(r, ["10.9.0.66"]);
  else {
    assert.ok(r instanceof Deno.errors.TimedOut, String(r));
    assert.equal(w.client.stats()["dns-mismatched"], 1);
  }
  mode = "servfail";
  await assert.rejects(w.client.resolveDns("b.test", "A"), /SERVFAIL/);
  mode = "txt";
  assert.deepEqual(await w.client.resolveDns("c.test", "TXT"), [["hi"]]);
  await assert.rejects(w.client.resolveDns("c.test", "NAPTR" as "A"), TypeError);
});

Deno.test("dns limits: the cache holds cacheSize answers; maxPending queries in flight", async () => {
  await using w = await world(
    (name) => name.startsWith("slow") ? null : { answers: [A("10.9.0.1")] },
    {
      cacheSize: 3,
      maxPending: 2,
      attempts: 1,
      timeoutMs: 300,
    },
  );
  const { client, srv } = w;
  for (const n of ["a", "b", "c", "d"]) await client.resolveDns(`${n}.test`, "A");
  assert.equal(client.stats()["dns-cache-entries"], 3);
  await client.resolveDns("d.test", "A"); // still cached
  assert.equal(srv.udpQueries, 4);
  await client.resolveDns("a.test", "A"); // evicted: asked again
  assert.equal(srv.udpQueries, 5);
  // Three slow queries with maxPending 2: the third waits for a slot.
  const slow = ["slow1", "slow2", "slow3"].map((n) =>
    client.resolveDns(`${n}.test`, "A").catch((e) => e)
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(srv.udpQueries, 7, "two in flight");
  assert.equal(client.stats()["dns-queries-queued"], 1);
  const errs = await Promise.all(slow);
  assert.ok(errs.every((e) => e instanceof Deno.errors.TimedOut));
  assert.equal(srv.udpQueries, 8, "the third went after a slot freed");
});

Deno.test("dns: abort, identical queries share one question, hosts map, bad options", async () => {
  await using w = await world(
    (name) => name === "slow.test" ? null : { answers: [A("10.9.0.1")] },
    {
      hosts: { "Db.Internal": "10.9.0.7" },
    },
  );
  const { client, srv } = w;
  const ac = new AbortController();
  const p = client.resolveDns("slow.test", "A", { signal: ac.signal });
  ac.abort();
  await assert.rejects(p, (e) => e instanceof DOMException && e.name === "AbortError");
  await assert.rejects(
    client.connect({ hostname: "slow.test", port: 1, signal: AbortSignal.abort() }),
    (e) => e instanceof DOMException && e.name === "AbortError", // the signal's reason, as Deno
  );
  const [x, y] = await Promise.all([
    client.resolveDns("same.test", "A"),
    client.resolveDns("same.test", "A"),
  ]);
  assert.deepEqual(x, y);
  const before = srv.udpQueries;
  assert.deepEqual(await client.resolveDns("db.internal", "A"), ["10.9.0.7"]);
  assert.equal(await client.resolveHost("foo.localhost"), "127.0.0.1");
  assert.equal(srv.udpQueries, before, "static names never asked");
  using l = client.listen({ hostname: "localhost", port: 0 });
  assert.equal(l.addr.hostname, "127.0.0.1");
  const [link] = createMemoryLinkPair();
  await assert.rejects(
    createStack({ link, address: "10.9.0.5/24", dns: { servers: ["nope"] } }),
    TypeError,
  );
  await assert.rejects(
    createStack({ link, address: "10.9.0.5/24", dns: { cacheSize: 0 } }),
    RangeError,
  );
  // No servers: only static names.
  const [lone] = createMemoryLinkPair();
  await using s = await createStack({ link: lone, address: "10.9.0.5/24" });
  await assert.rejects(
    s.resolveDns("x.test", "A"),
    (e) => e instanceof Deno.errors.NotFound && /no DNS servers/.test(e.message),
  );
});
