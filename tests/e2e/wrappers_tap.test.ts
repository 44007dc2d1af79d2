/**
 * The wrappers over a real TAP link with default options (offloads on, large segments both
 * ways), as a user stacks them: `withFaults` (1% loss each way) under the stack's `pcap`
 * option. curl uploads (-T) to and downloads from `stack.serve` over IPv4 and IPv6 must arrive
 * byte-exact without stalling: the fault injector cuts the kernel's 64 KiB segments of both
 * families into wire-sized ones (IPv6 ones were dropped as oversize before, and an IPv6
 * upload stalled). `stats()` keeps every counter of every layer (fault-*, pcap-*, tap-*), and
 * the capture is valid for tshark: every frame parses, no checksum is bad.
 */
import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { withFaults } from "../../testing.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { checkCapture, pattern } from "../support/interop_env.ts";
import { sha } from "../support/kernel_peer.ts";
import { have } from "../support/qa_env.ts";

const OURS = "10.7.0.2";
const OURS6 = "fd00::2";
const SIZE = 6 << 20;

Deno.test({
  name: "wrappers: faults + pcap over an offload TAP: curl -T and GET, IPv4 and IPv6, exact",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    if (!(await have("tshark"))) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error("tshark is missing");
      return;
    }
    const dir = await Deno.makeTempDir();
    const pcap = `${dir}/wrapped.pcap`;
    const upload = `${dir}/upload.bin`;
    const data = pattern(SIZE, 31);
    await Deno.writeFile(upload, data);
    try {
      await withTapNamespace(
        { kernelAddr: "10.7.0.1/24", ipv6: true },
        async ({ ns, link }) => {
          assert.equal(link.offload, true, "offloads are on by default");
          // The kernel side's IPv6 address (openTap's peer list does this for a new device).
          await ns.run(["sysctl", "-q", "-w", "net.ipv6.conf.tap0.accept_dad=0"]);
          const add = await ns.run(["ip", "-6", "addr", "add", "fd00::1/64", "dev", "tap0"]);
          assert.equal(add.code, 0, add.stderr);
          const faulty = withFaults(link, {
            seed: 16,
            drop: 0.01,
            direction: "both",
            clock: () => performance.now(),
          });
          const stack = await createStack({
            link: faulty,
            address: [`${OURS}/24`, `${OURS6}/64`],
            pcap,
          });
          const http = stack.serve({ port: 8080, onListen() {} }, async (req) => {
            if (req.method === "PUT") {
              const body = new Uint8Array(await req.arrayBuffer());
              return new Response(`${body.length} ${sha(body)}`);
            }
            return new Response(data.slice());
          });
          try {
            for (let i = 0; i < 100; i++) {
              if (stack.networkInterfaces().some((a) => a.address === OURS6)) break;
              await new Promise((r) => setTimeout(r, 50));
            }
            for (const host of [OURS, `[${OURS6}]`]) {
              const url = `http://${host}:8080/`;
              const put = await ns.run(["curl", "-g", "-sS", "-m", "60", "-T", upload, url]);
              assert.equal(put.stdout, `${SIZE} ${sha(data)}`, `curl -T ${url}: ${put.stderr}`);
              const get = await ns.run(["sh", "-c", `curl -g -sS -m 60 ${url} | sha256sum`]);
              assert.equal(get.stdout.split(" ")[0], sha(data), `curl ${url}: ${get.stderr}`);
            }
          } finally {
            await http.shutdown();
          }
          const st = stack.stats();
          await stack.close();
          for (const key of ["fault-frames", "fault-dropped", "fault-segmented", "pcap-records"]) {
            assert.ok((st[key] ?? 0) > 0, `${key} in stats(): ${st[key]}`);
          }
          assert.equal(st["fault-oversize"], 0, "no large frame dropped uncut");
          assert.ok((st["tap-rx-gso-frames"] ?? 0) > 0, "the kernel sent large segments");
          // Corking reached the TAP through pcap and faults: our segments left merged.
          assert.ok((st["tap-tx-gso-frames"] ?? 0) > 0, "no merged frame sent");
          assert.ok((st["tap-tx-merged"] ?? 0) > 0, "no segment sent merged");
          assert.ok((st["tap-tx-frames"] ?? 0) > 0, "the link's own counters are there");
        },
      );
      const check = await checkCapture(pcap, [8080], OURS);
      assert.ok(check.frames > 1000, `${check.frames} frames captured`);
      assert.equal(check.malformed, 0, "tshark parses every frame");
      assert.equal(check.badChecksums, 0, "no bad checksum in the capture");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
