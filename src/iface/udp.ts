/**
 * UDP sockets (RFC 768): datagram sockets bound to a local port (and optionally one of our
 * addresses), each with a bounded receive queue, and the table that demultiplexes incoming
 * datagrams to them.
 *
 * @module
 */

import { ipNum } from "../wire/ip_handle.ts";
import { IfaceError } from "./errors.ts";

/** A received datagram. */
export interface UdpDatagram {
  /** The payload (a copy owned by the caller). */
  data: Uint8Array;
  /** The sender's address. */
  remoteIp: number;
  /** The sender's port. */
  remotePort: number;
  /** The sender's IPv6 address (16 bytes) when it came over IPv6 (`remoteIp` is then 0). */
  remoteIp6?: Uint8Array;
}

/** What a socket needs from the interface that created it. */
export interface UdpOwner {
  /** Send one datagram from `sock`. */
  udpSend(sock: UdpSocket, data: Uint8Array, remoteIp: number, remotePort: number): void;
  /** Send one datagram from `sock` to an IPv6 address (16 bytes). */
  udpSend6?(sock: UdpSocket, data: Uint8Array, remote: Uint8Array, remotePort: number): void;
  /** Forget `sock` (it was closed). */
  udpClose(sock: UdpSocket): void;
}

/** First and last ephemeral port (IANA dynamic range, like the TCP layer). */
export const EPHEMERAL_FIRST = 49152;
/** Last ephemeral port. */
export const EPHEMERAL_LAST = 65535;

/** A UDP socket bound to a local port. Create with `Interface.udpBind`. */
export class UdpSocket {
  /** The local address (0 = any address of ours, IPv4 or IPv6; an IPv6 one is a handle). */
  readonly localIp: number;
  /** The local port. */
  readonly localPort: number;
  /** Bound to "0.0.0.0": IPv4 only (a socket on no address otherwise takes both families). */
  ipv4Only = false;
  /** Called (synchronously, from Interface.receive) when a datagram was queued. */
  onReadable: (() => void) | null = null;
  #owner: UdpOwner;
  #queue: UdpDatagram[] = [];
  #limit: number;
  #closed = false;

  /** Used by the interface; programs call `Interface.udpBind`. */
  constructor(owner: UdpOwner, localIp: number, localPort: number, queueLimit: number) {
    this.#owner = owner;
    this.localIp = ipNum(localIp);
    this.localPort = localPort;
    this.#limit = queueLimit;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Datagrams waiting. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Send `data` to `remoteIp:remotePort`. Throws IfaceError "unreachable" when there is no
   * route, IfaceError "closed" after close(), RangeError for a port outside 1..65535 or data
   * longer than 65507 bytes (65527 over IPv6). Datagrams larger than the path MTU are fragmented.
   */
  send(data: Uint8Array, remoteIp: number | Uint8Array, remotePort: number): void {
    if (this.#closed) throw new IfaceError("closed", "Cannot send on a closed UDP socket");
    if (!Number.isInteger(remotePort) || remotePort < 1 || remotePort > 65535) {
      throw new RangeError(`Remote port must be 1..65535, got ${remotePort}`);
    }
    // The largest UDP payload: 65535 less the IPv4 and UDP headers (RFC 768, RFC 791), or
    // less the UDP header alone over IPv6, whose payload length excludes its header (RFC 8200).
    const max = typeof remoteIp === "number" ? 65507 : 65527;
    if (data.length > max) {
      throw new RangeError(`UDP payload of ${data.length} bytes exceeds ${max}`);
    }
    if (typeof remoteIp === "number") this.#owner.udpSend(this, data, remoteIp >>> 0, remotePort);
    else if (remoteIp.length !== 16) {
      throw new RangeError(`IPv6 address must be 16 bytes, got ${remoteIp.length}`);
    } else if (this.#owner.udpSend6) this.#owner.udpSend6(this, data, remoteIp, remotePort);
    else throw new IfaceError("unreachable", "No IPv6 on this interface");
  }

  /** The oldest waiting datagram, or null. */
  receive(): UdpDatagram | null {
    return this.#queue.shift() ?? null;
  }

  /** Unbind; waiting datagrams are discarded. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#owner.udpClose(this);
  }

  /** Queue a datagram (copying `data`); false when the queue is full. For the interface. */
  deliver(data: Uint8Array, remoteIp: number, remotePort: number, remote6?: Uint8Array): boolean {
    if (this.#closed || this.#queue.length >= this.#limit) return false;
    const d: UdpDatagram = { data: data.slice(), remoteIp: remoteIp >>> 0, remotePort };
    if (remote6) d.remoteIp6 = remote6.slice();
    this.#queue.push(d);
    this.onReadable?.();
    return true;
  }
}

/** Bound UDP sockets by local port. */
export class UdpTable {
  #byPort = new Map<number, UdpSocket[]>();
  #next: number;

  /** `seed` picks where the ephemeral port search starts. */
  constructor(seed: number) {
    this.#next = EPHEMERAL_FIRST +
      (Math.abs(Math.floor(seed)) % (EPHEMERAL_LAST - EPHEMERAL_FIRST + 1));
  }

  /**
   * Bind a new socket. Port 0 picks a free ephemeral port. Throws IfaceError "addr-in-use"
   * when the port is taken for an overlapping address (no SO_REUSEADDR, like Linux), or when
   * every ephemeral port is taken; RangeError for a port outside 0..65535.
   */
  bind(owner: UdpOwner, port: number, localIp: number, queueLimit: number): UdpSocket {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`Local port must be 0..65535, got ${port}`);
    }
    if (port === 0) port = this.#ephemeral(localIp);
    else if (this.#conflicts(port, localIp)) {
      throw new IfaceError("addr-in-use", `UDP port ${port} is already in use`);
    }
    const sock = new UdpSocket(owner, localIp, port, queueLimit);
    const list = this.#byPort.get(port);
    if (list === undefined) this.#byPort.set(port, [sock]);
    else list.push(sock);
    return sock;
  }

  /** The socket for a datagram to `dstIp:dstPort`: an exact address match, else a wildcard. */
  find(dstIp: number, dstPort: number): UdpSocket | undefined {
    const list = this.#byPort.get(dstPort);
    if (list === undefined) return undefined;
    let any: UdpSocket | undefined;
    for (const s of list) {
      if (s.localIp === ipNum(dstIp)) return s;
      if (s.localIp === 0 && !(s.ipv4Only && dstIp >= 4294967296)) any = s;
    }
    return any;
  }

  /** Remove a closed socket. */
  remove(sock: UdpSocket): void {
    const list = this.#byPort.get(sock.localPort);
    if (list === undefined) return;
    const i = list.indexOf(sock);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byPort.delete(sock.localPort);
  }

  /** Sockets bound. */
  get size(): number {
    let n = 0;
    for (const l of this.#byPort.values()) n += l.length;
    return n;
  }

  #conflicts(port: number, localIp: number): boolean {
    const list = this.#byPort.get(port);
    if (list === undefined) return false;
    return list.some((s) => s.localIp === 0 || localIp === 0 || s.localIp === ipNum(localIp));
  }

  #ephemeral(localIp: number): number {
    const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    for (let i = 0; i < span; i++) {
      const p = this.#next;
      this.#next = p === EPHEMERAL_LAST ? EPHEMERAL_FIRST : p + 1;
      if (!this.#conflicts(p, localIp)) return p;
    }
    throw new IfaceError("addr-in-use", "No free ephemeral UDP port");
  }
}
