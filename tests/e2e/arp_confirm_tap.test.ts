/**
 * Neighbour confirmation by TCP forward progress against the Linux kernel over TAP (RFC 1122
 * 2.3.2.1): inside a network namespace the test creates (and deletes), our stack, with an ARP
 * entry lifetime of 2 s and a 1-s DELAY before probing, sends to a python3 server for 6 s in
 * paced writes. tcpdump on the kernel's side of the TAP records the ARP: our stack sends no ARP
 * request during the transfer (the kernel's ACKs keep the entry REACHABLE), nor for a write
 * after an idle 2.3 s (the entry aged; the ACK confirms it during DELAY); but a UDP datagram
 * once the entry aged again, which no transport confirms, draws a unicast probe 1 s later.
 * Needs root, /dev/net/tun, tcpdump and tshark.
 */

import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { connectRetry } from "../support/kernel_peer.ts";
import { startCapture } from "../support/interop_env.ts";

const KERNEL = "10.91.0.1", OURS = "10.91.0.2", PORT = 5091;
const TTL_MS = 2000, DELAY_MS = 1000;

const SERVER = String.raw`
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(30)
print("ready", flush=True)
c, _ = s.accept()
c.settimeout(30)
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    n += len(b)
print(n, flush=True)
`;

interface ArpRow {
  at: number;
  op: number;
  sender: string;
  target: string;
  ethDst: string;
}

async function arpRows(file: string): Promise<ArpRow[]> {
  const r = await new Deno.Command("tshark", {
    args: [
      "-r",
      file,
      "-Y",
      "arp",
      "-T",
      "fields",
      "-e",
      "frame.time_epoch",
      "-e",
      "arp.opcode",
      "-e",
      "arp.src.proto_ipv4",
      "-e",
      "arp.dst.proto_ipv4",
      "-e",
      "eth.dst",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stdout);
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  return text.trim().split("\n").filter((l) => l !== "").map((l) => {
    const [at, op, sender, target, ethDst] = l.split("\t");
    return {
      at: Number(at) * 1000,
      op: Number(op),
      sender: sender!,
      target: target!,
      ethDst: ethDst!,
    };
  });
}

Deno.test({
  name: "arp confirm tap: a 6-s transfer with 2-s ARP entries sends no ARP; idle, UDP probes",
  ignore: tapIgnore(),
  sanitizeResources: false, // the TAP fd is closed by withTapNamespace after the test body
  async fn() {
    if (!requireTapOrSkip()) return;
    await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link, ifname }) => {
      const file = await Deno.makeTempFile({ suffix: ".pcap" });
      const cap = await startCapture(ns, ifname, file);
      const stack = await createStack({
        link,
        address: `${OURS}/24`,
        limits: { arpEntryTtlMs: TTL_MS, arpDelayFirstProbeMs: DELAY_MS },
      });
      const server = ns.spawn(["python3", "-c", SERVER, KERNEL, String(PORT)], {
        stdout: "piped",
        stderr: "piped",
      });
      try {
        const conn = await connectRetry(stack, KERNEL, PORT);
        const chunk = new Uint8Array(16384).fill(0x5a);
        let sent = 0;
        const t0 = Date.now();
        // Paced writes (one every 50 ms) for three entry lifetimes: ACKs of new data flow all
        // along, and each confirms the entry (at most every TTL/4 per connection).
        while (Date.now() - t0 < 3 * TTL_MS) {
          await conn.write(chunk);
          sent += chunk.length;
          await new Promise((r) => setTimeout(r, 50));
        }
        // Idle past the lifetime (but not past twice it, when an unused entry is removed), then
        // a write: the entry is stale, waits in DELAY, and the kernel's ACK confirms it.
        await new Promise((r) => setTimeout(r, 1.3 * TTL_MS));
        await conn.write(chunk);
        sent += chunk.length;
        await new Promise((r) => setTimeout(r, DELAY_MS + 300));
        const t1 = Date.now();
        // Idle until the entry aged again, then a UDP datagram (to the discard port): no
        // progress confirms the entry, so its DELAY ends in a unicast probe.
        await new Promise((r) => setTimeout(r, 1.15 * TTL_MS - DELAY_MS - 300));
        const t2 = Date.now();
        const udp = stack.listenDatagram({ port: 0 });
        await udp.send(new Uint8Array(8), { transport: "udp", hostname: KERNEL, port: 9 });
        await new Promise((r) => setTimeout(r, DELAY_MS + 700));
        udp.close();
        await conn.closeWrite();
        const out = await server.output();
        const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
        assert.equal(Number(lines.at(-1)), sent, new TextDecoder().decode(out.stderr));
        conn.close();
        const stats = stack.stats();
        await cap.stop();
        const ours = (await arpRows(file)).filter((r) =>
          r.op === 1 && r.sender === OURS && r.target !== OURS // not our gratuitous announcement
        );
        const during = ours.filter((r) => r.at > t0 + 20 && r.at <= t1);
        assert.deepEqual(during, [], `ARP requests during the transfer: ${JSON.stringify(ours)}`);
        assert.ok(stats["arp-confirmed"]! > 0, "TCP progress confirmed the entry");
        const after = ours.filter((r) => r.at > t1);
        assert.ok(after.length >= 1, `no probe for the UDP datagram: ${JSON.stringify(ours)}`);
        assert.equal(after[0]!.target, KERNEL);
        assert.notEqual(after[0]!.ethDst, "ff:ff:ff:ff:ff:ff", "a unicast probe of the entry");
        // Nothing between the confirmed write and the datagram: the probe is the datagram's
        // (its DELAY counts from the interface's last clock reading, so it may end early).
        assert.ok(after[0]!.at >= t2 - 20, `a probe before the datagram: ${JSON.stringify(ours)}`);
      } finally {
        try {
          server.kill("SIGKILL");
        } catch { /* already gone */ }
        await server.status;
        await stack.close();
        await cap.stop().catch(() => "");
        await Deno.remove(file).catch(() => {});
      }
    });
  },
});
