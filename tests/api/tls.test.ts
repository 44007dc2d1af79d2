/**
 * connectTls / listenTls / startTls between two stacks on a memory link: an echo of 2 MiB with
 * SHA-256, ALPN, half-close, `handshake()`, and the failures (unknown CA, name mismatch, bad
 * options, refused port) with Deno's error classes.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { pattern } from "../support/interop_env.ts";
import { A, B, stackPair } from "../support/http_env.ts";
import { makeTestCerts, type TestCerts } from "../support/tls_certs.ts";

const sha = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");

async function withCerts(fn: (c: TestCerts) => Promise<void>): Promise<void> {
  const certs = await makeTestCerts([B], ["server.test"]);
  try {
    await fn(certs);
  } finally {
    await certs.cleanup();
  }
}

async function readAll(conn: { read(p: Uint8Array): Promise<number | null> }): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("tls: connectTls to listenTls, 2 MiB echo, ALPN, half-close, addresses", async () => {
  await withCerts(async (certs) => {
    await using s = await stackPair();
    using listener = s.b.listenTls({
      port: 443,
      cert: certs.cert,
      key: certs.key,
      alpnProtocols: ["h2", "echo/1"],
    });
    assert.equal(listener.addr.port, 443);
    const served = (async () => {
      const conn = await listener.accept();
      const info = await conn.handshake();
      await conn.readable.pipeTo(conn.writable); // echo until the client half-closes
      return info;
    })();
    const conn = await s.a.connectTls({
      hostname: B,
      port: 443,
      caCerts: [certs.ca],
      alpnProtocols: ["echo/1"],
    });
    assert.deepEqual(await conn.handshake(), { alpnProtocol: "echo/1" });
    assert.equal(conn.remoteAddr.hostname, B);
    assert.equal(conn.localAddr.hostname, A);
    const data = pattern(2 << 20, 5);
    const reading = readAll(conn);
    for (let off = 0; off < data.length; off += 100_000) {
      await conn.write(data.subarray(off, off + 100_000));
    }
    await conn.closeWrite();
    const back = await reading;
    assert.equal(back.length, data.length);
    assert.equal(sha(back), sha(data));
    assert.deepEqual(await served, { alpnProtocol: "echo/1" });
    conn.close();
    await assert.rejects(conn.read(new Uint8Array(4)), Deno.errors.BadResource);
  });
});

Deno.test("tls: startTls upgrades a plain connection, checking a DNS name", async () => {
  await withCerts(async (certs) => {
    await using s = await stackPair();
    using listener = s.b.listenTls({ port: 993, cert: certs.cert, key: certs.key });
    const served = (async () => {
      const conn = await listener.accept();
      await conn.write(new TextEncoder().encode("* OK"));
      await conn.closeWrite();
      await readAll(conn);
      conn.close();
    })();
    const plain = await s.a.connect({ hostname: B, port: 993 });
    const conn = await s.a.startTls(plain, { hostname: "server.test", caCerts: [certs.ca] });
    assert.equal(new TextDecoder().decode(await readAll(conn)), "* OK");
    await conn.closeWrite();
    await served;
    conn.close();
  });
});

Deno.test("tls: unknown CA and name mismatch fail with InvalidData; misuse is TypeError", async () => {
  await withCerts(async (certs) => {
    await using s = await stackPair();
    using listener = s.b.listenTls({ port: 443, cert: certs.cert, key: certs.key });
    const accepted: Promise<unknown>[] = [];
    const loop = (async () => {
      for await (const conn of listener) {
        accepted.push(conn.handshake().catch((e) => e).finally(() => conn.close()));
      }
    })();
    const unknownCa = await s.a.connectTls({ hostname: B, port: 443, caCerts: [certs.otherCa] });
    await assert.rejects(
      unknownCa.handshake(),
      (e: Error) => e instanceof Deno.errors.InvalidData && /certificate/.test(e.message),
    );
    await assert.rejects(unknownCa.read(new Uint8Array(4)), Deno.errors.InvalidData);
    unknownCa.close();
    const plain = await s.a.connect({ hostname: B, port: 443 });
    const wrongName = await s.a.startTls(plain, { hostname: "other.test", caCerts: [certs.ca] });
    await assert.rejects(
      wrongName.handshake(),
      (e: Error) => e instanceof Deno.errors.InvalidData && /other\.test/.test(e.message),
    );
    wrongName.close();
    await assert.rejects(
      s.a.connectTls({ hostname: B, port: 444, caCerts: [certs.ca] }),
      Deno.errors.ConnectionRefused,
    );
    assert.throws(
      () => s.b.listenTls({ port: 445, cert: certs.cert } as never),
      TypeError,
    );
    assert.throws(
      () => s.b.listenTls({ port: 446, cert: "junk", key: certs.key }),
      (e: Error) => e instanceof Deno.errors.InvalidData && /certificate/.test(e.message),
    );
    assert.throws(
      () => s.b.listenTls({ port: 446, cert: certs.cert, key: "junk" }),
      (e: Error) => e instanceof Deno.errors.InvalidData && /key/.test(e.message),
    );
    listener.close();
    await loop;
    const serverSide = await Promise.all(accepted);
    assert.equal(serverSide.length, 2);
    for (const e of serverSide) {
      assert.ok(e instanceof Deno.errors.UnexpectedEof, `the server saw the failure: ${e}`);
    }
  });
});
