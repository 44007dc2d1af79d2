// createStack's `address` as a list: one IPv4 CIDR and IPv6 ones (dual stack), and the
// TypeErrors for lists it cannot use.

import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack } from "../../mod.ts";
import { parseCidr6 } from "../../src/api/addr.ts";

Deno.test("address list: an IPv4 and an IPv6 CIDR make a dual-stack interface", async () => {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: ["10.9.6.1/24", "fd00:9::1/64"] });
  const b = await createStack({ link: lb, address: "10.9.6.2/24" });
  try {
    assert.equal(a.address, "10.9.6.1");
    // IPv4 still works beside it.
    using l = b.listen({ port: 7 });
    const acc = l.accept();
    const c = await a.connect({ hostname: "10.9.6.2", port: 7 });
    const s = await acc;
    await c.write(new Uint8Array([1, 2, 3]));
    const buf = new Uint8Array(3);
    assert.equal(await s.read(buf), 3);
    c.close();
    s.close();
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("address list: unusable lists and IPv6 CIDRs are TypeErrors", async () => {
  const [la] = createMemoryLinkPair();
  for (
    const address of [
      ["fd00::2/64"], // IPv6 only is not supported yet
      ["10.0.0.1/24", "10.0.0.2/24"],
      ["10.0.0.1/24", "fd00::2/129"],
      ["10.0.0.1/24", "fd00::2"],
      ["10.0.0.1/24", "ff02::1/64"],
      ["10.0.0.1/24", "::1/128"],
      ["10.0.0.1/24", "fd00::g/64"],
    ]
  ) {
    await assert.rejects(() => createStack({ link: la, address }), TypeError, address.join(" "));
  }
  assert.equal(parseCidr6("fe80::1/64").prefixLength, 64);
});
