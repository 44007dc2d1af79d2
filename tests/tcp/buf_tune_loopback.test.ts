// Buffer auto-tuning on the loopback path (src/tcp/buf_tune.ts): a connection to our own
// address has this stack as its peer, on our thread, whatever the link: it takes the strict
// rule even on a stack whose link is a network (TAP, TUN), where the network rule grew the
// loopback receive buffer past 1 MiB (its "round trip" is our own turn, lengthened by the
// window itself).
import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack, type Link } from "../../mod.ts";

/** A memory link end dressed as a network: it does not declare `sameThreadPeer`. */
function networkLike(inner: Link): Link {
  return {
    name: "net0",
    mtu: inner.mtu,
    receive: (b, m, n) => inner.receive(b, m, n),
    send: (b, o, l) => inner.send(b, o, l),
    wait: (t) => inner.wait(t),
    close: () => inner.close(),
  };
}

for (const host of ["127.0.0.1", "10.9.0.1"]) {
  Deno.test(`a loopback connection (${host}) on a network link keeps the strict rule`, async () => {
    const [la] = createMemoryLinkPair();
    const stack = await createStack({ link: networkLike(la), address: "10.9.0.1/24" });
    try {
      assert.equal(stack.driver.tcp.options.sameThreadPeer, false);
      const listener = stack.listen({ port: 7 });
      const accepted = listener.accept();
      const client = await stack.connect({ hostname: host, port: 7 });
      const server = await accepted;
      listener.close();
      const total = 128 * 1048576;
      const chunk = new Uint8Array(262144);
      const writer = (async () => {
        for (let sent = 0; sent < total; sent += chunk.length) await client.write(chunk);
      })();
      const buf = new Uint8Array(262144);
      let got = 0;
      while (got < total) {
        const n = await server.read(buf);
        if (n === null) break;
        got += n;
      }
      await writer;
      assert.equal(got, total);
      const rcvBuf = server.info().rcvBuf;
      assert.ok(rcvBuf < 1048576, `loopback receive buffer grew to ${rcvBuf}`);
      client.close();
      server.close();
    } finally {
      await stack.close();
    }
  });
}
