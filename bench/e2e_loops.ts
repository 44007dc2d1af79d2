/**
 * The measurement loops of the end-to-end benchmark, shared by our stack's rows and the
 * kernel's reference client so that both measure exactly the same way: a bulk sink and source
 * (goodput over a window after a warm-up, stopping at a byte cap or a time limit), a 1-byte
 * request/response loop (median and 99th percentile round trip), and a connection setup loop
 * (connect, wait for the server's FIN, close).
 *
 * @module
 */

/** The part of a connection the loops use (Deno.Conn and our Conn both fit). */
export interface LoopConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** Limits of a bulk transfer. */
export interface BulkLimits {
  /** Measured window length at most, in seconds. */
  seconds: number;
  /** Stop the window once this many bytes were moved in it. */
  maxBytes: number;
  /** Bytes moved before the window opens (leaves slow start and warms the JIT). */
  warmupBytes: number;
}

/** Result of a bulk transfer: goodput over the measured window. */
export interface BulkResult {
  [key: string]: number;
  gbps: number;
  bytes: number;
  seconds: number;
  /** CPU time of this process (all threads, user + system) over the window, % of one core. */
  cpuPct: number;
}

const CHUNK = 262144;

/** CPU seconds (user + system, all threads) this process has used; NaN where /proc is absent. */
export function processCpuSeconds(): number {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after the command name (which may hold spaces) start at field 3.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return NaN;
  }
}

function result(bytes: number, ms: number, cpu0: number): BulkResult {
  const cpuPct = ((processCpuSeconds() - cpu0) * 1000 / ms) * 100;
  return { gbps: (bytes * 8) / (ms * 1e6), bytes, seconds: ms / 1000, cpuPct };
}

/** Read and discard until the window ends; count the bytes read after the warm-up. */
export async function sinkLoop(conn: LoopConn, limits: BulkLimits): Promise<BulkResult> {
  const buf = new Uint8Array(CHUNK);
  let warm = 0;
  const warmDeadline = performance.now() + 10000;
  while (warm < limits.warmupBytes && performance.now() < warmDeadline) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`Peer closed during warm-up after ${warm} bytes`);
    warm += n;
  }
  const cpu0 = processCpuSeconds();
  const t0 = performance.now();
  const end = t0 + limits.seconds * 1000;
  let bytes = 0;
  let now = t0;
  while (bytes < limits.maxBytes && now < end) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`Peer closed after ${bytes} measured bytes`);
    bytes += n;
    now = performance.now();
  }
  return result(bytes, now - t0, cpu0);
}

/** Write a byte pattern until the window ends; count the bytes written after the warm-up. */
export async function sourceLoop(conn: LoopConn, limits: BulkLimits): Promise<BulkResult> {
  const buf = new Uint8Array(CHUNK);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 31 + 7) & 255;
  let warm = 0;
  const warmDeadline = performance.now() + 10000;
  while (warm < limits.warmupBytes && performance.now() < warmDeadline) {
    warm += await conn.write(buf);
  }
  const cpu0 = processCpuSeconds();
  const t0 = performance.now();
  const end = t0 + limits.seconds * 1000;
  let bytes = 0;
  let now = t0;
  while (bytes < limits.maxBytes && now < end) {
    bytes += await conn.write(buf);
    now = performance.now();
  }
  return result(bytes, now - t0, cpu0);
}

/** Result of the request/response loop, in microseconds. */
export interface RrResult {
  [key: string]: number;
  medianUs: number;
  p99Us: number;
  count: number;
}

/**
 * Send one byte and wait for the one-byte echo, `warmup` times unmeasured, then until
 * `seconds` pass or `maxCount` round trips; the median and 99th percentile round trip.
 */
export async function rrLoop(
  conn: LoopConn,
  opts: { seconds: number; maxCount: number; warmup: number },
): Promise<RrResult> {
  const out = new Uint8Array([0x61]);
  const inp = new Uint8Array(16);
  const times = new Float64Array(opts.maxCount);
  const once = async (): Promise<void> => {
    let sent = 0;
    while (sent === 0) sent = await conn.write(out);
    const n = await conn.read(inp);
    if (n === null) throw new Error("Echo server closed the connection");
  };
  for (let i = 0; i < opts.warmup; i++) await once();
  const end = performance.now() + opts.seconds * 1000;
  let count = 0;
  while (count < opts.maxCount) {
    const t0 = performance.now();
    if (t0 >= end) break;
    await once();
    times[count++] = performance.now() - t0;
  }
  const s = times.subarray(0, count).sort();
  const at = (q: number): number => (s[Math.min(count - 1, Math.floor(q * count))] ?? NaN) * 1000;
  return { medianUs: at(0.5), p99Us: at(0.99), count };
}

