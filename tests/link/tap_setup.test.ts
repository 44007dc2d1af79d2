/**
 * A TAP that sets itself up: `openTap({ name, netns, create: true, peer })` gives the kernel
 * side its address, a long transmit queue and IFF_UP; a missing namespace is created and
 * deleted with the link; offloads are on by default and fall back when the kernel refuses
 * them; the README's TAP example runs as printed. Every device and address lives in a
 * namespace the test creates (or the link creates, named with this pid) and deletes.
 */
import assert from "node:assert/strict";
import { createStack, openTap } from "../../mod.ts";
import { openDevice } from "../../src/link/tap/tap.ts";
import { createNetns, requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { offloadRefusingLibc } from "../support/refusing_libc.ts";

const ignore = tapIgnore();

Deno.test({
  name: "tap setup: create + peer configures the kernel side; a missing namespace comes and goes",
  ignore,
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const nsName = `dtcp-${Deno.pid}-auto${crypto.getRandomValues(new Uint32Array(1))[0]}`;
    const link = openTap({ name: "tap0", netns: nsName, create: true, peer: "10.7.0.1/24" });
    try {
      const exec = (args: string[]) =>
        new Deno.Command("ip", { args: ["netns", "exec", nsName, ...args], stdout: "piped" })
          .output().then((o) => new TextDecoder().decode(o.stdout));
      const addr = await exec(["ip", "-o", "-4", "addr", "show", "tap0"]);
      assert.match(addr, /inet 10\.7\.0\.1\/24/);
      const shown = await exec(["ip", "-o", "link", "show", "tap0"]);
      assert.match(shown, /[<,]UP[,>]/);
      assert.match(shown, /qlen 10000/, "a created device gets a long transmit queue");
      assert.equal(link.offload, true);
      assert.equal(link.offloadRefused, null);
      const stack = await createStack({ link, address: "10.7.0.2/24" });
      try {
        const ping = await new Deno.Command("ip", {
          args: ["netns", "exec", nsName, "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.7.0.2"],
          stdout: "piped",
        }).output();
        assert.equal(ping.code, 0, new TextDecoder().decode(ping.stdout));
        assert.ok(stack.stats()["tap-rx-frames"]! >= 2);
      } finally {
        await stack.close();
      }
    } finally {
      link.close();
      await link.wait(0);
    }
    assert.throws(() => Deno.statSync(`/var/run/netns/${nsName}`), Deno.errors.NotFound);
    assert.throws(() => openTap({ name: "tap0", peer: "10.7.0.1" }), TypeError);
    assert.throws(() => openTap({ name: "tap0", peer: "10.7.0.300/24" }), RangeError);
    assert.throws(() => openTap({ name: "tap0", txQueueLen: 0 }), RangeError);
  },
});

Deno.test({
  name: "tap setup: when the kernel refuses offloads the device opens without them, still works",
  ignore,
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const { libc: refusing, refused } = offloadRefusingLibc();
    const ns = await createNetns();
    try {
      const link = openDevice("tap", {
        name: "tap0",
        netns: ns.name,
        create: true,
        peer: "10.7.0.1/24",
      }, refusing);
      try {
        assert.equal(refused(), 1);
        assert.equal(link.offload, false);
        assert.match(link.offloadRefused ?? "", /TUNSETOFFLOAD failed/);
        assert.equal(link.maxFrame, undefined);
        assert.equal(link.counters()["tap-offload"], 0);
        const stack = await createStack({ link, address: "10.7.0.2/24" });
        try {
          const server = stack.listen({ port: 8080 });
          (async () => {
            for await (const conn of server) {
              const buf = new Uint8Array(4096);
              await conn.read(buf);
              await conn.write(
                new TextEncoder().encode(
                  "HTTP/1.0 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nplain\n",
                ),
              );
              conn.close();
            }
          })().catch(() => {});
          const curl = await ns.run(["curl", "-sS", "-m", "5", "http://10.7.0.2:8080/"]);
          assert.equal(curl.stdout, "plain\n", curl.stderr);
          assert.equal(link.stats.rxGsoFrames, 0);
          assert.ok(link.stats.rxLargestFrame <= 1514);
          server.close();
        } finally {
          await stack.close();
        }
      } finally {
        link.close();
        await link.wait(0);
      }
    } finally {
      await ns.delete();
    }
  },
});

Deno.test({
  name: "tap setup: attaching to a device made by `ip tuntap add` gets offloads too",
  ignore,
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const ns = await createNetns();
    try {
      const made = await ns.run(["ip", "tuntap", "add", "dev", "tap0", "mode", "tap"]);
      assert.equal(made.code, 0, made.stderr);
      await ns.run(["ip", "addr", "add", "10.7.0.1/24", "dev", "tap0"]);
      await ns.run(["ip", "link", "set", "tap0", "up"]);
      const link = openTap({ name: "tap0", netns: ns.name });
      try {
        assert.equal(link.offload, true, link.offloadRefused ?? "");
        const stack = await createStack({ link, address: "10.7.0.2/24" });
        try {
          const listener = stack.listen({ port: 9 });
          let got = 0;
          const drained = (async () => {
            const conn = await listener.accept();
            const buf = new Uint8Array(65536);
            for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) got += n;
            conn.close();
          })();
          // The kernel sends 1 MiB: with offloads it arrives in large segments.
          const py = "import socket\n" +
            "s = socket.create_connection(('10.7.0.2', 9), timeout=5)\n" +
            "s.sendall(b'x' * 1048576); s.close()\n";
          const sent = await ns.run(["python3", "-c", py]);
          assert.equal(sent.code, 0, sent.stderr);
          await drained;
          assert.equal(got, 1048576);
          assert.ok(link.stats.rxGsoFrames > 0, "no large segment arrived");
          listener.close();
        } finally {
          await stack.close();
        }
      } finally {
        link.close();
        await link.wait(0);
      }
    } finally {
      await ns.delete();
    }
  },
});

