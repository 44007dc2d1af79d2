/** Smoke test of `deno task demo --slow-reader` (memory link, no privileges): it must pass. */
import assert from "node:assert/strict";

Deno.test("demo: the memory-link demo tells the whole story and passes", async () => {
  const plots = await Deno.makeTempDir({ prefix: "dtcp-test-plots-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../tools/demo.ts", import.meta.url).pathname,
        "--slow-reader",
        `--plots=${plots}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
    assert.match(text, /SYN SEQ=100 ACK=- WIN=65535 <MSS=1460 WS=\d+ \(x\d+\) SACK_PERM TS /);
    assert.match(text, /SYN\+ACK SEQ=2000 ACK=101 .*\[ACK 101 = 100 \+ 1 \(SYN\)\]/);
    assert.match(text, /ACK SEQ=101 ACK=2001 WIN=\d+ \(x\d+ = \d+\) +\[ACK 2001 = 2000 \+ 1/);
    assert.match(text, /PSH\+ACK SEQ=101 ACK=2001 LEN=100 /);
    assert.match(text, /ACK SEQ=2001 ACK=201 .*\[ACK 201 = 101 \+ 100 bytes\]/);
    assert.match(text, /\(matches\)/);
    assert.match(text, /window reached zero: yes/);
    assert.match(text, /Verdict: PASS/);
    for (const scene of ["scene1-download", "scene2-slow-reader"]) {
      const path = `${plots}/${scene}.svg`;
      assert.match(text, new RegExp(`time-sequence plot: ${path} \\(\\d+ data segments`));
      assert.match(await Deno.readTextFile(path), /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    }
    assert.doesNotMatch(text, /the trace dropped/);
  } finally {
    await Deno.remove(plots, { recursive: true });
  }
});
