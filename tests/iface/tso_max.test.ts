/**
 * Interface.tsoMax: the largest IPv4 datagram a TCP segment may be sent in when the link takes
 * large segments (TSO, src/tcp/tso.ts), and 0 wherever segments must stay within the MTU.
 */
import assert from "node:assert/strict";
import { Interface } from "../../src/iface/interface.ts";
import { createJsEngine } from "../../src/kernels/js_engine.ts";

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
  assert.equal(i.tsoMax(2 ** 32 + 5, 0), 0, "an IPv6 peer (address handle) gets no TSO");
});
