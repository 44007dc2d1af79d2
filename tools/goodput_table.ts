/**
 * Prints the goodput tables of the bottleneck harness (tests/support/bottleneck.ts: TCP
 * engine in virtual time; bottleneck_stack.ts: whole stacks): NewReno and CUBIC, SACK on and
 * off, loss 0 / 0.1 / 1 / 5 % and pure reordering, and burst loss.
 * `deno run -A tools/goodput_table.ts [--mib 4] [--seeds 2] [--rate 100] [--rtt 10]`.
 *
 * @module
 */

import { runGoodput, TABLE_ROWS } from "../tests/support/bottleneck.ts";
import { runStackGoodput } from "../tests/support/bottleneck_stack.ts";

/** Print the goodput tables as Markdown (TCP-only harness, then whole stacks). */
export async function printTables(
  mib: number,
  seeds: number,
  rateMbit = 100,
  rttMs = 10,
): Promise<void> {
  const cols = [
    ["newreno", false],
    ["newreno", true],
    ["cubic", false],
    ["cubic", true],
  ] as const;
  console.log(
    `Goodput, Mbit/s (retransmissions/RTOs), ${mib} MiB one way, ${rateMbit} Mbit/s, ${rttMs} ms RTT, ` +
      `256 KiB buffers, timestamps on, mean of ${seeds} seed(s); virtual time.\n`,
  );
  console.log("| Case | NewReno | NewReno+SACK | CUBIC | CUBIC+SACK |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const row of TABLE_ROWS) {
    const cells: string[] = [];
    for (const [cc, sack] of cols) {
      let mbit = 0, rtx = 0, rto = 0, ok = true;
      for (let s = 1; s <= seeds; s++) {
        const r = runGoodput({
          congestion: cc,
          sack,
          loss: row.loss,
          reorder: row.reorder,
          reorderMs: row.label.includes("2 ms") ? 2 : 0.3,
          bytes: mib * 1048576,
          seed: s,
          rateMbit,
          rttMs,
        });
        ok &&= r.exact;
        mbit += r.mbit / seeds;
        rtx += r.retransmits / seeds;
        rto += r.rtos / seeds;
      }
      cells.push(ok ? `${mbit.toFixed(1)} (${Math.round(rtx)}/${Math.round(rto)})` : "FAILED");
    }
    console.log(`| ${row.label} | ${cells.join(" | ")} |`);
  }
  console.log(
    `\nWhole stacks (Ethernet/IPv4 framing, driver, socket API) over withFaults, same link, ` +
      `seed 1:\n`,
  );
  console.log("| Case | NewReno | NewReno+SACK | CUBIC | CUBIC+SACK |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const row of TABLE_ROWS) {
    const cells: string[] = [];
    for (const [cc, sack] of cols) {
      const r = await runStackGoodput({
        congestion: cc,
        sack,
        loss: row.loss,
        reorder: row.reorder,
        reorderMs: row.label.includes("2 ms") ? 2 : 0.3,
        bytes: mib * 1048576,
        seed: 1,
        rateMbit,
        rttMs,
      });
      cells.push(r.exact ? `${r.mbit.toFixed(1)} (${r.retransmits}/${r.rtos})` : "FAILED");
    }
    console.log(`| ${row.label} | ${cells.join(" | ")} |`);
  }
  console.log("\nBurst loss (SACK vs not), 8 consecutive segments lost at segment 300:\n");
  console.log("| Sender | loss to covering ACK | first report to covering ACK | path RTT then |");
  console.log("| --- | --- | --- | --- |");
  for (const [cc, sack] of cols) {
    const r = runGoodput({
      congestion: cc,
      sack,
      loss: 0,
      reorder: 0,
      bytes: mib * 1048576,
      seed: 1,
      rateMbit,
      rttMs,
      burst: { at: 300, count: 8 },
    });
    console.log(
      `| ${cc}${sack ? "+SACK" : ""} | ${r.burstRecoveryMs.toFixed(1)} ms | ` +
        `${r.burstRepairMs.toFixed(1)} ms | ${r.burstPathRttMs.toFixed(1)} ms |`,
    );
  }
}

if (import.meta.main) {
  const arg = (name: string, dflt: number): number => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
  };
  await printTables(arg("mib", 4), arg("seeds", 2), arg("rate", 100), arg("rtt", 10));
}
