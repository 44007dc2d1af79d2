/**
 * The gateway over a memory link, with a stack of ours as the guest (no root needed): relay
 * to a host service on 127.0.0.1 through 10.0.2.2, a refused upstream seen as
 * ConnectionRefused, a destination outside the allow list refused without any upstream
 * connect, the command line and forward parsers, and the DHCP codec on malformed input.
 */
import assert from "node:assert/strict";
import { createGateway, createMemoryLinkPair, createStack, parseForward } from "../../mod.ts";
import { decodeDhcp, DHCP_OFFER, encodeDhcp, OPT_MSG_TYPE } from "../../src/wire/dhcp.ts";
import { parseGatewayArgs } from "../../tools/gateway.ts";
import { freePort, pattern, readAll, sha, shaSink } from "./gateway_env.ts";

Deno.test("gateway (memory): 1 MiB up with half-close through 10.0.2.2, SHA-256 exact", async () => {
  const sink = shaSink();
  const [gl, ul] = createMemoryLinkPair();
  const gw = await createGateway({ link: gl, engine: "js" });
  const guest = await createStack({ link: ul, address: "10.0.2.100/24", gateway: "10.0.2.2" });
  try {
    const data = pattern(1 << 20, 5);
    const conn = await guest.connect({ hostname: "10.0.2.2", port: sink.port });
    const reply = (async () => new TextDecoder().decode(await readAll(conn)))();
    let off = 0;
    while (off < data.length) off += await conn.write(data.subarray(off));
    await conn.closeWrite();
    assert.equal((await reply).trim(), sha(data));
    conn.close();
    assert.equal(gw.stats()["gateway-tcp-relayed"], 1);
  } finally {
    await guest.close();
    await gw.close();
    await sink.close();
  }
});

Deno.test("gateway (memory): refused upstream and a denied destination", async () => {
  const [gl, ul] = createMemoryLinkPair();
  const gw = await createGateway({ link: gl, allow: ["127.0.0.0/8"] });
  const guest = await createStack({ link: ul, address: "10.0.2.100/24", gateway: "10.0.2.2" });
  try {
    await assert.rejects(
      guest.connect({ hostname: "10.0.2.2", port: freePort() }),
      Deno.errors.ConnectionRefused,
    );
    await assert.rejects(
      guest.connect({ hostname: "198.51.100.7", port: 443 }),
      Deno.errors.ConnectionRefused,
    );
    const s = gw.stats();
    assert.equal(s["gateway-tcp-connects"], 1, "the denied destination was never contacted");
    assert.equal(s["gateway-tcp-denied"], 1);
    assert.equal(s["gateway-tcp-upstream-failed"], 1);
    assert.equal(s["gateway-tcp-pending"], 0);
  } finally {
    await guest.close();
    await gw.close();
  }
});

Deno.test("gateway: option errors are clear", async () => {
  const [gl] = createMemoryLinkPair();
  await assert.rejects(createGateway({ link: gl, dns: ["1.1.1.1"] }), TypeError);
  await assert.rejects(createGateway({ link: gl, cidr: "10.0.0.0/30" }), RangeError);
  await assert.rejects(createGateway({ link: gl, limits: { maxTcpFlows: 0 } }), RangeError);
  await assert.rejects(createGateway({ link: gl, allow: ["300.0.0.0/8"] }), TypeError);
  gl.close();
});

Deno.test("gateway: forward specs and slirp4netns's command line", () => {
  assert.deepEqual(parseForward("tcp:8080:80"), { proto: "tcp", hostPort: 8080, guestPort: 80 });
  assert.deepEqual(parseForward("tcp:127.0.0.1:8080:10.0.2.15:80"), {
    proto: "tcp",
    hostAddress: "127.0.0.1",
    hostPort: 8080,
    guestAddress: "10.0.2.15",
    guestPort: 80,
  });
  assert.throws(() => parseForward("udp:1:2"), TypeError);
  assert.throws(() => parseForward("tcp:99999:2"), TypeError);
  const a = parseGatewayArgs([
    "--configure",
    "--mtu=65520",
    "--disable-host-loopback",
    "--allow",
    "0.0.0.0/0",
    "--forward=tcp:8080:80",
    "1234",
    "tap0",
  ])!;
  assert.equal(a.nsPath, "/proc/1234/ns/net");
  assert.equal(a.mtu, 65520);
  assert.equal(a.configure, true);
  assert.equal(a.options.hostLoopback, false);
  assert.deepEqual(a.options.allow, ["0.0.0.0/0"]);
  const b = parseGatewayArgs(["--netns-type=path", "/run/netns/x", "tap1"])!;
  assert.equal(b.nsPath, "/run/netns/x");
  assert.deepEqual(b.options.allow, [], "nothing allowed by default");
  assert.throws(() => parseGatewayArgs(["1234"]), TypeError);
  assert.throws(() => parseGatewayArgs(["--mtu=10", "1", "t"]), RangeError);
  assert.throws(() => parseGatewayArgs(["--userns-path=/x", "1", "t"]), TypeError);
  const c = parseGatewayArgs(["-c", "-r", "3", "--exit-fd=4", "99", "tap0"])!;
  assert.equal(c.readyFd, 3);
  assert.equal(c.exitFd, 4);
  assert.throws(() => parseGatewayArgs(["-r", "1", "99", "tap0"]), TypeError);
});

