/**
 * The gateway's services against the kernel of the namespace it serves: a port forward from
 * the host's 127.0.0.1 into a python http.server in the namespace; DNS through 10.0.2.3 to a
 * dnsmasq bound to the host's 127.0.0.1 (the only allowed upstream); a DHCP lease (RFC 2131
 * DISCOVER/OFFER/REQUEST/ACK) asked by scapy in the namespace; and `deno task gateway` itself
 * with slirp4netns's command line (--configure, a PID) serving curl a file from a python
 * http.server on the host's 127.0.0.1.
 */
import assert from "node:assert/strict";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import {
  freePort,
  pattern,
  py,
  readyLine,
  sha,
  spawnGatewayCli,
  stopGatewayCli,
  withGateway,
} from "./gateway_env.ts";

async function have(cmd: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .output();
  return r.success;
}

function missing(what: string): void {
  if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(`${what} is missing`);
  console.warn(`skipped: ${what} is missing (deno task setup)`);
}

Deno.test({
  name:
    "gateway (TAP): port forward from host 127.0.0.1 into a python http.server in the namespace",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const dir = await Deno.makeTempDir();
    const blob = pattern(2 << 20, 22);
    await Deno.writeFile(`${dir}/blob`, blob);
    try {
      await withGateway({}, async ({ ns, gw }) => {
        const server = ns.spawn(
          ["python3", "-m", "http.server", "--bind", "10.0.2.100", "8000"],
          { cwd: dir },
        );
        try {
          const fwd = gw.forward({ hostPort: 0, guestPort: 8000 });
          assert.equal(fwd.addr.hostname, "127.0.0.1");
          let body: Uint8Array | null = null;
          for (let i = 0; i < 50 && body === null; i++) { // the server may still be starting
            try {
              const res = await fetch(`http://127.0.0.1:${fwd.addr.port}/blob`);
              body = new Uint8Array(await res.arrayBuffer());
            } catch {
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          assert(body !== null, "the forward answered");
          assert.equal(body.length, blob.length);
          assert.equal(sha(body), sha(blob));
          assert(gw.stats()["gateway-forward-conns"]! >= 1);
        } finally {
          server.kill("SIGKILL");
          await server.status;
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "gateway (TAP): DNS through 10.0.2.3 to dnsmasq on the host's 127.0.0.1",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    if (!(await have("dnsmasq"))) return missing("dnsmasq");
    const port = freePort();
    const dnsmasq = new Deno.Command("dnsmasq", {
      args: [
        "--no-daemon",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        `--port=${port}`,
        "--user=root",
        "--pid-file=",
        "--local=/test/",
        "--host-record=gw.test,10.9.8.7",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await assert.rejects(
        () => withGateway({ dns: [`127.0.0.1:${port}`] }, () => Promise.resolve()),
        TypeError,
        "a DNS server outside the allow list is refused",
      );
      await withGateway(
        { allow: ["127.0.0.0/8"], dns: [`127.0.0.1:${port}`] },
        async ({ ns, gw }) => {
          let got: string[] = [];
          for (let i = 0; i < 20 && got[0] !== "answers"; i++) { // dnsmasq may still start
            try {
              got = await py(ns, ["dns", "10.0.2.3", "53", "gw.test"]);
            } catch {
              await new Promise((r) => setTimeout(r, 200));
            }
          }
          assert.deepEqual(got, ["answers", "1", "addr", "10.9.8.7", "from", "10.0.2.3:53"]);
          assert(gw.stats()["gateway-udp-in"]! >= 1);
          // Port 53 only; other ports of .3 are refused.
          assert.deepEqual(await py(ns, ["connect", "10.0.2.3", "80"]), ["refused"]);
        },
      );
      // A first server that never answers: the query went to both, dnsmasq's answer wins.
      await withGateway(
        { allow: ["127.0.0.0/8"], dns: [`127.0.0.1:${freePort()}`, `127.0.0.1:${port}`] },
        async ({ ns }) => {
          const got = await py(ns, ["dns", "10.0.2.3", "53", "gw.test"]);
          assert.deepEqual(got, ["answers", "1", "addr", "10.9.8.7", "from", "10.0.2.3:53"]);
        },
      );
    } finally {
      dnsmasq.kill("SIGTERM");
      await dnsmasq.status;
    }
  },
});

const SCAPY_DHCP = `
import sys
from scapy.all import BOOTP, DHCP, IP, UDP, Ether, conf, get_if_hwaddr, srp1
conf.checkIPaddr = False
conf.verb = 0
mac = get_if_hwaddr("tap0")
raw = bytes.fromhex(mac.replace(":", ""))
base = Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
def opt(p, name):
    for o in p[DHCP].options:
        if isinstance(o, tuple) and o[0] == name: return o[1]
off = srp1(base / BOOTP(chaddr=raw, xid=0x1234) / DHCP(options=[("message-type", "discover"), "end"]), iface="tap0", timeout=5)
if off is None: print("no-offer"); sys.exit(0)
ip = off[BOOTP].yiaddr
ack = srp1(base / BOOTP(chaddr=raw, xid=0x1235) / DHCP(options=[("message-type", "request"), ("requested_addr", ip), ("server_id", opt(off, "server_id")), "end"]), iface="tap0", timeout=5)
if ack is None: print("no-ack"); sys.exit(0)
print(opt(off, "message-type"), ip, opt(ack, "message-type"), ack[BOOTP].yiaddr, opt(ack, "router"), opt(ack, "subnet_mask"), opt(ack, "name_server"), opt(ack, "lease_time"))
`;

Deno.test({
  name: "gateway (TAP): DHCP lease (DISCOVER, OFFER, REQUEST, ACK) asked by scapy",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    await withGateway(
      { allow: ["127.0.0.0/8"], dns: ["127.0.0.1:53"] },
      async ({ ns, gw }) => {
        // Debian's python3: python3-scapy (deno task setup) lands in its dist-packages.
        const r = await ns.run(["/usr/bin/python3", "-c", SCAPY_DHCP]);
        if (r.code !== 0 && r.stderr.includes("No module named 'scapy'")) {
          return missing("python3-scapy");
        }
        assert.equal(r.code, 0, r.stderr);
        const f = r.stdout.trim().split(" ");
        // OFFER (2) of .15, ACK (5) of the same with router, mask, DNS and lease time.
        assert.deepEqual(f, [
          "2",
          "10.0.2.15",
          "5",
          "10.0.2.15",
          "10.0.2.2",
          "255.255.255.0",
          "10.0.2.3",
          "86400",
        ]);
        assert.equal(gw.stats()["dhcp-acks"], 1);
      },
    );
  },
});

Deno.test({
  name:
    "gateway (TAP): deno task gateway --configure PID tap0 serves curl (slirp4netns's command line)",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    if (!(await have("curl"))) return missing("curl");
    const blob = pattern(3 << 20, 23);
    const dir = await Deno.makeTempDir();
    await Deno.writeFile(`${dir}/blob`, blob);
    const httpPort = freePort();
    const http = new Deno.Command("python3", {
      args: ["-m", "http.server", "--bind", "127.0.0.1", `${httpPort}`],
      cwd: dir,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 50; i++) { // until the server listens (bounded: 5 s)
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: httpPort })).close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const holder = new Deno.Command("unshare", {
      args: ["-n", "sleep", "60"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const gwProc = spawnGatewayCli(["--configure", "--mtu=1500", `${holder.pid}`, "tap0"]);
    try {
      const line = await readyLine(gwProc);
      assert.match(line, /gateway ready tap=tap0 gateway=10\.0\.2\.2 dns=10\.0\.2\.3/);
      assert.match(line, /allow=none/);
      const inNs = (cmd: string[]) =>
        new Deno.Command("nsenter", { args: ["-t", `${holder.pid}`, "-n", ...cmd] }).output();
      const route = new TextDecoder().decode((await inNs(["ip", "route"])).stdout);
      assert.match(route, /default via 10\.0\.2\.2 dev tap0/);
      const addr = new TextDecoder().decode(
        (await inNs(["ip", "-4", "addr", "show", "tap0"])).stdout,
      );
      assert.match(addr, /inet 10\.0\.2\.100\/24/);
      const curl = await inNs(["curl", "-sf", "-m", "30", `http://10.0.2.2:${httpPort}/blob`]);
      assert.equal(curl.code, 0, new TextDecoder().decode(curl.stderr));
      assert.equal(curl.stdout.length, blob.length);
      assert.equal(sha(curl.stdout), sha(blob));
      const refused = await inNs(["curl", "-s", "-m", "10", `http://10.0.2.2:${freePort()}/`]);
      assert.equal(refused.code, 7, "curl: could not connect (refused)");
    } finally {
      await stopGatewayCli(gwProc);
      holder.kill("SIGKILL");
      await holder.status;
      http.kill("SIGKILL");
      await http.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "gateway (TAP): -r/--ready-fd writes 1 when serving, -e/--exit-fd at end of file stops it",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const dir = await Deno.makeTempDir();
    const holder = new Deno.Command("unshare", {
      args: ["-n", "sleep", "60"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const tool = new URL("../../tools/gateway.ts", import.meta.url).pathname;
    // fd 3: a file the gateway writes "1" to; fd 4: a pipe from sleep, at end of file after 5 s.
    const gwProc = new Deno.Command("bash", {
      args: [
        "-c",
        `exec "$0" run -A "$1" -c -r 3 -e 4 "$2" tap0 3>"$3/ready" 4< <(sleep 5)`,
        Deno.execPath(),
        tool,
        `${holder.pid}`,
        dir,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      const st = await Promise.race([
        gwProc.status,
        new Promise<null>((r) => setTimeout(() => r(null), 40000)),
      ]);
      assert(st !== null, "the gateway exited by itself when fd 4 reached end of file");
      assert.equal(st.code, 0);
      assert.equal(await Deno.readTextFile(`${dir}/ready`), "1");
    } finally {
      try {
        gwProc.kill("SIGKILL");
      } catch { /* exited */ }
      await gwProc.status;
      await gwProc.stderr.cancel();
      holder.kill("SIGKILL");
      await holder.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "gateway (TAP): SIGTERM to `deno task gateway` stops the gateway it runs (tap0 is gone)",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const holder = new Deno.Command("unshare", {
      args: ["-n", "sleep", "60"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const root = new URL("../../", import.meta.url).pathname;
    const task = new Deno.Command(Deno.execPath(), {
      args: ["task", "gateway", "--configure", `${holder.pid}`, "tap0"],
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const inNs = async (cmd: string[]) =>
      new TextDecoder().decode(
        (await new Deno.Command("nsenter", { args: ["-t", `${holder.pid}`, "-n", ...cmd] })
          .output()).stdout,
      );
    let child = 0;
    try {
      const reader = task.stdout.getReader();
      const line = await Promise.race([
        reader.read().then((r) => new TextDecoder().decode(r.value)),
        new Promise<string>((r) => setTimeout(() => r("timeout"), 30000)),
      ]);
      reader.releaseLock();
      assert.match(line, /gateway ready tap=tap0/);
      assert.match(await inNs(["ip", "-br", "link"]), /tap0/);
      // The task runs the gateway as its child (the process doing the work).
      const kids = await Deno.readTextFile(`/proc/${task.pid}/task/${task.pid}/children`);
      child = Number(kids.trim().split(/\s+/)[0]);
      assert(child > 0, "deno task has a child process");
      task.kill("SIGTERM");
      const st = await Promise.race([
        task.status,
        new Promise<null>((r) => setTimeout(() => r(null), 10000)),
      ]);
      assert(st !== null, "the task ended");
      let gone = false;
      for (let i = 0; i < 100 && !gone; i++) { // bounded: 10 s
        try {
          await Deno.stat(`/proc/${child}`);
          await new Promise((r) => setTimeout(r, 100));
        } catch {
          gone = true;
        }
      }
      assert(gone, "the gateway process ended with its task");
      assert.doesNotMatch(await inNs(["ip", "-br", "link"]), /tap0/, "the gateway closed tap0");
    } finally {
      try {
        task.kill("SIGKILL");
      } catch { /* exited */ }
      await task.status;
      await task.stdout.cancel().catch(() => {});
      if (child > 0) {
        try {
          Deno.kill(child, "SIGKILL");
        } catch { /* gone */ }
      }
      holder.kill("SIGKILL");
      await holder.status;
    }
  },
});
