/**
 * The gateway with `ipv6: true` (slirp4netns --enable-ipv6) against the kernel of a namespace
 * it serves (TAP): the kernel forms an fd00::/64 address by SLAAC from our router
 * advertisement and takes our link-local address as its default router; curl reaches an HTTP
 * server on the host's [::1] through [fd00::2] with SHA-256-exact bodies both ways; a refused
 * upstream is curl exit 7 (ECONNREFUSED); an IPv6 destination the gateway does not relay is
 * refused at once (administratively prohibited); UDP echo on [::1] through fd00::2. Upstream
 * traffic goes only to services this test starts on the host's ::1.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import dgram from "node:dgram";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import {
  inPidNs,
  pattern,
  py,
  readyLine,
  sha,
  spawnGatewayCli,
  stopGatewayCli,
  waitSlaac,
  withGateway,
} from "./gateway_env.ts";

const MiB = 1 << 20;

/** An HTTP server on the host's [::1]: GET sends `blob`, POST answers the body's SHA-256. */
function httpOnLoopback6(blob: Uint8Array): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "::1", port: 0, onListen() {} }, async (req) => {
    if (req.method === "POST") {
      const h = createHash("sha256");
      for await (const c of req.body!) h.update(c);
      return new Response(`${h.digest("hex")}\n`);
    }
    return new Response(blob as Uint8Array<ArrayBuffer>);
  });
}

/** A free port on [::1] (bound and closed). */
function freePort6(): number {
  const l = Deno.listen({ hostname: "::1", port: 0 });
  const p = l.addr.port;
  l.close();
  return p;
}

