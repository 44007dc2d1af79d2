/**
 * The handshake ACK against the Linux kernel over TAP (a namespace the test creates and
 * deletes), with the stack's default options: once the stack has seen its application write
 * at once (its first connection sends the ACK alone), a client that writes its request at
 * once sends it with the handshake's ACK on it and no pure ACK (one frame fewer; the kernel
 * completes the handshake and queues the request in one go, RFC 9293 3.10.7.3), and the
 * kernel answers;
 * a client that only reads (the server speaks first: its accept() waits for our ACK) sends
 * the ACK alone at once and gets the banner.
 *
 * Needs root and /dev/net/tun: skips with the reason elsewhere, fails when TCPIP_REQUIRE_TAP=1.
 */
import assert from "node:assert/strict";
import {
  type Conn,
  createStack,
  type NetStack,
  type TraceEvent,
  type TraceSegmentEvent,
} from "../../mod.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { connectRetry } from "../support/kernel_peer.ts";

const KERNEL = "10.7.16.1";
const OURS = "10.7.16.2";
const F_ACK = 16, F_SYN = 2;
const ignore = tapIgnore();

/**
 * Kernel servers: on argv host:port, each connection gets back what it sent prefixed with
 * "echo:" (the client speaks first); on port + 1, a banner at once (the server speaks first),
 * once; then "done". 10 s timeouts.
 */
const PY_SERVER = `
import socket, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
def listener(p):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, p)); ls.listen(8); ls.settimeout(10); return ls
echo, banner = listener(port), listener(port + 1)
def serve_echo():
    while True:
        s, _ = echo.accept(); s.settimeout(10)
        s.sendall(b"echo:" + s.recv(100)); s.close()
threading.Thread(target=serve_echo, daemon=True).start()
print("ready", flush=True)
s, _ = banner.accept(); s.settimeout(10)
s.sendall(b"220 ready\\r\\n"); s.close()
print("done", flush=True)
`;

async function readToEnd(conn: Conn): Promise<string> {
  const buf = new Uint8Array(256);
  let text = "";
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text;
}

/** The segments of one connection of the trace `evs` after its SYN-ACK (out and in). */
function afterSynAck(evs: TraceEvent[], local: string): TraceSegmentEvent[] {
  const segs = evs.filter((e): e is TraceSegmentEvent => e.type === "segment" && e.local === local);
  const i = segs.findIndex((s) => s.dir === "in" && s.flags === (F_SYN | F_ACK));
  assert.ok(i >= 0, `no SYN-ACK for ${local}`);
  return segs.slice(i);
}

Deno.test({
  name: "kernel handshake ACK: the request carries it; a reading client sends it alone at once",
  ignore,
  async fn() {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link }) => {
      const stack: NetStack = await createStack({ link, address: `${OURS}/24` });
      const peer = ns.spawn(["python3", "-c", PY_SERVER, KERNEL, "7316"], {
        stdout: "piped",
        stderr: "piped",
      });
      const trace = stack.trace();
      try {
        // The client speaks first: the request goes right after connect resolves. Until the
        // stack has seen its application write at once (a cold first turn on a loaded machine
        // may take longer than "at once"), then one more.
        const get = async (): Promise<Conn> => {
          const c = await connectRetry(stack, KERNEL, 7316);
          await c.write(new TextEncoder().encode("GET"));
          assert.equal(await readToEnd(c), "echo:GET");
          c.close();
          return c;
        };
        const first = await get();
        for (let i = 0; i < 10 && !stack.stats()["tcp-ack-alone-avoidable"]; i++) await get();
        assert.equal(stack.stats()["tcp-ack-alone-avoidable"], 1);
        const a = await get();
        // The server speaks first: this client only reads.
        const b = await stack.connect({ hostname: KERNEL, port: 7317 });
        assert.equal(await readToEnd(b), "220 ready\r\n");
        b.close();
        trace.close();
        const evs: TraceEvent[] = [];
        for await (const ev of trace) evs.push(ev);

        const f = afterSynAck(evs, `${OURS}:${first.localAddr.port}`).filter((s) =>
          s.dir === "out"
        );
        assert.deepEqual([f[0]!.flags, f[0]!.len], [F_ACK, 0]); // the first: the ACK alone
        const la = `${OURS}:${a.localAddr.port}`;
        const sa = afterSynAck(evs, la);
        const outA = sa.filter((s) => s.dir === "out");
        assert.equal(outA[0]!.len, 3, JSON.stringify(outA.map((s) => [s.flags, s.len])));
        assert.equal(outA[0]!.flags & F_ACK, F_ACK);
        assert.equal(outA[0]!.ack, (sa[0]!.seq + 1) >>> 0);
        assert.ok(!outA.some((s) => s.flags === F_ACK && s.len === 0 && s.ack === outA[0]!.ack));

        const sb = afterSynAck(evs, `${OURS}:${b.localAddr.port}`);
        const outB = sb.filter((s) => s.dir === "out");
        assert.equal(outB[0]!.flags, F_ACK);
        assert.equal(outB[0]!.len, 0);
        const waited = outB[0]!.time - sb[0]!.time;
        console.log(`  reading client: ACK ${waited.toFixed(3)} ms after the SYN-ACK`);
        assert.ok(waited < 100, `ACK ${waited} ms after the SYN-ACK`);
        const st = stack.stats();
        assert.equal(st["tcp-ack-alone-avoidable"], 1);
        assert.equal(st["tcp-ack-hold-carried"], 1);
        const out = await peer.output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        assert.match(new TextDecoder().decode(out.stdout), /done/);
      } finally {
        try {
          peer.kill();
        } catch { /* exited */ }
        await stack.close();
      }
    });
  },
});
