/**
 * The interface layer against the Linux kernel through a TAP device in a network namespace
 * that the test creates and deletes: the kernel's ping (small, MTU-sized and fragmented),
 * arping, and UDP sockets (echo, fragmented echo, refused port) talk to our stack.
 */

import assert from "node:assert/strict";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { RX_OFF, RX_SIZE } from "../../src/wire/layout.ts";
import { Interface } from "../../src/iface/interface.ts";
import { parseIpv4 } from "../../src/iface/routing.ts";
import type { Link } from "../../src/link/link.ts";
import { withPcap } from "../../src/link/pcap.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { makeEngine } from "../support/iface_harness.ts";
import { rng } from "../support/rng.ts";

const OUR = "10.7.5.2";
const KERNEL = "10.7.5.1";

/** Runs the stack (receive, poll) until `work` settles or `limitMs` passes; returns work's value. */
async function drive<T>(
  link: Link,
  iface: Interface,
  kind: EngineKind,
  engine: ReturnType<typeof makeEngine>,
  work: Promise<T>,
  limitMs: number,
): Promise<T> {
  let done = false;
  const settled = work.finally(() => {
    done = true;
  });
  const meta = new Int32Array(128);
  const t0 = performance.now();
  while (!done && performance.now() - t0 < limitMs) {
    const now = Math.floor(performance.now());
    await link.wait(Math.max(0, Math.min(20, iface.pollAt() - now)));
    const mem = engine.mem;
    const n = link.receive(mem.subarray(RX_OFF, RX_OFF + RX_SIZE), meta, 64);
    const t = Math.floor(performance.now());
    for (let i = 0; i < n; i++) iface.receive(RX_OFF + meta[2 * i]!, meta[2 * i + 1]!, t);
    iface.poll(t);
  }
  if (!done) throw new Error(`${kind}: the kernel's command did not finish within ${limitMs} ms`);
  return await settled;
}

