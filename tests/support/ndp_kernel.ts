/**
 * Helpers of the IPv6 neighbor discovery tests against the kernel: waiting for our duplicate
 * address detection and the kernel's, the kernel's link-local address and MAC, and an echo
 * request from our stack (Icmp6Host.ping6) with its reply.
 *
 * @module
 */

import type { createStack } from "../../mod.ts";
import type { Netns } from "../../tools/netns.ts";

type Stack = Awaited<ReturnType<typeof createStack>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait (at most `limitMs`) until `n` of our addresses passed DAD; throws otherwise. */
export async function ip6Ready(stack: Stack, n: number, limitMs = 5000): Promise<void> {
  const t0 = performance.now();
  while ((stack.stats()["ndp-dad-completed"] ?? 0) < n) {
    if (performance.now() - t0 > limitMs) {
      throw new Error(`only ${stack.stats()["ndp-dad-completed"] ?? 0} addresses passed DAD`);
    }
    await sleep(50);
  }
}

/** Run `cmd` in `ns`; throws with its output when it fails. */
export async function must(ns: Netns, cmd: string[]): Promise<string> {
  const r = await ns.run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The kernel's link-local address on `ifname` once it left DAD (without the zone). */
export async function kernelLinkLocal(ns: Netns, ifname: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const r = await ns.run(["ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "link"]);
    const m = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(r.stdout);
    if (m && !r.stdout.includes("tentative")) return m[1]!;
    await sleep(100);
  }
  throw new Error("the kernel's link-local address stayed tentative");
}

/** The MAC of the kernel's side of the TAP device. */
export async function kernelMac(ns: Netns, ifname: string): Promise<string> {
  const r = await ns.run(["cat", `/sys/class/net/${ifname}/address`]);
  return r.stdout.trim();
}

/**
 * Echo requests from our stack to `dst` (one per 300 ms, at most `tries`); resolves with the
 * round trip in ms of the first reply, or -1.
 */
export async function ping6From(stack: Stack, dst: Uint8Array, tries: number): Promise<number> {
  const host = stack.driver.iface.ip6Host;
  let got = -1;
  const sentAt = new Map<number, number>();
  const prev = host.onEchoReply6;
  host.onEchoReply6 = (from, ident, seq) => {
    if (ident === 0x6e64 && from.every((b, i) => b === dst[i]) && got < 0) {
      got = performance.now() - (sentAt.get(seq) ?? 0);
    }
  };
  try {
    for (let seq = 1; seq <= tries && got < 0; seq++) {
      sentAt.set(seq, performance.now());
      host.ping6(dst, 0x6e64, seq, new Uint8Array(32).fill(seq), stack.driver.now());
      for (let i = 0; i < 30 && got < 0; i++) await sleep(10);
    }
    for (let i = 0; i < 100 && got < 0; i++) await sleep(10);
    return got;
  } finally {
    host.onEchoReply6 = prev;
  }
}
