/**
 * New-user acceptance: the Linux tools a user reaches for first, run against a stack made with
 * DEFAULT options (`openTap` with offloads on, `createStack({ link, address })`), each test in a
 * namespace it creates and deletes (withTapNamespace). ping (small, 1472 bytes with DF,
 * fragmented, flood), nmap (-sS, -sT, -sU, -sV; open / closed answers, the stack keeps serving),
 * curl download and upload of several MiB through an HTTP responder written on our listener
 * (SHA-256 checked), a tcpdump capture on the kernel side read with tshark, our own pcap checked
 * frame by frame, and `deno task ladder` / `deno task plot` on the tcpdump capture.
 * Needs root and /dev/net/tun; tools missing skip with a message (fail under TCPIP_REQUIRE_TAP=1).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createStack, type NetStack } from "../../mod.ts";
import { type Netns, requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";
import { checkCapture, startCapture } from "../support/interop_env.ts";
import { have, httpBody, startHttpResponder } from "../support/qa_env.ts";

const KERNEL = "10.61.0.1";
const OURS = "10.61.0.2";
const ignore = tapIgnore();

async function needs(tools: string[]): Promise<boolean> {
  for (const t of tools) {
    if (await have(t)) continue;
    if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") {
      throw new Error(`${t} is missing (deno task setup)`);
    }
    console.warn(`skipped: ${t} is not installed (deno task setup installs it)`);
    return false;
  }
  return true;
}

/** A namespace, a default TAP link and a default stack (the README's first example). */
async function withDefaultStack(
  fn: (ctx: { ns: Netns; stack: NetStack; ifname: string; pcap?: string }) => Promise<void>,
  pcap?: string,
): Promise<void> {
  await withTapNamespace({ kernelAddr: `${KERNEL}/24` }, async ({ ns, link, ifname }) => {
    assert.equal(link.offload, true, `offloads are on by default (${link.offloadRefused})`);
    const stack = await createStack({ link, address: `${OURS}/24`, ...(pcap ? { pcap } : {}) });
    try {
      await fn({ ns, stack, ifname, pcap });
    } finally {
      await stack.close();
    }
  });
}

