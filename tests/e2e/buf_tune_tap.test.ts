/**
 * Receive-buffer auto-tuning over TAP and TUN (src/tcp/buf_tune.ts, the network rule): a python3 sender
 * on the kernel's TCP writing 64 KiB blocks as fast as it can, our stack with DEFAULT options
 * reading promptly. The kernel sender is held back by our 256 KiB window (it reports
 * rwnd_limited), so the round trips our receiver measures include the queue the window fills
 * and what the reader drains per round trip keeps exceeding the last measure: the receive
 * buffer must grow from its initial 256 KiB past 1 MiB, and the window we advertise with it,
 * within the maximum and the stack's budget. Asserts on the connection's state and the stack's counters,
 * not on timing.
 *
 * Needs root and /dev/net/tun: skips with the reason elsewhere, fails when TCPIP_REQUIRE_TAP=1.
 */
import assert from "node:assert/strict";
import { createStack, type NetStack, openTun } from "../../mod.ts";
import { TCP_DEFAULTS } from "../../src/tcp/types.ts";
import {
  createNetns,
  type Netns,
  requireTapOrSkip,
  tapIgnore,
  withTapNamespace,
} from "../../tools/netns.ts";

const KERNEL = "10.7.0.1";
const OURS = "10.7.0.2";
const TOTAL = 128 * 1048576;

const PY_SEND = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
b = bytes(65536)
for _ in range(int(sys.argv[3]) // 65536):
    s.sendall(b)
s.close()
`;

/** Take TOTAL bytes from a python3 sender in `ns` on our port 5001; check the growth. */
async function bulkReceive(ns: Netns, stack: NetStack): Promise<void> {
  assert.equal(stack.driver.tcp.options.sameThreadPeer, false, "TAP and TUN are networks");
  const listener = stack.listen({ port: 5001 });
  const child = ns.spawn(["python3", "-c", PY_SEND, OURS, "5001", String(TOTAL)], {
    stdout: "null",
    stderr: "piped",
  });
  const conn = await listener.accept();
  listener.close();
  const initial = conn.info().rcvBuf;
  assert.equal(initial, TCP_DEFAULTS.rcvBuf);
  const buf = new Uint8Array(262144);
  let got = 0;
  let maxWnd = 0;
  const deadline = performance.now() + 60000;
  while (got < TOTAL && performance.now() < deadline) {
    const n = await conn.read(buf);
    if (n === null) break;
    got += n;
    maxWnd = Math.max(maxWnd, conn.info().rcvWnd);
  }
  const info = conn.info();
  const growth = stack.stats()["tcp-buffer-growth-bytes"]!;
  conn.close();
  const out = await child.output();
  assert.ok(out.success, `python sender failed: ${new TextDecoder().decode(out.stderr)}`);
  assert.equal(got, TOTAL, "every byte arrived");
  // Grown well past the initial size (the strict rule, which the memory link keeps, stops near
  // 555 KiB over TAP; this rule measured 3-6 MiB), never past the maximum; the peer was offered
  // it.
  assert.ok(info.rcvBuf > 4 * initial, `receive buffer only ${info.rcvBuf}`);
  assert.ok(info.rcvBuf <= TCP_DEFAULTS.rcvBufMax, `receive buffer ${info.rcvBuf}`);
  assert.ok(maxWnd > 4 * initial, `largest window advertised ${maxWnd}`);
  assert.ok(growth >= info.rcvBuf - initial, `budget holds ${growth}`);
  assert.ok(growth <= TCP_DEFAULTS.bufferBudget);
}

Deno.test({
  name: "auto-tuning over TAP: a python3 sender's 64 KiB writes grow our window past 1 MiB",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link }) => {
      const stack = await createStack({ link, address: `${OURS}/24` });
      try {
        await bulkReceive(ns, stack);
      } finally {
        await stack.close();
      }
    });
  },
});

Deno.test({
  name: "auto-tuning over TUN: the same sender grows our window past 1 MiB",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const ns = await createNetns();
    try {
      const link = openTun({ name: "tun0", netns: ns.name, create: true, peer: `${KERNEL}/24` });
      const stack = await createStack({ link, address: `${OURS}/24` });
      try {
        await bulkReceive(ns, stack);
      } finally {
        await stack.close();
        await link.wait(0);
      }
    } finally {
      await ns.delete();
    }
  },
});
