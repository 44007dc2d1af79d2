// createStack and IPv6 duplicate address detection over a memory link: with IPv6 CIDRs in
// `address`, the stack resolves once its addresses passed DAD (RFC 4862 5.4); two stacks that
// claim the same address: the second one sees the first one's advertisement and marks it
// duplicate (the word "slaac" in its list is accepted beside the CIDRs).

import assert from "node:assert/strict";
import { createMemoryLinkPair, createStack } from "../../mod.ts";
import { parseIpv6 } from "../../src/wire/ipv6_address.ts";

Deno.test("ndp address: createStack resolves after DAD; a second claimant marks the address duplicate", async () => {
  const [la, lb] = createMemoryLinkPair();
  const t0 = performance.now();
  const a = await createStack({ link: la, address: ["10.9.7.1/24", "fd00:97::1/64"] });
  try {
    assert.ok(performance.now() - t0 >= 900, "returned before DAD's RetransTimer");
    const nd = a.driver.iface.ip6Host.nd;
    assert.ok(nd.isOurs(parseIpv6("fd00:97::1")!, 0));
    assert.equal(a.stats()["ndp-dad-completed"], 2);
    // b claims the same address: a answers b's DAD solicitation, b marks it duplicate. (What a
    // sent before b existed is dropped first: a's own DAD solicitation would tell b as well.)
    const buf = new Uint8Array(1 << 20);
    while (lb.receive(buf, new Int32Array(128), 64) > 0);
    const b = await createStack({ link: lb, address: ["10.9.7.2/24", "fd00:97::1/64", "slaac"] });
    try {
      const sb = b.stats();
      assert.equal(sb["ndp-dad-duplicates"], 1);
      assert.equal(b.driver.iface.ip6Host.nd.isOurs(parseIpv6("fd00:97::1")!, 0), false);
      assert.equal(a.stats()["ndp-advertisements"], 1);
      assert.equal(a.stats()["ndp-dad-duplicates"], 0);
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
  }
}); // deno-fmt-ignore-line
