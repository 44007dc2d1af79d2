/**
 * Hostile Neighbor Discovery against a stack (`createStack`, small ND limits) through a TAP
 * device in a namespace: scapy, next to the kernel, sends
 *
 * - spoofed advertisements for the kernel's address, which our cache holds: unsolicited and
 *   solicited without the Override flag (RFC 4861 7.2.5: the cached MAC stays), with hop limit
 *   64 (RFC 4861 7.1: dropped), with a zero-length option (dropped);
 * - router advertisements from a global source, with hop limit 64, with a zero-length option
 *   (RFC 4861 6.1.2: all ignored);
 * - floods: 300 solicitations from random sources with random link-layer addresses, 60 router
 *   advertisements from random link-local routers with random prefixes, 200 unsolicited
 *   advertisements for random targets.
 *
 * Afterwards the cache still maps the kernel's address to the kernel's MAC, the tables stayed
 * within their bounds, no router or prefix came from an invalid advertisement, and both
 * directions of ping still work. A second test sends Packet Too Big messages: 1400 about one of
 * our datagrams lowers that path MTU and is reported, 1000 is ignored (RFC 8201 section 4), one
 * quoting another host's datagram is ignored. Needs root, /dev/net/tun and python3-scapy.
 */

import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { ip6Ready, kernelMac, must, ping6From } from "../support/ndp_kernel.ts";

const PYTHON = "/usr/bin/python3";

