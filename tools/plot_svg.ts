/**
 * The time-sequence graph of one TCP connection as a pure SVG document (the tcptrace /
 * Wireshark "Stevens" graph): sequence number over time for the direction that carries the
 * data. Each data segment is a vertical bar from its first to its last byte (red when it is a
 * retransmission), the receiver's ACKs are a green step line, the ACK plus the receive window
 * (the highest sequence the sender may send) a gold step line, SACK blocks purple bars, zero
 * windows red dots; axes with ticks and a legend. Sequence numbers are relative to the
 * sender's first byte (ISN + 1).
 *
 * Element classes, for tests and for styling: `seg` (one per data segment), `rtx` (also on
 * retransmitted ones), `ack`, `rwnd`, `sack`, `zwnd`, `axis`, `legend`.
 *
 * @module
 */

import { F_ACK, F_FIN, F_SYN } from "../src/wire/layout.ts";
import { seqAdd, seqDiff, seqGt, seqLt } from "../src/wire/seq.ts";
import type { LadderConn, LadderSegment } from "./ladder_lib.ts";

/** Options of `plotSvg`. */
export interface PlotOptions {
  /** A title line (default: "sender -> receiver"). */
  title?: string;
  /** Width and height in px (default 1200 x 800). */
  width?: number;
  height?: number;
}

/** What `plotSvg` drew. */
export interface PlotResult {
  /** The SVG document. */
  svg: string;
  /** The data sender, "ip:port". */
  sender: string;
  /** Data segments drawn (`seg` marks), of which retransmissions (`rtx`). */
  segments: number;
  retransmissions: number;
  /** ACKs on the ACK line, SACK blocks drawn, zero windows marked. */
  acks: number;
  sackBlocks: number;
  zeroWindows: number;
}

