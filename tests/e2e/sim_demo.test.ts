/** Smoke test of `deno task demo --slow-reader` (memory link, no privileges): it must pass. */
import assert from "node:assert/strict";

Deno.test("demo: the memory-link demo tells the whole story and passes", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../tools/demo.ts", import.meta.url).pathname, "--slow-reader"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
  assert.match(text, /SYN SEQ=100 ACK=- /);
  assert.match(text, /SYN\+ACK SEQ=2000 ACK=101 /);
  assert.match(text, /ACK SEQ=101 ACK=2001 /);
  assert.match(text, /PSH\+ACK SEQ=101 ACK=2001 LEN=100 /);
  assert.match(text, /\(matches\)/);
  assert.match(text, /window reached zero: yes/);
  assert.match(text, /Verdict: PASS/);
});
