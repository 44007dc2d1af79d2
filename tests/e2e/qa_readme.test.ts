/**
 * New-user acceptance: every TypeScript example the README prints runs as printed. The blocks
 * are extracted from README.md at test time; the only substitutions are the import path
 * (`./mod.ts` becomes this checkout's file URL) and, for the TAP example, the namespace name
 * ("demo" becomes a name with this process's pid, per the network rule). The TAP example runs
 * as its own process, the command its comment gives ("Then: ...") is run verbatim against it,
 * and a second run attaches to the namespace the first one left behind when killed.
 */

import assert from "node:assert/strict";
import { requireTapOrSkip, tapIgnore } from "../../tools/netns.ts";
import { have } from "../support/qa_env.ts";

const ROOT = new URL("../..", import.meta.url);
const README = await Deno.readTextFile(new URL("README.md", ROOT));
const MOD = new URL("mod.ts", ROOT).href;

interface Block {
  info: string;
  code: string;
}

function blocks(md: string): Block[] {
  const out: Block[] = [];
  const re = /^```(ts[^\n]*)\n([\s\S]*?)^```$/gm;
  for (const m of md.matchAll(re)) out.push({ info: m[1]!.trim(), code: m[2]! });
  return out;
}

function localised(code: string): string {
  return code.replaceAll(`"./mod.ts"`, JSON.stringify(MOD));
}

async function writeTemp(code: string): Promise<string> {
  const file = await Deno.makeTempFile({ prefix: "qa_readme_", suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  return file;
}

Deno.test("qa readme: the README has its two TypeScript examples", () => {
  const ts = blocks(README);
  assert.ok(ts.length >= 2, ts.map((b) => b.info).join(", ")); // + the HTTP/TLS section's
  assert.ok(ts.some((b) => b.code.includes("openTap(")));
  assert.ok(ts.some((b) => b.code.includes("createMemoryLinkPair(")));
});

Deno.test("qa readme: the memory-pair example runs as printed (deno run, exit 0)", async () => {
  const block = blocks(README).find((b) => b.code.includes("createMemoryLinkPair("));
  assert.ok(block);
  const file = await writeTemp(localised(block.code));
  try {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("qa readme: the IPv6 example runs as printed (deno run, exit 0)", async () => {
  const block = blocks(README).find((b) => b.code.includes("fd00::2"));
  assert.ok(block);
  const file = await writeTemp(localised(block.code));
  try {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  } finally {
    await Deno.remove(file);
  }
});

Deno.test({
  name: "qa readme: the TAP example runs as printed, its comment's command gets the echo",
  ignore: tapIgnore(),
  async fn() {
    if (!requireTapOrSkip()) return;
    if (!(await have("socat"))) {
      if (Deno.env.get("TCPIP_REQUIRE_TAP") === "1") throw new Error("socat is missing");
      console.warn("skipped: socat is not installed (deno task setup)");
      return;
    }
    const block = blocks(README).find((b) => b.code.includes("openTap("));
    assert.ok(block);
    const ns = `dtcp-${Deno.pid}-readme`;
    assert.match(block.code, /netns: "demo"/);
    const code = localised(block.code).replaceAll(`netns: "demo"`, `netns: "${ns}"`);
    const then = /Then: (.+)$/m.exec(block.code)?.[1];
    assert.ok(then, "the example says what to run against it");
    const cmd = then.replaceAll(" demo ", ` ${ns} `);
    const file = await writeTemp(code);
    try {
      for (const run of [1, 2]) {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", file],
          stdout: "null",
          stderr: "piped",
        }).spawn();
        try {
          let out = "";
          for (let i = 0; i < 100 && out.trim() !== "hello"; i++) {
            await new Promise((r) => setTimeout(r, 200));
            const o = await new Deno.Command("timeout", {
              args: ["5", "sh", "-c", cmd],
              stdout: "piped",
              stderr: "null",
            }).output();
            out = new TextDecoder().decode(o.stdout);
          }
          assert.equal(out.trim(), "hello", `run ${run}: \`${cmd}\` did not echo`);
        } finally {
          // As a user stops it: Ctrl-C. The device goes with the process; the namespace stays.
          child.kill("SIGINT");
          const st = await child.status;
          const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
          assert.ok(!/error/i.test(err), `run ${run}: ${err}`);
          assert.ok(st.signal === "SIGINT" || st.code === 130 || st.code === 0, JSON.stringify(st));
        }
      }
    } finally {
      await Deno.remove(file);
      await new Deno.Command("ip", { args: ["netns", "delete", ns], stderr: "null" }).output();
    }
  },
});
