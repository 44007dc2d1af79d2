/**
 * SLAAC from a real router: `radvd` runs in the namespace advertising fd00:79::/64 (on-link,
 * autonomous), an MTU of 1400 and itself as default router. A stack created with
 * `address: ["10.7.9.2/24", "slaac"]` solicits, forms fd00:79::EUI-64 (RFC 4862 5.5.3), runs
 * DAD on it, and then the kernel pings it; the stack's default route goes to radvd's link-local
 * address and its IPv6 path MTU is the advertised 1400. Needs root, /dev/net/tun and radvd
 * (`deno task setup`).
 */

import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { kernelLinkLocal, must } from "../support/ndp_kernel.ts";

const RADVD = "/usr/sbin/radvd";

function radvdMissing(): string | null {
  try {
    Deno.statSync(RADVD);
    return null;
  } catch {
    return "radvd is not installed (deno task setup)";
  }
}

/** fd00:79:: + the modified EUI-64 of `mac` ("52:54:00:12:34:56"). */
function slaacAddress(prefix: string, mac: string): string {
  const b = mac.split(":").map((x) => parseInt(x, 16));
  const a = parseIpv6(prefix)!;
  a.set([b[0]! ^ 2, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!], 8);
  return formatIpv6(a);
}

Deno.test({
  name:
    "ipv6 ndp slaac: radvd's prefix forms our address, the kernel pings it; RA MTU and default route",
  ignore: tapIgnore(),
  sanitizeResources: false,
  async fn() {
    if (!requireTapOrSkip()) return;
    const missing = radvdMissing();
    if (missing !== null) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(missing);
      console.warn(`skipped: ${missing}`);
      return;
    }
    const dir = await Deno.makeTempDir({ prefix: "ndp_radvd_" });
    try {
      await withTapNamespace(
        { kernelAddr: "10.7.9.1/24", ipv6: true },
        async ({ ns, link, ifname }) => {
          // radvd wants a router: forwarding on in this namespace only.
          await must(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
          await must(ns, ["ip", "-6", "addr", "add", "fd00:79::1/64", "dev", ifname, "nodad"]);
          const kll = await kernelLinkLocal(ns, ifname);
          const conf = `${dir}/radvd.conf`;
          await Deno.writeTextFile(
            conf,
            `interface ${ifname} {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 4;
  AdvLinkMTU 1400;
  AdvDefaultLifetime 600;
  prefix fd00:79::/64 {
    AdvOnLink on;
    AdvAutonomous on;
    AdvValidLifetime 3600;
    AdvPreferredLifetime 1800;
  };
};
`,
          );
          const radvd = ns.spawn([
            RADVD,
            "-n",
            "-C",
            conf,
            "-p",
            `${dir}/radvd.pid`,
            "-m",
            "stderr",
          ], { stderr: "piped" });
          const stack = await createStack({ link, address: ["10.7.9.2/24", "slaac"] });
          try {
            const ours = slaacAddress("fd00:79::", stack.mac);
            const nd = stack.driver.iface.ip6Host.nd;
            // Formed from the advertisement, then DAD (1 s): usable within a few seconds.
            const t0 = performance.now();
            while (!nd.isOurs(parseIpv6(ours)!, 0) && performance.now() - t0 < 15000) {
              await new Promise((r) => setTimeout(r, 100));
            }
            const st = stack.stats();
            assert.ok(
              nd.isOurs(parseIpv6(ours)!, 0),
              `no SLAAC address ${ours}: ${JSON.stringify(st)}`,
            );
            assert.equal(st["ndp-slaac-formed"], 1);
            // (radvd's first unsolicited advertisement may come before our solicitation is due.)
            assert.ok(st["ndp-router-advertisements"]! >= 1);
            // The kernel reaches it.
            const p = await ns.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", ours]);
            assert.equal(p.code, 0, `ping -6 ${ours}: ${p.stdout}${p.stderr}`);
            assert.match(p.stdout, /3 received/);
            // Default route through radvd's host, the advertised MTU, the on-link prefix.
            const off = nd.route6(parseIpv6("2001:db8::1")!);
            assert.ok(off !== null, "no default route from the advertisement");
            assert.equal(formatIpv6(off.nextHop), kll);
            assert.equal(formatIpv6(off.source), ours);
            assert.equal(nd.pathMtu6(parseIpv6("2001:db8::1")!, stack.driver.now()), 1400);
            const on = nd.route6(parseIpv6("fd00:79::1")!)!;
            assert.equal(formatIpv6(on.nextHop), "fd00:79::1");
            assert.equal(st["ndp-ra-mtu"]! >= 1, true);
          } finally {
            await stack.close();
            try {
              radvd.kill("SIGTERM");
            } catch { /* gone */ }
            const out = await radvd.output();
            if (Deno.env.get("NDP_DEBUG")) console.log(new TextDecoder().decode(out.stderr));
          }
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
}); // deno-fmt-ignore-line
