/**
 * TSO over a TAP device with offloads: TCP builds segments of several MSS, the TAP link writes
 * each with a GSO header whose `gso_size` is our MSS (gso.ts tsoFrame), and the kernel takes
 * them (it would cut them at `gso_size` when forwarding).
 */

import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { jsChecksum } from "../../src/kernels/js/checksum.ts";
import { tsoFrame } from "../../src/link/tap/gso.ts";
import { completeChecksum, readVnetHeader, VNET_GSO_TCPV4 } from "../../src/link/tap/vnet.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { pattern } from "../support/interop_env.ts";
import { connectRetry, exchange, py, pyResult, sha } from "../support/kernel_peer.ts";
import { ip4, tcpFrame } from "../support/wire_frames.ts";

const KERNEL = "10.7.0.1";
const OURS = "10.7.0.2";
const TS = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2];

function largeSegment(payload: number, flags: number): Uint8Array {
  return tcpFrame({}, { src: ip4(OURS), dst: ip4(KERNEL) }, {
    srcPort: 40000,
    dstPort: 5003,
    seq: 1000,
    ack: 2000,
    flags,
    wnd: 500,
    options: TS,
  }, pattern(payload, 3));
}

Deno.test("tso frame: GSO header with gso_size = MTU less headers, partial checksum completes", () => {
  for (const flags of [0x10, 0x18, 0x19]) { // ACK, ACK+PSH, ACK+PSH+FIN
    const f = largeSegment(20000, flags);
    const at = 14 + 20 + 16;
    const full = (f[at]! << 8) | f[at + 1]!;
    const hdr = new Uint8Array(10);
    assert.equal(tsoFrame(f, 0, f.length, 1500, hdr), true);
    const h = readVnetHeader(hdr, {
      flags: 0,
      gsoType: 0,
      hdrLen: 0,
      gsoSize: 0,
      csumStart: 0,
      csumOffset: 0,
    });
    assert.equal(h.gsoType, VNET_GSO_TCPV4);
    assert.equal(h.hdrLen, 14 + 20 + 32);
    assert.equal(h.gsoSize, 1500 - 20 - 32); // 1448: the MSS with timestamps
    assert.equal(h.csumStart, 34);
    assert.equal(h.csumOffset, 16);
    // What the device (or a receiver) completes is the checksum TCP computed.
    assert.ok(completeChecksum(f, 0, f.length, 34, 16, jsChecksum));
    assert.equal((f[at]! << 8) | f[at + 1]!, full);
  }
  // SYN, RST, URG and non-TCP frames are not TSO segments.
  for (const flags of [0x12, 0x14, 0x30]) {
    const f = largeSegment(3000, flags);
    assert.equal(tsoFrame(f, 0, f.length, 1500, new Uint8Array(10)), false, `flags ${flags}`);
  }
});

Deno.test({
  name: "tap tso: our large segments reach the kernel whole with gso_size = our MSS, SHA-256 equal",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: `${KERNEL}/24`, offload: true }, async ({ ns, link }) => {
      assert.equal(link.maxSendFrame, 65553);
      const stack = await createStack({ link, address: `${OURS}/24` });
      try {
        const n = 8 << 20;
        const data = pattern(n, 21);
        // The kernel reads all we send, then sends its own: while it sends, its socket shows
        // the MSS it measured from our segments (tcp_measure_rcv_mss takes gso_size).
        const peer = py(ns, ["listen", KERNEL, "5003", String(n), "22", "recv-first"]);
        const conn = await connectRetry(stack, KERNEL, 5003);
        const sent = (async () => {
          for (let off = 0; off < n; off += 65536) {
            await conn.write(data.subarray(off, off + 65536));
          }
          await conn.closeWrite();
        })();
        const buf = new Uint8Array(65536);
        let got = 0;
        const first = await conn.read(buf);
        got += first ?? 0;
        await sent;
        const ss = await ns.run(["ss", "-tinH", "sport", "= :5003"]);
        const rest = await exchange(conn, new Uint8Array(0), "recv-first");
        conn.close();
        const [, recvSha, recvLen] = await pyResult(peer);
        assert.equal(Number(recvLen), n);
        assert.equal(recvSha, sha(data), "bytes to the kernel differ");
        assert.equal(got + rest.recvLen, n);
        const s = link.stats;
        console.log(
          `  tap: ${s.txFrames} frames out, ${s.txGsoFrames} GSO (${s.txMerged} merged), ` +
            `${s.txBytes} bytes; kernel: ${ss.stdout.match(/rcvmss:\d+/)?.[0]}`,
        );
        assert.equal(s.txErrors, 0);
        assert.ok(s.txGsoFrames > 0, "no large segment written");
        assert.ok(s.txBytes / s.txFrames > 8000, "frames out were not large on average");
        assert.match(ss.stdout, /rcvmss:1448\b/, ss.stdout);
      } finally {
        await stack.close();
      }
    });
  },
});
