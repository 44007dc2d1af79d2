/**
 * The demos' scenes, shared by the memory-link demo and the TAP demo: a file download over
 * HTTP/1.1 with a progress bar and figures, and the slow reader whose advertised window
 * shrinks to zero while the sender waits and probes.
 *
 * @module
 */

import type { NetStack } from "../src/api/net_stack.ts";
import type { ConnInfo } from "../src/api/conn.ts";
import { seqAdd, seqDiff, seqMax } from "../src/wire/seq.ts";
import { httpGet, progressBar, rate, sha256, type TracedLink } from "./demo_lib.ts";

/** What a download scene measured. */
export interface DownloadResult {
  ok: boolean;
  status: number;
  bytes: number;
  ms: number;
  sha: string;
  info: ConnInfo;
  client: string;
  server: string;
}

/** Download `path` from `host:port` with our stack as the client. */
export async function download(
  stack: NetStack,
  host: string,
  port: number,
  path: string,
  expectedSha: string,
): Promise<DownloadResult> {
  const conn = await stack.connect({ hostname: host, port });
  const t0 = performance.now();
  try {
    const { status, body } = await httpGet(conn, host, path, {
      onProgress: progressBar(`GET ${path}`),
    });
    const ms = performance.now() - t0;
    const sha = await sha256(body);
    return {
      ok: status === 200 && sha === expectedSha,
      status,
      bytes: body.length,
      ms,
      sha,
      info: conn.info(),
      client: `${conn.localAddr.hostname}:${conn.localAddr.port}`,
      server: `${host}:${port}`,
    };
  } finally {
    conn.close();
  }
}

/** Print a download's figures. */
export function printDownload(r: DownloadResult, traced?: TracedLink): void {
  const i = r.info;
  const num = (k: keyof typeof i): string => String(i[k]);
  console.log(`  ${r.bytes} bytes in ${r.ms.toFixed(0)} ms: ${rate(r.bytes, r.ms)}`);
  console.log(`  SHA-256 ${r.sha} ${r.ok ? "(matches)" : "(MISMATCH)"}`);
  console.log(
    `  our side: mss ${num("mss")}, rcv window ${num("rcvWnd")}, snd window ${num("sndWnd")},` +
      ` wscale ${num("sndWscale")}/${num("rcvWscale")}, srtt ${num("srttMs")} ms,` +
      ` retransmits ${num("retransmits")}`,
  );
  if (traced) {
    const c = traced.counts;
    console.log(
      `  frames seen: ${c["in-segments"] ?? 0} in / ${c["out-segments"] ?? 0} out, ` +
        `zero windows advertised to us ${c["in-zero-window"] ?? 0}, by us ${
          c["out-zero-window"] ?? 0
        }`,
    );
  }
}

/** One row of the slow reader's timeline. */
export interface WindowSample {
  t: number;
  /** Our advertised receive window (bytes). */
  rcvWnd: number;
  /** Bytes the sender has sent that we have not acknowledged yet (from the trace). */
  inFlight: number;
  /** Bytes the application has read so far. */
  read: number;
  /** Segments from the sender while our window was zero (probes) so far. */
  probes: number;
}

/**
 * The seed's flow-control lesson: download while reading `readChunk` bytes every `everyMs`
 * (slower than the network delivers), with one long pause of `pauseMs` half-way (long enough
 * for the sender's persist timer to probe the zero window), sampling the window every
 * `sampleMs`. `path` null: a raw stream (the server just sends and closes) instead of HTTP.
 */
export async function slowReader(
  stack: NetStack,
  traced: TracedLink,
  host: string,
  port: number,
  path: string | null,
  options: {
    readChunk: number;
    everyMs: number;
    sampleMs: number;
    rcvBuf: number;
    pauseMs: number;
    total: number;
  },
): Promise<{ samples: WindowSample[]; result: DownloadResult }> {
  const conn = await stack.connect({ hostname: host, port, tcp: { rcvBuf: options.rcvBuf } });
  const local = `${conn.localAddr.hostname}:${conn.localAddr.port}`;
  const remote = `${host}:${port}`;
  const samples: WindowSample[] = [];
  let read = 0;
  let paused = false;
  const t0 = performance.now();
  const sample = (): void => {
    let maxEnd = -1;
    let lastAck = -1;
    let zero = false;
    let probes = 0;
    for (const e of traced.trace) {
      if (e.src === remote && e.dst === local) {
        if (zero && (e.len > 0 || e.seq !== lastAck)) probes++;
        const end = seqAdd(e.seq, e.len);
        maxEnd = maxEnd < 0 ? end : seqMax(maxEnd, end);
      } else if (e.src === local && e.dst === remote) {
        lastAck = e.ack;
        zero = e.win === 0;
      }
    }
    samples.push({
      t: performance.now() - t0,
      rcvWnd: conn.info().rcvWnd,
      inFlight: maxEnd < 0 || lastAck < 0 ? 0 : Math.max(0, seqDiff(maxEnd, lastAck)),
      read,
      probes,
    });
  };
  const timer = setInterval(sample, options.sampleMs);
  const pace = async (): Promise<void> => {
    let ms = options.everyMs;
    if (!paused && read >= options.total / 2) {
      paused = true;
      ms = options.pauseMs;
    }
    await new Promise((r) => setTimeout(r, ms));
  };
  try {
    let status = 200;
    let body: Uint8Array;
    if (path === null) {
      body = new Uint8Array(options.total);
      const chunk = new Uint8Array(options.readChunk);
      for (;;) {
        await pace();
        const n = await conn.read(chunk);
        if (n === null) break;
        body.set(chunk.subarray(0, Math.min(n, body.length - read)), read);
        read += n;
      }
    } else {
      const r = await httpGet(conn, host, path, {
        readChunk: options.readChunk,
        pace,
        onProgress: (done) => read = done,
      });
      status = r.status;
      body = r.body;
    }
    sample();
    const ms = performance.now() - t0;
    return {
      samples,
      result: {
        ok: status === 200 && read >= options.total,
        status,
        bytes: read,
        ms,
        sha: await sha256(body),
        info: conn.info(),
        client: local,
        server: remote,
      },
    };
  } finally {
    clearInterval(timer);
    conn.close();
  }
}

/** Print the timeline: rows where the window or the flight changed, at most `rows`. */
export function printTimeline(samples: WindowSample[], rows = 24): void {
  console.log("    time   our window   in flight      read  probes  ");
  const picked: WindowSample[] = [];
  let prev: WindowSample | undefined;
  for (const s of samples) {
    if (!prev || s.rcvWnd !== prev.rcvWnd || s.probes !== prev.probes) {
      picked.push(s);
    }
    prev = s;
  }
  const step = Math.max(1, Math.ceil(picked.length / rows));
  for (let i = 0; i < picked.length; i += step) {
    const s = picked[i]!;
    const prev2 = i > 0 ? picked[i - step] : undefined;
    const bar = "#".repeat(Math.min(20, Math.round(s.rcvWnd / 2048)));
    console.log(
      `  ${s.t.toFixed(0).padStart(5)}ms ${String(s.rcvWnd).padStart(9)} ` +
        `${String(s.inFlight).padStart(11)} ${String(s.read).padStart(9)} ` +
        `${String(s.probes).padStart(7)}  ${
          s.rcvWnd === 0
            ? (prev2 && s.probes > prev2.probes
              ? "ZERO WINDOW: sender probes"
              : "ZERO WINDOW: sender waits")
            : bar
        }`,
    );
  }
}
