/**
 * `deno task conformance`: the conformance bench with Linux as the oracle. Runs every case of
 * tests/conformance/ against the Linux kernel and against our stack (each in its own network
 * namespace, driven by a scapy bench), writes docs/conformance.md and prints, as its last line,
 * `conformance: N cases, A agree with Linux, D documented differences, F failures`.
 *
 *   deno run -A tools/conformance.ts [name-filter ...]
 *
 * Needs root, /dev/net/tun, python3-scapy and ethtool (tools/setup.ts installs them). Exits 1
 * when a case fails.
 *
 * @module
 */

import { runConformance } from "../tests/conformance/run.ts";
import { tapAvailable } from "./netns.ts";

const reason = tapAvailable();
if (reason !== null) {
  console.error(`conformance: cannot run: ${reason}`);
  Deno.exit(1);
}
const { summary, failures } = await runConformance({ filter: Deno.args });
console.log(summary);
Deno.exit(failures === 0 ? 0 : 1);
