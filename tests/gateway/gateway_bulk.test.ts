/**
 * Bulk relaying at MTU 65520 (TAP), the case the relay's speed work changed: 64 KiB frames are
 * written whole with their checksum left to the kernel (NEEDS_CSUM, src/link/tap/gso.ts
 * partialChecksumFrame), and reads toward the guest come in whole segments (relay.ts). Bytes
 * must still arrive SHA-256 exact both ways, with the half-close passed on. Traffic goes only to
 * services this test starts on the host's 127.0.0.1.
 */
import assert from "node:assert/strict";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { blobSource, pattern, py, sha, shaSink, withGateway } from "./gateway_env.ts";

const MiB = 1 << 20;

Deno.test({
  name: "gateway (TAP, MTU 65520): 24 MiB down and 8 MiB up, SHA-256 exact, frames whole",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const blob = pattern(24 * MiB + 4321, 33);
    const sink = shaSink();
    const source = blobSource(blob);
    try {
      await withGateway({}, async ({ ns, gw }) => {
        const [h, n] = await py(ns, ["down", "10.0.2.2", `${source.port}`]);
        assert.equal(Number(n), blob.length);
        assert.equal(h, sha(blob));
        const s = gw.stats();
        // Written whole (no merge, no cut): about one frame per 64 KiB, not per MSS.
        assert(s["tap-tx-frames"]! < blob.length / 16384, `${s["tap-tx-frames"]} frames`);
        assert.equal(s["tap-tx-errors"] ?? 0, 0);
        const [mine, theirs] = await py(ns, ["up", "10.0.2.2", `${sink.port}`, `${8 * MiB + 5}`]);
        assert.equal(theirs, mine, "the host received exactly what the guest sent");
      }, 65520);
    } finally {
      await sink.close();
      await source.close();
    }
  },
});
