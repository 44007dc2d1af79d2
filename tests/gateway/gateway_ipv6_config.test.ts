/**
 * IPv6 options of the gateway without a namespace: IPv6 CIDRs of the allow list (parsing,
 * matching), `--enable-ipv6` on the command line, the addresses and the allow list a gateway
 * with `ipv6` reports, and the router advertisement it sends (validated field by field, with
 * its checksum).
 */
import assert from "node:assert/strict";
import { createGateway, createMemoryLinkPair } from "../../mod.ts";
import { formatPrefix6, inPrefixes6, parsePrefix6 } from "../../src/gateway/config.ts";
import { buildRouterAdvert } from "../../src/gateway/ra.ts";
import { parseIpv6 } from "../../src/wire/ipv6_address.ts";
import { parseGatewayArgs } from "../../tools/gateway.ts";

const ip6 = (s: string) => parseIpv6(s)!;

Deno.test("gateway config: IPv6 prefixes parse, mask their host bits and match", () => {
  assert.equal(formatPrefix6(parsePrefix6("2001:db8::1/32")), "2001:db8::/32");
  assert.equal(formatPrefix6(parsePrefix6("::/0")), "::/0");
  assert.equal(formatPrefix6(parsePrefix6("2001:db8::1")), "2001:db8::1/128");
  assert.equal(formatPrefix6(parsePrefix6("2001:db8:ffff::/33")), "2001:db8:8000::/33");
  const list = [parsePrefix6("2001:db8::/32")];
  assert(inPrefixes6(list, ip6("2001:db8:1::5")));
  assert(!inPrefixes6(list, ip6("2001:db9::5")));
  assert(inPrefixes6([parsePrefix6("::/0")], ip6("2606:4700::1111")));
  assert(!inPrefixes6([], ip6("2001:db8::1")));
  assert.throws(() => parsePrefix6("2001:db8::/129"), RangeError);
  assert.throws(() => parsePrefix6("2001:db8::/x"), RangeError);
  assert.throws(() => parsePrefix6("2001:zz::/32"), TypeError);
});

Deno.test("gateway CLI: --enable-ipv6 / -6 and IPv6 CIDRs in --allow", () => {
  const a = parseGatewayArgs(["--enable-ipv6", "--allow", "::/0", "1234", "tap0"])!;
  assert.equal(a.options.ipv6, true);
  assert.deepEqual(a.options.allow, ["::/0"]);
  assert.equal(parseGatewayArgs(["-6", "1234", "tap0"])!.options.ipv6, true);
  assert.equal(parseGatewayArgs(["1234", "tap0"])!.options.ipv6, false);
});

Deno.test("gateway: ipv6 reports fd00::2 / fd00::3 and its IPv6 allow list", async () => {
  const [gl, ul] = createMemoryLinkPair();
  await using gw = await createGateway({
    link: gl,
    ipv6: true,
    allow: ["10.1.0.0/16", "2001:db8::1/32"],
  });
  ul.close();
  assert.equal(gw.address6, "fd00::2");
  assert.equal(gw.dnsAddress6, "fd00::3");
  assert.deepEqual(gw.allow, ["10.1.0.0/16", "2001:db8::/32"]);
  assert(gw.stats()["gateway-ra-sent"]! >= 1, "an advertisement at start");
  const [gl6, ul6] = createMemoryLinkPair();
  await assert.rejects(
    () => createGateway({ link: gl6, allow: ["::/0"] }),
    (e) => e instanceof TypeError && /without ipv6/.test(e.message),
  );
  gl6.close();
  ul6.close();
  const [gl4, ul4] = createMemoryLinkPair();
  await using v4 = await createGateway({ link: gl4 });
  ul4.close();
  assert.equal(v4.address6, null);
  assert.equal(v4.stats()["gateway-ra-sent"], undefined);
});

Deno.test("router advertisement: RFC 4861 4.2 fields, options and ICMPv6 checksum", () => {
  const mac = Uint8Array.from([0x52, 0x55, 0x0a, 0, 2, 2]);
  const f = buildRouterAdvert({
    mac,
    linkLocal: ip6("fe80::5055:aff:fe00:202"),
    prefix: ip6("fd00::"),
    mtu: 1500,
  });
  const v = new DataView(f.buffer);
  assert.deepEqual([...f.subarray(0, 6)], [0x33, 0x33, 0, 0, 0, 1]);
  assert.equal(v.getUint16(12), 0x86dd);
  assert.equal(f[14 + 6], 58);
  assert.equal(f[14 + 7], 255, "hop limit 255 (RFC 4861 6.1.2)");
  const o = 54;
  assert.equal(f[o], 134);
  assert.equal(v.getUint16(o + 6), 1800, "router lifetime");
  assert.deepEqual([...f.subarray(o + 16, o + 24)], [1, 1, ...mac]);
  assert.deepEqual([f[o + 24], f[o + 25], v.getUint32(o + 28)], [5, 1, 1500]);
  const p = o + 32;
  assert.deepEqual([f[p], f[p + 1], f[p + 2], f[p + 3]], [3, 4, 64, 0xc0], "L and A set");
  assert.deepEqual([...f.subarray(p + 16, p + 32)], [...ip6("fd00::")]);
  // The one's complement sum over the pseudo-header and the message is 0xffff.
  let sum = 58 + (f.length - o);
  for (let i = 22; i < f.length; i += 2) sum += (f[i]! << 8) | (f[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  assert.equal(sum, 0xffff);
});
