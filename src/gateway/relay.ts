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

async function pipe(
  from: RelayEnd,
  to: RelayEnd,
  bufBytes: number,
  moved: (n: number) => void,
): Promise<void> {
  // Small at first: most connections move a few kilobytes (requests, replies), and a fresh
  // 256 KiB buffer each way cost every short connection half a megabyte zeroed and collected.
  // A bulk direction fills its reads and reaches `bufBytes` after two of them.
  let buf = new Uint8Array(Math.min(bufBytes, RELAY_FIRST_BUFFER));
  for (;;) {
    const n = await from.read(buf);
    if (n === null) break;
    let off = 0;
    while (off < n) off += await to.write(buf.subarray(off, n));
    moved(n);
    if (n === buf.length && n < bufBytes) buf = new Uint8Array(Math.min(bufBytes, 4 * n));
  }
  await to.closeWrite();
}

/**
 * Relay `a` and `b` until both directions ended; then close both. When one side fails (a
 * reset, a broken pipe), `onError` is told and both sides are closed at once (`abortA` lets the
 * caller reset `a` instead of closing it gracefully).
 */
export async function relay(
  a: RelayEnd,
  b: RelayEnd,
  bufBytes: number,
  abortA?: () => void,
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
    pipe(a, b, bufBytes, (n) => r.aToB += n).catch(fail),
    pipe(b, a, bufBytes, (n) => r.bToA += n).catch(fail),
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
