import assert from "node:assert/strict";
import {
  checkPort,
  formatIpv4,
  formatMac,
  netAddr,
  parseCidr,
  parseIpLiteral,
  parseIpv4,
  parseMac,
} from "../../src/api/addr.ts";
import fc from "fast-check";
import { type LayerErrorCode, mapLayerError, toDenoError } from "../../src/api/errors.ts";
import { IfaceError } from "../../src/iface/errors.ts";
import { TcpError } from "../../src/tcp/types.ts";
import { VirtualClock } from "../../src/stack_clock.ts";

Deno.test("addr: IPv4 parse and format round trip", () => {
  for (const s of ["0.0.0.0", "10.7.0.2", "255.255.255.255", "192.168.1.100"]) {
    assert.equal(formatIpv4(parseIpv4(s)), s);
  }
  assert.equal(parseIpv4("255.255.255.255"), 0xffffffff);
});

Deno.test("addr: bad hostnames are TypeErrors that say what failed", () => {
  for (const s of ["localhost", "10.7.0", "10.7.0.256", "1.2.3.4.5", "a.b.c.d", ""]) {
    assert.throws(
      () => parseIpv4(s),
      (e: unknown) => e instanceof TypeError && e.message.includes(s),
    );
  }
});

Deno.test("addr: CIDR and MAC", () => {
  assert.deepEqual(parseCidr("10.7.0.2/24"), { address: 0x0a070002, prefixLength: 24 });
  assert.throws(() => parseCidr("10.7.0.2"), TypeError);
  assert.throws(() => parseCidr("10.7.0.2/33"), TypeError);
  assert.equal(formatMac(parseMac("02:AB:00:00:00:01")), "02:ab:00:00:00:01");
  assert.throws(() => parseMac("02:00:00:00:00"), TypeError);
});

Deno.test("addr: ports and NetAddr", () => {
  assert.deepEqual(netAddr("tcp", 0x0a070001, 80), {
    transport: "tcp",
    hostname: "10.7.0.1",
    port: 80,
  });
  assert.throws(() => checkPort(0, false), RangeError);
  assert.throws(() => checkPort(65536, true), RangeError);
  assert.equal(checkPort(0, true), 0);
});

Deno.test("errors: layer codes map to Deno classes with the address in the message", () => {
  const cases: Array<[LayerErrorCode, new (...a: never[]) => Error]> = [
    ["refused", Deno.errors.ConnectionRefused],
    ["reset", Deno.errors.ConnectionReset],
    ["timed-out", Deno.errors.TimedOut],
    ["broken-pipe", Deno.errors.BrokenPipe],
    ["addr-in-use", Deno.errors.AddrInUse],
    ["not-connected", Deno.errors.NotConnected],
    ["unreachable", Deno.errors.NetworkUnreachable],
    ["aborted", Deno.errors.ConnectionAborted],
    ["closed", Deno.errors.BadResource],
  ];
  for (const [code, cls] of cases) {
    const e = toDenoError(code, "10.7.0.1:8080");
    assert.ok(e instanceof cls, code);
    assert.match(e.message, /10\.7\.0\.1:8080/);
    assert.doesNotMatch(e.message, /\.$/);
  }
  assert.equal(
    toDenoError("refused", "10.7.0.1:8080").message,
    "Connection refused by 10.7.0.1:8080",
  );
  const coded = new TcpError("reset", "x");
  const mapped = mapLayerError(coded, "1.2.3.4:5");
  assert.ok(mapped instanceof Deno.errors.ConnectionReset);
  assert.equal((mapped as Error).cause, coded);
  const iface = new IfaceError("unreachable", "No route to 10.9.9.9");
  assert.ok(mapLayerError(iface, "10.9.9.9:53") instanceof Deno.errors.NetworkUnreachable);
  // Only the layers' own errors are mapped: a foreign error with a `code` passes through.
  const foreign = Object.assign(new Error("x"), { code: "reset" });
  assert.equal(mapLayerError(foreign, "1.2.3.4:5"), foreign);
});

Deno.test("clock: virtual clock only moves forward", () => {
  const c = new VirtualClock(5);
  c.advance(10);
  c.advanceTo(3);
  assert.equal(c.now(), 15);
  c.advanceTo(20);
  assert.equal(c.now(), 20);
  assert.throws(() => c.advance(-1), RangeError);
});

Deno.test("addr: a dotted-quad literal parses as parseIpv4 does, or fails as it does", () => {
  const octet = fc.oneof(
    fc.integer({ min: 0, max: 999 }).map(String),
    fc.constantFrom("", "00", "0255", "256"),
  );
  fc.assert(
    fc.property(fc.array(octet, { minLength: 1, maxLength: 6 }), (parts) => {
      const text = parts.join(".");
      let want: unknown, got: unknown;
      try {
        want = parts.length === 4 ? parseIpv4(text) : null;
      } catch (e) {
        want = (e as Error).constructor;
      }
      try {
        got = parseIpLiteral(text);
      } catch (e) {
        got = (e as Error).constructor;
      }
      assert.equal(got, want, text);
    }),
  );
  assert.equal(parseIpLiteral("192.168.0.1"), 0xc0a80001);
  assert.equal(parseIpLiteral("010.7.0.1"), 0x0a070001);
  assert.equal(parseIpLiteral("10.7.0"), null);
  assert.equal(parseIpLiteral("10.7.0.1 "), null);
});
