/**
 * Interface.tsoMax: the largest IP datagram a TCP segment may be sent in when the link takes
 * large segments (TSO, src/tcp/tso.ts), and 0 wherever segments must stay within the MTU.
 */
import assert from "node:assert/strict";
import { Interface } from "../../src/iface/interface.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";
import { parseIpv6 } from "../../src/wire/ipv6_address.ts";

function iface(maxSendFrame?: number): Interface {
  return new Interface(createJsEngine(), { send: () => {} }, {
    address: 0x0a000002,
    prefixLength: 24,
    mtu: 1500,
    random: () => 0.5,
    ...(maxSendFrame === undefined ? {} : { maxSendFrame }),
  });
}

Deno.test("tsoMax: 64 KiB toward an IPv4 peer when the link takes large sends, else 0", () => {
  assert.equal(iface().tsoMax(0x0a000001, 0), 0, "no maxSendFrame: MTU-sized segments");
  assert.equal(iface(1514).tsoMax(0x0a000001, 0), 0, "maxSendFrame within the MTU");
  const i = iface(14 + 65535);
  assert.equal(i.tsoMax(0x0a000001, 0), 65535);
  assert.equal(i.tsoMax(0x0a000002, 0), 0, "our own address loops back in MTU-sized frames");
  assert.equal(i.tsoMax(0x7f000001, 0), 0, "127/8 loops back");
  assert.equal(i.tsoMax(0x08080808, 0), 0, "no route (no gateway)");
});

Deno.test("tsoMax: an IPv6 peer on the link gets 64 KiB too; ::1 and our own address do not", () => {
  const i = new Interface(createJsEngine(), { send: () => {} }, {
    address: 0x0a000002,
    prefixLength: 24,
    mtu: 1500,
    random: () => 0.5,
    maxSendFrame: 14 + 65535,
    ipv6: [{ address: parseIpv6("fd00::2")!, prefixLength: 64 }],
  });
  let now = 0;
  i.start(now);
  for (let k = 0; k < 4; k++) i.poll(now += 500); // duplicate address detection passed
  assert.equal(i.tsoMax(i.ipv6Handle(parseIpv6("fd00::1")!), now), 65535);
  assert.equal(i.tsoMax(i.ipv6Handle(parseIpv6("::1")!), now), 0, "::1 loops back");
  assert.equal(i.tsoMax(i.ipv6Handle(parseIpv6("fd00::2")!), now), 0, "our own address");
});
