/**
 * IPv6 fragments against the Linux kernel through a TAP device in a namespace, both engines:
 * `ping -6 -s 3000`, `-s 20000` and `-s 65527` (the kernel fragments each request, we
 * reassemble it, our reply is larger than the MTU and leaves in fragments the kernel
 * reassembles; ping checks the data), `-s 1452` (a full 1500-byte packet, not fragmented) and
 * small pings. Then scapy, next to the kernel, sends overlapping fragments (RFC 5722: never
 * answered), a first fragment without its TCP header (RFC 7112: Parameter Problem code 3), a
 * flood of tiny fragments (bounded by fragPerDatagram), a lone first fragment (both get Time
 * Exceeded code 1 after `frag6TimeoutMs`, RFC 4443 3.3) and an atomic fragment (answered, RFC
 * 6946). The stack answers ping afterwards and tshark finds no malformed frame, bad checksum or
 * frame over the MTU among ours in the capture. A stack from `createStack` (the API) answers
 * `ping -6 -s 3000` at its global and link-local addresses and echoes a Python client's UDP
 * datagrams of 3000, 20000 and 65507 bytes over IPv6 (fragmented both ways). Needs root,
 * /dev/net/tun and python3-scapy (`deno task setup`).
 */

import assert from "node:assert/strict";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { RX_OFF, RX_SIZE } from "../../src/wire/layout.ts";
import { Interface } from "../../src/iface/interface.ts";
import { parseIpv4 } from "../../src/iface/routing.ts";
import type { Link } from "../../src/link/link.ts";
import { withPcap } from "../../src/link/pcap.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { linkLocalFromMac } from "../../src/iface/icmp6.ts";
import { createStack } from "../../mod.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { makeEngine } from "../support/iface_harness.ts";
import { rng } from "../support/rng.ts";

const PYTHON = "/usr/bin/python3";

const SCAPY = String.raw`
import json, sys, time
from scapy.all import AsyncSniffer, Ether, Raw, conf, sendp
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, ICMPv6EchoRequest
conf.verb = 0
iface, ours, ourmac, kernel = sys.argv[1:5]
mac = open("/sys/class/net/%s/address" % iface).read().strip()
base = Ether(dst=ourmac, src=mac) / IPv6(src=kernel, dst=ours)
sn = AsyncSniffer(iface=iface, filter="icmp6 and src host %s" % ours, store=True)
sn.start()
time.sleep(0.3)
def frag(ident, off, m, data, nh=58):
    return base / IPv6ExtHdrFragment(m=m, offset=off // 8, id=ident, nh=nh) / Raw(data)
big = bytes(ICMPv6EchoRequest(id=0x51, seq=1, data=bytes(range(256)) * 12))
# Overlapping fragments of one echo request (RFC 5722), then its remaining fragments.
sendp(frag(101, 0, 1, big[:1448]), iface=iface)
sendp(frag(101, 1440, 1, big[1440:2888]), iface=iface)
sendp(frag(101, 1448, 1, big[1448:2896]), iface=iface)
sendp(frag(101, 2896, 0, big[2896:]), iface=iface)
# A first fragment with 8 of TCP's 20 header bytes (RFC 7112).
sendp(frag(102, 0, 1, b"\x00\x50" * 4, nh=6), iface=iface)
# 300 fragments of 8 bytes of one datagram (fragPerDatagram is 256).
sendp([frag(103, 8 * i, 1, b"t" * 8) for i in range(300)], iface=iface)
# A lone first fragment: Time Exceeded when it expires.
sendp(frag(104, 0, 1, big[:1448]), iface=iface)
# An atomic fragment (offset 0, M clear) with the identification of a datagram in progress.
sendp(base / IPv6ExtHdrFragment(m=0, offset=0, id=104, nh=58) /
      ICMPv6EchoRequest(id=0x52, seq=2, data=b"atomic"), iface=iface)
time.sleep(2.5)
sn.stop()
got = []
for p in sn.results:
    if IPv6 in p:
        icmp = p[IPv6].payload
        # The pointer of a Parameter Problem, the identifier of an echo reply.
        third = icmp.ptr if icmp.type == 4 else icmp.id if icmp.type == 129 else 0
        got.append([icmp.type, icmp.code, third])
print(json.dumps(got))
`;

/** UDP payload sizes the Python client sends over IPv6 (each past the 1500-byte MTU). */
const UDP_SIZES = [3000, 20000, 65507];

const UDP_CLIENT = String.raw`
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
for n in ${JSON.stringify(UDP_SIZES)}:
    b = bytes((i * 7 + n) & 0xff for i in range(n))
    s.sendto(b, (sys.argv[1], int(sys.argv[2])))
    d, _ = s.recvfrom(70000)
    assert d == b, (n, len(d))
print("ok")
`;