const SCAPY = String.raw`
import random, sys, time
from scapy.all import Ether, Raw, conf, sendp
from scapy.layers.inet6 import (IPv6, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr, ICMPv6NDOptPrefixInfo)
conf.verb = 0
iface, ours, ourmac, kernel = sys.argv[1:5]
mac = open("/sys/class/net/%s/address" % iface).read().strip()
spoof = "02:66:66:66:66:66"
random.seed(7)
def rmac():
    return "02:%02x:%02x:%02x:%02x:%02x" % tuple(random.randrange(256) for _ in range(5))
allnodes = Ether(dst="33:33:00:00:00:01", src=spoof)
pkts = [
    # Unsolicited, no Override: the cached MAC must stay.
    allnodes / IPv6(src=kernel, dst="ff02::1", hlim=255) / ICMPv6ND_NA(tgt=kernel, R=0, S=0, O=0) / ICMPv6NDOptDstLLAddr(lladdr=spoof),
    # Solicited, no Override, unicast to us: the cached MAC must stay.
    Ether(dst=ourmac, src=spoof) / IPv6(src=kernel, dst=ours, hlim=255) / ICMPv6ND_NA(tgt=kernel, R=0, S=1, O=0) / ICMPv6NDOptDstLLAddr(lladdr=spoof),
    # Override, but forwarded (hop limit 64): dropped.
    Ether(dst=ourmac, src=spoof) / IPv6(src=kernel, dst=ours, hlim=64) / ICMPv6ND_NA(tgt=kernel, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=spoof),
    # Override with a zero-length option: dropped.
    Ether(dst=ourmac, src=spoof) / IPv6(src=kernel, dst=ours, hlim=255) / ICMPv6ND_NA(tgt=kernel, R=0, S=1, O=1) / Raw(b"\x02\x00" + b"\x00" * 6),
    # Router advertisements: global source, hop limit 64, zero-length option.
    allnodes / IPv6(src="fd00:7b::66", dst="ff02::1", hlim=255) / ICMPv6ND_RA(routerlifetime=1800) / ICMPv6NDOptPrefixInfo(prefix="2001:db8:66::", prefixlen=64, L=1, A=1),
    allnodes / IPv6(src="fe80::66", dst="ff02::1", hlim=64) / ICMPv6ND_RA(routerlifetime=1800) / ICMPv6NDOptPrefixInfo(prefix="2001:db8:67::", prefixlen=64, L=1, A=1),
    allnodes / IPv6(src="fe80::68", dst="ff02::1", hlim=255) / ICMPv6ND_RA(routerlifetime=1800) / Raw(b"\x03\x00" + b"\x00" * 30),
]
sendp(pkts, iface=iface)
time.sleep(0.2)
ns_group = "ff02::1:ff" + ours.replace(":", "")[-6:-4] + ":" + ours.replace(":", "")[-4:]
flood = []
for i in range(300):
    src = "fd00:7b::%x:%x" % (random.randrange(1, 65535), random.randrange(1, 65535))
    m = rmac()
    flood.append(Ether(dst="33:33:ff:00:00:02", src=m) / IPv6(src=src, dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt=ours) / ICMPv6NDOptSrcLLAddr(lladdr=m))
for i in range(60):
    m = rmac()
    flood.append(Ether(dst="33:33:00:00:00:01", src=m) / IPv6(src="fe80::1:%x" % (i + 1), dst="ff02::1", hlim=255) / ICMPv6ND_RA(routerlifetime=1800) / ICMPv6NDOptSrcLLAddr(lladdr=m) / ICMPv6NDOptPrefixInfo(prefix="2001:db8:%x::" % (i + 1), prefixlen=64, L=1, A=1))
for i in range(200):
    t = "fd00:7b::1:%x" % (i + 1)
    flood.append(allnodes / IPv6(src=t, dst="ff02::1", hlim=255) / ICMPv6ND_NA(tgt=t, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=rmac()))
sendp(flood, iface=iface)
time.sleep(0.5)
print("done")
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
  name: "ipv6 ndp hostile: spoofed NA and RA per the RFC rules, floods within the bounds",
  ignore: tapIgnore(),
  sanitizeResources: false,
  async fn() {
    if (!requireTapOrSkip()) return;
    const missing = await scapyMissing();
    if (missing !== null) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(missing);
      console.warn(`skipped: ${missing}`);
      return;
    }
    await withTapNamespace(
      { kernelAddr: "10.7.11.1/24", ipv6: true },
      async ({ ns, link, ifname }) => {
        await must(ns, ["ip", "-6", "addr", "add", "fd00:7b::1/64", "dev", ifname, "nodad"]);
        const stack = await createStack({
          link,
          address: ["10.7.11.2/24", "fd00:7b::2/64"],
          limits: { ndCacheSize: 32, ndRouters: 4, ndPrefixes: 4 },
        });
        try {
          await ip6Ready(stack, 2);
          const kernel = parseIpv6("fd00:7b::1")!;
          assert.ok(await ping6From(stack, kernel, 3) >= 0, "no echo reply from the kernel");
          const nd = stack.driver.iface.ip6Host.nd;
          const kmac = await kernelMac(ns, ifname);
          const macOf = () => {
            const e = nd.cache.get(kernel)!;
            const b = [
              e.macHi >>> 8,
              e.macHi & 0xff,
              e.macLo >>> 24,
              (e.macLo >>> 16) & 0xff,
              (e.macLo >>> 8) & 0xff,
              e.macLo & 0xff,
            ];
            return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
          };
          assert.equal(macOf(), kmac);
          const r = await ns.run([
            PYTHON,
            "-c",
            SCAPY,
            ifname,
            "fd00:7b::2",
            stack.mac,
            "fd00:7b::1",
          ]);
          assert.equal(r.code, 0, `scapy failed: ${r.stderr}`);
          await new Promise((res) => setTimeout(res, 300));
          const st = stack.stats();
          // The spoofed advertisements changed nothing.
          assert.equal(macOf(), kmac, "a spoofed advertisement without Override replaced the MAC");
          assert.ok(st["ndp-na-ignored-no-override"]! >= 2, JSON.stringify(st));
          assert.ok(st["ndp-bad-hop-limit"]! >= 2);
          assert.ok(st["ndp-invalid"]! >= 2);
          assert.equal(st["ndp-ra-not-link-local"], 1);
          // No prefix from the invalid advertisements; the tables within their bounds.
          const prefixes = nd.routers.prefixes.map((p) => p.prefix[4]! << 8 | p.prefix[5]!);
          assert.ok(!prefixes.includes(0x66) && !prefixes.includes(0x67), `${prefixes}`);
          assert.ok(st["ndp-cache-entries"]! <= 32);
          assert.ok(st["ndp-ns-full"]! > 0, "the solicitation flood did not reach the bound");
          assert.equal(st["ndp-routers"], 4);
          assert.ok(st["ndp-router-full"]! > 0);
          assert.equal(st["ndp-prefixes"], 5, "4 advertised and the configured one");
          assert.equal(
            st["ndp-na-no-entry"]! >= 200,
            true,
            "unsolicited advertisements created entries",
          );
          assert.equal(st["ndp-slaac-formed"] ?? 0, 0, "SLAAC is off by default");
          // Both directions still work.
          assert.ok(
            await ping6From(stack, kernel, 3) >= 0,
            "no echo reply from the kernel after the floods",
          );
          const p = await ns.run(["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", "fd00:7b::2"]);
          assert.equal(p.code, 0, `ping -6: ${p.stdout}${p.stderr}`);
        } finally {
          await stack.close();
        }
      },
    );
  },
}); // deno-fmt-ignore-line

const SCAPY_PTB = String.raw`
import sys, time
from scapy.all import Ether, conf, sendp
from scapy.layers.inet6 import IPv6, ICMPv6PacketTooBig, ICMPv6DestUnreach, UDP
conf.verb = 0
iface, ours, ourmac, kernel = sys.argv[1:5]
mac = open("/sys/class/net/%s/address" % iface).read().strip()
base = Ether(dst=ourmac, src=mac) / IPv6(src=kernel, dst=ours, hlim=64)
def quote(src, dst):
    return IPv6(src=src, dst=dst) / UDP(sport=5353, dport=9) / (b"q" * 1300)
