/**
 * The two small hooks the gateway needs below it, on two stacks over a memory link: the
 * interface takes TCP and UDP for other hosts only after `acceptForeign`, and the TCP layer's
 * `onUnclaimedSyn` decides before any SYN-ACK: "reset" (RST), "hold" (silence; the SYN is
 * counted), or a `relayListener()` that completes the handshake as the destination address.
 */
import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack } from "../../mod.ts";

async function pair() {
  const [gl, ul] = createMemoryLinkPair();
  const gw = await createStack({ link: gl, address: "10.0.2.2/24", engine: "js" });
  const guest = await createStack({
    link: ul,
    address: "10.0.2.100/24",
    gateway: "10.0.2.2",
    engine: "js",
    tcp: { rtoInitialMs: 200 },
  });
  return { gw, guest };
}

Deno.test("hooks: without acceptForeign, TCP to another host is not for us", async () => {
  const { gw, guest } = await pair();
  try {
    const ac = new AbortController();
    const p = guest.connect({ hostname: "192.0.2.9", port: 80, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await assert.rejects(p, (e) => e instanceof DOMException && e.name === "AbortError"); // as Deno
    assert(gw.stats()["ip-not-for-us"]! >= 1);
  } finally {
    await guest.close();
    await gw.close();
  }
});

Deno.test("hooks: onUnclaimedSyn reset, hold, then a relay listener", async () => {
  const { gw, guest } = await pair();
  try {
    gw.driver.iface.acceptForeign({ ownsAddress: () => false, udp: () => false });
    const tcp = gw.driver.tcp;
    let verdict: "reset" | "hold" | "listen" = "reset";
    const seen: string[] = [];
    const relay = tcp.relayListener(4);
    tcp.onUnclaimedSyn = (seg) => {
      seen.push(`${seg.dstIp.toString(16)}:${seg.dstPort}`);
      return verdict === "listen" ? relay : verdict;
    };
    await assert.rejects(
      guest.connect({ hostname: "192.0.2.9", port: 80 }),
      Deno.errors.ConnectionRefused,
    );
    assert.equal(gw.stats()["tcp-syn-refused"], 1);
    verdict = "hold";
    const held = guest.connect({ hostname: "192.0.2.9", port: 81 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(gw.stats()["tcp-syn-held"], 1);
    verdict = "listen"; // the guest's retransmitted SYN is taken
    const conn = await held;
    const tc = relay.accept();
    assert(tc !== null, "the relay listener accepted the connection");
    assert.equal(tc.localIp, 0xc0000209, "the gateway side speaks as the destination");
    assert.equal(tc.localPort, 81);
    assert.deepEqual(seen, ["c0000209:80", "c0000209:81", "c0000209:81"]);
    conn.close();
    tc.abort();
  } finally {
    await guest.close();
    await gw.close();
  }
});