Deno.test({
  name: "gateway (TAP, IPv6): SLAAC from our RA, curl -6 through [fd00::2] to [::1], refusals",
  ignore: tapIgnore(),
  sanitizeResources: false, // Deno.serve's connections close after the response
  async fn() {
    if (!requireTapOrSkip()) return;
    const blob = pattern(2 * MiB + 77, 31);
    const up = pattern(3 * MiB + 5, 32);
    const server = httpOnLoopback6(blob);
    const port = server.addr.port;
    const dir = await Deno.makeTempDir({ prefix: "gw6-" });
    try {
      await Deno.writeFile(`${dir}/up.bin`, up);
      await withGateway({ ipv6: true }, async ({ ns, gw }) => {
        assert.equal(gw.address6, "fd00::2");
        const { route } = await waitSlaac(ns);
        assert.match(route, /via fe80::5055:aff:fe00:202 dev tap0/);
        assert(gw.stats()["gateway-ra-sent"]! >= 1);
        // Whether the kernel solicits at all is its timing: Linux sends no router solicitation
        // once an advertisement arrived before its own DAD ended (IF_RA_RCVD), which our first
        // RA may beat under load. Answering a solicitation is checked with one sent on purpose
        // (gateway_ipv6_more.test.ts, "answered the solicitation").

        const curl = (args: string[]) =>
          ns.run(["curl", "-6", "-g", "-sS", "--max-time", "30", ...args]);
        const down = await curl(["-o", `${dir}/down.bin`, `http://[fd00::2]:${port}/`]);
        assert.equal(down.code, 0, down.stderr);
        assert.equal(sha(await Deno.readFile(`${dir}/down.bin`)), sha(blob));
        const post = await curl(["--data-binary", `@${dir}/up.bin`, `http://[fd00::2]:${port}/`]);
        assert.equal(post.code, 0, post.stderr);
        assert.equal(post.stdout.trim(), sha(up));

        // Nothing listens on [::1]:closed: the guest sees RST (ECONNREFUSED, curl exit 7).
        const closed = freePort6();
        const refused = await curl([`http://[fd00::2]:${closed}/`]);
        assert.equal(refused.code, 7, refused.stderr);
        assert.deepEqual(await py(ns, ["connect", "fd00::2", `${closed}`]), ["refused"]);
        assert(gw.stats()["gateway-tcp-upstream-failed"]! >= 1);

        // Another IPv6 host outside --allow (documentation prefix, routed to us): TCP gets RST
        // at once (as IPv4), UDP administratively prohibited; nothing is relayed.
        const t0 = Date.now();
        const other = await curl(["--connect-timeout", "10", `http://[2001:db8::1]:${port}/`]);
        assert.equal(other.code, 7, other.stderr);
        assert(Date.now() - t0 < 5000, "refused, not a timeout");
        assert.deepEqual(await py(ns, ["connect", "2001:db8::1", `${port}`]), ["refused"]);
        assert(gw.stats()["gateway-tcp-denied"]! >= 2);
        const u = await ns.run(["python3", "-c", PY_UDP_DENIED, "2001:db8::1", "9"]);
        assert.equal(u.stdout.trim(), "errno 13", u.stderr); // EACCES: prohibited
        assert(gw.stats()["gateway-udp-denied"]! >= 1);
        assert(gw.stats()["ip6-foreign-refused"]! >= 1);

        const s = gw.stats();
        assert(s["gateway-tcp-bytes-in"]! >= blob.length);
        assert(s["gateway-tcp-bytes-out"]! >= up.length);
      });
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A connected UDP socket sees the ICMPv6 error of its first datagram on its second send. */
const PY_UDP_DENIED = `
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
out = "no error"
for i in range(20):
    try:
        s.send(b"x")
        s.settimeout(0.2)
        s.recv(16)
    except socket.timeout:
        continue
    except OSError as e:
        out = "errno %d" % e.errno
        break
print(out)
`;

const PY_UDP6 = `
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(3)
got = []
for i in range(3):
    s.sendto(("ping6 %d" % i).encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        d, a = s.recvfrom(2048)
        got.append("%s|%s.%d" % (d.decode().replace(" ", "_"), a[0], a[1]))
    except socket.timeout:
        got.append("timeout")
print(" ".join(got))
`;

Deno.test({
  name: "gateway (TAP, IPv6): UDP echo on [::1] through fd00::2",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const echo = dgram.createSocket("udp6");
    echo.on("message", (m: Uint8Array, r: { address: string; port: number }) => {
      echo.send(m, r.port, r.address);
    });
    await new Promise<void>((res) => echo.bind(0, "::1", () => res()));
    const port = echo.address().port;
    try {
      await withGateway({ ipv6: true }, async ({ ns, gw }) => {
        await waitSlaac(ns);
        const r = await ns.run(["python3", "-c", PY_UDP6, "fd00::2", `${port}`]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.stdout.trim().split(" "), [
          `ping6_0|fd00::2.${port}`,
          `ping6_1|fd00::2.${port}`,
          `ping6_2|fd00::2.${port}`,
        ]);
        const s = gw.stats();
        assert.equal(s["gateway-udp-flows"], 1);
        assert.equal(s["gateway-udp-in"], 3);
      });
    } finally {
      echo.close();
    }
  },
});

Deno.test({
  name: "gateway (TAP, IPv6): deno task gateway --configure --enable-ipv6 PID tap0 serves curl -6",
  ignore: tapIgnore(),
  sanitizeResources: false, // Deno.serve's connections close after the response
  async fn() {
    if (!requireTapOrSkip()) return;
    const blob = pattern(MiB + 3, 33);
    const server = httpOnLoopback6(blob);
    const holder = new Deno.Command("unshare", {
      args: ["-n", "sleep", "60"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const gwProc = spawnGatewayCli(["--configure", "--enable-ipv6", `${holder.pid}`, "tap0"]);
    const inNs = (cmd: string[]) => inPidNs(holder.pid, cmd);
    try {
      const line = await readyLine(gwProc);
      assert.match(line, /gateway6=fd00::2 dns6=fd00::3/);
      const dad = await inNs(["sysctl", "-n", "net.ipv6.conf.tap0.accept_dad"]);
      assert.equal(dad.stdout.trim(), "0", "--configure turns DAD off, as slirp4netns");
      let addr = "", route = "";
      for (let i = 0; i < 200 && !(addr && route); i++) { // bounded: 20 s
        const a = await inNs(["ip", "-6", "-o", "addr", "show", "dev", "tap0", "scope", "global"]);
        const r = await inNs(["ip", "-6", "route", "show", "default"]);
        addr = /inet6 (fd00::[0-9a-f:]+)\/64/.exec(a.stdout)?.[1] ?? "";
        route = r.stdout.includes("via fe80::") ? r.stdout : "";
        if (!(addr && route)) await new Promise((res) => setTimeout(res, 100));
      }
      assert(addr && route, "SLAAC address and default route from our advertisement");
      const curl = await inNs([
        "curl",
        "-6",
        "-g",
        "-sS",
        "-m",
        "30",
        "-o",
        "/dev/stdout",
        "-w",
        "\n%{size_download}",
        `http://[fd00::2]:${server.addr.port}/`,
      ]);
      assert.equal(curl.code, 0, curl.stderr);
      assert.equal(Number(curl.stdout.trim().split("\n").at(-1)), blob.length);
    } finally {
      await stopGatewayCli(gwProc);
      holder.kill("SIGKILL");
      await holder.status;
      await server.shutdown();
    }
  },
});
