/**
 * A TAP or TUN device deleted under a running stack (`ip link del`, or its namespace going
 * away): the read fails with EBADFD. Before, that `BadResource` was thrown from the driver's
 * timer or wait callback, an uncaught error that ended the process. Now the stack closes
 * itself: a pending read and later calls reject with `BadResource` naming the device, a
 * listener's loop ends as Deno's does when its listener closes, `connect` is refused, and
 * `close()` still resolves. (This test process surviving is part of the assertion: an uncaught
 * error fails the run.)
 */
import assert from "node:assert/strict";
import { createStack, openTap, openTun } from "../../mod.ts";
import { createNetns, requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";

async function removedUnderUs(kind: "tap" | "tun"): Promise<void> {
  if (!requireTapOrSkip()) return;
  const ns = await createNetns();
  try {
    const open = kind === "tap" ? openTap : openTun;
    const link = open({ name: `${kind}0`, netns: ns.name, create: true, peer: "10.7.0.1/24" });
    const stack = await createStack({ link, address: "10.7.0.2/24" });
    const listener = stack.listen({ port: 9000 });
    const accepted = listener.accept();
    const py = ns.spawn([
      "python3",
      "-c",
      "import socket, time\n" +
      "s = socket.create_connection(('10.7.0.2', 9000), timeout=5)\n" +
      "time.sleep(20)\n",
    ]);
    try {
      const conn = await accepted;
      const loop = (async () => {
        let more = 0;
        for await (const c of listener) {
          more++;
          c.close();
        }
        return more;
      })();
      const read = conn.read(new Uint8Array(100)).then(() => null, (e: Error) => e);
      const del = await ns.run(["ip", "link", "del", `${kind}0`]);
      assert.equal(del.code, 0, del.stderr);
      const e = await read;
      assert.ok(e instanceof Deno.errors.BadResource, `the pending read: ${e}`);
      assert.match(e.message, new RegExp(`${kind.toUpperCase()} device ${kind}0`));
      assert.match(stack.driver.linkError?.message ?? "", /EBADFD/);
      assert.equal(await loop, 0, "the accept loop ended");
      await assert.rejects(
        stack.connect({ hostname: "10.7.0.1", port: 22 }),
        Deno.errors.BadResource,
      );
      await assert.rejects(conn.write(new Uint8Array(10)), Deno.errors.BadResource);
      conn.close();
      await stack.close();
    } finally {
      py.kill("SIGKILL");
      await py.status;
      await stack.close();
    }
  } finally {
    await ns.delete();
  }
}

Deno.test({
  name: "link removed: a TAP device deleted under the stack closes the stack, no uncaught error",
  ignore: tapIgnore(),
  fn: () => removedUnderUs("tap"),
});

Deno.test({
  name: "link removed: the same for a TUN device",
  ignore: tapIgnore(),
  fn: () => removedUnderUs("tun"),
});
