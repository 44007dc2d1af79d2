/**
 * The conformance bench as a test: every case of tests/conformance/ against the Linux kernel
 * and against our stack, each in its own network namespace (tools/conformance.ts is the same
 * run as a task). Fails when a case neither agrees with Linux nor matches a documented
 * difference, so every case stays a regression test.
 *
 * Needs root, /dev/net/tun, python3-scapy and ethtool: skips with the reason elsewhere, fails
 * when TCPIP_REQUIRE_TAP=1.
 */

import assert from "node:assert/strict";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { runConformance } from "./run.ts";

/** Why the bench's own tools are missing, or null. */
function benchTools(): string | null {
  const py = new Deno.Command("/usr/bin/python3", {
    args: ["-c", "import scapy"],
    stdout: "null",
    stderr: "null",
  });
  try {
    if (!py.outputSync().success) return "python3-scapy is not installed (deno task setup)";
  } catch {
    return "/usr/bin/python3 is missing";
  }
  for (const p of ["/usr/sbin/ethtool", "/sbin/ethtool", "/usr/bin/ethtool"]) {
    try {
      Deno.statSync(p);
      return null;
    } catch { /* next */ }
  }
  return "ethtool is not installed (deno task setup)";
}

Deno.test({
  name: "conformance: every case agrees with Linux or differs for a documented reason",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const missing = benchTools();
    if (missing !== null) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(missing);
      console.warn(`skipped: ${missing}`);
      return;
    }
    const lines: string[] = [];
    const { outcomes, summary, failures } = await runConformance({
      writeDoc: false,
      log: (l) => lines.push(l),
    });
    console.log(lines.join("\n"));
    console.log(summary);
    assert.ok(outcomes.length >= 80, `only ${outcomes.length} cases`);
    assert.equal(failures, 0, lines.filter((l) => l.startsWith("FAIL")).join("\n"));
  },
});