/** Lines of tshark's decode of `path` with a malformed mark, an error or a bad checksum. */
async function tsharkProblems(
  path: string,
): Promise<{ bad: string[]; frames: number; protocols: string }> {
  const fields = [
    "frame.number",
    "frame.protocols",
    "_ws.malformed",
    "_ws.expert.severity",
    "ip.checksum.status",
    "icmp.checksum.status",
    "udp.checksum.status",
  ];
  const args = [
    "-r",
    path,
    "-n",
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-T",
    "fields",
    "-E",
    "separator=|",
  ];
  for (const f of fields) args.push("-e", f);
  const out = await new Deno.Command("tshark", { args, stdout: "piped", stderr: "piped" }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const bad: string[] = [];
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  for (const line of lines) {
    const [, , malformed, severity = "", ...statuses] = line.split("|");
    const worst = Math.max(0, ...severity.split(",").filter(Boolean).map(Number));
    // Checksum status 0 = bad; expert severity 0x00800000 = error.
    if (malformed || worst >= 0x00800000 || statuses.some((x) => x.split(",").includes("0"))) {
      bad.push(line);
    }
  }
  return { bad, frames: lines.length, protocols: lines.map((l) => l.split("|")[1]).join(" ") };
}

const PY_UDP = `
import socket, sys
size = int(sys.argv[1]); port = int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect(("${OUR}", port))
msg = bytes((i * 7 + 3) & 255 for i in range(size))
s.send(msg)
try:
    data = s.recv(70000)
    print("echo", len(data), data == msg)
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
`;

for (const kind of ["js", "wasm"] as EngineKind[]) {
  Deno.test({
    name: `iface tap (${kind}): kernel ping, arping and UDP talk to our interface`,
    ignore: tapIgnore(),
    fn: async () => {
      if (!requireTapOrSkip()) return;
      const capture = await Deno.makeTempFile({ prefix: "iface_tap_", suffix: ".pcap" });
      try {
        await withTapNamespace(
          { kernelAddr: `${KERNEL}/24` },
          async ({ ns, link: tap, ifname }) => {
            const link = withPcap(tap, capture);
            const engine = makeEngine(kind);
            const iface = new Interface(engine, link, {
              address: parseIpv4(OUR),
              prefixLength: 24,
              mtu: link.mtu,
              random: rng(7),
            });
            iface.start(Math.floor(performance.now()));
            // A UDP echo service on port 7.
            const echo = iface.udpBind(7);
            echo.onReadable = () => {
              for (let d = echo.receive(); d !== null; d = echo.receive()) {
                echo.send(d.data, d.remoteIp, d.remotePort);
              }
            };
            const run = (cmd: string[], ms = 8000) =>
              drive(link, iface, kind, engine, ns.run(cmd), ms);

            const p1 = await run(["ping", "-c", "3", "-i", "0.2", "-W", "2", OUR]);
            assert.equal(p1.code, 0, `ping failed: ${p1.stdout}${p1.stderr}`);
            assert.match(p1.stdout, /3 received/);

            const p2 = await run([
              "ping",
              "-c",
              "2",
              "-i",
              "0.2",
              "-W",
              "2",
              "-M",
              "do",
              "-s",
              "1472",
              OUR,
            ]);
            assert.equal(p2.code, 0, `ping -s 1472 failed: ${p2.stdout}${p2.stderr}`);

            for (const size of [3000, 20000]) {
              const p3 = await run([
                "ping",
                "-c",
                "2",
                "-i",
                "0.2",
                "-W",
                "2",
                "-s",
                String(size),
                OUR,
              ]);
              assert.equal(p3.code, 0, `ping -s ${size} failed: ${p3.stdout}${p3.stderr}`);
              assert.match(p3.stdout, new RegExp(`${size + 8} bytes from`));
            }

            const a = await run(["arping", "-c", "2", "-i", ifname, OUR]);
            assert.equal(a.code, 0, `arping failed: ${a.stdout}${a.stderr}`);

            for (const size of [100, 4000]) {
              const u = await run(["python3", "-c", PY_UDP, String(size), "7"]);
              assert.equal(
                u.stdout.trim(),
                `echo ${size} True`,
                `UDP echo of ${size}: ${u.stdout}${u.stderr}`,
              );
            }
            const r = await run(["python3", "-c", PY_UDP, "10", "9"]);
            assert.equal(
              r.stdout.trim(),
              "refused",
              `UDP to a closed port: ${r.stdout}${r.stderr}`,
            );

            // Our side sends to the kernel: ARP resolution of the kernel's address, then UDP.
            const got = drive(
              link,
              iface,
              kind,
              engine,
              ns.run([
                "python3",
                "-c",
                `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("${KERNEL}", 5000)); s.settimeout(3)
d, a = s.recvfrom(100); print(len(d), a[0], a[1])`,
              ]),
              8000,
            );
            const sender = iface.udpBind(6000);
            const deadline = performance.now() + 3000;
            let resolved = false;
            // Send once the kernel socket is bound: retry every 200 ms until it answers (bounded).
            const kick = async () => {
              while (!resolved && performance.now() < deadline) {
                sender.send(new Uint8Array(42), parseIpv4(KERNEL), 5000);
                await new Promise((r) => setTimeout(r, 200));
              }
            };
            const [k] = await Promise.all([got.finally(() => (resolved = true)), kick()]);
            assert.equal(k.stdout.trim(), `42 ${OUR} 6000`, k.stderr);

            const s = iface.stats();
            if (Deno.env.get("H5_DEBUG")) console.log(JSON.stringify(s));
            assert.ok((s["arp-replies"] ?? 0) >= 2, JSON.stringify(s));
            assert.ok((s["ip-reassembled"] ?? 0) >= 4, JSON.stringify(s));
            assert.ok((s["ip-fragments-out"] ?? 0) >= 4, JSON.stringify(s));
            assert.ok((s["icmp-errors-out"] ?? 0) >= 1, JSON.stringify(s));
            assert.equal(s["frag-memory"], 0);
            link.close();
          },
        );
        // Every frame both ways, checked by an independent decoder (checksums, malformed).
        const t = await tsharkProblems(capture);
        assert.deepEqual(t.bad, [], `tshark found problems in ${capture}`);
        assert.ok(t.frames >= 40, `only ${t.frames} frames captured`);
        for (const p of ["arp", "icmp", "udp"]) assert.match(t.protocols, new RegExp(`:${p}`));
      } finally {
        await Deno.remove(capture).catch(() => {});
      }
    },
  });
}