sendp([
    base / ICMPv6PacketTooBig(mtu=1400) / bytes(quote(ours, "fd00:7c::9"))[:1232],
    base / ICMPv6PacketTooBig(mtu=1000) / bytes(quote(ours, "fd00:7c::8"))[:1232],
    base / ICMPv6PacketTooBig(mtu=1300) / bytes(quote("fd00:7c::77", "fd00:7c::7"))[:1232],
    base / ICMPv6DestUnreach(code=1) / bytes(quote(ours, "fd00:7c::6"))[:1232],
], iface=iface)
time.sleep(0.3)
print("done")
`;

Deno.test({
  name:
    "ipv6 ndp hostile: Packet Too Big lowers the path MTU, never below 1280, only about our datagrams",
  ignore: tapIgnore(),
  sanitizeResources: false,
  async fn() {
    if (!requireTapOrSkip()) return;
    const missing = await scapyMissing();
    if (missing !== null) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(missing);
      console.warn(`skipped: ${missing}`);
      return;
    }
    await withTapNamespace(
      { kernelAddr: "10.7.12.1/24", ipv6: true },
      async ({ ns, link, ifname }) => {
        await must(ns, ["ip", "-6", "addr", "add", "fd00:7c::1/64", "dev", ifname, "nodad"]);
        const stack = await createStack({ link, address: ["10.7.12.2/24", "fd00:7c::2/64"] });
        try {
          await ip6Ready(stack, 2);
          const host = stack.driver.iface.ip6Host;
          const reports: string[] = [];
          host.onError6 = (r) => reports.push(`${r.kind} ${r.mtu} ${r.srcPort}>${r.dstPort}`);
          const r = await ns.run([
            PYTHON,
            "-c",
            SCAPY_PTB,
            ifname,
            "fd00:7c::2",
            stack.mac,
            "fd00:7c::1",
          ]);
          assert.equal(r.code, 0, `scapy failed: ${r.stderr}`);
          await new Promise((res) => setTimeout(res, 200));
          const now = stack.driver.now();
          const mtu = (a: string) => host.pathMtu6(parseIpv6(a)!, now);
          assert.equal(mtu("fd00:7c::9"), 1400);
          assert.equal(mtu("fd00:7c::8"), 1500, "a Packet Too Big below 1280 is ignored");
          assert.equal(mtu("fd00:7c::7"), 1500, "not about a datagram of ours");
          assert.deepEqual(reports, ["too-big 1400 5353>9", "unreachable 0 5353>9"]);
          const st = stack.stats();
          assert.equal(st["icmp6-too-big-ignored"], 1);
          assert.equal(st["icmp6-error-invalid"], 1);
          assert.equal(st["ip6-pmtu-entries"], 1);
        } finally {
          await stack.close();
        }
      },
    );
  },
}); // deno-fmt-ignore-line
