/**
 * A decorator that records every frame a link sends and receives into a classic pcap file
 * (LINKTYPE_ETHERNET, microsecond or nanosecond timestamps) that tcpdump, tshark and Wireshark
 * open. Classic pcap has no direction field; both directions go into one file in the order the
 * frames passed through.
 *
 * Records are collected in a 256 KiB buffer written out when full, before every `wait()` (so the
 * file is complete whenever the stack goes idle), on `flush()` and on `close()`.
 *
 * Capabilities (link.ts) are forwarded: corking, checksum help, the next deadline and large
 * frames reach the wrapped link unchanged, and `counters()` adds `pcap-records` to the wrapped
 * link's. Under segmentation offload, frames are recorded as they pass this decorator: the
 * segments the stack sends (before the TAP link merges them) and the large segments it
 * receives whole, after the link completed their checksums; so every record is a valid frame
 * with correct checksums (tshark reads them; a received one may exceed the MTU).
 *
 * @module
 */

import type { ChecksumFn, Link } from "./link.ts";
export type { Link };

/** Options of {@link withPcap}. */
export interface PcapOptions {
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds (default false). */
  nanoseconds?: boolean;
  /** Wall clock in milliseconds since the epoch (default: performance.timeOrigin + now()). */
  clock?: () => number;
}

/** A link that records into a pcap file. */
export interface PcapLink extends Link {
  /** The wrapped link. */
  readonly inner: Link;
  /** Write buffered records to the file now. */
  flush(): void;
  /** The wrapped link's `nextDueAt()` (a fault injector's), or Infinity when it has none. */
  nextDueAt(): number;
  /** The wrapped link's counters plus `pcap-records` (frames recorded). */
  counters(): Record<string, number>;
}

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 262144;
const BUFFER_SIZE = 256 * 1024;
const RECORD_HEADER = 16;

class PcapWriter implements PcapLink {
  readonly name: string;
  readonly mtu: number;
  readonly inner: Link;
  readonly maxFrame: number | undefined;
  readonly maxSendFrame: number | undefined;
  readonly sameThreadPeer: boolean | undefined;
  #records = 0;
  #file: Deno.FsFile | null;
  #buf = new Uint8Array(BUFFER_SIZE);
  #view = new DataView(this.#buf.buffer);
  #used = 0;
  #nanos: boolean;
  #clock: () => number;

  constructor(inner: Link, file: Deno.FsFile, options: PcapOptions) {
    this.inner = inner;
    this.name = inner.name;
    this.mtu = inner.mtu;
    this.maxFrame = inner.maxFrame;
    this.maxSendFrame = inner.maxSendFrame;
    this.sameThreadPeer = inner.sameThreadPeer;
    this.#file = file;
    this.#nanos = options.nanoseconds ?? false;
    this.#clock = options.clock ?? (() => performance.timeOrigin + performance.now());
    const v = this.#view;
    v.setUint32(0, this.#nanos ? MAGIC_NS : MAGIC_US, true);
    v.setUint16(4, 2, true); // version 2.4
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true); // thiszone
    v.setUint32(12, 0, true); // sigfigs
    v.setUint32(16, SNAPLEN, true);
    v.setUint32(20, LINKTYPE_ETHERNET, true);
    this.#used = 24;
    this.flush();
  }

  receive(buf: Uint8Array, meta: Int32Array, max: number): number {
    const n = this.inner.receive(buf, meta, max);
    if (n > 0 && this.#file !== null) {
      const t = this.#clock();
      for (let i = 0; i < n; i++) this.#record(t, buf, meta[2 * i]!, meta[2 * i + 1]!);
    }
    return n;
  }

  send(buf: Uint8Array, off: number, len: number): void {
    // Recorded first: a link doing TSO leaves a partial checksum in a large segment it sends.
    if (this.#file !== null) this.#record(this.#clock(), buf, off, len);
    this.inner.send(buf, off, len);
  }

  nextDueAt(): number {
    return this.inner.nextDueAt?.() ?? Infinity;
  }

  cork(): void {
    this.inner.cork?.();
  }

  uncork(): void {
    this.inner.uncork?.();
  }

  rxChecksumValid(i: number): boolean {
    return this.inner.rxChecksumValid?.(i) ?? false; // frames pass unchanged, in order
  }

  useChecksum(fn: ChecksumFn): void {
    this.inner.useChecksum?.(fn);
  }

  counters(): Record<string, number> {
    return { ...this.inner.counters?.(), "pcap-records": this.#records };
  }

  wait(timeoutMs: number): Promise<void> {
    this.flush();
    return this.inner.wait(timeoutMs);
  }

  flush(): void {
    const file = this.#file;
    if (file === null || this.#used === 0) return;
    let done = 0;
    while (done < this.#used) done += file.writeSync(this.#buf.subarray(done, this.#used));
    this.#used = 0;
  }

  close(): void {
    if (this.#file !== null) {
      try {
        this.flush();
      } finally {
        this.#file.close();
        this.#file = null;
      }
    }
    this.inner.close();
  }

  #record(t: number, src: Uint8Array, off: number, len: number): void {
    this.#records++;
    const caplen = Math.min(len, SNAPLEN);
    if (this.#used + RECORD_HEADER + caplen > BUFFER_SIZE) this.flush();
    const sec = Math.floor(t / 1000);
    const scale = this.#nanos ? 1e6 : 1e3;
    const frac = Math.min(Math.round((t - sec * 1000) * scale), scale * 1000 - 1);
    const v = this.#view;
    const at = this.#used;
    v.setUint32(at, sec >>> 0, true);
    v.setUint32(at + 4, frac, true);
    v.setUint32(at + 8, caplen, true);
    v.setUint32(at + 12, len, true);
    if (caplen > BUFFER_SIZE - RECORD_HEADER) {
      // Larger than the buffer (jumbo beyond 256 KiB cannot happen with Ethernet): write through.
      this.#used += RECORD_HEADER;
      this.flush();
      this.#file!.writeSync(src.subarray(off, off + caplen));
      return;
    }
    this.#buf.set(src.subarray(off, off + caplen), at + RECORD_HEADER);
    this.#used = at + RECORD_HEADER + caplen;
  }
}

/**
 * Wrap `link` so that every frame it sends and receives is appended to the pcap file at `path`
 * (created or truncated). Closing the returned link flushes and closes the file, then the
 * wrapped link.
 *
 * @example
 * ```ts
 * import { createMemoryLinkPair } from "./memory.ts";
 * import { withPcap } from "./pcap.ts";
 * const path = Deno.makeTempFileSync({ suffix: ".pcap" });
 * const [a, b] = createMemoryLinkPair();
 * const traced = withPcap(a, path);
 * traced.send(new Uint8Array(60), 0, 60);
 * traced.close();
 * b.close();
 * console.assert(Deno.statSync(path).size === 24 + 16 + 60);
 * Deno.removeSync(path);
 * ```
 */
export function withPcap(link: Link, path: string, options: PcapOptions = {}): PcapLink {
  const file = Deno.openSync(path, { write: true, create: true, truncate: true });
  try {
    return new PcapWriter(link, file, options);
  } catch (e) {
    file.close();
    throw e;
  }
}
