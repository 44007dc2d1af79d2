/**
 * Shared parts of the two demos (`deno task demo`, `deno task tap-demo`): the seed note's
 * A.bmp, a minimal HTTP/1.1 server and client over our `Conn`, a link tracer that records
 * every TCP segment for the window timeline, and printing helpers.
 *
 * @module
 */

import type { Link } from "../src/link/link.ts";
import type { Conn } from "../src/api/conn.ts";
import type { Listener } from "../src/api/listener.ts";

/** One TCP segment seen by the tracer. */
export interface TraceEntry {
  /** ms since the tracer started. */
  t: number;
  /** "out": sent by the traced stack; "in": received by it. */
  dir: "out" | "in";
  src: string;
  dst: string;
  seq: number;
  ack: number;
  flags: number;
  /** Raw 16-bit window field. */
  win: number;
  len: number;
}

/** A link decorator that records TCP segments in both directions (bounded). */
export interface TracedLink extends Link {
  readonly trace: TraceEntry[];
  /** Per-direction counters: segments, payload bytes, zero windows seen, RSTs. */
  readonly counts: Record<string, number>;
}

const TRACE_LIMIT = 200_000;

/** Wrap `link`, recording every IPv4/TCP frame in both directions. */
export function traceLink(link: Link, clock: () => number = () => performance.now()): TracedLink {
  const trace: TraceEntry[] = [];
  const counts: Record<string, number> = {};
  const t0 = clock();
  const bump = (k: string, n = 1): void => {
    counts[k] = (counts[k] ?? 0) + n;
  };
  const record = (dir: "out" | "in", buf: Uint8Array, off: number, len: number): void => {
    if (len < 54) return;
    const v = new DataView(buf.buffer, buf.byteOffset + off, len);
    if (v.getUint16(12) !== 0x0800 || v.getUint8(23) !== 6) return;
    const ihl = (v.getUint8(14) & 15) * 4;
    const tot = v.getUint16(16);
    const tcp = 14 + ihl;
    if (tcp + 20 > len) return;
    const doff = (v.getUint8(tcp + 12) >> 4) * 4;
    const e: TraceEntry = {
      t: clock() - t0,
      dir,
      src: `${ip(v, 26)}:${v.getUint16(tcp)}`,
      dst: `${ip(v, 30)}:${v.getUint16(tcp + 2)}`,
      seq: v.getUint32(tcp + 4),
      ack: v.getUint32(tcp + 8),
      flags: v.getUint8(tcp + 13),
      win: v.getUint16(tcp + 14),
      len: Math.max(0, tot - ihl - doff),
    };
    bump(`${dir}-segments`);
    bump(`${dir}-bytes`, e.len);
    if (e.win === 0 && !(e.flags & 4)) bump(`${dir}-zero-window`);
    if (e.flags & 4) bump(`${dir}-rst`);
    if (trace.length < TRACE_LIMIT) trace.push(e);
  };
  return {
    name: `trace(${link.name})`,
    mtu: link.mtu,
    trace,
    counts,
    receive(buf, meta, max) {
      const n = link.receive(buf, meta, max);
      for (let i = 0; i < n; i++) record("in", buf, meta[2 * i]!, meta[2 * i + 1]!);
      return n;
    },
    send(buf, off, len) {
      record("out", buf, off, len);
      link.send(buf, off, len);
    },
    wait: (ms) => link.wait(ms),
    close: () => link.close(),
  };
}

function ip(v: DataView, at: number): string {
  return `${v.getUint8(at)}.${v.getUint8(at + 1)}.${v.getUint8(at + 2)}.${v.getUint8(at + 3)}`;
}

/**
 * The seed note's A.bmp: a 24-bit 800x600 bitmap (1,440,054 bytes) with a deterministic
 * gradient picture.
 */
export function makeBmp(width = 800, height = 600): Uint8Array {
  const row = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + row * height;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b[0] = 0x42;
  b[1] = 0x4d; // "BM"
  v.setUint32(2, size, true);
  v.setUint32(10, 54, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 24, true);
  v.setUint32(34, row * height, true);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = 54 + y * row + x * 3;
      b[p] = (x * 255 / width) & 255;
      b[p + 1] = (y * 255 / height) & 255;
      b[p + 2] = ((x ^ y) * 7) & 255;
    }
  }
  return b;
}

/** SHA-256 as hex. */
export async function sha256(data: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, "0")).join("");
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The seed's application buffer: the server writes the file 64 KB at a time. */
export const APP_BUFFER = 65536;

/**
 * Serve `files` over HTTP/1.1 on `listener` for `count` requests (one per connection,
 * Connection: close). Returns when done.
 */
