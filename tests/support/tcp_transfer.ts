/** Transfer helpers over a TcpPair: stream a patterned byte sequence and verify it. */

import type { TcpConnection, TcpListener } from "../../src/tcp/tcp_layer.ts";
import { IP_B, type TcpPair } from "./tcp_pair.ts";

/** Byte i of the test stream for `salt`. */
export function patternByte(i: number, salt: number): number {
  return (i * 131 + (i >>> 8) * 7 + salt) & 0xff;
}

/** Open a connection a -> b:port, accept it; returns [client, server]. */
export function openPair(p: TcpPair, port = 80, l?: TcpListener): [TcpConnection, TcpConnection] {
  const lis = l ?? p.b.listen(0, port);
  const c = p.a.connect(IP_B, port, p.now);
  let s: TcpConnection | null = null;
  const ok = p.run(() => c.state === "ESTABLISHED" && (s ??= lis.accept()) !== null, 120000);
  if (!ok || !s) throw new Error(`Handshake did not complete (seed ${p.seed})`);
  return [c, s];
}

/** A streaming writer and a verifying reader for one direction. */
export class Stream {
  written = 0;
  received = 0;
  bad = -1;
  #chunk: Uint8Array;
  #rbuf = new Uint8Array(65536);
  constructor(
    readonly from: TcpConnection,
    readonly to: TcpConnection,
    readonly total: number,
    readonly salt: number,
    chunk = 16384,
  ) {
    this.#chunk = new Uint8Array(chunk);
  }

  /** Write what fits, read what arrived, shut the write side when all is written. */
  pump(): void {
    while (this.written < this.total && this.from.writable > 0) {
      const n = Math.min(this.#chunk.length, this.total - this.written, this.from.writable);
      for (let i = 0; i < n; i++) this.#chunk[i] = patternByte(this.written + i, this.salt);
      const w = this.from.write(this.#chunk.subarray(0, n));
      this.written += w;
      if (w < n) break;
    }
    if (this.written === this.total && this.from.state !== "CLOSED") this.from.shutdownWrite();
    for (;;) {
      const n = this.to.read(this.#rbuf);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        if (this.bad < 0 && this.#rbuf[i] !== patternByte(this.received + i, this.salt)) {
          this.bad = this.received + i;
        }
      }
      this.received += n;
    }
  }

  /** All bytes arrived intact and the reader saw EOF. */
  get done(): boolean {
    return this.received === this.total && this.to.readEof;
  }
}
