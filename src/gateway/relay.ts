/**
 * Relaying one TCP connection's bytes both ways between two connection-shaped objects (our
 * stack's `Conn` and a host `Deno.Conn`): one bounded buffer per direction (16 KiB at first,
 * growing while reads fill it), each write awaited before the next read (backpressure), a read
 * end passed on as `closeWrite` (half-close, RFC 9293 3.6), and an error on either side ending
 * both.
 *
 * @module
 */

/** What the relay needs of each side. */
export interface RelayEnd {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

/** Bytes moved by one relay. */
export interface RelayResult {
  /** Bytes from `a` to `b`. */
  aToB: number;
  /** Bytes from `b` to `a`. */
  bToA: number;
  /** True when both directions ended with a clean end of stream. */
  clean: boolean;
}

/** The first read buffer of a direction; it grows 4x per full read up to the relay's bound. */
export const RELAY_FIRST_BUFFER = 16384;

/**
 * The size a direction's buffer grows to after a full read of `n` bytes: 4n up to `bufBytes`,
 * and with `unit` (the payload of one segment of the side written to) a whole number of
 * segments when that is at least one: a full read then leaves as full segments, with no short
 * one behind them (at MTU 65520 a 256 KiB read was four segments and one of 224 bytes, each
 * costing its own frame, write and ACK).
 */
export function grownSize(n: number, bufBytes: number, unit: number): number {
  const size = Math.min(bufBytes, 4 * n);
  return unit > 0 && size >= unit ? size - (size % unit) : size;
}

/**
 * First-size buffers of ended pipes, kept for the next relays (at most `POOL_MAX`): a short
 * connection then allocates, zeroes and later collects no 2 x 16 KiB of its own. A buffer goes
 * back only once no read or write of it is pending (the pipe has returned), and a pipe only
 * ever writes on the bytes its own read filled, so nothing of one connection reaches another.
 */
const pool: Uint8Array[] = [];
const POOL_MAX = 64;

function take(size: number): Uint8Array {
  return size === RELAY_FIRST_BUFFER ? pool.pop() ?? new Uint8Array(size) : new Uint8Array(size);
}

function give(buf: Uint8Array): void {
  if (buf.length === RELAY_FIRST_BUFFER && pool.length < POOL_MAX) pool.push(buf);
}

/** Buffers waiting in the pool (for tests). */
export function pooledBuffers(): number {
  return pool.length;
}

async function pipe(
  from: RelayEnd,
  to: RelayEnd,
  bufBytes: number,
  unit: number,
  moved: (n: number) => void,
): Promise<void> {
  // Small at first: most connections move a few kilobytes (requests, replies), and a fresh
  // 256 KiB buffer each way cost every short connection half a megabyte zeroed and collected.
  // A bulk direction fills its reads and reaches `bufBytes` after two of them.
  let buf = take(Math.min(bufBytes, RELAY_FIRST_BUFFER));
  let full = buf.length === bufBytes;
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
      moved(n);
      if (n === buf.length && !full) {
        const size = grownSize(n, bufBytes, unit);
        full = size >= bufBytes - unit;
        if (size > n) {
          give(buf);
          buf = new Uint8Array(size);
        }
      }
    }
    await to.closeWrite();
  } finally {
    give(buf);
  }
}

/**
 * Relay `a` and `b` until both directions ended; then close both. When one side fails (a
 * reset, a broken pipe), `onError` is told and both sides are closed at once (`abortA` lets the
 * caller reset `a` instead of closing it gracefully). `unitA`: the payload of one of `a`'s
 * segments (reads toward `a` come in whole segments once they grow; 0: any size).
 */
export async function relay(
  a: RelayEnd,
  b: RelayEnd,
  bufBytes: number,
  abortA?: () => void,
  unitA = 0,
): Promise<RelayResult> {
  const r: RelayResult = { aToB: 0, bToA: 0, clean: true };
  let failed = false;
  const fail = (): void => {
    if (failed) return;
    failed = true;
    r.clean = false;
    try {
      if (abortA) abortA();
      else a.close();
    } catch { /* already closed */ }
    try {
      b.close();
    } catch { /* already closed */ }
  };
  await Promise.all([
    pipe(a, b, bufBytes, 0, (n) => r.aToB += n).catch(fail),
    pipe(b, a, bufBytes, unitA, (n) => r.bToA += n).catch(fail),
  ]);
  if (!failed) {
    try {
      a.close();
    } catch { /* closed */ }
    try {
      b.close();
    } catch { /* closed */ }
  }
  return r;
}
