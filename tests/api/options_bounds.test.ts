/**
 * Buffer options a user can get wrong are refused by `createStack` with a RangeError naming
 * the option, not later by the engine at the first `connect` (before, `tcp.rcvBuf: 2 ** 31`
 * passed `createStack` and every connect threw the engine's "Buffer capacity" error).
 */
import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack } from "../../mod.ts";

Deno.test("options: buffer sizes over 1 GiB or not whole bytes are refused by createStack", async () => {
  for (
    const tcp of [
      { rcvBuf: 2 ** 31 },
      { sndBuf: 1000.5 },
      { rcvBufMax: 2 ** 30 + 1 },
      { sndBufMax: 2 ** 32 },
    ]
  ) {
    const [a, b] = createMemoryLinkPair();
    const key = Object.keys(tcp)[0]!;
    await assert.rejects(
      () => createStack({ link: a, address: "10.9.0.1/24", tcp }),
      (e: Error) => e instanceof RangeError && e.message.includes(key),
      JSON.stringify(tcp),
    );
    a.close();
    b.close();
  }
  // The largest accepted: 1 GiB, connects.
  const [a, b] = createMemoryLinkPair();
  const s1 = await createStack({ link: a, address: "10.9.0.1/24", tcp: { rcvBufMax: 2 ** 30 } });
  const s2 = await createStack({ link: b, address: "10.9.0.2/24" });
  const listener = s2.listen({ port: 7 });
  const accepted = listener.accept();
  const conn = await s1.connect({ hostname: "10.9.0.2", port: 7 });
  (await accepted).close();
  conn.close();
  listener.close();
  await s1.close();
  await s2.close();
});
