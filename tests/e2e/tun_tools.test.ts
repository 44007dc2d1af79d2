/**
 * Ordinary tools against a stack on a TUN device with default options (offloads on), as over
 * TAP in qa_tools / qa2_serve: `ab -n 2000 -c 16` against `stack.serve` with and without
 * keep-alive, nmap -sS and -sT (open and closed ports right), 2,000 python3 connections one
 * after the other to an echo listener, then curl still served. No failure, no reset of a
 * client that did nothing wrong.
 */
import assert from "node:assert/strict";
import { createStack, openTun } from "../../mod.ts";
import { createNetns, type Netns, requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { have } from "../support/qa_env.ts";

const OURS = "10.8.0.2";

async function must(ns: Netns, cmd: string[]): Promise<string> {
  const r = await ns.run(cmd);
  assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

Deno.test({
  name: "tun tools: ab -n 2000 -c 16, nmap -sS/-sT, 2000 sequential connections, over TUN",
  ignore: tapIgnore(),
  fn: async () => {
    if (!requireTapOrSkip()) return;
    for (const tool of ["ab", "nmap", "curl"]) {
      if (await have(tool)) continue;
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error(`${tool} is missing`);
      return;
    }
    const ns = await createNetns();
    try {
      const link = openTun({ name: "tun0", netns: ns.name, create: true, peer: "10.8.0.1/24" });
      const stack = await createStack({ link, address: `${OURS}/24` });
      const http = stack.serve({ port: 8080, onListen() {} }, () => new Response("ok\n"));
      const echo = stack.listen({ port: 7 });
      (async () => {
        for await (const c of echo) c.readable.pipeTo(c.writable).catch(() => {});
      })();
      try {
        for (const keepAlive of [[], ["-k"]]) {
          const ab = await must(ns, [
            "ab",
            ...keepAlive,
            "-q",
            "-n",
            "2000",
            "-c",
            "16",
            "-s",
            "20",
            `http://${OURS}:8080/`,
          ]);
          assert.match(ab, /Complete requests:\s+2000/, ab);
          assert.match(ab, /Failed requests:\s+0/, ab);
          assert.doesNotMatch(ab, /Non-2xx/, ab);
        }
        const stateOf = (out: string, port: number): string =>
          new RegExp(`^${port}/tcp\\s+(\\S+)`, "m").exec(out)?.[1] ?? `missing in:\n${out}`;
        for (const scan of ["-sS", "-sT"]) {
          const out = await must(ns, ["nmap", "-n", "-Pn", scan, "-p", "7,22,8080,9000", OURS]);
          assert.equal(stateOf(out, 7), "open", out);
          assert.equal(stateOf(out, 8080), "open", out);
          assert.equal(stateOf(out, 22), "closed", out);
          assert.equal(stateOf(out, 9000), "closed", out);
        }
        const py = "import socket\n" +
          "ok = 0\n" +
          "for i in range(2000):\n" +
          `    s = socket.create_connection(("${OURS}", 7), timeout=10)\n` +
          "    s.sendall(b'hi %d' % i)\n" +
          "    if s.recv(64) == b'hi %d' % i: ok += 1\n" +
          "    s.close()\n" +
          "print(ok)\n";
        assert.equal((await must(ns, ["python3", "-c", py])).trim(), "2000");
        const curl = await must(ns, ["curl", "-sS", "-m", "10", `http://${OURS}:8080/`]);
        assert.equal(curl, "ok\n");
        assert.equal(link.stats.txErrors, 0);
      } finally {
        echo.close();
        await http.shutdown();
        await stack.close();
        await link.wait(0);
      }
    } finally {
      await ns.delete();
    }
  },
});
