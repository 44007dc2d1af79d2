/**
 * The gateway's IPv6 side against the kernel of a namespace it serves (TAP), beyond relaying:
 * port forwards from the host's [::1] (and 127.0.0.1) into the guest over IPv6, to the address
 * the guest formed by SLAAC; DNS through fd00::3 (and 10.0.2.3) to a dnsmasq on the host's ::1;
 * ICMPv6 echo of fd00::2, fd00::3 and our link-local address; router advertisements only after
 * our link-local address passed DAD (checked in a capture with tshark) and in answer to a
 * router solicitation. Upstream traffic goes only to services this test starts on the host's
 * loopback.
 */
import assert from "node:assert/strict";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import type { Netns } from "../../tools/netns.ts";
import {
  freePort,
  inPidNs,
  pattern,
  readAll,
  readyLine,
  sha,
  spawnGatewayCli,
  stopGatewayCli,
  waitSlaac,
  withGateway,
} from "./gateway_env.ts";

const have = async (cmd: string): Promise<boolean> => {
  try {
    const o = await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`] }).output();
    return o.success;
  } catch {
    return false;
  }
};

/**
 * A guest server: accepts `n` connections on [ADDR]:PORT, each read to end of file and answered
 * with the SHA-256 of what came and the peer's address. Prints "listening" once bound.
 */
const PY_SHA_SERVER = `
import socket, sys, hashlib
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(8)
s.settimeout(60)
print("listening", flush=True)
for i in range(n):
    c, a = s.accept()
    c.settimeout(30)
    h = hashlib.sha256()
    while True:
        d = c.recv(65536)
        if not d: break
        h.update(d)
    c.sendall(("%s %s\\n" % (h.hexdigest(), a[0])).encode())
    c.close()
`;

/** Send `data` through the host side of a forward, half-close, read the guest's answer. */
async function through(hostname: string, port: number, data: Uint8Array): Promise<string[]> {
  const c = await Deno.connect({ hostname, port });
  try {
    const reading = readAll(c);
    for (let off = 0; off < data.length;) off += await c.write(data.subarray(off));
    await c.closeWrite();
    return new TextDecoder().decode(await reading).trim().split(" ");
  } finally {
    try {
      c.close();
    } catch { /* closed */ }
  }
}

/** Start the guest server in the namespace; resolves once it listens. */
async function guestServer(ns: Netns, addr: string, port: number, n: number) {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", ns.name, "python3", "-c", PY_SHA_SERVER, addr, `${port}`, `${n}`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = p.stdout.getReader();
  const first = await Promise.race([
    reader.read().then((r) => new TextDecoder().decode(r.value ?? new Uint8Array())),
    new Promise<string>((r) => setTimeout(() => r("timeout"), 15000)),
  ]);
  reader.releaseLock();
  if (!first.startsWith("listening")) {
    p.kill("SIGKILL");
    throw new Error(`guest server did not start: ${first}`);
  }
  return {
    async done() {
      const st = await Promise.race([
        p.status,
        new Promise<null>((r) => setTimeout(() => r(null), 10000)),
      ]);
      if (st === null) p.kill("SIGKILL");
      await p.status;
      await p.stdout.cancel();
      await p.stderr.cancel();
    },
  };
}

Deno.test({
  name: "gateway (TAP, IPv6): forwards from [::1] and 127.0.0.1 into the guest over IPv6",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    await withGateway({ ipv6: true }, async ({ ns, gw }) => {
      // Right after start, likely before the guest has its SLAAC address (its DAD and ours
      // take a second or two): the forward probes until the guest answers from it.
      const early = await guestServer(ns, "::", 8081, 1);
      try {
        const f0 = gw.forward({ hostAddress: "::1", hostPort: 0, guestPort: 8081 });
        const data = pattern(4097, 40);
        assert.deepEqual(await through("::1", f0.addr.port, data), [sha(data), "fd00::2"]);
      } finally {
        await early.done();
      }
      const { addr } = await waitSlaac(ns);
      // The guest listens on its SLAAC address only: the forward must find exactly that one.
      const gport = 8080;
      const server = await guestServer(ns, addr, gport, 3);
      try {
        const f1 = gw.forward({ hostAddress: "::1", hostPort: 0, guestPort: gport });
        assert.equal(f1.addr.hostname, "::1");
        const up = pattern(MiB + 11, 41);
        assert.deepEqual(await through("::1", f1.addr.port, up), [sha(up), "fd00::2"]);
        // The same address given explicitly, and from an IPv4 host side with "::".
        const f2 = gw.forward({
          hostAddress: "::1",
          hostPort: 0,
          guestAddress: addr,
          guestPort: gport,
        });
        const small = pattern(70001, 42);
        assert.deepEqual(await through("::1", f2.addr.port, small), [sha(small), "fd00::2"]);
        const f3 = gw.forward({ hostPort: 0, guestAddress: "::", guestPort: gport });
        assert.equal(f3.addr.hostname, "127.0.0.1");
        assert.deepEqual(await through("127.0.0.1", f3.addr.port, small), [
          sha(small),
          "fd00::2",
        ]);
        assert.equal(gw.stats()["gateway-forward-ipv6"], 4);
      } finally {
        await server.done();
      }
      // Nothing listens on the guest's port now: the host side is closed (the guest's RST).
      const f4 = gw.forward({ hostAddress: "::1", hostPort: 0, guestPort: gport });
      const c = await Deno.connect({ hostname: "::1", port: f4.addr.port });
      const got = await readAll(c).catch(() => new Uint8Array(0));
      c.close();
      assert.equal(got.length, 0);
      assert(gw.stats()["gateway-forward-failed"]! >= 1);
    });
  },
});

const MiB = 1 << 20;

/** A DNS query for `name` (A record) to [host]:53 over UDP (IPv4 or IPv6) or TCP. */
const PY_DNS = `
import socket, struct, sys
host, name, proto = sys.argv[1], sys.argv[2], sys.argv[3]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
q = struct.pack(">HHHHHH", 0x4321, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0"
q += struct.pack(">HH", 1, 1)
if proto == "udp":
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, (host, 53))
    d, a = s.recvfrom(2048)
else:
    s = socket.create_connection((host, 53), timeout=5)
    s.sendall(struct.pack(">H", len(q)) + q)
    n = struct.unpack(">H", s.recv(2))[0]
    d = b""
    while len(d) < n:
        c = s.recv(n - len(d))
        if not c: break
        d += c
    a = (host, 53)
an = struct.unpack(">H", d[6:8])[0]
print("answers", an, "addr", ".".join(str(b) for b in d[-4:]), "from", a[0])
`;

async function dns(ns: Netns, host: string, proto: "udp" | "tcp"): Promise<string[]> {
  let last = "";
  for (let i = 0; i < 20; i++) { // dnsmasq may still be starting
    const r = await ns.run(["python3", "-c", PY_DNS, host, "gw6.test", proto]);
    if (r.code === 0) return r.stdout.trim().split(" ");
    last = r.stderr;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`no DNS answer from ${host} (${proto}): ${last}`);
}

Deno.test({
  name: "gateway (TAP, IPv6): DNS through fd00::3 and 10.0.2.3 to dnsmasq on the host's ::1",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    if (!(await have("dnsmasq"))) {
      console.warn("dnsmasq missing: test skipped (tools/setup.ts installs it)");
      return;
    }
    const port = freePort();
    const dnsmasq = new Deno.Command("dnsmasq", {
      args: [
        "--no-daemon",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=::1",
        `--port=${port}`,
        "--user=root",
        "--pid-file=",
        "--local=/test/",
        "--host-record=gw6.test,10.9.8.6",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await withGateway(
        { ipv6: true, dns: [`[::1]:${port}`], allow: ["::1/128"] },
        async ({ ns, gw }) => {
          await waitSlaac(ns);
          const want = ["answers", "1", "addr", "10.9.8.6", "from"];
          assert.deepEqual(await dns(ns, "fd00::3", "udp"), [...want, "fd00::3"]);
          assert.deepEqual(await dns(ns, "10.0.2.3", "udp"), [...want, "10.0.2.3"]);
          assert.deepEqual(await dns(ns, "fd00::3", "tcp"), [...want, "fd00::3"]);
          assert(gw.stats()["gateway-udp-in"]! >= 2);
        },
      );
      // An IPv4 upstream that never answers beside the IPv6 one: one dual-stack flow asks
      // both, the answer from ::1 wins. The IPv4 forwarder needs no ipv6 for an IPv6 upstream.
      await withGateway(
        { dns: [`127.0.0.1:${freePort()}`, `[::1]:${port}`], allow: ["127.0.0.1/32", "::1/128"] },
        async ({ ns }) => {
          assert.deepEqual(await dns(ns, "10.0.2.3", "udp"), [
            "answers",
            "1",
            "addr",
            "10.9.8.6",
            "from",
            "10.0.2.3",
          ]);
        },
      );
    } finally {
      dnsmasq.kill("SIGTERM");
      await dnsmasq.status;
    }
  },
});

/** Send a router solicitation on tap0 (raw ICMPv6) and wait for an advertisement. */
const PY_RS = `
import socket, struct, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
idx = socket.if_nametoindex("tap0")
t0 = time.time()
s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ("ff02::2", 0, 0, idx))
s.settimeout(0.5)
out = "none"
while time.time() - t0 < 8:
    try:
        d, a = s.recvfrom(2048)
    except socket.timeout:
        continue
    if d[0] == 134:
        out = "ra %s lifetime %d" % (a[0].split("%")[0], struct.unpack(">H", d[6:8])[0])
        break
print(out)
`;

Deno.test({
  name:
    "gateway (TAP, IPv6): RAs only after our link-local passed DAD, answers to RS, ping -6 of fd00::2/fd00::3",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const dir = await Deno.makeTempDir({ prefix: "gw6ra-" });
    const pcap = `${dir}/link.pcap`;
    try {
      await withGateway({ ipv6: true, pcap }, async ({ ns, gw }) => {
        await waitSlaac(ns);
        // ICMPv6 echo (RFC 4443 4.2) of our addresses.
        for (const a of ["fd00::2", "fd00::3", "fe80::5055:aff:fe00:202%tap0"]) {
          const p = await ns.run(["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", a]);
          assert.equal(p.code, 0, `ping -6 ${a}: ${p.stdout}${p.stderr}`);
          assert.match(p.stdout, /2 received/);
        }
        assert(gw.stats()["icmp6-echo-replies"]! >= 6);
        // A router solicitation is answered (RFC 4861 6.2.6), within MIN_DELAY_BETWEEN_RAS.
        const before = gw.stats()["gateway-ra-answers"]!;
        const rs = await ns.run(["python3", "-c", PY_RS]);
        assert.equal(rs.code, 0, rs.stderr);
        assert.equal(rs.stdout.trim(), "ra fe80::5055:aff:fe00:202 lifetime 1800");
        for (let i = 0; i < 40 && gw.stats()["gateway-ra-answers"]! <= before; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert(gw.stats()["gateway-ra-answers"]! > before, "answered the solicitation");
      });
      if (!(await have("tshark"))) {
        console.warn("tshark missing: the capture is not checked (tools/setup.ts installs it)");
        return;
      }
      // In the capture: our DAD solicitation for fe80::5055:aff:fe00:202 (from ::), then
      // RetransTimer (1 s) of silence, then the first advertisement; none before; and the last
      // advertisement (at stop) says router lifetime 0.
      const t = await new Deno.Command("tshark", {
        args: [
          "-r",
          pcap,
          "-Y",
          "icmpv6.type == 134 || icmpv6.type == 135",
          "-T",
          "fields",
          "-e",
          "frame.time_relative",
          "-e",
          "icmpv6.type",
          "-e",
          "ipv6.src",
          "-e",
          "icmpv6.nd.ns.target_address",
          "-e",
          "icmpv6.nd.ra.router_lifetime",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(t.success, new TextDecoder().decode(t.stderr));
      const rows = new TextDecoder().decode(t.stdout).trim().split("\n").map((l) => l.split("\t"));
      const dad = rows.find((r) =>
        r[1] === "135" && r[2] === "::" && r[3] === "fe80::5055:aff:fe00:202"
      );
      assert(dad, `our DAD solicitation in the capture:\n${rows.join("\n")}`);
      const ras = rows.filter((r) => r[1] === "134" && r[2] === "fe80::5055:aff:fe00:202");
      assert(ras.length >= 2, "advertisements in the capture");
      const gap = Number(ras[0]![0]) - Number(dad[0]);
      assert(gap >= 0.9, `first RA ${gap.toFixed(3)} s after our DAD solicitation (>= 1 s)`);
      assert.equal(ras.at(-1)![4], "0", "the final advertisement: router lifetime 0");
      assert(ras.slice(0, -1).every((r) => r[4] === "1800"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A SHA-256 sink on the host's [::1]: reads to end of file, answers the digest. */
function shaSink6(): { port: number; close(): Promise<void> } {
  const l = Deno.listen({ hostname: "::1", port: 0 });
  const conns: Promise<void>[] = [];
  const loop = (async () => {
    for await (const c of l) {
      conns.push(
        (async () => {
          try {
            const data = await readAll(c);
            await c.write(new TextEncoder().encode(`${sha(data)}\n`));
          } finally {
            c.close();
          }
        })().catch(() => {}),
      );
    }
  })().catch(() => {});
  return {
    port: l.addr.port,
    async close() {
      l.close();
      await loop;
      await Promise.allSettled(conns);
    },
  };
}

Deno.test({
  name:
    "gateway (TAP, IPv6): deno task gateway -c -6 on a persistent TAP; SIGTERM sends router lifetime 0 and the default route goes, SIGKILL leaves it",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const sink = shaSink6();
    const holder = new Deno.Command("unshare", {
      args: ["-n", "sleep", "120"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const inNs = (cmd: string[]) => inPidNs(holder.pid, cmd);
    const route = async () => (await inNs(["ip", "-6", "route", "show", "default"])).stdout.trim();
    const start = async () => {
      const p = spawnGatewayCli(["--configure", "-6", `${holder.pid}`, "tap0"]);
      const line = await readyLine(p);
      assert.match(line, /gateway ready .* gateway6=fd00::2 dns6=fd00::3/);
      let r = "";
      for (let i = 0; i < 200 && !r.includes("via fe80::"); i++) { // bounded: 20 s
        await new Promise((res) => setTimeout(res, 100));
        r = await route();
      }
      assert.match(r, /default via fe80::5055:aff:fe00:202 dev tap0 proto ra/);
      return p;
    };
    const stop = (p: Deno.ChildProcess, sig: Deno.Signal) => stopGatewayCli(p, sig, 10000);
    let gw: Deno.ChildProcess | null = null;
    try {
      await new Promise((r) => setTimeout(r, 200)); // the holder's namespace exists
      const mk = await inNs(["ip", "tuntap", "add", "dev", "tap0", "mode", "tap"]);
      assert.equal(mk.code, 0, mk.stderr); // persistent: it outlives the gateway
      gw = await start();
      // As a new user would: python in the namespace reaches [::1] through [fd00::2].
      const up = await inNs([
        "python3",
        "-c",
        "import socket,sys,hashlib\n" +
        "d=bytes((i*7+3)&255 for i in range(300000))\n" +
        "s=socket.create_connection(('fd00::2',int(sys.argv[1])),timeout=30)\n" +
        "s.sendall(d);s.shutdown(socket.SHUT_WR)\n" +
        "r=b''\nwhile True:\n  c=s.recv(4096)\n  if not c: break\n  r+=c\n" +
        "print(hashlib.sha256(d).hexdigest()==r.decode().strip())",
        `${sink.port}`,
      ]);
      assert.equal(up.stdout.trim(), "True", up.stderr);

      await stop(gw, "SIGTERM");
      gw = null;
      let r = "x";
      for (let i = 0; i < 30 && r !== ""; i++) { // bounded: 3 s
        await new Promise((res) => setTimeout(res, 100));
        r = await route();
      }
      assert.equal(r, "", "the final advertisement removed the default route");
      const link = await inNs(["ip", "-o", "link", "show", "tap0"]);
      assert.equal(link.code, 0, "tap0 is still there: the route went because of the RA");

      // Killed (no final advertisement): the kernel keeps the route, marked linkdown.
      gw = await start();
      await stop(gw, "SIGKILL");
      gw = null;
      await new Promise((res) => setTimeout(res, 1000));
      assert.match(await route(), /default via fe80::5055:aff:fe00:202 .*linkdown/);
    } finally {
      if (gw) await stop(gw, "SIGKILL");
      holder.kill("SIGKILL");
      await holder.status;
      await sink.close();
    }
  },
});
