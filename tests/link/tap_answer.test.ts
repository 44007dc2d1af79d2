/**
 * `expectsAnswer` (src/link/tap/answer.ts): which frames we send start busy polling after a
 * send. TCP with data or SYN and UDP do; pure ACK, FIN, RST, ICMP, ARP and frames too short
 * for their headers do not. IPv4 frames come from the shared builders; IPv6 ones are laid out
 * here (only the fields read matter).
 */
import assert from "node:assert/strict";
import { expectsAnswer } from "../../src/link/tap/answer.ts";
import { arpFrame, icmpFrame, ip4, tcpFrame, udpFrame } from "../support/wire_frames.ts";

const e = {};
const ip = { src: ip4("10.0.2.2"), dst: ip4("10.0.2.100") };
const ACK = 0x10, SYN = 0x02, FIN = 0x01, RST = 0x04, PSH = 0x08;
const TS = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]; // NOP NOP timestamps: a 32-byte header

function tcp(flags: number, payload = new Uint8Array(0), options = TS): Uint8Array {
  return tcpFrame(
    e,
    ip,
    { srcPort: 80, dstPort: 40000, seq: 1, ack: 1, flags, wnd: 512, options },
    payload,
  );
}

/** Ethernet + IPv6 + TCP (32-byte header) with `n` bytes of payload. */
function tcp6(flags: number, n: number): Uint8Array {
  const f = new Uint8Array(14 + 40 + 32 + n);
  f[12] = 0x86, f[13] = 0xdd, f[14] = 0x60;
  f[18] = (32 + n) >> 8, f[19] = (32 + n) & 0xff, f[20] = 6;
  f[54 + 12] = 8 << 4, f[54 + 13] = flags;
  return f;
}

const whole = (f: Uint8Array) => expectsAnswer(f, 0, f.length);

Deno.test("expectsAnswer: TCP with data or SYN, and UDP, expect an answer", () => {
  assert.equal(whole(tcp(ACK | PSH, new Uint8Array([120]))), true, "1 byte of data");
  assert.equal(whole(tcp(SYN | ACK)), true, "SYN-ACK");
  assert.equal(whole(tcp(SYN, new Uint8Array(0), [])), true, "SYN without options");
  assert.equal(whole(tcp(FIN | ACK, new Uint8Array(5))), true, "data with FIN");
  assert.equal(whole(udpFrame(e, ip, 53, 40000, new Uint8Array(30))), true, "UDP");
  assert.equal(whole(tcp6(ACK, 1)), true, "IPv6 data");
  assert.equal(whole(tcp6(SYN | ACK, 0)), true, "IPv6 SYN-ACK");
});

Deno.test("expectsAnswer: pure ACK, FIN, RST, ICMP, ARP and truncated frames do not", () => {
  assert.equal(whole(tcp(ACK)), false, "pure ACK");
  assert.equal(whole(tcp(ACK, new Uint8Array(0), [])), false, "pure ACK without options");
  assert.equal(whole(tcp(FIN | ACK)), false, "FIN");
  assert.equal(whole(tcp(RST | ACK)), false, "RST");
  assert.equal(whole(icmpFrame(e, ip, 0, 0, 0, new Uint8Array(56))), false, "echo reply");
  assert.equal(
    whole(arpFrame(e, 2, [2, 0, 0, 0, 0, 1], ip.src, [2, 0, 0, 0, 0, 2], ip.dst)),
    false,
  );
  assert.equal(whole(tcp6(ACK, 0)), false, "IPv6 pure ACK");
  assert.equal(whole(tcp6(FIN | ACK, 0)), false, "IPv6 FIN");
  // Cut short: no headers to read, no answer expected (and no read past the frame).
  const data = tcp(ACK | PSH, new Uint8Array([1]));
  assert.equal(expectsAnswer(data, 0, 30), false);
  assert.equal(expectsAnswer(data, 0, 14 + 20 + 10), false);
  assert.equal(expectsAnswer(tcp6(ACK, 1), 0, 50), false);
  // At an offset inside a larger buffer, as the driver passes frames.
  const buf = new Uint8Array(100 + data.length);
  buf.set(data, 100);
  assert.equal(expectsAnswer(buf, 100, data.length), true);
});