/** Result of the connection loops. */
export interface ConnRateResult {
  [key: string]: number;
  /** Connections per second. */
  rate: number;
  count: number;
  /** The slowest connection, ms, and how many took over 10 ms. */
  slowestMs: number;
  over10ms: number;
  /**
   * CPU time of this process (user + system, all threads, /proc at 10 ms resolution) per
   * connection over the window, in microseconds; NaN where /proc is absent.
   */
  cpuUsPerConn: number;
}

function connRate(
  count: number,
  ms: number,
  cpu0: number,
  slowestMs: number,
  over10ms: number,
): ConnRateResult {
  const cpuUsPerConn = count > 0 ? (processCpuSeconds() - cpu0) * 1e6 / count : NaN;
  return { rate: count / (ms / 1000), count, slowestMs, over10ms, cpuUsPerConn };
}

/**
 * Open connections one after another (connect, wait for the server's FIN, close) until
 * `seconds` pass or `maxCount` connections; connections per second. With `request`, each
 * connection first writes one byte and the server answers one before its FIN (a short
 * request/response connection); the answer is checked. Also the slowest connection (ms) and
 * how many took over 10 ms (a stall: a lost segment or a delayed ACK on the critical path).
 */
export async function cpsLoop(
  connect: () => Promise<LoopConn>,
  opts: { seconds: number; maxCount: number; request?: boolean },
): Promise<
  ConnRateResult
> {
  const buf = new Uint8Array(16);
  const req = new Uint8Array([0x71]);
  const cpu0 = processCpuSeconds();
  const t0 = performance.now();
  const end = t0 + opts.seconds * 1000;
  let count = 0;
  let now = t0;
  let slowest = 0;
  let over10ms = 0;
  while (count < opts.maxCount && now < end) {
    const start = now;
    const conn = await connect();
    try {
      let got = 0;
      if (opts.request) await conn.write(req);
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) got += n;
      if (got !== (opts.request ? 1 : 0)) throw new Error(`Expected a 1-byte answer, got ${got}`);
    } finally {
      conn.close();
    }
    count++;
    now = performance.now();
    if (now - start > slowest) slowest = now - start;
    if (now - start > 10) over10ms++;
  }
  return connRate(count, now - t0, cpu0, slowest, over10ms);
}

/**
 * `concurrency` clients running `cpsLoop`'s loop side by side (as a crawler or a load
 * generator keeps several connections in flight), until `seconds` pass or `maxCount`
 * connections in all; connections per second of them all, the slowest connection and how
 * many took over 10 ms.
 */
export async function cpsConcurrentLoop(
  connect: () => Promise<LoopConn>,
  opts: { seconds: number; maxCount: number; request?: boolean; concurrency: number },
): Promise<
  ConnRateResult
> {
  if (!(Number.isInteger(opts.concurrency) && opts.concurrency >= 1)) {
    throw new RangeError(`Bad concurrency ${opts.concurrency}`);
  }
  const req = new Uint8Array([0x71]);
  const cpu0 = processCpuSeconds();
  const t0 = performance.now();
  const end = t0 + opts.seconds * 1000;
  let started = 0;
  let count = 0;
  let slowest = 0;
  let over10ms = 0;
  const client = async (): Promise<void> => {
    const buf = new Uint8Array(16);
    while (started < opts.maxCount && performance.now() < end) {
      started++;
      const start = performance.now();
      const conn = await connect();
      try {
        let got = 0;
        if (opts.request) await conn.write(req);
        for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) got += n;
        if (got !== (opts.request ? 1 : 0)) throw new Error(`Expected a 1-byte answer, got ${got}`);
      } finally {
        conn.close();
      }
      count++;
      const ms = performance.now() - start;
      if (ms > slowest) slowest = ms;
      if (ms > 10) over10ms++;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  return connRate(count, performance.now() - t0, cpu0, slowest, over10ms);
}
