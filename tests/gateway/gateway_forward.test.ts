/**
 * Port forwards keep the client's address where they can (src/gateway/forward.ts). The whole
 * scene lives in two namespaces this test creates: "outer" plays the host (the gateway process
 * runs there, its loopback device also holding 192.0.2.1 and 192.0.2.7, TEST-NET-1), "guest"
 * is served by the gateway's TAP device. A client in outer bound to 192.0.2.7 connects to the
 * forward; a python server in the guest reports the peer it sees.
 */
import assert from "node:assert/strict";
import { createNetns, requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { forwardSource, KEPT_SOURCE_TIMEOUT_MS } from "../../src/gateway/forward.ts";
import { parseIpv4 } from "../../src/api/addr.ts";

const GW = parseIpv4("10.0.2.2");
const inside = (ip: number) => ip >>> 8 === parseIpv4("10.0.2.0") >>> 8;
const addr = (hostname: string, port: number): Deno.NetAddr => ({
  transport: "tcp",
  hostname,
  port,
});

Deno.test("forwardSource: keeps a remote client's address and port, not loopback or the guest's", () => {
  assert.deepEqual(forwardSource(addr("192.0.2.7", 40000), GW, inside), {
    ip: parseIpv4("192.0.2.7"),
    port: 40000,
  });
  for (const h of ["127.0.0.1", "127.3.4.5", "10.0.2.50", "0.0.0.0", "224.0.0.1", "::1"]) {
    assert.deepEqual(forwardSource(addr(h, 40000), GW, inside), { ip: GW, port: 0 }, h);
  }
});

const GUEST_SERVER = `
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 8080)); l.listen(4)
print("listening", flush=True)
for _ in range(3):
    c, peer = l.accept()
    c.sendall(("%s:%d\\n" % peer).encode()); c.close()
`;

const CLIENT = `
import socket, sys
s = socket.socket()
if sys.argv[1] != "-": s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(20)
s.connect((sys.argv[3], int(sys.argv[4])))
print(s.recv(100).decode().strip())
`;

Deno.test({
  name:
    "gateway (TAP): a forward shows the guest a remote client's address; loopback, or no route back, as 10.0.2.2",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const outer = await createNetns("dgwf-");
    // The first namespace must not outlive a failure to create the second.
    const guest = await createNetns("dgwf-").catch(async (e) => {
      await outer.delete();
      throw e;
    });
    let gw: Deno.ChildProcess | null = null;
    let server: Deno.ChildProcess | null = null;
    try {
      for (
        const cmd of [
          ["ip", "link", "set", "lo", "up"],
          ["ip", "addr", "add", "192.0.2.1/32", "dev", "lo"],
          ["ip", "addr", "add", "192.0.2.7/32", "dev", "lo"],
        ]
      ) {
        const r = await outer.run(cmd);
        assert.equal(r.code, 0, r.stderr);
      }
      gw = outer.spawn([
        Deno.execPath(),
        "run",
        "-A",
        new URL("../../tools/gateway.ts", import.meta.url).pathname,
        "--configure",
        "--forward=tcp:0.0.0.0:18080:8080",
        "--netns-type=path",
        `/var/run/netns/${guest.name}`,
        "tap0",
      ], { stdout: "piped", stderr: "null" });
      const reader = gw.stdout.getReader();
      const line = await Promise.race([
        reader.read().then((r) => new TextDecoder().decode(r.value)),
        new Promise<string>((r) => setTimeout(() => r("timeout"), 30000)),
      ]);
      reader.releaseLock();
      assert.match(line, /gateway ready .*forwards=18080/);
      server = guest.spawn(["python3", "-c", GUEST_SERVER], { stdout: "piped" });
      const sr = server.stdout.getReader();
      assert.match(new TextDecoder().decode((await sr.read()).value), /listening/);
      sr.releaseLock();
      const remote = await outer.run([
        "python3",
        "-c",
        CLIENT,
        "192.0.2.7",
        "40007",
        "192.0.2.1",
        "18080",
      ]);
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal(remote.stdout.trim(), "192.0.2.7:40007", "the guest sees the remote client");
      const local = await outer.run(["python3", "-c", CLIENT, "-", "0", "127.0.0.1", "18080"]);
      assert.equal(local.code, 0, local.stderr);
      assert.match(local.stdout.trim(), /^10\.0\.2\.2:\d+$/, "a loopback client comes from .2");
      // A guest with no route back to the client cannot answer it from 192.0.2.7: after
      // KEPT_SOURCE_TIMEOUT_MS the forward comes from .2 instead.
      const del = await guest.run(["ip", "route", "del", "default"]);
      assert.equal(del.code, 0, del.stderr);
      const t0 = performance.now();
      const noRoute = await outer.run([
        "python3",
        "-c",
        CLIENT,
        "192.0.2.7",
        "40008",
        "192.0.2.1",
        "18080",
      ]);
      assert.equal(noRoute.code, 0, noRoute.stderr);
      assert.match(noRoute.stdout.trim(), /^10\.0\.2\.2:\d+$/, "the fallback comes from .2");
      assert.ok(performance.now() - t0 >= KEPT_SOURCE_TIMEOUT_MS - 100, "after the kept try");
    } finally {
      for (const p of [gw, server]) {
        if (p === null) continue;
        try {
          p.kill("SIGTERM");
        } catch { /* exited */ }
        await p.status;
        await p.stdout.cancel().catch(() => {});
      }
      await guest.delete();
      await outer.delete();
    }
  },
});
