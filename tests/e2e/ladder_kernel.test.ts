/**
 * `deno task ladder` and `deno task plot` on captures of real tools: tcpdump (classic pcap)
 * records the kernel's curl downloading from our stack on a TAP device in a namespace of the
 * test's own, and tshark rewrites it as pcapng (its default format). Both files read the same, the kernel's SYN options
 * are spelled out, every data segment is drawn. Needs root and /dev/net/tun (skips otherwise;
 * fails when TCPIP_REQUIRE_TAP=1).
 */
import assert from "node:assert/strict";
import { createStack } from "../../mod.ts";
import { requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { serveHttp } from "../../tools/demo_lib.ts";
import { captureSegments } from "../../tools/pcap_read.ts";
import { explainLadder, splitConnections } from "../../tools/ladder_lib.ts";
import { plotSvg } from "../../tools/plot_svg.ts";

const KERNEL = "10.7.0.1";
const OURS = "10.7.0.2";
const BODY = 50_000;

/** Resolve when `stream` prints a line matching `re` (or throw after `ms`). */
async function waitFor(stream: ReadableStream<Uint8Array>, re: RegExp, ms: number): Promise<void> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  try {
    while (!re.test(text)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`capture did not start: ${text}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        reader.read(),
        new Promise<null>((res) => timer = setTimeout(() => res(null), left)),
      ]);
      clearTimeout(timer);
      if (r === null || r.done) continue;
      text += dec.decode(r.value);
    }
  } finally {
    reader.releaseLock();
  }
}

Deno.test({
  name: "ladder: tcpdump and tshark captures of the kernel's curl read alike and explain",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const dir = await Deno.makeTempDir({ prefix: "dtcp-ladder-" });
    try {
      // Offload off: a capture on the kernel's side of an offload TAP shows our merged 64 KiB
      // frames and the kernel's partial checksums, as on any TSO device; this test is about
      // reading wire-sized captures.
      await withTapNamespace(
        { kernelAddr: `${KERNEL}/24`, offload: false },
        async ({ ns, link, ifname }) => {
          const stack = await createStack({ link, address: `${OURS}/24` });
          try {
            const dump = ns.spawn(
              [
                "tcpdump",
                "-Z",
                "root",
                "--immediate-mode",
                "-B",
                "32768",
                "-i",
                ifname,
                "-U",
                "-w",
                `${dir}/dump.pcap`,
                "tcp",
              ],
              { stderr: "piped" },
            );
            await waitFor(dump.stderr, /listening on/, 15_000);
            // A capture is up to date once it holds the latest probe: a SYN to a closed port.
            const probes = async (f: string): Promise<number> => {
              try {
                return captureSegments(await Deno.readFile(f)).segments.filter((x) =>
                  x.dst === `${OURS}:9` && x.flags === 2
                ).length;
              } catch {
                return 0; // not written yet
              }
            };
            const counts = async () => [await probes(`${dir}/dump.pcap`)];
            const sync = async (): Promise<void> => {
              for (let i = 0; i < 20; i++) {
                const before = await counts();
                await ns.run(["curl", "-s", "--max-time", "1", `http://${OURS}:9/`]);
                for (let j = 0; j < 5; j++) {
                  await new Promise((r) => setTimeout(r, 200));
                  const now = await counts();
                  if (now[0]! > before[0]!) return;
                }
              }
              throw new Error("tcpdump did not catch up within 20 s");
            };
            await sync();
            const listener = stack.listen({ port: 80 });
            const serving = serveHttp(listener, { "/f": new Uint8Array(BODY).fill(65) }, 1);
            const curl = await ns.run([
              "curl",
              "-sS",
              "--max-time",
              "20",
              "-o",
              "/dev/null",
              "-w",
              "%{http_code} %{size_download}",
              `http://${OURS}/f`,
            ]);
            await serving;
            listener.close();
            assert.equal(curl.stdout, `200 ${BODY}`, curl.stderr);
            await sync(); // the last ACKs and FINs are in both files
            dump.kill("SIGINT");
            await dump.status;
          } finally {
            await stack.close();
          }
        },
      );
      // tshark writes the same frames as pcapng, its default format. (Two live captures side by
      // side do not always hold the same frames: one may drop a few under load.)
      const conv = await new Deno.Command("tshark", {
        args: ["-r", `${dir}/dump.pcap`, "-F", "pcapng", "-w", `${dir}/shark.pcapng`],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(conv.code, 0, new TextDecoder().decode(conv.stderr));
      const a = captureSegments(await Deno.readFile(`${dir}/dump.pcap`));
      const b = captureSegments(await Deno.readFile(`${dir}/shark.pcapng`));
      const key = (s: { src: string; seq: number; ack: number; len: number; flags: number }) =>
        `${s.src} ${s.flags} ${s.seq} ${s.ack} ${s.len}`;
      const web = (x: { src: string; dst: string }) =>
        x.src.endsWith(":80") || x.dst.endsWith(":80");
      assert.deepEqual(b.segments.filter(web).map(key), a.segments.filter(web).map(key));
      assert.ok(a.frames > 0 && b.frames > 0, `captured ${a.frames} and ${b.frames} frames`);
      const conns = splitConnections(a.segments).filter((c) => c.server === `${OURS}:80`);
      assert.equal(conns.length, 1);
      const conn = conns[0]!;
      assert.equal(conn.server, `${OURS}:80`);
      assert.match(conn.client, new RegExp(`^${KERNEL.replaceAll(".", "\\.")}:\\d+$`));
      const lines = explainLadder(conn, { times: false });
      // The kernel's SYN with its options; our SYN+ACK; the kernel's scaled window.
      assert.match(
        lines[1]!,
        /C --> S {2}SYN SEQ=\d+ ACK=- WIN=\d+ <MSS=1460 WS=\d+ \(x\d+\) SACK_PERM TS val=\d+ ecr=0>$/,
      );
      assert.match(
        lines[2]!,
        /C <-- S {2}SYN\+ACK SEQ=\d+ ACK=\d+ .*<MSS=1460 WS=\d+ \(x\d+\) SACK_PERM TS .*\[ACK \d+ = \d+ \+ 1 \(SYN\)\]$/,
      );
      assert.match(
        lines[3]!,
        /C --> S {2}ACK SEQ=\d+ ACK=\d+ WIN=\d+ \(x\d+ = \d+\) {2}\[ACK \d+ = \d+ \+ 1 \(SYN\)\]$/,
      );
      assert.ok(lines.some((l) => /\[LEN 1448 = MSS 1460 - 12 bytes of timestamp option/.test(l)));
      assert.ok(!lines.some((l) => /bad checksum/.test(l)));
      const sent = conn.segments.filter((s) => s.src === `${OURS}:80`);
      assert.ok(sent.reduce((n, s) => n + s.len, 0) >= BODY);
      const plot = plotSvg(conn);
      assert.equal(plot.sender, `${OURS}:80`);
      assert.equal(plot.segments, sent.filter((s) => s.len > 0).length);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