Deno.test({
  name: "tap setup: the README's TAP example runs as printed (echo server reached by the kernel)",
  ignore,
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
    const block = /## Use it\s+```ts ignore\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, "no TAP example under 'Use it'");
    assert.match(block, /openTap\(\{[^}]*create: true[^}]*peer: "10\.7\.0\.1\/24"/);
    // The one change: a namespace name of this run instead of "demo" (network rule).
    const nsName = `dtcp-${Deno.pid}-readme${crypto.getRandomValues(new Uint32Array(1))[0]}`;
    assert.ok(block.includes('"demo"'));
    const mod = new URL("../../mod.ts", import.meta.url).href;
    const code = block.replaceAll('"demo"', `"${nsName}"`).replace('"./mod.ts"', `"${mod}"`);
    const dir = await Deno.makeTempDir();
    const script = `${dir}/readme_tap.ts`;
    await Deno.writeTextFile(script, code);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", script],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      // The example creates the namespace; wait for its echo server to answer.
      let reply = "";
      const deadline = performance.now() + 20000;
      while (reply !== "hello" && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 300));
        try {
          Deno.statSync(`/var/run/netns/${nsName}`);
        } catch {
          continue;
        }
        const py = "import socket\n" +
          "s = socket.create_connection(('10.7.0.2', 8080), timeout=2)\n" +
          "s.sendall(b'hello'); s.shutdown(socket.SHUT_WR)\n" +
          "print(s.recv(100).decode(), end='')\n";
        const out = await new Deno.Command("ip", {
          args: ["netns", "exec", nsName, "python3", "-c", py],
          stdout: "piped",
          stderr: "null",
        }).output();
        reply = new TextDecoder().decode(out.stdout);
      }
      assert.equal(reply, "hello", "the kernel got no echo from the README's server");
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel();
      // The example's process died without closing the link: remove what it left.
      await new Deno.Command("ip", { args: ["netns", "delete", nsName], stderr: "null" }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tap setup: Ctrl-C (SIGINT) or SIGTERM on a program deletes the namespace openTap created",
  ignore,
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const mod = new URL("../../mod.ts", import.meta.url).href;
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const nsName = `dtcp-${Deno.pid}-sig${crypto.getRandomValues(new Uint32Array(1))[0]}`;
      const program = `import { createStack, openTap } from "${mod}";
const link = openTap({ name: "tap0", netns: "${nsName}", create: true, peer: "10.7.0.1/24" });
await createStack({ link, address: "10.7.0.2/24" });
console.log("ready");
await new Promise((r) => setTimeout(r, 20000));`;
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "--quiet", program],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.getReader();
      const first = await Promise.race([
        reader.read(),
        new Promise<null>((r) => setTimeout(() => r(null), 15000)),
      ]);
      try {
        assert.ok(first && !first.done, "the program did not start");
        assert.match(new TextDecoder().decode(first.value), /ready/);
        Deno.statSync(`/var/run/netns/${nsName}`); // it exists while the program runs
        child.kill(signal);
        const status = await child.status;
        assert.equal(status.code, code, `${signal}: exit status`);
        assert.throws(
          () => Deno.statSync(`/var/run/netns/${nsName}`),
          Deno.errors.NotFound,
          `${signal}: the namespace is gone`,
        );
      } finally {
        reader.releaseLock();
        await child.stdout.cancel().catch(() => {});
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
        await child.status;
        await new Deno.Command("ip", { args: ["netns", "delete", nsName], stderr: "null" })
          .output();
      }
    }
  },
});

Deno.test({
  name: "tap setup: peer takes IPv6 CIDRs too, usable at once (curl -6 to the stack right away)",
  ignore,
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const nsName = `dtcp-${Deno.pid}-v6${crypto.getRandomValues(new Uint32Array(1))[0]}`;
    assert.throws(() => openTap({ name: "tap0", peer: ["fd00::1"] }), TypeError);
    assert.throws(() => openTap({ name: "tap0", peer: ["fd00::1/129"] }), RangeError);
    assert.throws(() => openTap({ name: "tap0", peer: ["10.7.0.1/24", "10.7.0.3/24"] }), TypeError);
    const link = openTap({
      name: "tap0",
      netns: nsName,
      create: true,
      peer: ["10.7.0.1/24", "fd00::1/64"],
    });
    try {
      const exec = (args: string[]) =>
        new Deno.Command("ip", {
          args: ["netns", "exec", nsName, ...args],
          stdout: "piped",
          stderr: "piped",
        }).output();
      const shown = new TextDecoder().decode(
        (await exec(["ip", "-o", "addr", "show", "tap0"])).stdout,
      );
      assert.match(shown, /inet 10\.7\.0\.1\/24/);
      assert.match(shown, /inet6 fd00::1\/64/);
      assert.doesNotMatch(shown, /fd00::1\/64.*tentative/, "usable at once");
      const stack = await createStack({ link, address: ["10.7.0.2/24", "fd00::2/64"] });
      try {
        const http = stack.serve({ port: 8080, onListen() {} }, () => new Response("v6 ok"));
        const curl = await exec(["curl", "-6", "-g", "-s", "-m", "5", "http://[fd00::2]:8080/"]);
        assert.equal(new TextDecoder().decode(curl.stdout), "v6 ok");
        await http.shutdown();
      } finally {
        await stack.close();
      }
    } finally {
      link.close();
      await link.wait(0);
    }
    assert.throws(() => Deno.statSync(`/var/run/netns/${nsName}`), Deno.errors.NotFound);
  },
});