async function must(ns: Netns, cmd: string[]): Promise<string> {
  const r = await ns.run(cmd);
  assert.equal(r.code, 0, `${cmd.join(" ")} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function received(pingOut: string): number {
  return Number(/(\d+) received/.exec(pingOut)?.[1] ?? -1);
}

Deno.test({
  name: "qa tools: ping small, 1472 bytes with DF, fragmented 4000 and 65507, flood of 2000",
  ignore,
  async fn() {
    if (!requireTapOrSkip() || !(await needs(["ping"]))) return;
    await withDefaultStack(async ({ ns, stack }) => {
      assert.equal(received(await must(ns, ["ping", "-c", "3", "-W", "2", OURS])), 3);
      const df = await must(ns, ["ping", "-c", "3", "-W", "2", "-s", "1472", "-M", "do", OURS]);
      assert.equal(received(df), 3);
      assert.match(df, /1480 bytes from/, "the whole 1472-byte payload echoed");
      // Larger than the MTU: the kernel fragments, we reassemble and fragment the reply.
      assert.equal(received(await must(ns, ["ping", "-c", "2", "-W", "2", "-s", "4000", OURS])), 2);
      assert.equal(
        received(await must(ns, ["ping", "-c", "1", "-W", "3", "-s", "65507", OURS])),
        1,
      );
      // 65508 does not fit an IPv4 datagram: ping itself refuses it, nothing reaches us.
      const flood = await must(ns, ["ping", "-f", "-c", "2000", "-W", "1", "-w", "60", OURS]);
      const got = received(flood);
      // A flood on a loaded machine may lose a few to the kernel's own queues; we must answer
      // nearly all, and every echo we answered is counted.
      assert.ok(got >= 1990, `flood: ${got} of 2000 answered\n${flood}`);
      const s = stack.stats();
      assert.ok((s["icmp-echo-replies"] ?? 0) >= 2000 + 8, JSON.stringify(s));
      assert.equal(s["ip-bad-checksum"] ?? 0, 0);
    });
  },
});

Deno.test({
  name: "qa tools: nmap -sS, -sT, -sU and -sV see open and closed ports right; we keep serving",
  ignore,
  async fn() {
    if (!requireTapOrSkip() || !(await needs(["nmap", "curl"]))) return;
    await withDefaultStack(async ({ ns, stack }) => {
      const http = startHttpResponder(stack, 8080);
      const echo = stack.listen({ port: 7 });
      const echoes: Promise<void>[] = [];
      (async () => {
        for await (const c of echo) {
          echoes.push(c.readable.pipeTo(c.writable).catch(() => {}));
        }
      })();
      const udp = stack.listenDatagram({ port: 5353 });
      try {
        const ports = "7,22,80,443,8080";
        const stateOf = (out: string, port: number, proto = "tcp"): string =>
          new RegExp(`^${port}/${proto}\\s+(\\S+)`, "m").exec(out)?.[1] ?? `missing in:\n${out}`;
        const syn = await must(ns, ["nmap", "-n", "-Pn", "-sS", "-p", ports, OURS]);
        assert.equal(stateOf(syn, 7), "open");
        assert.equal(stateOf(syn, 8080), "open");
        for (const p of [22, 80, 443]) assert.equal(stateOf(syn, p), "closed", syn);
        // A full scan of every port: all closed but ours, quickly (RSTs, not timeouts).
        const all = await must(ns, ["nmap", "-n", "-Pn", "-sS", "-p-", "--max-retries", "1", OURS]);
        assert.match(all, /Not shown: 65533 closed tcp ports \(reset\)/, all);
        const con = await must(ns, ["nmap", "-n", "-Pn", "-sT", "-p", ports, OURS]);
        assert.equal(stateOf(con, 7), "open");
        assert.equal(stateOf(con, 8080), "open");
        for (const p of [22, 80, 443]) assert.equal(stateOf(con, p), "closed", con);
        const u = await must(ns, ["nmap", "-n", "-Pn", "-sU", "-p", "53,5353", OURS]);
        assert.equal(stateOf(u, 53, "udp"), "closed", "port unreachable for a closed UDP port");
        assert.match(stateOf(u, 5353, "udp"), /open/);
        const t0 = performance.now();
        const sv = await must(ns, [
          "nmap",
          "-n",
          "-Pn",
          "-sV",
          "--host-timeout",
          "120s",
          "-p",
          "7,8080",
          OURS,
        ]);
        console.log(`  nmap -sV took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        assert.equal(stateOf(sv, 7), "open", sv);
        assert.equal(stateOf(sv, 8080), "open", sv);
        // Each probe is answered at once (the echo, or our responder's 200 / 400), so nmap
        // identifies both in seconds, as it does against Linux (a server that never answers
        // a probe makes nmap wait out every probe's timeout: minutes, whatever the stack).
        assert.match(sv, /^7\/tcp\s+open\s+echo/m, sv);
        assert.match(sv, /^8080\/tcp\s+open\s+\S+\s+qa-responder\/1\.0/m, sv);
        // After the scans: the stack still answers and serves.
        const out = await must(ns, [
          "curl",
          "-sS",
          "--max-time",
          "20",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{size_download}",
          `http://${OURS}:8080/1000`,
        ]);
        assert.equal(out, "200 1000");
        assert.equal(received(await must(ns, ["ping", "-c", "1", "-W", "2", OURS])), 1);
      } finally {
        udp.close();
        http.close();
        echo.close();
      }
    });
  },
});

