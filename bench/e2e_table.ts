/**
 * The end-to-end benchmark's result table: every measured figure is the median of several runs,
 * grouped by test (what was measured, at which MTU), and every row of a group is also given as
 * a ratio to the group's baseline row (kernel to kernel over veth, measured in the same run;
 * its ratio is 1.00), with the CPU the measuring process used per Gbit/s where known.
 *
 * @module
 */

/** How a figure is read: throughput (higher is better), a time or a rate. */
export type Unit = "Gbit/s" | "us" | "conn/s";

/** One row: a setup measured in a test, with the figure of every run. */
export interface Row {
  /** The test, for example "receive (kernel -> stack) MTU 1500". Rows group by it. */
  test: string;
  /** What carried it, for example "ours, wasm, TAP" or "kernel, veth (iperf3)". */
  setup: string;
  /** Unit of the figures. */
  unit: Unit;
  /** The figure of every run (empty when not measured). */
  values: number[];
  /** True for the row every other row of the same test is compared with. */
  baseline?: boolean;
  /** Why the row has no figure, or a short remark printed after it. */
  note?: string;
  /**
   * Per run: CPU of the measuring process in % of one core per Gbit/s (bulk rows) or, with
   * `cpuUnit` "us/conn", in microseconds per connection (connection rows).
   */
  cpu?: number[];
  /** Unit of `cpu` (default "%/Gbit/s"). */
  cpuUnit?: "%/Gbit/s" | "us/conn";
}

/**
 * Median of `values` (mean of the two middle ones for an even count); NaN for none.
 *
 * @example
 * ```ts
 * import { median } from "./e2e_table.ts";
 * if (median([3, 1, 2]) !== 2) throw new Error("wrong median");
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Format a figure with three significant digits (two decimals below 10). */
export function formatValue(v: number, unit: Unit): string {
  if (!Number.isFinite(v)) return "-";
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${unit}`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function padLeft(s: string, n: number): string {
  return s.length >= n ? s : " ".repeat(n - s.length) + s;
}

/**
 * Render the rows as one plain-text table (Markdown-compatible): test, setup, median, the
 * range over runs and the run count, the ratio to the group's baseline row (veth) and the
 * median CPU per Gbit/s (or per connection, in us). Ratios are value / baseline for every unit, so for latency a ratio
 * above 1 means slower than the baseline.
 *
 * @example
 * ```ts
 * import { renderTable } from "./e2e_table.ts";
 * const text = renderTable([
 *   { test: "t", setup: "veth", unit: "Gbit/s", values: [2, 4, 3], baseline: true },
 *   { test: "t", setup: "ours", unit: "Gbit/s", values: [1.5], cpu: [40] },
 * ]);
 * if (!text.includes("0.50x")) throw new Error(text);
 * ```
 */
export function renderTable(rows: readonly Row[]): string {
  const header = ["test", "setup", "median", "min..max (runs)", "vs veth", "CPU"];
  const body: string[][] = [];
  let lastTest = "";
  for (const row of rows) {
    const base = rows.find((r) => r.test === row.test && r.baseline === true);
    const m = median(row.values);
    const baseM = base ? median(base.values) : NaN;
    let ratio = "";
    if (row.values.length > 0) {
      if (row === base) ratio = "1.00x";
      else if (Number.isFinite(baseM) && baseM > 0) ratio = `${(m / baseM).toFixed(2)}x`;
    }
    const range = row.values.length === 0
      ? ""
      : `${formatValue(Math.min(...row.values), row.unit).split(" ")[0]}..${
        formatValue(Math.max(...row.values), row.unit).split(" ")[0]
      } (${row.values.length})`;
    const fig = row.values.length === 0
      ? `not measured${row.note ? ` (${row.note})` : ""}`
      : formatValue(m, row.unit) + (row.note ? ` [${row.note}]` : "");
    const cpu = row.cpu && row.cpu.length > 0
      ? row.cpuUnit === "us/conn"
        ? `${median(row.cpu).toFixed(1)} us/conn`
        : `${median(row.cpu).toFixed(0)} %/Gbit/s`
      : "";
    body.push([row.test === lastTest ? "" : row.test, row.setup, fig, range, ratio, cpu]);
    lastTest = row.test;
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string =>
    `| ${
      cells.map((c, i) =>
        (i === 2 || i >= 4) && c !== "" && !c.startsWith("not")
          ? padLeft(c, widths[i]!)
          : pad(c, widths[i]!)
      )
        .join(" | ")
    } |`;
  const sep = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
  return [line(header), sep, ...body.map(line)].join("\n");
}
