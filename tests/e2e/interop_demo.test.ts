/**
 * Smoke test of `deno task tap-demo --slow-reader` against the kernel in its own namespace.
 * Needs root and /dev/net/tun (skips otherwise; fails when TCPIP_REQUIRE_TAP=1).
 */
import assert from "node:assert/strict";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";

Deno.test({
  name: "tap-demo: curl, ping, reverse download and the slow reader all pass",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const plots = await Deno.makeTempDir({ prefix: "dtcp-test-plots-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../tools/tap_demo.ts", import.meta.url).pathname,
          "--slow-reader",
          `--plots=${plots}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
      assert.match(text, /curl: HTTP 200, 1440054 bytes/);
      assert.match(text, /3 received/);
      assert.match(text, /window reached zero: yes/);
      assert.match(text, /Verdict: PASS/);
      // The kernel's SYN options and its scaled window, explained.
      assert.match(
        text,
        /C --> S {2}SYN SEQ=\d+ ACK=- WIN=\d+ <MSS=1460 WS=\d+ \(x\d+\) SACK_PERM/,
      );
      assert.match(text, /C --> S {2}ACK SEQ=\d+ ACK=\d+ WIN=\d+ \(x\d+ = \d+\)/);
      for (const scene of ["scene1-curl", "scene2-download", "scene3-slow-reader"]) {
        assert.match(text, new RegExp(`time-sequence plot: ${plots}/${scene}\\.svg`));
        await Deno.stat(`${plots}/${scene}.svg`);
      }
    } finally {
      await Deno.remove(plots, { recursive: true });
    }
  },
});
