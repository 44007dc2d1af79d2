/**
 * Neighbor Discovery against the Linux kernel through a TAP device in a namespace with IPv6 on,
 * with the stack as a user creates it (`createStack`, default engine and limits):
 *
 * - after duplicate address detection, `ping -6` of our link-local and global addresses is
 *   answered and the kernel's neighbour table holds our MAC for both (REACHABLE, STALE or
 *   DELAY);
 * - our stack resolves the kernel (an echo request from us: a solicitation, the kernel's
 *   advertisement, the reply) and holds the kernel's MAC as REACHABLE;
 * - DAD conflict: the kernel holds our intended address first, so our stack marks it duplicate,
 *   counts it, and never uses it;
 * - NUD (RFC 4861 7.3.3, ndReachableMs 1 s): our entry for the kernel goes STALE, DELAY on use,
 *   and the kernel answers the unicast probe, making it REACHABLE again.
 *
 * tshark checks the capture: no malformed frame and no bad ICMPv6 checksum, every ND message we
 * sent with hop limit 255.
 */

import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { withPcap } from "../../src/link/pcap.ts";
import { ADDR_DUPLICATE } from "../../src/iface/ndp_addresses.ts";
import { ND_STATE_NAMES } from "../../src/iface/neighbor6.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { ip6Ready, kernelLinkLocal, kernelMac, must, ping6From } from "../support/ndp_kernel.ts";