/** A "nice" tick step (1, 2 or 5 times a power of ten) for about `count` ticks over `range`. */
export function niceStep(range: number, count: number): number {
  const raw = Math.max(range, 1e-9) / Math.max(count, 1);
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** Draw `conn`'s time-sequence graph (the direction with more payload bytes). */
export function plotSvg(conn: LadderConn, options: PlotOptions = {}): PlotResult {
  const W = options.width ?? 1200;
  const H = options.height ?? 800;
  const bytesFrom = (who: string): number =>
    conn.segments.reduce((a, s) => a + (s.src === who ? s.len : 0), 0);
  const sender = bytesFrom(conn.server) > bytesFrom(conn.client) ? conn.server : conn.client;
  const receiver = sender === conn.client ? conn.server : conn.client;
  const data = conn.segments.filter((s) => s.src === sender);
  const acks = conn.segments.filter((s) => s.src === receiver && s.flags & F_ACK);
  const synS = data.find((s) => s.flags & F_SYN);
  const synR = conn.segments.find((s) => s.src === receiver && s.flags & F_SYN);
  const base = synS ? seqAdd(synS.seq, 1) : (data[0]?.seq ?? acks[0]?.ack ?? 0);
  // RFC 7323 2.3: the receiver's windows are scaled by its shift when both SYNs had WS.
  const known = synS !== undefined && synR !== undefined;
  const shift = known && synS.options.wscale !== undefined ? synR.options.wscale ?? 0 : 0;
  const winOf = (s: LadderSegment): number =>
    s.windowScaled ?? (s.flags & F_SYN ? s.window : s.window * 2 ** shift);
  const rel = (q: number): number => seqDiff(q, base);
  const t0 = conn.segments[0]?.time ?? 0;
  const xs = conn.segments.map((s) => s.time - t0);
  const tMax = Math.max(1e-3, ...xs);

  // Retransmissions: data starting below the highest sequence sent so far over bytes sent.
  let nxt: number | null = null;
  const sent: Array<[number, number]> = [];
  const marks = data.map((s) => {
    const n = s.len + (s.flags & F_SYN ? 1 : 0) + (s.flags & F_FIN ? 1 : 0);
    const end = seqAdd(s.seq, n);
    const rtx = n > 0 && nxt !== null && seqLt(s.seq, nxt) &&
      sent.some(([a, b]) => seqLt(a, end) && seqGt(b, s.seq));
    if (n > 0) {
      sent.push([s.seq, end]);
      if (sent.length > 4096) sent.shift();
      if (nxt === null || seqGt(end, nxt)) nxt = end;
    }
    return { s, rtx };
  }).filter((m) => m.s.len > 0);

  // The vertical range: all data and ACKs, and the window line unless it would squash them
  // (then it is clipped at the top edge).
  let top = 1;
  for (const m of marks) top = Math.max(top, rel(m.s.seq) + m.s.len);
  for (const a of acks) top = Math.max(top, rel(a.ack));
  let winTop = 0;
  for (const a of acks) winTop = Math.max(winTop, rel(a.ack) + winOf(a));
  const yMax = Math.max(top * 1.05, Math.min(winTop * 1.02, top * 3));
  let yMin = 0;
  for (const m of marks) yMin = Math.min(yMin, rel(m.s.seq));
  const L = 100, R = 30, T = 60, B = 70;
  const pw = W - L - R, ph = H - T - B;
  const useSec = tMax >= 2000;
  const tUnit = useSec ? 1000 : 1;
  const x = (t: number): number => L + (t / tMax) * pw;
  const y = (v: number): number => T + ph - ((v - yMin) / (yMax - yMin)) * ph;
  const f = (v: number): string => v.toFixed(1);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
      `viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">${
      esc(options.title ?? `${sender} -> ${receiver}`)
    }</text>`,
    `<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">time-sequence graph of the ` +
      `data ${esc(sender)} sends; sequence numbers relative to its ISN + 1` +
      `${known ? "" : " (no SYN seen: window scale unknown, windows unscaled)"}</text>`,
  );
  // Axes, ticks, grid.
  out.push(`<g class="axis" stroke="#333" fill="none">`);
  out.push(`<line x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}"/>`);
  out.push(`<line x1="${L}" y1="${T}" x2="${L}" y2="${T + ph}"/>`);
  out.push(`</g>`);
  out.push(`<g class="axis" font-size="12">`);
  const xStep = niceStep(tMax / tUnit, 10);
  for (let v = 0; v <= tMax / tUnit + 1e-9; v += xStep) {
    const px = f(x(v * tUnit));
    out.push(
      `<line x1="${px}" y1="${T}" x2="${px}" y2="${T + ph}" stroke="#eee"/>`,
      `<line x1="${px}" y1="${T + ph}" x2="${px}" y2="${T + ph + 5}" stroke="#333"/>`,
      `<text x="${px}" y="${T + ph + 20}" text-anchor="middle">${+v.toFixed(6)}</text>`,
    );
  }
  const yUnit = yMax >= 4 * 1048576 ? 1048576 : yMax >= 16384 ? 1024 : 1;
  const yStep = niceStep((yMax - yMin) / yUnit, 10) * yUnit;
  for (let v = Math.ceil(yMin / yStep) * yStep; v <= yMax + 1e-9; v += yStep) {
    const py = f(y(v));
    out.push(
      `<line x1="${L}" y1="${py}" x2="${L + pw}" y2="${py}" stroke="#eee"/>`,
      `<line x1="${L - 5}" y1="${py}" x2="${L}" y2="${py}" stroke="#333"/>`,
      `<text x="${L - 8}" y="${py}" text-anchor="end" dominant-baseline="middle">${
        yUnit === 1 ? v : `${+(v / yUnit).toFixed(3)} ${yUnit === 1024 ? "KiB" : "MiB"}`
      }</text>`,
    );
  }
  out.push(
    `<text x="${L + pw / 2}" y="${H - 20}" text-anchor="middle">time (${
      useSec ? "s" : "ms"
    })</text>`,
    `<text transform="translate(22 ${T + ph / 2}) rotate(-90)" text-anchor="middle">` +
      `sequence number (bytes)</text>`,
    `</g>`,
  );
  // Receive window and ACK lines: steps that hold until the next ACK.
  const step = (val: (a: LadderSegment) => number): string => {
    const pts: string[] = [];
    acks.forEach((a, i) => {
      const tx = x(a.time - t0);
      const next = acks[i + 1];
      const tn = next ? x(next.time - t0) : x(tMax);
      pts.push(`${f(tx)},${f(y(val(a)))}`, `${f(tn)},${f(y(val(a)))}`);
    });
    return pts.join(" ");
  };
  out.push(
    `<clipPath id="plot-area"><rect x="${L}" y="${T}" width="${pw}" height="${ph}"/></clipPath>`,
    `<g clip-path="url(#plot-area)">`,
  );
  if (acks.length > 0) {
    out.push(
      `<polyline class="rwnd" fill="none" stroke="#d4a000" stroke-width="1.5" points="${
        step((a) => rel(a.ack) + winOf(a))
      }"/>`,
      `<polyline class="ack" fill="none" stroke="#1a9641" stroke-width="1.5" points="${
        step((a) => rel(a.ack))
      }"/>`,
    );
  }
  let sackBlocks = 0;
  out.push(`<g stroke="#7b3294" stroke-width="3">`);
  for (const a of acks) {
    const tx = f(x(a.time - t0));
    for (const [l, r] of a.options.sack) {
      sackBlocks++;
      out.push(
        `<line class="sack" x1="${tx}" y1="${f(y(rel(l)))}" x2="${tx}" y2="${f(y(rel(r)))}"/>`,
      );
    }
  }
  let zeroWindows = 0;
  out.push(`</g>`, `<g fill="#d7191c">`);
  for (const a of acks) {
    if (a.window !== 0) continue;
    zeroWindows++;
    out.push(`<circle class="zwnd" cx="${f(x(a.time - t0))}" cy="${f(y(rel(a.ack)))}" r="3"/>`);
  }
  out.push(`</g>`);
  // Data segments: I-bars, drawn last so they stay on top (retransmissions over the rest).
  for (const retransmitted of [false, true]) {
    out.push(
      retransmitted
        ? `<g stroke="#d7191c" stroke-width="2" fill="none">`
        : `<g stroke="#2c5fa8" stroke-width="1.2" fill="none">`,
    );
    for (const { s, rtx } of marks) {
      if (rtx !== retransmitted) continue;
      const tx = x(s.time - t0);
      const y1 = y(rel(s.seq));
      const y2 = y(rel(s.seq) + s.len);
      out.push(
        `<path class="seg${rtx ? " rtx" : ""}" d="M${f(tx)} ${f(y1)}V${f(y2)}M${f(tx - 2)} ${
          f(y1)
        }h4M${f(tx - 2)} ${f(y2)}h4"/>`,
      );
    }
    out.push(`</g>`);
  }
  out.push(`</g>`);
  // Legend.
  const entries: Array<[string, string]> = [
    [`<path d="M8 -7V7M6 -7h4M6 7h4" stroke="#2c5fa8" stroke-width="1.5"/>`, "data segment"],
    [`<path d="M8 -7V7M6 -7h4M6 7h4" stroke="#d7191c" stroke-width="2"/>`, "retransmission"],
    [`<line x1="0" y1="0" x2="16" y2="0" stroke="#1a9641" stroke-width="2"/>`, "ACK"],
    [
      `<line x1="0" y1="0" x2="16" y2="0" stroke="#d4a000" stroke-width="2"/>`,
      "ACK + receive window",
    ],
    [`<line x1="8" y1="-7" x2="8" y2="7" stroke="#7b3294" stroke-width="3"/>`, "SACK block"],
    [`<circle cx="8" cy="0" r="4" fill="#d7191c"/>`, "zero window"],
  ];
  out.push(
    `<g class="legend" transform="translate(${L + 14} ${T + 12})">`,
    `<rect x="-8" y="-4" width="200" height="${entries.length * 20 + 4}" fill="white" ` +
      `fill-opacity="0.9" stroke="#999"/>`,
  );
  entries.forEach(([mark, label], i) => {
    out.push(
      `<g transform="translate(0 ${i * 20 + 8})">${mark}<text x="26" y="0" ` +
        `dominant-baseline="middle">${label}</text></g>`,
    );
  });
  out.push(`</g>`, `</svg>`, ``);
  return {
    svg: out.join("\n"),
    sender,
    segments: marks.length,
    retransmissions: marks.filter((m) => m.rtx).length,
    acks: acks.length,
    sackBlocks,
    zeroWindows,
  };
}
