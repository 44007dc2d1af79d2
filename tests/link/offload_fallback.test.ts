/**
 * The transparent offload fallback under load, for TAP and TUN: a libc whose TUNSETOFFLOAD
 * fails (as on a kernel without TAP offloads) makes openTap/openTun reopen the device without
 * the virtio-net header. The kernel side then really has no TSO on the device (ethtool), and
 * python3 `sendall` of 64 KiB blocks both ways moves 4 MiB each way byte-exact in MTU-sized
 * frames. (tap_setup covers the refusal itself with a small request.)
 */
import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { openDevice } from "../../src/link/tap/tap.ts";
import { createNetns, requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { offloadRefusingLibc } from "../support/refusing_libc.ts";
import { pattern } from "../support/interop_env.ts";
import { exchange, pyResult, sha } from "../support/kernel_peer.ts";
import { have, PY_BLOCKS } from "../support/qa_env.ts";

const OURS = "10.7.0.2";

async function fallbackBulk(kind: "tap" | "tun"): Promise<void> {
  if (!requireTapOrSkip()) return;
  const { libc: refusing, refused } = offloadRefusingLibc();
  const ns = await createNetns();
  try {
    const link = openDevice(kind, {
      name: `${kind}0`,
      netns: ns.name,
      create: true,
      peer: "10.7.0.1/24",
    }, refusing);
    try {
      assert.equal(refused(), 1, "offloads were asked for by default");
      assert.equal(link.offload, false);
      assert.match(link.offloadRefused ?? "", /TUNSETOFFLOAD/);
      if (await have("ethtool")) {
        const k = await ns.run(["ethtool", "-k", `${kind}0`]);
        assert.match(k.stdout, /tcp-segmentation-offload: off/, "the kernel side has no TSO");
      }
      const stack = await createStack({ link, address: `${OURS}/24` });
      try {
        const n = 4 << 20;
        const ours = pattern(n, 41);
        const listener = stack.listen({ port: 9000 });
        try {
          const accepted = listener.accept();
          const child = ns.spawn(
            ["python3", "-c", PY_BLOCKS, "connect", OURS, "9000", String(n), "65536", "3"],
            { stdout: "piped", stderr: "piped" },
          );
          const result = pyResult(child);
          const conn = await Promise.race([
            accepted,
            result.then((r) => Promise.reject(new Error(`python did not connect: ${r}`))),
          ]);
          const [got, [sentSha, recvSha, recvLen]] = await Promise.all([
            exchange(conn, ours),
            result,
          ]);
          conn.close();
          assert.equal(got.recvLen, n);
          assert.equal(got.recvSha, sentSha, "python's data arrived unchanged");
          assert.equal(Number(recvLen), n);
          assert.equal(recvSha, sha(ours), "our data arrived unchanged");
        } finally {
          listener.close();
        }
      } finally {
        await stack.close();
      }
      assert.equal(link.stats.rxGsoFrames, 0);
      assert.equal(link.stats.txGsoFrames, 0);
      assert.ok(link.stats.rxLargestFrame <= 1514, `largest frame ${link.stats.rxLargestFrame}`);
      assert.equal(link.stats.txErrors, 0);
    } finally {
      link.close();
      await link.wait(0);
    }
  } finally {
    await ns.delete();
  }
}

Deno.test({
  name: "offload fallback: TAP refused offloads, python3 64 KiB sendall 4 MiB each way exact",
  ignore: tapIgnore(),
  fn: () => fallbackBulk("tap"),
});

Deno.test({
  name: "offload fallback: TUN refused offloads, python3 64 KiB sendall 4 MiB each way exact",
  ignore: tapIgnore(),
  fn: () => fallbackBulk("tun"),
});
