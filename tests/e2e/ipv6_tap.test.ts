/**
 * IPv6 against the Linux kernel through a TAP device in a namespace with IPv6 on: the kernel
 * resolves our link-local and our global address (neighbor solicitation, our advertisement),
 * `ping -6` of small and 1452-byte data (a full 1500-byte IPv6 packet) to both is answered,
 * the kernel's neighbour table holds our MAC for both, and tshark finds no malformed frame or bad ICMPv6 checksum in the
 * capture. The kernel's own IPv6 chatter (DAD, router solicitations, MLD) reaches us too.
 */

import assert from "node:assert/strict";
import type { EngineKind } from "../../src/kernels/engine.ts";
import { RX_OFF, RX_SIZE } from "../../src/wire/layout.ts";
import { Interface } from "../../src/iface/interface.ts";
import { parseIpv4 } from "../../src/iface/routing.ts";
import type { Link } from "../../src/link/link.ts";
import { withPcap } from "../../src/link/pcap.ts";
import { formatIpv6, parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { makeEngine } from "../support/iface_harness.ts";
import { rng } from "../support/rng.ts";

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
  if (!done) throw new Error(`The kernel's command did not finish within ${limitMs} ms`);
  return await settled;
}

for (const kind of ["js", "wasm"] as EngineKind[]) {
  Deno.test({
    name: `ipv6 tap (${kind}): the kernel's ping -6 reaches our link-local and global addresses`,
    ignore: tapIgnore(),
    fn: async () => {
      if (!requireTapOrSkip()) return;
      const capture = await Deno.makeTempFile({ prefix: "ipv6_tap_", suffix: ".pcap" });
      try {
        await withTapNamespace(
          { kernelAddr: "10.7.6.1/24", ipv6: true },
          async ({ ns, link: tap, ifname }) => {
            const link = withPcap(tap, capture);
            const engine = makeEngine(kind);
            const iface = new Interface(engine, link, {
              address: parseIpv4("10.7.6.2"),
              prefixLength: 24,
              mtu: link.mtu,
              random: rng(11),
              ipv6: [{ address: parseIpv6("fd00:7:6::2")!, prefixLength: 64 }],
            });
            // Duplicate address detection (RFC 4862 5.4) runs from start; drive() polls it.
            iface.start(Math.floor(performance.now()));
            const add = await ns.run([
              "ip",
              "-6",
              "addr",
              "add",
              "fd00:7:6::1/64",
              "dev",
              ifname,
              "nodad",
            ]);
            assert.equal(add.code, 0, add.stderr);
            const run = (cmd: string[], ms = 10000) => drive(link, iface, engine, ns.run(cmd), ms);
            const ours = `${formatIpv6(iface.linkLocal)}%${ifname}`;
            // The kernel's link-local address leaves DAD (tentative) before it can send.
            const wait = await run([
              "sh",
              "-c",
              `for i in $(seq 100); do ip -6 addr show dev ${ifname} tentative | grep -q inet6 || exit 0; sleep 0.1; done; exit 1`,
            ]);
            assert.equal(wait.code, 0, "the kernel's link-local address stayed tentative");

            const p1 = await run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", ours]);
            assert.equal(p1.code, 0, `ping -6 failed: ${p1.stdout}${p1.stderr}`);
            assert.match(p1.stdout, /3 received/);
            const p2 = await run([
              "ping",
              "-6",
              "-c",
              "2",
              "-i",
              "0.2",
              "-W",
              "2",
              "-M",
              "do",
              "-s",
              "1452",
              ours,
            ]);
            assert.equal(p2.code, 0, `ping -6 -s 1452 failed: ${p2.stdout}${p2.stderr}`);
            assert.match(p2.stdout, /1460 bytes from/); // 1452 data + 8 header
            // Our global address (configured, resolved the same way), small and 1452 bytes.
            for (const size of ["56", "1452"]) {
              const g = await run([
                "ping",
                "-6",
                "-c",
                "2",
                "-i",
                "0.2",
                "-W",
                "2",
                "-M",
                "do",
                "-s",
                size,
                "fd00:7:6::2",
              ]);
              assert.equal(
                g.code,
                0,
                `ping -6 fd00:7:6::2 -s ${size} failed: ${g.stdout}${g.stderr}`,
              );
              assert.match(g.stdout, /2 received/);
            }
            // No IPv6 listener can exist yet: curl -6 is refused at once (port unreachable).
            const t0 = performance.now();
            const curl = await run(["curl", "-6", "-sS", "-m", "5", "http://[fd00:7:6::2]:80/"]);
            assert.equal(curl.code, 7, `curl: ${curl.stderr}`);
            assert.ok(performance.now() - t0 < 4000, "curl was not refused at once");
            const neigh = await ns.run(["ip", "-6", "neigh", "show", "dev", ifname]);
            const mac = Array.from(iface.mac, (b) => b.toString(16).padStart(2, "0")).join(":");
            assert.match(neigh.stdout, new RegExp(`${formatIpv6(iface.linkLocal)} lladdr ${mac}`));
            const st = iface.stats();
            assert.ok((st["ndp-advertisements"] ?? 0) >= 1, JSON.stringify(st));
            assert.ok((st["icmp6-echo-replies"] ?? 0) >= 9, JSON.stringify(st));
            assert.match(neigh.stdout, new RegExp(`fd00:7:6::2 lladdr ${mac}`));
          },
        );
        const out = await new Deno.Command("tshark", {
          args: [
            "-r",
            capture,
            "-n",
            "-Y",
            "_ws.malformed || icmpv6.checksum.status == 0 || _ws.expert.severity >= 8388608",
            "-T",
            "fields",
            "-e",
            "frame.number",
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        assert.equal(new TextDecoder().decode(out.stdout).trim(), "", "tshark found problems");
      } finally {
        await Deno.remove(capture).catch(() => {});
      }
    },
  });
}