export async function serveHttp(
  listener: Listener,
  files: Record<string, Uint8Array>,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const conn = await listener.accept();
    try {
      const head = await readHead(conn);
      const path = head.split(" ")[1] ?? "/";
      const body = files[path];
      const status = body ? "200 OK" : "404 Not Found";
      const payload = body ?? enc.encode("not found\n");
      await conn.write(enc.encode(
        `HTTP/1.1 ${status}\r\nContent-Length: ${payload.length}\r\n` +
          `Content-Type: ${path.endsWith(".bmp") ? "image/bmp" : "text/plain"}\r\n` +
          `Connection: close\r\n\r\n`,
      ));
      for (let off = 0; off < payload.length; off += APP_BUFFER) {
        await conn.write(payload.subarray(off, Math.min(payload.length, off + APP_BUFFER)));
      }
      await conn.closeWrite();
      const sink = new Uint8Array(1024);
      while ((await conn.read(sink)) !== null) { /* drain until the client closes */ }
    } finally {
      conn.close();
    }
  }
}

async function readHead(conn: Conn): Promise<string> {
  const buf = new Uint8Array(8192);
  let len = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(len));
    if (n === null) throw new Error("Connection closed before the HTTP request ended");
    len += n;
    const text = dec.decode(buf.subarray(0, len));
    if (text.includes("\r\n\r\n")) return text;
    if (len === buf.length) throw new Error("HTTP request head is too long");
  }
}

/**
 * GET `path` over `conn` (HTTP/1.1, Connection: close). Reads the body into a buffer of the
 * announced length with `readChunk`-byte reads; `onProgress(done, total)` after each read;
 * `pace` (optional) is awaited between reads (the slow reader).
 */
export async function httpGet(
  conn: Conn,
  host: string,
  path: string,
  options: {
    onProgress?: (done: number, total: number) => void;
    readChunk?: number;
    pace?: () => Promise<void>;
  } = {},
): Promise<{ status: number; body: Uint8Array }> {
  await conn.write(httpRequest(host, path));
  const chunk = new Uint8Array(options.readChunk ?? APP_BUFFER);
  let head = new Uint8Array(0);
  let body: Uint8Array | null = null;
  let got = 0;
  let status = 0;
  for (;;) {
    if (options.pace) await options.pace();
    const n = await conn.read(chunk);
    if (n === null) break;
    let data = chunk.subarray(0, n);
    if (body === null) {
      const joined = new Uint8Array(head.length + n);
      joined.set(head);
      joined.set(data, head.length);
      head = joined;
      const end = findHeadEnd(head);
      if (end < 0) continue;
      const text = dec.decode(head.subarray(0, end));
      status = Number(text.split(" ")[1]);
      const m = /content-length:\s*(\d+)/i.exec(text);
      body = new Uint8Array(m ? Number(m[1]) : 0);
      data = head.subarray(end + 4);
    }
    body.set(data.subarray(0, body.length - got), got);
    got += data.length;
    options.onProgress?.(Math.min(got, body.length), body.length);
    if (got >= body.length) break;
  }
  if (body === null) throw new Error(`No HTTP response from ${host}`);
  if (got < body.length) throw new Error(`HTTP body ended after ${got} of ${body.length} bytes`);
  return { status, body };
}

/**
 * The GET request, padded (in the User-Agent) to the seed note's 100 bytes when it fits, so
 * the client's first data segment is SEQ 101..200 and the server's ACK is 201.
 */
export function httpRequest(host: string, path: string): Uint8Array {
  const build = (ua: string): string =>
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${ua}\r\nConnection: close\r\n\r\n`;
  const base = build("denotcp");
  return enc.encode(base.length < 100 ? build("denotcp" + "-".repeat(100 - base.length)) : base);
}

function findHeadEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/** A progress bar on stderr ("\r" updates), printed at most every 100 ms. */
export function progressBar(label: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (now - last < 100 && done < total) return;
    last = now;
    const w = 30;
    const fill = total ? Math.round((done / total) * w) : w;
    const line = `  ${label} [${"#".repeat(fill)}${".".repeat(w - fill)}] ` +
      `${(done / 1048576).toFixed(2)}/${(total / 1048576).toFixed(2)} MiB`;
    Deno.stderr.writeSync(enc.encode(`\r${line}${done >= total ? "\n" : ""}`));
  };
}

/** Throughput in MiB/s (and Mbit/s) as text. */
export function rate(bytes: number, ms: number): string {
  const s = Math.max(ms, 1) / 1000;
  return `${(bytes / 1048576 / s).toFixed(1)} MiB/s (${(bytes * 8 / 1e6 / s).toFixed(0)} Mbit/s)`;
}
