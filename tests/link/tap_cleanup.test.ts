/**
 * `openTap({ netns, create: true })` creates the namespace when it is missing and deletes it
 * again however the program ends without closing the link: an uncaught error, an unhandled
 * rejection, `Deno.exit()`, the program's end, SIGHUP (SIGINT and SIGTERM: tap_setup). Before,
 * all of these left the namespace behind (`ip netns add` pins it past the process). A program
 * that handles its errors itself (`preventDefault` in an "error" listener) keeps it. Bad
 * namespace names are refused with a specific error before anything is created.
 */
import assert from "node:assert/strict";
import { openTap } from "../../mod.ts";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";

const ignore = tapIgnore();
const MOD = new URL("../../mod.ts", import.meta.url).href;

function exists(ns: string): boolean {
  try {
    Deno.statSync(`/var/run/netns/${ns}`);
    return true;
  } catch {
    return false;
  }
}

/** Run `tail` after a stack on a TAP device in a namespace the link creates: exit code, and
 * whether the namespace was left behind. */
async function runProgram(
  ns: string,
  tail: string,
  signal?: Deno.Signal,
  before = "",
): Promise<{ code: number; left: boolean }> {
  const program = `import { createStack, openTap } from "${MOD}";
${before}
const link = openTap({ name: "tap0", netns: "${ns}", create: true, peer: "10.7.0.1/24" });
${tail === "NO_STACK" ? "" : `const stack = await createStack({ link, address: "10.7.0.2/24" });`}
console.log("ready", link.fd >= 0);
${tail === "NO_STACK" ? "" : tail}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", program],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  try {
    const first = await Promise.race([
      reader.read(),
      new Promise<null>((r) => setTimeout(() => r(null), 15000)),
    ]);
    assert.ok(first && !first.done, "the program did not start");
    if (signal) {
      assert.ok(exists(ns), "the namespace exists while the program runs");
      child.kill(signal);
    }
    const killer = setTimeout(() => child.kill("SIGKILL"), 15000);
    const status = await child.status;
    clearTimeout(killer);
    return { code: status.code, left: exists(ns) };
  } finally {
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await new Deno.Command("ip", { args: ["netns", "delete", ns], stderr: "null" }).output();
  }
}

Deno.test({
  name: "tap cleanup: a namespace openTap created goes when the program crashes, exits or ends",
  ignore,
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const cases: [string, string, number, Deno.Signal?][] = [
      ["uncaught error", `setTimeout(() => { throw new Error("boom"); }, 10);`, 1],
      ["unhandled rejection", `Promise.reject(new Error("boom"));`, 1],
      ["Deno.exit", `Deno.exit(3);`, 3],
      // No stack (nothing keeps the event loop alive): the program ends, the link open.
      ["end without close", `NO_STACK`, 0],
      ["SIGHUP", `await new Promise((r) => setTimeout(r, 20000));`, 129, "SIGHUP"],
    ];
    for (const [what, tail, code, signal] of cases) {
      const ns = `dtcp-${Deno.pid}-end${crypto.getRandomValues(new Uint32Array(1))[0]}`;
      const status = await runProgram(ns, tail, signal);
      assert.equal(status.code, code, `${what}: exit status`);
      assert.ok(!status.left, `${what}: the namespace is gone`);
    }
  },
});

Deno.test({
  name: "tap cleanup: a program that handles its uncaught errors keeps its namespace",
  ignore,
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const ns = `dtcp-${Deno.pid}-kept${crypto.getRandomValues(new Uint32Array(1))[0]}`;
    const status = await runProgram(
      ns,
      `setTimeout(() => { throw new Error("handled"); }, 10);
await new Promise((r) => setTimeout(r, 200));
if (!Deno.statSync("/var/run/netns/${ns}").isFile) Deno.exit(5);
await stack.close();
try { Deno.statSync("/var/run/netns/${ns}"); Deno.exit(6); } catch { /* gone on close */ }`,
      undefined,
      `addEventListener("error", (e) => e.preventDefault());`,
    );
    assert.equal(status.code, 0, "alive after the handled error, namespace kept, gone on close");
  },
});

Deno.test("tap cleanup: namespace names too long or not names are refused up front", () => {
  assert.throws(
    () => openTap({ name: "tap0", netns: "n".repeat(300), create: true }),
    { name: "RangeError", message: /300 bytes, the limit is 255/ },
  );
  assert.throws(
    () => openTap({ name: "tap0", netns: "n".repeat(300) }),
    { name: "RangeError", message: /300 bytes, the limit is 255/ },
  );
  assert.throws(() => openTap({ name: "tap0", netns: "../x", create: true }), TypeError);
});

Deno.test({
  name:
    "tap cleanup: values the kernel refuses after openTap made the namespace: error, no namespace",
  ignore,
  fn: () => {
    if (!requireTapOrSkip()) return;
    const cases: [string, Parameters<typeof openTap>[0], string, RegExp][] = [
      ["MTU above a TAP's 65521", { name: "tap0", mtu: 65535 }, "RangeError", /MTU range/],
      ["a multicast peer", { name: "tap0", peer: "224.0.0.1/24" }, "TypeError", /unicast/],
    ];
    for (const [what, options, name, message] of cases) {
      const ns = `dtcp-${Deno.pid}-bad${crypto.getRandomValues(new Uint32Array(1))[0]}`;
      try {
        assert.throws(() => openTap({ ...options, netns: ns, create: true }), { name, message });
        assert.ok(!exists(ns), `${what}: the namespace openTap made is gone`);
      } finally {
        if (exists(ns)) {
          new Deno.Command("ip", { args: ["netns", "delete", ns], stderr: "null" }).outputSync();
        }
      }
    }
  },
});