async function scapyMissing(): Promise<string | null> {
  try {
    const r = await new Deno.Command(PYTHON, { args: ["-c", "import scapy.all"] }).output();
    return r.success ? null : "python3-scapy is not installed (deno task setup)";
  } catch {
    return "python3 is not installed";
  }
}

/** Receive and poll until `work` settles or `limitMs` passes. */
async function drive<T>(
  link: Link,
  iface: Interface,
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
    await link.wait(20);
    const n = link.receive(engine.mem.subarray(RX_OFF, RX_OFF + RX_SIZE), meta, 64);
    const t = Math.floor(performance.now());
    for (let i = 0; i < n; i++) iface.receive(RX_OFF + meta[2 * i]!, meta[2 * i + 1]!, t);
    iface.poll(t);
  }
  if (!done) throw new Error(`The command did not finish within ${limitMs} ms`);
  return await settled;
}

async function tshark(capture: string, filter: string): Promise<string> {
  const out = await new Deno.Command("tshark", {
    args: [
      "-r",
      capture,
      "-n",
      "-Y",
      filter,
      "-T",
      "fields",
      "-e",
      "frame.number",
      "-e",
      "_ws.col.Info",
      "-e",
      "_ws.expert.message",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

for (const kind of ["js", "wasm"] as EngineKind[]) {
  Deno.test({
    name: `ipv6 frag kernel (${kind}): ping -6 -s 3000 both ways fragmented; scapy's bad fragments`,
    ignore: tapIgnore(),
    sanitizeResources: false, // the TAP fd is closed by withTapNamespace after the test body
    fn: async () => {
      if (!requireTapOrSkip()) return;
      const missing = await scapyMissing();
      if (missing !== null) {
        if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(missing);
        console.warn(`skipped: ${missing}`);
        return;
      }
      const capture = await Deno.makeTempFile({ prefix: "ipv6_frag_", suffix: ".pcap" });
      let ourMac = "";
      try {
        await withTapNamespace(
          { kernelAddr: "10.7.9.1/24", ipv6: true },
          async ({ ns, link: tap, ifname }) => {
            const link = withPcap(tap, capture);
            const engine = makeEngine(kind);
            const iface = new Interface(engine, link, {
              address: parseIpv4("10.7.9.2"),
              prefixLength: 24,
              mtu: link.mtu,
              random: rng(19),
              ipv6: [{ address: parseIpv6("fd00:7:9::2")!, prefixLength: 64 }],
              limits: { frag6TimeoutMs: 1000 },
            });
            ourMac = Array.from(iface.mac, (b) => b.toString(16).padStart(2, "0")).join(":");
            const add = await ns.run(
              ["ip", "-6", "addr", "add", "fd00:7:9::1/64", "dev", ifname, "nodad"],
            );
            assert.equal(add.code, 0, add.stderr);
            const run = (cmd: string[], ms = 15000) => drive(link, iface, engine, ns.run(cmd), ms);
            // Duplicate address detection of ours (RFC 4862 5.4, when the interface does it)
            // runs from start, driven by drive(); the kernel's link-local address must leave
            // DAD (tentative) too before the kernel sends.
            iface.start(Math.floor(performance.now()));
            const wait = await run([
              "sh",
              "-c",
              `sleep 1.2; for i in $(seq 100); do ip -6 addr show dev ${ifname} tentative | grep -q inet6 || exit 0; sleep 0.1; done; exit 1`,
            ]);
            assert.equal(wait.code, 0, "the kernel's link-local address stayed tentative");
            const ping = async (size: number, count = 3, extra: string[] = []) => {
              const p = await run([
                "ping",
                "-6",
                "-c",
                String(count),
                "-i",
                "0.2",
                "-W",
                "2",
                "-s",
                String(size),
                ...extra,
                "fd00:7:9::2",
              ]);
              assert.equal(p.code, 0, `ping -6 -s ${size} failed: ${p.stdout}${p.stderr}`);
              assert.match(p.stdout, new RegExp(`${count} received`));
              assert.match(p.stdout, new RegExp(`${size + 8} bytes from fd00:7:9::2`));
              assert.doesNotMatch(p.stdout, /wrong data|DUP!/);
            };
            await ping(3000);
            const afterBig = iface.stats();
            assert.equal(afterBig["ip6-reassembled"], 3);
            assert.equal(afterBig["ip6-fragments-in"], 9); // 1448 + 1448 + 152 (with ICMP header)
            assert.equal(afterBig["ip6-fragments-out"], 9);
            await ping(1452, 2, ["-M", "do"]);
            await ping(56, 2);
            await ping(20000, 2);
            await ping(65527, 1); // the largest: a 65535-byte ICMPv6 payload, 46 fragments
            assert.equal(iface.stats()["frag6-memory"], 0);

            const r = await run([
              PYTHON,
              "-c",
              SCAPY,
              ifname,
              "fd00:7:9::2",
              ourMac,
              "fd00:7:9::1",
            ], 30000);
            assert.equal(r.code, 0, `scapy failed: ${r.stderr}`);
            const got: (string | number)[][] = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
            // Parameter Problem code 3 pointer 0 (RFC 7112), the atomic echo answered (129, id
            // 0x52), Time Exceeded code 1 for the tiny-fragment datagram and the lone first
            // fragment (both had fragment zero); nothing for the overlap.
            assert.deepEqual(got, [[4, 3, 0], [129, 0, 0x52], [3, 1, 0], [3, 1, 0]]);
            const st = iface.stats();
            assert.equal(st["frag6-overlap"], 1, JSON.stringify(st));
            assert.equal(st["frag6-dead"], 2);
            assert.equal(st["frag6-incomplete-chain"], 1);
            assert.equal(st["frag6-too-many-fragments"], 300 - 256);
            assert.equal(st["icmp6-time-exceeded"], 2);
            assert.equal(st["frag6-timeout"], 2); // 103 and 104 (101, dropped, is not counted)
            // Still answering, fragments and all.
            await ping(3000, 2);
            assert.equal(iface.stats()["frag6-memory"], 0);
          },
        );
        assert.equal(
          await tshark(
            capture,
            `eth.src == ${ourMac} && (_ws.malformed || icmpv6.checksum.status == 0 || ` +
              "_ws.expert.severity >= 8388608)",
          ),
          "",
          "tshark found problems in our frames",
        );
        assert.equal(
          await tshark(capture, `eth.src == ${ourMac} && frame.len > 1514`),
          "",
          "a frame of ours is larger than the MTU",
        );
        const ours = await tshark(capture, `eth.src == ${ourMac} && ipv6.fraghdr.ident`);
        assert.ok(ours.split("\n").length >= 9 + 28 + 46 + 6, "our fragments are missing");
      } finally {
        await Deno.remove(capture).catch(() => {});
      }
    },
  });
}

Deno.test({
  name: "ipv6 frag kernel: createStack answers ping -6 -s 3000 and echoes large UDP over IPv6",
  ignore: tapIgnore(),
  sanitizeResources: false, // the TAP fd is closed by withTapNamespace after the test body
  async fn() {
    if (!requireTapOrSkip()) return;
    await withTapNamespace(
      { kernelAddr: "10.7.10.1/24", ipv6: true },
      async ({ ns, link, ifname }) => {
        const stack = await createStack({ link, address: ["10.7.10.2/24", "fd00:7:10::2/64"] });
        try {
          const add = await ns.run(
            ["ip", "-6", "addr", "add", "fd00:7:10::1/64", "dev", ifname, "nodad"],
          );
          assert.equal(add.code, 0, add.stderr);
          // The kernel's link-local address leaves DAD (tentative) before it can send.
          const wait = await ns.run([
            "sh",
            "-c",
            `for i in $(seq 100); do ip -6 addr show dev ${ifname} tentative | grep -q inet6 || exit 0; sleep 0.1; done; exit 1`,
          ]);
          assert.equal(wait.code, 0, "the kernel's link-local address stayed tentative");
          const mac = Uint8Array.from(stack.mac.split(":"), (h) => parseInt(h, 16));
          const targets = ["fd00:7:10::2", `${formatIpv6(linkLocalFromMac(mac))}%${ifname}`];
          for (const to of targets) {
            const p = await ns.run(
              ["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "-s", "3000", to],
            );
            assert.equal(p.code, 0, `ping -6 -s 3000 ${to} failed: ${p.stdout}${p.stderr}`);
            assert.match(p.stdout, /2 received/);
            assert.doesNotMatch(p.stdout, /wrong data|DUP!/);
          }
          const st = stack.stats();
          assert.equal(st["ip6-reassembled"], 2 * targets.length);
          assert.equal(st["ip6-fragments-out"], 6 * targets.length);
          // UDP over IPv6 both ways past the MTU: a Python client's datagrams (the kernel
          // fragments them) echoed back by our socket (we fragment them), compared whole.
          const sock = stack.listenDatagram({ port: 7007, hostname: "fd00:7:10::2" });
          const echo = (async () => {
            for (let i = 0; i < UDP_SIZES.length; i++) {
              const [d, from] = await sock.receive();
              await sock.send(d, from);
            }
          })();
          const py = await ns.run([PYTHON, "-c", UDP_CLIENT, "fd00:7:10::2", "7007"]);
          assert.equal(py.code, 0, `UDP client: ${py.stdout}${py.stderr}`);
          assert.match(py.stdout, /ok/);
          await echo;
          sock.close();
          const after = stack.stats();
          assert.equal(after["ip6-reassembled"]! - st["ip6-reassembled"]!, UDP_SIZES.length);
          assert.ok(after["ip6-fragments-out"]! - st["ip6-fragments-out"]! >= 3 + 14 + 46);
        } finally {
          await stack.close();
        }
      },
    );
  },
});
