/**
 * IPv6 options of the gateway without a namespace: IPv6 CIDRs of the allow list (parsing,
 * matching), `--enable-ipv6` on the command line, the addresses and the allow list a gateway
 * with `ipv6` reports, and the router advertisement it sends (validated field by field, with
 * its checksum).
 */
import assert from "node:assert/strict";
import { createGateway, createMemoryLinkPair, parseForward } from "../../mod.ts";
import {
  formatHost,
  formatPrefix6,
  inPrefixes6,
  parseHostPort,
  parsePrefix6,
} from "../../src/gateway/config.ts";
import {
  buildRouterAdvert,
  DAD_POLL_MS,
  type LinkLocalState,
  MIN_DELAY_BETWEEN_RAS_MS,
  ROUTER_LIFETIME_S,
  RouterAdvertiser,
} from "../../src/gateway/ra.ts";
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

/** Collect what an advertiser sends; `state` is what its DAD probe reads. */
function advertiserUnderTest(state: { ll: LinkLocalState }) {
  const frames: Uint8Array[] = [];
  const ra = new RouterAdvertiser(
    {
      mac: Uint8Array.from([0x52, 0x55, 0x0a, 0, 2, 2]),
      linkLocal: ip6("fe80::5055:aff:fe00:202"),
      prefix: ip6("fd00::"),
      mtu: 1500,
    },
    (f) => frames.push(f),
    () => state.ll,
  );
  return { ra, frames };
}

const lifetimeOf = (f: Uint8Array) => new DataView(f.buffer).getUint16(54 + 6);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("router advertiser: silent while our link-local address is tentative (RFC 4862 5.4), final RA with lifetime 0 (RFC 4861 6.2.5)", async () => {
  const state: { ll: LinkLocalState } = { ll: "tentative" };
  const { ra, frames } = advertiserUnderTest(state);
  ra.solicited(); // a solicitation before DAD passed: not answered on its own
  await sleep(4 * DAD_POLL_MS);
  assert.equal(frames.length, 0, "nothing while DAD runs");
  assert.equal(ra.advertising, false);
  state.ll = "usable";
  for (let i = 0; i < 40 && frames.length === 0; i++) await sleep(DAD_POLL_MS);
  assert.equal(frames.length, 1, "the first advertisement once DAD passed");
  assert.equal(lifetimeOf(frames[0]!), ROUTER_LIFETIME_S);
  ra.solicited(); // within MIN_DELAY_BETWEEN_RAS of the last: answered later, not now
  assert.equal(frames.length, 1);
  ra.close();
  assert.equal(frames.length, 2, "the final advertisement goes out at close");
  assert.equal(lifetimeOf(frames[1]!), 0, "router lifetime 0");
  const f = frames[1]!;
  let sum = 58 + (f.length - 54);
  for (let i = 22; i < f.length; i += 2) sum += (f[i]! << 8) | (f[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  assert.equal(sum, 0xffff, "checksum of the final advertisement");
  ra.close();
  await sleep(MIN_DELAY_BETWEEN_RAS_MS + 200); // the deferred answer was cancelled
  assert.equal(frames.length, 2, "nothing after close");
});

Deno.test("router advertiser: a duplicate link-local address (RFC 4862 5.4.5) never advertises", async () => {
  const state: { ll: LinkLocalState } = { ll: "tentative" };
  const { ra, frames } = advertiserUnderTest(state);
  state.ll = "duplicate";
  await sleep(4 * DAD_POLL_MS);
  assert.equal(ra.duplicate, true);
  ra.solicited();
  ra.close();
  assert.equal(frames.length, 0, "not even a final advertisement");
  assert.throws(
    () =>
      buildRouterAdvert({
        mac: new Uint8Array(6),
        linkLocal: ip6("fe80::1"),
        prefix: ip6("fd00::"),
        mtu: 1500,
      }, 9001),
    RangeError,
  );
});

Deno.test("gateway config: DNS upstreams over IPv6 and port forwards with IPv6 addresses", async () => {
  assert.deepEqual(parseHostPort("::1", 53), { ip: ip6("::1"), port: 53 });
  assert.deepEqual(parseHostPort("[::1]:5353", 53), { ip: ip6("::1"), port: 5353 });
  assert.deepEqual(parseHostPort("[fd00::7]", 53), { ip: ip6("fd00::7"), port: 53 });
  assert.equal(formatHost(parseHostPort("127.0.0.1:5300", 53).ip), "127.0.0.1");
  assert.throws(() => parseHostPort("[::1", 53), TypeError);
  assert.throws(() => parseHostPort("[::1]x", 53), TypeError);
  assert.throws(() => parseHostPort("[::1]:99999", 53), RangeError);
  assert.throws(() => parseHostPort("[::1]:", 53), RangeError);
  assert.throws(() => parseHostPort("::zz", 53), TypeError);

  assert.deepEqual(parseForward("tcp:[::1]:8080:80"), {
    proto: "tcp",
    hostAddress: "::1",
    hostPort: 8080,
    guestPort: 80,
  });
  assert.deepEqual(parseForward("tcp:[::1]:8080:[fd00::100]:80"), {
    proto: "tcp",
    hostAddress: "::1",
    hostPort: 8080,
    guestAddress: "fd00::100",
    guestPort: 80,
  });
  assert.deepEqual(parseForward("tcp:127.0.0.1:8080:[::]:80").guestAddress, "::");
  assert.deepEqual(parseForward("tcp:[0:0::1]:1:2").hostAddress, "::1");
  for (
    const bad of ["tcp:[::1:8080:80", "tcp:[::1]8080:80", "tcp:[1.2.3.4]:1:2", "tcp:[::g]:1:2"]
  ) {
    assert.throws(() => parseForward(bad), TypeError, bad);
  }
  const cli = parseGatewayArgs([
    "-6",
    "--forward",
    "tcp:[::1]:8080:80",
    "--dns=::1",
    "--allow=::1/128",
    "1",
    "tap0",
  ])!;
  assert.equal(cli.options.forwards![0]!.hostAddress, "::1");
  assert.deepEqual(cli.options.dns, ["::1"]);

  // An IPv6 DNS upstream must be allowed; without ipv6 its /128 may be (and nothing else).
  const [a1, b1] = createMemoryLinkPair();
  await assert.rejects(
    () => createGateway({ link: a1, dns: ["::1"] }),
    (e) => e instanceof TypeError && /outside the allow list: add --allow ::1\/128/.test(e.message),
  );
  a1.close();
  b1.close();
  const [a2, b2] = createMemoryLinkPair();
  const gw = await createGateway({ link: a2, dns: ["[::1]:5353"], allow: ["::1/128"] });
  b2.close();
  assert.deepEqual(gw.allow, ["::1/128"]);
  // Forwarding over IPv6 needs ipv6.
  assert.throws(
    () => gw.forward({ hostAddress: "::1", hostPort: 0, guestPort: 80 }),
    (e) => e instanceof TypeError && /without ipv6/.test(e.message),
  );
  assert.throws(
    () => gw.forward({ hostPort: 0, guestAddress: "fd00::5", guestPort: 80 }),
    TypeError,
  );
  await gw.close();
  const [a3, b3] = createMemoryLinkPair();
  await assert.rejects(
    () => createGateway({ link: a3, dns: ["::1"], allow: ["::1/128", "2001:db8::/32"] }),
    (e) => e instanceof TypeError && /2001:db8::\/32 without ipv6/.test(e.message),
  );
  a3.close();
  b3.close();
});
