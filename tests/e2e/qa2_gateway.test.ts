/**
 * New-user acceptance of `deno task gateway` (issue 20) as the README shows it, with
 * slirp4netns's usage: `unshare -n` a process, then `deno task gateway --configure --mtu=65520
 * PID tap0` from the project directory, with `--allow=127.0.0.0/8` (the only relay target this
 * test permits), `--dns=127.0.0.1:PORT` (dnsmasq bound to 127.0.0.1 only) and
 * `--forward=tcp:HP:8000`. Inside: curl of 3 MiB from a python http.server bound to the host's
 * 127.0.0.1 through 10.0.2.2, a DNS query to 10.0.2.3; on the host: curl through the forward into
 * a python http.server in the namespace. Everything is bounded in time and stopped afterwards.
 */
import assert from "node:assert/strict";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { freePort, pattern, sha } from "../gateway/gateway_env.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A DNS A query for argv[3] to argv[1]:argv[2] over UDP; prints the addresses answered.
const PY_DNS = `
import socket, struct, sys
srv, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
q = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0" + struct.pack("!HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(q, (srv, port))
r, frm = s.recvfrom(2048)
an = struct.unpack("!H", r[6:8])[0]
i = len(q)
out = []
for _ in range(an):
    while r[i] != 0 and r[i] < 0xc0: i += r[i] + 1
    i += 2 if r[i] >= 0xc0 else 1
    t, c, ttl, l = struct.unpack("!HHIH", r[i:i + 10])
    if t == 1: out.append(socket.inet_ntoa(r[i + 10:i + 14]))
    i += 10 + l
print(frm[0], " ".join(out))
`;

async function until(what: string, ok: () => Promise<boolean>, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${ms} ms`);
}

async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "qa2 gateway: deno task gateway --configure --mtu=65520 PID tap0 with --allow, --dns, --forward",
  ignore: tapIgnore(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (!requireTapOrSkip()) return;
    const dir = await Deno.makeTempDir({ prefix: "qa2-gw-" });
    const blob = pattern(3 << 20, 29);
    await Deno.writeFile(`${dir}/blob`, blob);
    const procs: Deno.ChildProcess[] = [];
    const piped = new Map<Deno.ChildProcess, ReadableStream<Uint8Array>[]>();
    const spawn = (cmd: string, args: string[], opts: Deno.CommandOptions = {}) => {
      const p = new Deno.Command(cmd, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "null",
        ...opts,
      })
        .spawn();
      procs.push(p);
      if (opts.stdout === "piped") piped.set(p, [p.stdout, p.stderr]);
      return p;
    };
    try {
      const httpPort = freePort();
      spawn("python3", ["-m", "http.server", "--bind", "127.0.0.1", `${httpPort}`], { cwd: dir });
      const dnsPort = freePort();
      spawn("dnsmasq", [
        "--no-daemon",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        `--port=${dnsPort}`,
        "--user=root",
        "--pid-file=",
        "--local=/test/",
        "--host-record=qa2.test,10.9.8.6",
      ]);
      await until("python http.server", () => accepts(httpPort));
      const holder = spawn("unshare", ["-n", "sleep", "60"]);
      await sleep(200); // unshare has made the namespace
      const fwdPort = freePort();
      const gw = spawn("deno", [
        "task",
        "gateway",
        "--configure",
        "--mtu=65520",
        "--allow=127.0.0.0/8",
        `--dns=127.0.0.1:${dnsPort}`,
        `--forward=tcp:${fwdPort}:8000`,
        `${holder.pid}`,
        "tap0",
      ], { cwd: ROOT, stdout: "piped", stderr: "piped" });
      const reader = gw.stdout.getReader();
      const line = await Promise.race([
        reader.read().then((r) => dec.decode(r.value)),
        sleep(30000).then(() => "timeout"),
      ]);
      reader.releaseLock();
      assert.match(line, /gateway ready tap=tap0/);
      const inNs = async (cmd: string[]) => {
        const r = await new Deno.Command("nsenter", {
          args: ["-t", `${holder.pid}`, "-n", ...cmd],
          stdin: "null",
        }).output();
        return { code: r.code, out: r.stdout, err: dec.decode(r.stderr) };
      };
      const link = dec.decode((await inNs(["ip", "link", "show", "tap0"])).out);
      assert.match(link, /mtu 65520/);
      // The host's 127.0.0.1 through 10.0.2.2 (3 MiB, SHA-256 exact).
      const got = await inNs(["curl", "-sSf", "-m", "30", `http://10.0.2.2:${httpPort}/blob`]);
      assert.equal(got.code, 0, got.err);
      assert.equal(got.out.length, blob.length);
      assert.equal(sha(got.out), sha(blob));
      // DNS through 10.0.2.3 to dnsmasq on 127.0.0.1 (it may still be starting: retried).
      let dns = "";
      await until("DNS via 10.0.2.3", async () => {
        const r = await inNs(["python3", "-c", PY_DNS, "10.0.2.3", "53", "qa2.test"]);
        dns = dec.decode(r.out).trim();
        return r.code === 0;
      });
      assert.equal(dns, "10.0.2.3 10.9.8.6");
      // Not allowed: anything outside 127.0.0.0/8 is refused (RST: curl exit 7), never relayed.
      const denied = await inNs(["curl", "-s", "-m", "10", "http://192.0.2.1/"]);
      assert.equal(denied.code, 7, denied.err);
      // --forward: the host's 127.0.0.1:fwdPort into a server of the guest on port 8000.
      const guestDir = `${dir}/guest`;
      await Deno.mkdir(guestDir);
      await Deno.writeTextFile(`${guestDir}/hello.txt`, "from the guest\n");
      spawn("nsenter", [
        "-t",
        `${holder.pid}`,
        "-n",
        "python3",
        "-m",
        "http.server",
        "--bind",
        "0.0.0.0",
        "8000",
      ], { cwd: guestDir });
      let body = "";
      await until("curl through --forward", async () => {
        const r = await new Deno.Command("curl", {
          args: ["-sSf", "-m", "5", `http://127.0.0.1:${fwdPort}/hello.txt`],
        }).output();
        body = dec.decode(r.stdout);
        return r.code === 0;
      });
      assert.equal(body, "from the guest\n");
    } finally {
      // `deno task` does not pass SIGTERM on to the task it runs: stop the gateway itself first.
      for (const p of procs) {
        const kids = await new Deno.Command("pgrep", { args: ["-P", `${p.pid}`] }).output();
        for (const pid of dec.decode(kids.stdout).split("\n").filter(Boolean)) {
          try {
            Deno.kill(Number(pid), "SIGTERM");
          } catch { /* gone */ }
        }
      }
      for (const p of procs.reverse()) {
        try {
          p.kill("SIGTERM");
        } catch { /* gone */ }
        const st = await Promise.race([p.status, sleep(5000).then(() => null)]);
        if (st === null) {
          p.kill("SIGKILL");
          await p.status;
        }
        for (const pipe of piped.get(p) ?? []) await pipe.cancel().catch(() => {});
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