Deno.test({
  name:
    "qa tools: curl GET and PUT of 6 MiB (SHA-256), tcpdump + tshark clean, our pcap clean, ladder and plot on the tcpdump capture",
  ignore,
  async fn() {
    if (!requireTapOrSkip() || !(await needs(["curl", "tcpdump", "tshark"]))) return;
    const dir = await Deno.makeTempDir({ prefix: "qa_tools_" });
    const ourPcap = `${dir}/ours.pcap`;
    try {
      await withDefaultStack(async ({ ns, stack, ifname }) => {
        const http = startHttpResponder(stack, 8080);
        const cap = await startCapture(ns, ifname, `${dir}/kernel.pcap`);
        const N = 6 << 20;
        const dl = `${dir}/dl.bin`;
        await must(ns, ["curl", "-sS", "--max-time", "60", "-o", dl, `http://${OURS}:8080/${N}`]);
        const got = await Deno.readFile(dl);
        assert.equal(got.length, N);
        const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
        assert.equal(sha(got), sha(httpBody(N)), "download differs");
        const up = `${dir}/up.bin`;
        const data = crypto.getRandomValues(new Uint8Array(65536));
        const upData = new Uint8Array(N);
        for (let i = 0; i < N; i += data.length) upData.set(data, i);
        upData[12345] = 1; // not purely periodic
        await Deno.writeFile(up, upData);
        // curl -T (PUT, Expect: 100-continue) and --data-binary (POST).
        const put = await must(ns, [
          "curl",
          "-sS",
          "--max-time",
          "60",
          "-T",
          up,
          `http://${OURS}:8080/up`,
        ]);
        assert.equal(put.trim(), `${N} ${sha(upData)}`);
        const post = await must(ns, [
          "curl",
          "-sS",
          "--max-time",
          "60",
          "--data-binary",
          `@${up}`,
          `http://${OURS}:8080/up`,
        ]);
        assert.equal(post.trim(), `${N} ${sha(upData)}`);
        const kernelPcap = await cap.stop();
        http.close();
        assert.deepEqual(http.errors, []);

        // What a user sees with tshark's default preferences on the kernel-side capture: no
        // malformed frame and no error (with offloads the kernel hands large frames with
        // partial checksums, as on any TSO device; tshark does not check checksums by default).
        const t = await new Deno.Command("tshark", {
          args: ["-r", kernelPcap, "-Y", "_ws.malformed || _ws.expert.severity >= error"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(t.success, new TextDecoder().decode(t.stderr));
        assert.equal(
          new TextDecoder().decode(t.stdout).trim(),
          "",
          "tshark errors on the kernel side",
        );

        // Our own capture: every frame whole, every checksum right (checked by tshark).
        const ours = await checkCapture(ourPcap, [8080], OURS);
        assert.ok(ours.frames > 100, `our pcap has ${ours.frames} frames`);
        assert.equal(ours.malformed, 0, "malformed frames in our pcap");
        assert.equal(ours.badChecksums, 0, "bad checksums in our pcap");
        assert.equal(ours.ourRetransmissions, 0, "we retransmitted on a lossless link");

        // The teaching tools on the kernel's capture, as the README prints them.
        const task = async (args: string[]) => {
          const o = await new Deno.Command(Deno.execPath(), {
            args: ["task", ...args],
            cwd: new URL("../..", import.meta.url).pathname,
            stdout: "piped",
            stderr: "piped",
          }).output();
          const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
          assert.equal(o.code, 0, `deno task ${args.join(" ")}: ${out}`);
          return out;
        };
        const ladder = await task(["ladder", kernelPcap]);
        assert.match(ladder, /3 connections/, ladder.slice(0, 400));
        assert.match(ladder, /SYN\+ACK SEQ=\d+ ACK=\d+ WIN=\d+ <MSS=\d+/);
        assert.match(ladder, /\[ACK \d+ = \d+ \+ \d+ bytes/);
        const svg = `${dir}/plot.svg`;
        const plot = await task(["plot", kernelPcap, "--out", svg]);
        assert.match(plot, /connection \d of 3, data from/);
        const text = await Deno.readTextFile(svg);
        assert.match(text, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
        assert.ok(text.length > 1000);
      }, ourPcap);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
