/**
 * The part of the TCP layer's surface (notes/tcp_surface.md, src/tcp/tcp_layer.ts) the fuzz
 * harness, the attack tests and the soak use, as structural types, and a loader that finds the
 * layer at run time. The harness then type-checks and runs (at interface level) even while the
 * TCP layer is not there yet.
 *
 * @module
 */

import type { Engine } from "../../src/kernels/engine.ts";
import type { TcpHandler, TcpTransmit } from "../../src/tcp/contract.ts";

/** A TCP connection as the harness drives it. */
export interface ConnLike {
  readonly localPort: number;
  readonly remotePort: number;
  readonly state: string;
  readonly readEof: boolean;
  readonly readable: number;
  readonly writable: number;
  readonly error: { code: string; message: string } | null;
  write(data: Uint8Array): number;
  read(into: Uint8Array): number;
  shutdownWrite(): void;
  close(): void;
  abort(): void;
  info(): Record<string, unknown>;
}

/** A listener as the harness drives it. */
export interface ListenerLike {
  accept(): ConnLike | null;
  close(): void;
}

/** The TCP layer as the harness drives it. */
export interface TcpLike extends TcpHandler {
  listen(localIp: number, localPort: number, backlog?: number): ListenerLike;
  connect(
    remoteIp: number,
    remotePort: number,
    now: number,
    opts?: { localIp?: number; localPort?: number; options?: Record<string, unknown> },
  ): ConnLike;
  stats(): Record<string, number>;
  readonly connectionCount: number;
  closeAll(mode: "reset" | "graceful", now: number): void;
}

/** Builds a TCP layer over an engine and the interface below it. */
export type TcpFactory = (
  engine: Engine,
  tx: TcpTransmit,
  options: Record<string, unknown>,
) => TcpLike;

/**
 * The TCP layer's factory when src/tcp/tcp_layer.ts exists and exports TcpLayer, else null.
 */
export async function loadTcpFactory(): Promise<TcpFactory | null> {
  const url = new URL("../../src/tcp/tcp_layer.ts", import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    return null;
  }
  const mod = await import(url.href) as Record<string, unknown>;
  const ctor = mod["TcpLayer"] as
    | (new (e: Engine, tx: TcpTransmit, o: Record<string, unknown>) => TcpLike)
    | undefined;
  if (ctor === undefined) return null;
  return (engine, tx, options) => new ctor(engine, tx, options);
}

/** A deterministic ISN (both worlds of a differential run must pick the same numbers). */
export function testIsn(
  localIp: number,
  localPort: number,
  remoteIp: number,
  remotePort: number,
  now: number,
): number {
  let h = 0x811c9dc5;
  for (const v of [localIp, localPort, remoteIp, remotePort, now]) {
    h = Math.imul(h ^ (v >>> 0), 0x01000193) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h >>> 0;
}
