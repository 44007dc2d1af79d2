/**
 * The gateway against the kernel of a namespace it serves (TAP, as `--configure` leaves it):
 * python clients in the namespace reach services on the host's 127.0.0.1 through 10.0.2.2 with
 * SHA-256-exact transfers both ways and a half-close; a refused upstream gives ECONNREFUSED; a
 * destination outside the allow list is refused and counted; UDP echo; ping; the gateway
 * survives its client being killed mid-transfer; the flow limit holds SYNs. Upstream traffic
 * goes only to services this test starts on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import {
  blobSource,
  freePort,
  hostServer,
  pattern,
  py,
  sha,
  shaSink,
  udpEcho,
  withGateway,
} from "./gateway_env.ts";

const MiB = 1 << 20;

Deno.test({
  name: "gateway (TAP): 3 MiB up and down through 10.0.2.2, SHA-256 exact, half-close",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const blob = pattern(3 * MiB + 123, 20);
    const sink = shaSink();
    const source = blobSource(blob);
    try {
      await withGateway({}, async ({ ns, gw }) => {
        const [mine, theirs] = await py(ns, ["up", "10.0.2.2", `${sink.port}`, `${3 * MiB + 7}`]);
        assert.equal(theirs, mine, "the host received exactly what the guest sent");
        const [h, n] = await py(ns, ["down", "10.0.2.2", `${source.port}`]);
        assert.equal(Number(n), blob.length);
        assert.equal(h, sha(blob));
        const s = gw.stats();
        assert.equal(s["gateway-tcp-relayed"], 2);
        assert(s["gateway-tcp-bytes-in"]! >= blob.length);
        assert(s["gateway-tcp-bytes-out"]! >= 3 * MiB);
      });
    } finally {
      await sink.close();
      await source.close();
    }
  },
});

Deno.test({
  name: "gateway (TAP): refused upstream is ECONNREFUSED; outside the allow list is refused",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const closed = freePort(); // nothing listens there on 127.0.0.1
    await withGateway({ allow: ["127.0.0.0/8"] }, async ({ ns, gw }) => {
      assert.deepEqual(await py(ns, ["connect", "10.0.2.2", `${closed}`]), ["refused"]);
      assert.equal(gw.stats()["gateway-tcp-upstream-failed"], 1);
      // 192.0.2.1 (TEST-NET-1) is not allowed: refused at once, never contacted.
      assert.deepEqual(await py(ns, ["connect", "192.0.2.1", "80"]), ["refused"]);
      assert.equal(gw.stats()["gateway-tcp-denied"], 1);
      assert.equal(gw.stats()["gateway-tcp-connects"], 1, "only the allowed one was tried");
    });
    await withGateway({ hostLoopback: false }, async ({ ns, gw }) => {
      const sink = shaSink();
      try {
        assert.deepEqual(await py(ns, ["connect", "10.0.2.2", `${sink.port}`]), ["refused"]);
        assert.equal(gw.stats()["gateway-tcp-denied"], 1);
      } finally {
        await sink.close();
      }
    });
  },
});

Deno.test({
  name: "gateway (TAP): UDP echo through 10.0.2.2; ping 10.0.2.2; UDP outside the allow list",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const echo = await udpEcho();
    try {
      await withGateway({}, async ({ ns, gw }) => {
        const got = await py(ns, ["udp", "10.0.2.2", `${echo.port}`]);
        assert.deepEqual(got, [0, 1, 2].map((i) => `ping_${i}|10.0.2.2:${echo.port}`));
        assert.equal(gw.stats()["gateway-udp-flows"], 1, "one flow for the three datagrams");
        const ping = await ns.run(["ping", "-c", "2", "-W", "2", "10.0.2.2"]);
        assert.equal(ping.code, 0, ping.stdout + ping.stderr);
        assert.match(ping.stdout, / 0% packet loss/);
        const denied = await py(ns, ["udp", "192.0.2.1", "9", "1"]);
        assert.deepEqual(denied, ["timeout"]);
        assert(gw.stats()["gateway-udp-denied"]! >= 1);
        assert(gw.stats()["udp-foreign-refused"]! >= 1);
      });
    } finally {
      echo.close();
    }
  },
});

Deno.test({
  name: "gateway (TAP): survives the guest client killed mid-transfer; the upstream is closed",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const { promise: upstreamEnded, resolve } = Promise.withResolvers<string>();
    const chunk = new Uint8Array(65536);
    const streamer = hostServer(async (c) => {
      try {
        for (let i = 0; i < 100_000; i++) await c.write(chunk); // bounded: 6.4 GB at most
        resolve("finished");
      } catch (e) {
        resolve((e as Error).name);
      }
    });
    const blob = pattern(MiB, 21);
    const source = blobSource(blob);
    try {
      await withGateway({}, async ({ ns, gw }) => {
        const child = ns.spawn([
          "python3",
          "-c",
          (await import("./gateway_env.ts")).PY_CLIENT,
          "hold",
          "10.0.2.2",
          `${streamer.port}`,
        ], { stdout: "piped" });
        const reader = child.stdout.getReader();
        const first = await reader.read();
        assert.match(new TextDecoder().decode(first.value), /connected/);
        await new Promise((r) => setTimeout(r, 300));
        child.kill("SIGKILL");
        await child.status;
        reader.releaseLock();
        const how = await Promise.race([
          upstreamEnded,
          new Promise<string>((r) => setTimeout(() => r("still open"), 10000)),
        ]);
        assert.notEqual(how, "still open", "the upstream connection was closed");
        assert.notEqual(how, "finished");
        const [h, n] = await py(ns, ["down", "10.0.2.2", `${source.port}`]);
        assert.equal(Number(n), blob.length);
        assert.equal(h, sha(blob));
        for (let i = 0; i < 50 && gw.stats()["gateway-tcp-active"] !== 0; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(gw.stats()["gateway-tcp-active"], 0);
        assert(gw.stats()["gateway-tcp-reset"]! >= 1);
      });
    } finally {
      await streamer.close();
      await source.close();
    }
  },
});

Deno.test({
  name: "gateway (TAP): maxTcpFlows holds further SYNs until a relay ends",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const releases: Array<() => void> = [];
    const holder = hostServer(async (c) => {
      const { promise, resolve } = Promise.withResolvers<void>();
      releases.push(resolve);
      await Promise.race([promise, new Promise((r) => setTimeout(r, 20000))]);
      c.close();
    });
    try {
      await withGateway({ limits: { maxTcpFlows: 1 } }, async ({ ns, gw }) => {
        const first = ns.spawn([
          "python3",
          "-c",
          (await import("./gateway_env.ts")).PY_CLIENT,
          "hold",
          "10.0.2.2",
          `${holder.port}`,
        ], { stdout: "piped" });
        const reader = first.stdout.getReader();
        assert.match(new TextDecoder().decode((await reader.read()).value), /connected/);
        reader.releaseLock();
        assert.deepEqual(await py(ns, ["connect", "10.0.2.2", `${holder.port}`, "1.5"]), [
          "timeout",
        ]);
        assert(gw.stats()["gateway-tcp-busy"]! >= 1);
        releases.shift()!();
        await first.status;
        for (let i = 0; i < 50 && gw.stats()["gateway-tcp-active"] !== 0; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.deepEqual(await py(ns, ["connect", "10.0.2.2", `${holder.port}`]), ["ok"]);
      });
    } finally {
      for (const r of releases) r();
      await holder.close();
    }
  },
});

Deno.test({
  name:
    "gateway (TAP): nmap SYN scan of 10.0.2.2 sees the host's open and closed ports; no relay leaks",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    const have = await new Deno.Command("sh", {
      args: ["-c", "command -v nmap"],
      stdout: "null",
    }).output();
    if (!have.success) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error("nmap is missing");
      console.warn("skipped: nmap is missing (deno task setup)");
      return;
    }
    const open = shaSink();
    const closed = freePort();
    try {
      await withGateway({}, async ({ ns, gw }) => {
        const r = await ns.run([
          "nmap",
          "-sS",
          "-Pn",
          "-n",
          "--max-retries",
          "1",
          "-p",
          `${open.port},${closed}`,
          "10.0.2.2",
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`${open.port}/tcp\\s+open`));
        assert.match(r.stdout, new RegExp(`${closed}/tcp\\s+closed`));
        // The scanner reset the handshake: the half-open relay and its upstream go (15 s).
        for (let i = 0; i < 100 && gw.stats()["gateway-tcp-pending"] !== 0; i++) {
          await new Promise((res) => setTimeout(res, 200));
        }
        assert.equal(gw.stats()["gateway-tcp-pending"], 0);
        assert.equal(gw.stats()["gateway-tcp-active"], 0);
      });
    } finally {
      await open.close();
    }
  },
});