Deno.test({
  name:
    "ipv6 ndp kernel: ping -6 both addresses, neighbour entries both ways, our echo to the kernel",
  ignore: tapIgnore(),
  sanitizeResources: false,
  async fn() {
    if (!requireTapOrSkip()) return;
    const capture = await Deno.makeTempFile({ prefix: "ipv6_ndp_", suffix: ".pcap" });
    try {
      await withTapNamespace(
        { kernelAddr: "10.7.8.1/24", ipv6: true },
        async ({ ns, link: tap, ifname }) => {
          await must(ns, ["ip", "-6", "addr", "add", "fd00:78::1/64", "dev", ifname, "nodad"]);
          const link = withPcap(tap, capture);
          const stack = await createStack({ link, address: ["10.7.8.2/24", "fd00:78::2/64"] });
          try {
            const host = stack.driver.iface.ip6Host;
            await ip6Ready(stack, 2);
            const kll = await kernelLinkLocal(ns, ifname);
            const ll = formatIpv6(stack.driver.iface.linkLocal);
            for (const target of [`${ll}%${ifname}`, "fd00:78::2"]) {
              const p = await ns.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", target]);
              assert.equal(p.code, 0, `ping -6 ${target}: ${p.stdout}${p.stderr}`);
              assert.match(p.stdout, /3 received/);
            }
            const neigh = await must(ns, ["ip", "-6", "neigh", "show", "dev", ifname]);
            for (const a of [ll, "fd00:78::2"]) {
              const re = new RegExp(`^${a} lladdr ${stack.mac} (REACHABLE|STALE|DELAY)`, "m");
              assert.match(neigh, re, `the kernel's entry for ${a}:\n${neigh}`);
            }
            // Our stack resolves the kernel and pings it: fd00:78::3 never spoke to us, so it
            // is solicited and the solicited advertisement makes it REACHABLE; the others were
            // learned from the kernel's solicitations (STALE, RFC 4861 7.2.3), DELAY once used.
            await must(ns, ["ip", "-6", "addr", "add", "fd00:78::3/64", "dev", ifname, "nodad"]);
            const kmac = await kernelMac(ns, ifname);
            for (const dst of ["fd00:78::3", "fd00:78::1", kll]) {
              const rtt = await ping6From(stack, parseIpv6(dst)!, 3);
              assert.ok(rtt >= 0, `no echo reply from ${dst}`);
              const e = host.nd.cache.get(parseIpv6(dst)!)!;
              assert.ok(e, `no neighbor entry for ${dst}`);
              const states = dst === "fd00:78::3" ? ["REACHABLE"] : ["REACHABLE", "STALE", "DELAY"];
              assert.ok(
                states.includes(ND_STATE_NAMES[e.state]!),
                `${dst}: ${ND_STATE_NAMES[e.state]}`,
              );
              assert.equal(macText(e.macHi, e.macLo), kmac);
            }
            const st = stack.stats();
            assert.ok(st["ndp-solicitations-out"]! >= 1, "we solicited fd00:78::3");
            assert.equal(st["ndp-dad-duplicates"], 0);
          } finally {
            await stack.close();
          }
        },
      );
      // tshark: every frame well-formed, ND messages we sent with hop limit 255.
      const r = await new Deno.Command("tshark", {
        args: [
          "-r",
          capture,
          "-Y",
          "ipv6 && (_ws.malformed || icmpv6.checksum.status == 0 || (icmpv6.type >= 133 && icmpv6.type <= 136 && ipv6.hlim != 255))",
          "-T",
          "fields",
          "-e",
          "frame.number",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      assert.equal(new TextDecoder().decode(r.stdout).trim(), "", "bad frames in the capture");
      const all = await new Deno.Command("tshark", {
        args: [
          "-r",
          capture,
          "-Y",
          "icmpv6.type == 135 && ipv6.src == ::",
          "-T",
          "fields",
          "-e",
          "icmpv6.nd.ns.target_address",
        ],
        stdout: "piped",
      }).output();
      const dad = new TextDecoder().decode(all.stdout).trim().split("\n");
      assert.ok(dad.includes("fd00:78::2"), `no DAD solicitation for fd00:78::2 in ${dad}`);
    } finally {
      await Deno.remove(capture).catch(() => {});
    }
  },
}); // deno-fmt-ignore-line

Deno.test({
  name: "ipv6 ndp kernel: DAD conflict - the kernel holds our address first, our stack marks it duplicate",
  ignore: tapIgnore(),
  sanitizeResources: false,
  async fn() {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.10.1/24", ipv6: true }, async ({ ns, link, ifname }) => {
      await must(ns, ["ip", "-6", "addr", "add", "fd00:7a::2/64", "dev", ifname, "nodad"]);
      await must(ns, ["ip", "-6", "addr", "add", "fd00:7a::1/64", "dev", ifname, "nodad"]);
      const stack = await createStack({ link, address: ["10.7.10.2/24", "fd00:7a::2/64"] });
      try {
        await ip6Ready(stack, 1);
        // The kernel's answer to our DAD solicitation arrives within RetransTimer.
        for (let i = 0; i < 30 && (stack.stats()["ndp-dad-duplicates"] ?? 0) < 1; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const st = stack.stats();
        assert.equal(st["ndp-dad-duplicates"], 1);
        assert.equal(st["ndp-dad-duplicate"], 1);
        const nd = stack.driver.iface.ip6Host.nd;
        assert.equal(nd.addrs.find(parseIpv6("fd00:7a::2")!)!.state, ADDR_DUPLICATE);
        assert.equal(nd.isOurs(parseIpv6("fd00:7a::2")!, 0), false);
        // Not used as a source: nothing on the prefix is routable from us.
        assert.equal(nd.route6(parseIpv6("fd00:7a::1")!), null);
        // The link-local address passed and still works.
        const ll = formatIpv6(stack.driver.iface.linkLocal);
        const p = await ns.run(["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", `${ll}%${ifname}`]);
        assert.equal(p.code, 0, `ping -6 ${ll}: ${p.stdout}${p.stderr}`);
      } finally {
        await stack.close();
      }
    });
  },
}); // deno-fmt-ignore-line

Deno.test({
  name: "ipv6 ndp kernel: NUD - a stale entry in use is probed by unicast and the kernel's answer makes it REACHABLE",
  ignore: tapIgnore(),
  sanitizeResources: false,
  async fn() {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: "10.7.13.1/24", ipv6: true }, async ({ ns, link, ifname }) => {
      await must(ns, ["ip", "-6", "addr", "add", "fd00:7d::1/64", "dev", ifname, "nodad"]);
      // BaseReachableTime 1 s (so ReachableTime 0.5..1.5 s): the entry goes STALE quickly.
      const stack = await createStack({
        link,
        address: ["10.7.13.2/24", "fd00:7d::2/64"],
        limits: { ndReachableMs: 1000 },
      });
      try {
        const kernel = parseIpv6("fd00:7d::1")!;
        const nd = stack.driver.iface.ip6Host.nd;
        assert.ok(await ping6From(stack, kernel, 3) >= 0, "no echo reply from the kernel");
        const state = () => ND_STATE_NAMES[nd.cache.get(kernel)!.state]!;
        const until = async (want: string, ms: number) => {
          const t0 = performance.now();
          while (state() !== want && performance.now() - t0 < ms) {
            await new Promise((r) => setTimeout(r, 20));
          }
          return state();
        };
        assert.equal(await until("STALE", 3000), "STALE");
        const before = stack.stats()["ndp-solicitations-out"] ?? 0;
        assert.ok(await ping6From(stack, kernel, 3) >= 0, "no echo reply while STALE");
        assert.equal(state(), "DELAY");
        // DELAY_FIRST_PROBE_TIME (5 s), then a unicast probe the kernel answers (solicited).
        assert.equal(await until("REACHABLE", 8000), "REACHABLE");
        assert.ok((stack.stats()["ndp-solicitations-out"] ?? 0) > before, "no probe was sent");
        assert.equal(stack.stats()["ndp-probe-failed"], 0);
      } finally {
        await stack.close();
      }
    });
  },
}); // deno-fmt-ignore-line

function macText(hi: number, lo: number): string {
  const b = [hi >>> 8, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}
