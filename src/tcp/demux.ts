/**
 * The connection table: constant-time lookup by four-tuple without allocating per packet
 * (remote address and port outer, local address and port inner, each a number below 2^48).
 *
 * @module
 */

import { ipNum } from "../wire/ip_handle.ts";
import type { TcpConnection } from "./connection.ts";

/**
 * Key of an (address, port) pair: address * 65536 + port, exact in a double (an IPv6 handle is
 * below 2^32 + 2^20, src/wire/ip_handle.ts).
 */
export function endpointKey(ip: number, port: number): number {
  return ipNum(ip) * 65536 + port;
}

/** Connections by four-tuple. */
export class ConnTable {
  readonly #byRemote = new Map<number, Map<number, TcpConnection>>();
  /** Every connection, for timers and shutdown. */
  readonly all: Set<TcpConnection> = new Set();

  /** Number of connections. */
  get size(): number {
    return this.all.size;
  }

  /** Find the connection of a four-tuple. */
  get(lip: number, lport: number, rip: number, rport: number): TcpConnection | undefined {
    return this.#byRemote.get(endpointKey(rip, rport))?.get(endpointKey(lip, lport));
  }

  /** Whether the four-tuple is in use. */
  has(lip: number, lport: number, rip: number, rport: number): boolean {
    return this.get(lip, lport, rip, rport) !== undefined;
  }

  /** Add a connection (its four-tuple must be free). */
  add(c: TcpConnection): void {
    const rk = endpointKey(c.remoteIp, c.remotePort);
    let inner = this.#byRemote.get(rk);
    if (!inner) this.#byRemote.set(rk, inner = new Map());
    inner.set(endpointKey(c.localIp, c.localPort), c);
    this.all.add(c);
  }

  /** Remove a connection. */
  delete(c: TcpConnection): void {
    const rk = endpointKey(c.remoteIp, c.remotePort);
    const inner = this.#byRemote.get(rk);
    if (inner && inner.get(endpointKey(c.localIp, c.localPort)) === c) {
      inner.delete(endpointKey(c.localIp, c.localPort));
      if (inner.size === 0) this.#byRemote.delete(rk);
    }
    this.all.delete(c);
  }
}
