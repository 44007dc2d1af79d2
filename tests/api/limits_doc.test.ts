/**
 * The defaults a new user reads in docs/limits.md, docs/tcp.md and the README are the code's:
 * buffer sizes and their auto-tuning maxima, the stack-wide growth budget, busy polling and
 * the transmit queue of a device openTap creates. Each row is found by its option name and
 * its default compared with the constant the code uses.
 */
import assert from "node:assert/strict";
import { TCP_DEFAULTS } from "../../src/tcp/types.ts";
import { CREATED_TX_QUEUE } from "../../src/link/tap/tap.ts";

const root = new URL("../../", import.meta.url);
const limits = Deno.readTextFileSync(new URL("docs/limits.md", root));
const tcp = Deno.readTextFileSync(new URL("docs/tcp.md", root));
const readme = Deno.readTextFileSync(new URL("README.md", root));

const KIB = 1024;
const MIB = 1024 * 1024;

/** The table row of `text` whose option column names `option` (backquoted). */
function row(text: string, option: string): string {
  const line = text.split("\n").find((l) => l.startsWith("|") && l.includes(`\`${option}\``));
  assert.ok(line, `no row for ${option}`);
  return line;
}

function size(n: number): string {
  return n % MIB === 0 ? `${n / MIB} MiB` : `${n / KIB} KiB`;
}

Deno.test("limits doc: buffer defaults, maxima and budget in the docs are the code's", () => {
  const rcv = row(limits, "rcvBufMax");
  assert.ok(rcv.includes(`${size(TCP_DEFAULTS.rcvBuf)} at first`), rcv);
  assert.ok(rcv.includes(`grows to ${size(TCP_DEFAULTS.rcvBufMax)}`), rcv);
  const snd = row(limits, "sndBufMax");
  assert.ok(snd.includes(`${size(TCP_DEFAULTS.sndBuf)} at first`), snd);
  assert.ok(snd.includes(`grows to ${size(TCP_DEFAULTS.sndBufMax)}`), snd);
  assert.ok(row(limits, "bufferBudget").includes(size(TCP_DEFAULTS.bufferBudget)));
  assert.equal(TCP_DEFAULTS.autotune, true, "auto-tuning is on by default");
  // docs/tcp.md's table of defaults.
  const t = tcp.split("\n");
  const line = (name: string) => t.find((l) => l.startsWith(`| ${name} `)) ?? "";
  assert.ok(line("rcvBuf / sndBuf").includes(size(TCP_DEFAULTS.rcvBuf)));
  assert.equal(TCP_DEFAULTS.rcvBuf, TCP_DEFAULTS.sndBuf);
  assert.ok(
    line("rcvBufMax / sndBufMax").includes(
      `${size(TCP_DEFAULTS.rcvBufMax)} / ${size(TCP_DEFAULTS.sndBufMax)}`,
    ),
  );
  assert.ok(line("bufferBudget").includes(size(TCP_DEFAULTS.bufferBudget)));
  // The README's limits table.
  assert.ok(
    readme.includes(
      `${size(TCP_DEFAULTS.rcvBuf)}, auto-tuned up to ${size(TCP_DEFAULTS.rcvBufMax)} / ${
        size(TCP_DEFAULTS.sndBufMax)
      }`,
    ),
  );
  assert.ok(readme.includes(`${size(TCP_DEFAULTS.bufferBudget)} (\`bufferBudget\`)`));
});

Deno.test("limits doc: busy polling and the created device's transmit queue are the code's", () => {
  assert.ok(row(limits, "TapOptions.txQueueLen").includes(`${CREATED_TX_QUEUE} frames`));
  // The busy-poll default openDevice applies (`options.busyPollUs ?? N`), the option's JSDoc
  // and the limits table agree.
  const tap = Deno.readTextFileSync(new URL("src/link/tap/tap.ts", root));
  const code = /options\.busyPollUs \?\? (\d+)/.exec(tap)?.[1];
  assert.ok(code, "openDevice's busyPollUs default not found");
  const types = Deno.readTextFileSync(new URL("src/link/tap/types.ts", root));
  assert.match(types, new RegExp(`Default ${code}; 0 turns it off`));
  assert.ok(row(limits, "TapOptions.busyPollUs").includes(`| ${code} us,`));
});
