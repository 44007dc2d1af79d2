import assert from "node:assert/strict";
import { createNetns, requireTapOrSkip, tapIgnore, withTapNamespace } from "../../tools/netns.ts";

async function namespaces(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split(" ")[0]!).filter(
    Boolean,
  );
}

Deno.test({
  name: "netns: unique names, commands run inside, children killed and all gone on delete",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const a = await createNetns();
    const b = await createNetns().catch(async (e) => {
      await a.delete();
      throw e;
    });
    try {
      assert.notEqual(a.name, b.name);
      assert.match(a.name, new RegExp(`^dtcp-${Deno.pid}-[0-9a-z]+$`));
      const links = await a.run(["ip", "-o", "link"]);
      assert.equal(links.code, 0);
      assert.deepEqual(links.stdout.trim().split("\n").map((l) => l.split(":")[1]!.trim()), ["lo"]);
      const v6 = await a.run(["sysctl", "-n", "net.ipv6.conf.default.disable_ipv6"]);
      assert.equal(v6.stdout.trim(), "1");
      const sleeper = a.spawn(["sleep", "30"]);
      await a.delete();
      const status = await sleeper.status;
      assert.equal(status.signal, "SIGKILL");
      assert.ok(!(await namespaces()).includes(a.name));
      await assert.rejects(() => a.run(["true"]), /is deleted/);
      await a.delete(); // idempotent
    } finally {
      await a.delete();
      await b.delete();
    }
    assert.ok(!(await namespaces()).includes(b.name));
  },
});

Deno.test({
  name: "netns: withTapNamespace deletes everything when the callback throws",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    let name = "";
    await assert.rejects(
      () =>
        withTapNamespace({ kernelAddr: "10.7.0.1/24", mtu: 1400 }, async ({ ns, link, ifname }) => {
          name = ns.name;
          const addr = await ns.run(["ip", "-o", "-4", "addr", "show", ifname]);
          assert.match(addr.stdout, /inet 10\.7\.0\.1\/24/);
          assert.equal(link.mtu, 1400);
          throw new Error("callback failed");
        }),
      /callback failed/,
    );
    assert.ok(name !== "" && !(await namespaces()).includes(name));
  },
});

Deno.test({
  name: "netns: TAP tests skip without the means to run, and fail instead when TCPIP_REQUIRE_TAP=1",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const file = new URL("./tap.test.ts", import.meta.url).pathname;
    const run = async (require: string) => {
      // No --allow-ffi and --allow-run: tapAvailable() reports them missing.
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["test", "--allow-read", "--allow-env", "--filter", "hand-built ARP", file],
        env: { TCPIP_REQUIRE_TAP: require, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { ok: out.success, text: new TextDecoder().decode(out.stdout) };
    };
    const skipped = await run("0");
    assert.ok(skipped.ok && /1 ignored/.test(skipped.text), skipped.text);
    const failed = await run("1");
    assert.ok(
      !failed.ok && /TCPIP_REQUIRE_TAP=1: TAP needs --allow-ffi/.test(failed.text),
      failed.text,
    );
  },
});

Deno.test({
  name: "netns: with signals on, Ctrl-C deletes the namespace before the process exits",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const netns = new URL("../../tools/netns.ts", import.meta.url).href;
    const script = `
      import { withTapNamespace } from "${netns}";
      await withTapNamespace({ kernelAddr: "10.7.0.1/24", signals: true }, async ({ ns, link }) => {
        console.log(ns.name);
        await link.wait(Infinity);
      });
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read();
    const name = new TextDecoder().decode(first.value).trim();
    assert.match(name, /^dtcp-\d+-/);
    assert.ok((await namespaces()).includes(name));
    child.kill("SIGINT");
    const status = await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    await child.stderr.cancel();
    assert.equal(status.code, 130);
    assert.ok(!(await namespaces()).includes(name), `${name} left behind`);
  },
});

Deno.test({
  name: "netns: IPv6 stays on when asked for (createNetns options.ipv6)",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    const ns = await createNetns(undefined, { ipv6: true });
    try {
      for (const key of ["all", "default"]) {
        const v6 = await ns.run(["sysctl", "-n", `net.ipv6.conf.${key}.disable_ipv6`]);
        assert.equal(v6.stdout.trim(), "0", key);
      }
      const lo = await ns.run(["ip", "-6", "addr", "show", "dev", "lo"]);
      assert.match(lo.stdout, /::1\/128/);
    } finally {
      await ns.delete();
    }
  },
});
