/**
 * Limits and argument checks shared by the stream buffers of both engines (the JS engine's
 * src/kernels/js/buffers.ts and the WASM glue src/kernels/wasm/buffers.ts), so that misuse
 * fails the same way, with the same message, whichever engine runs.
 *
 * @module
 */

/** Largest buffer capacity: 1 GiB, the most a window scale of 14 can advertise (RFC 7323 2.3). */
export const MAX_BUFFER_CAPACITY = 1 << 30;

/** Most buffers of one kind (receive or send) open at once in one engine. */
export const MAX_BUFFER_HANDLES = 1 << 20;

/** Throw a RangeError unless `capacity` is an integer in [1, MAX_BUFFER_CAPACITY]. */
export function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity <= 0 || capacity > MAX_BUFFER_CAPACITY) {
    throw new RangeError(
      `Buffer capacity must be an integer from 1 to ${MAX_BUFFER_CAPACITY}, got ${capacity}`,
    );
  }
}

/** Throw a RangeError unless `capacity` is a valid capacity not below `current` (no shrinking). */
export function checkGrow(capacity: number, current: number): void {
  checkCapacity(capacity);
  if (capacity < current) {
    throw new RangeError(`Cannot shrink a buffer from ${current} to ${capacity} bytes`);
  }
}

/** Throw a RangeError unless `seq` is an integer in [0, 2^32). */
export function checkSeq(seq: number): void {
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffffffff) {
    throw new RangeError(`Sequence number must be an integer in [0, 2^32), got ${seq}`);
  }
}

/** Throw a RangeError unless [off, off+len) lies within packet memory of `size` bytes. */
export function checkSpan(off: number, len: number, size: number): void {
  if ((off >>> 0) !== off || (len >>> 0) !== len || off + len > size) {
    throw new RangeError(`Span [${off}, ${off}+${len}) is outside packet memory of ${size} bytes`);
  }
}

/** Throw a RangeError unless `max` is an integer in [0, 4] (RFC 2018: at most 4 blocks). */
export function checkSackMax(max: number): void {
  if ((max >>> 0) !== max || max > 4) {
    throw new RangeError(`SACK block count must be an integer from 0 to 4, got ${max}`);
  }
}

/** The error thrown for a handle that is not open. */
export function unknownHandle(kind: "receive buffer" | "send ring", h: number): RangeError {
  return new RangeError(`Unknown ${kind} handle ${h}`);
}

/** The error thrown when a handle table is full. */
export function tooManyHandles(kind: "receive buffers" | "send rings"): Error {
  return new Error(`Cannot create more than ${MAX_BUFFER_HANDLES} ${kind} in one engine`);
}

/** Throw a RangeError unless [seq, seq+len) lies within the held [head, head+length). */
export function checkSndRange(seq: number, len: number, head: number, length: number): void {
  const rel = (seq - head) >>> 0;
  if ((len >>> 0) !== len || rel > length || len > length - rel) {
    throw new RangeError(
      `Cannot copy ${len} bytes at sequence ${seq}: the send ring holds ${length} bytes from ${head}`,
    );
  }
}