Deno.test("dhcp codec: malformed messages decode to null; a reply round-trips", () => {
  assert.equal(decodeDhcp(new Uint8Array(100)), null);
  const ok = encodeDhcp({
    op: 2,
    xid: 9,
    flags: 0x8000,
    ciaddr: 0,
    yiaddr: 0x0a00020f,
    siaddr: 0,
    chaddr: new Uint8Array([2, 1, 2, 3, 4, 5]),
    options: new Map([[OPT_MSG_TYPE, [DHCP_OFFER]]]),
  });
  const m = decodeDhcp(ok)!;
  assert.equal(m.flags, 0x8000);
  assert.equal(m.options.get(OPT_MSG_TYPE)![0], DHCP_OFFER);
  const bad = ok.slice();
  bad[240] = OPT_MSG_TYPE;
  bad[241] = 250; // runs past the end
  assert.equal(decodeDhcp(bad.subarray(0, 260)), null);
  const badCookie = ok.slice();
  badCookie[236] = 0;
  assert.equal(decodeDhcp(badCookie), null);
});

Deno.test("gateway (memory): half-open relays bounded by maxPendingConnects; connect timeout gives RST", async () => {
  // A host listener on 127.0.0.1 with backlog 0 that never accepts: the kernel queues one
  // connection and drops later SYNs, so the second upstream connect hangs until the timeout.
  const py = new Deno.Command("python3", {
    args: [
      "-c",
      "import socket,time\nl=socket.socket()\nl.bind(('127.0.0.1',0))\nl.listen(0)\nprint(l.getsockname()[1],flush=True)\ntime.sleep(30)",
    ],
    stdout: "piped",
    stdin: "null",
  }).spawn();
  const reader = py.stdout.getReader();
  const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
  reader.releaseLock();
  const [gl, ul] = createMemoryLinkPair();
  const gw = await createGateway({
    link: gl,
    limits: { maxPendingConnects: 1, connectTimeoutMs: 1500 },
  });
  const guest = await createStack({
    link: ul,
    address: "10.0.2.100/24",
    gateway: "10.0.2.2",
    tcp: { rtoInitialMs: 300 },
  });
  try {
    const first = await guest.connect({ hostname: "10.0.2.2", port }); // queued by the kernel
    const started = Date.now();
    const second = guest.connect({ hostname: "10.0.2.2", port }).then(() => "ok", (e) => e.name);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(gw.stats()["gateway-tcp-pending"], 1);
    const third = guest.connect({ hostname: "10.0.2.2", port }).then(() => "ok", (e) => e.name);
    await new Promise((r) => setTimeout(r, 400));
    assert(gw.stats()["gateway-tcp-busy"]! >= 1, "the third SYN waited: one half-open relay");
    assert.equal(await second, "ConnectionRefused", "upstream timeout: the guest gets RST");
    const took = Date.now() - started;
    assert(took >= 1400 && took < 6000, `refused after the 1.5 s connect timeout (${took} ms)`);
    assert(gw.stats()["gateway-tcp-upstream-failed"]! >= 1);
    // The third one got its turn once the pending slot was free (it also times out upstream).
    assert.equal(await third, "ConnectionRefused");
    first.close();
  } finally {
    await guest.close();
    await gw.close();
    py.kill("SIGKILL");
    await py.status;
    await py.stdout.cancel().catch(() => {});
  }
});

Deno.test("gateway (memory): port forward into the guest; a refused guest port closes the host side", async () => {
  const [gl, ul] = createMemoryLinkPair();
  const gw = await createGateway({ link: gl, forwards: [{ hostPort: 0, guestPort: 7 }] });
  const guest = await createStack({ link: ul, address: "10.0.2.100/24", gateway: "10.0.2.2" });
  const echo = guest.listen({ port: 7 });
  const served = (async () => {
    const c = await echo.accept();
    assert.equal(c.remoteAddr.hostname, "10.0.2.2", "forwarded connections come from the gateway");
    await c.readable.pipeTo(c.writable);
  })();
  try {
    const fwd = gw.forward({ hostPort: 0, guestPort: 7 });
    const host = await Deno.connect({ hostname: "127.0.0.1", port: fwd.addr.port });
    const data = pattern(300_000, 9);
    const back = readAll(host);
    let off = 0;
    while (off < data.length) off += await host.write(data.subarray(off));
    await host.closeWrite();
    assert.equal(sha(await back), sha(data));
    host.close();
    await served;
    const none = gw.forward({ hostPort: 0, guestPort: 9 }); // nothing listens on 9
    const h2 = await Deno.connect({ hostname: "127.0.0.1", port: none.addr.port });
    assert.equal(await h2.read(new Uint8Array(8)).catch(() => null), null);
    h2.close();
    assert.equal(gw.stats()["gateway-forward-failed"], 1);
    assert(gw.stats()["gateway-forward-conns"]! >= 1);
  } finally {
    echo.close();
    await guest.close();
    await gw.close();
  }
});
