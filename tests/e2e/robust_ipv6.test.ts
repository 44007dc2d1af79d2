/**
 * Hostile IPv6 against a dual-stack stack (`address: ["10.7.7.2/24", "fd00:7:7::2/64"]`)
 * through a TAP device in a namespace: scapy, next to the kernel, sends bad extension-header
 * chains, an unknown option, a routing header with segments left, an unknown upper layer, a
 * tiny fragment, overlapping fragments and a spoofed neighbor advertisement. The answers are
 * the Parameter Problems RFC 8200 section 4 names (code and pointer checked), nothing for the
 * overlapping fragments (RFC 5722: the datagram is dropped, counted), and the stack still answers
 * `ping -6` afterwards. Needs root, /dev/net/tun and python3-scapy (`deno task setup`).
 */

import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";

const PYTHON = "/usr/bin/python3";

const SCAPY = String.raw`
import json, sys, time
from scapy.all import AsyncSniffer, Ether, Raw, conf, sendp
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, HBHOptUnknown, PadN)
conf.verb = 0
iface, ours, ourmac, kernel = sys.argv[1:5]
mac = open("/sys/class/net/%s/address" % iface).read().strip()
base = Ether(dst=ourmac, src=mac) / IPv6(src=kernel, dst=ours)
echo = ICMPv6EchoRequest(id=7, seq=1, data=b"x" * 16)
sn = AsyncSniffer(iface=iface, filter="icmp6 and src host %s" % ours, store=True)
sn.start()
time.sleep(0.3)
cases = [
    ("routing", base / IPv6ExtHdrRouting(type=0, segleft=1, addresses=["fd00::9"]) / echo),
    ("option-10", base / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x9e, optdata=b"ab")]) / echo),
    ("hbh-late", base / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() / echo),
    ("next-253", base / Raw(b"")),
    ("tiny-frag", base / IPv6ExtHdrFragment(m=1, offset=0, id=1, nh=58) / Raw(b"1234567")),
]
for name, p in cases:
    if name == "next-253":
        p = Ether(dst=ourmac, src=mac) / IPv6(src=kernel, dst=ours, nh=253) / Raw(b"z" * 8)
    sendp(p, iface=iface)
    time.sleep(0.1)
# Overlapping fragments of one echo request (RFC 5722): never answered.
payload = bytes(echo)
sendp(base / IPv6ExtHdrFragment(m=1, offset=0, id=9, nh=58) / Raw(payload[:16]), iface=iface)
sendp(base / IPv6ExtHdrFragment(m=0, offset=1, id=9, nh=58) / Raw(payload[8:]), iface=iface)
# A spoofed advertisement claiming our address for another MAC.
sendp(Ether(dst="33:33:00:00:00:01", src="02:66:66:66:66:66") /
      IPv6(src="fe80::6666", dst="ff02::1", hlim=255) /
      ICMPv6ND_NA(tgt=ours, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr="02:66:66:66:66:66"), iface=iface)
time.sleep(0.5)
sn.stop()
got = []
for p in sn.results:
    if IPv6 in p:
        icmp = p[IPv6].payload
        got.append([icmp.type, icmp.code, int(getattr(icmp, "ptr", -1) or 0)])
print(json.dumps(got))
`;

async function scapyMissing(): Promise<string | null> {
  try {
    const r = await new Deno.Command(PYTHON, { args: ["-c", "import scapy.all"] }).output();
    return r.success ? null : "python3-scapy is not installed (deno task setup)";
  } catch {
    return "python3 is not installed";
  }
}

Deno.test({
  name: "robust ipv6: scapy's bad extension headers, fragments and NA spoofing",
  ignore: tapIgnore(),
  sanitizeResources: false, // the TAP fd is closed by withTapNamespace after the test body
  async fn() {
    if (!requireTapOrSkip()) return;
    const missing = await scapyMissing();
    if (missing !== null) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(missing);
      console.warn(`skipped: ${missing}`);
      return;
    }
    await withTapNamespace(
      { kernelAddr: "10.7.7.1/24", ipv6: true },
      async ({ ns, link, ifname }) => {
        const stack = await createStack({ link, address: ["10.7.7.2/24", "fd00:7:7::2/64"] });
        try {
          const add = await ns.run([
            "ip",
            "-6",
            "addr",
            "add",
            "fd00:7:7::1/64",
            "dev",
            ifname,
            "nodad",
          ]);
          assert.equal(add.code, 0, add.stderr);
          // Our address is usable once duplicate address detection passed (RFC 4862 5.4).
          for (let i = 0; i < 50 && (stack.stats()["ndp-dad-completed"] ?? 0) < 2; i++) {
            await new Promise((r) => setTimeout(r, 100));
          }
          const r = await ns.run([
            PYTHON,
            "-c",
            SCAPY,
            ifname,
            "fd00:7:7::2",
            stack.mac,
            "fd00:7:7::1",
          ]);
          assert.equal(r.code, 0, `scapy failed: ${r.stderr}`);
          const got: number[][] = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
          // Parameter Problems (type 4): routing type at 42 (code 0), the option type at 42
          // (code 2), the Next Header naming a late hop-by-hop header at 40 (code 1), an unknown
          // upper layer at 6 (code 1), a fragment of 7 bytes with M set at the payload length.
          assert.deepEqual(got, [[4, 0, 42], [4, 2, 42], [4, 1, 40], [4, 1, 6], [4, 0, 4]]);
          // The stack is alive and still answers at its own MAC (the spoof changed nothing).
          const ping = await ns.run([
            "ping",
            "-6",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "2",
            "fd00:7:7::2",
          ]);
          assert.equal(ping.code, 0, `ping -6 failed: ${ping.stdout}${ping.stderr}`);
          const st = stack.stats();
          assert.equal(st["icmp6-parameter-problems"], 5);
          assert.equal(st["frag6-overlap"], 1, "the overlapping fragments were not counted");
        } finally {
          await stack.close();
        }
      },
    );
  },
});
