/**
 * `DatagramConn`: a UDP socket shaped like Deno's datagram connections (`Deno.DatagramConn`):
 * `receive()`, `send()`, `close()`, `addr`, async iteration.
 *
 * @module
 */

import type { Driver } from "../stack.ts";
import type { UdpSocket } from "../iface/udp.ts";
import { endpoint, formatIp6, netAddr, parseIpLiteral } from "./addr.ts";
import { mapLayerError } from "./errors.ts";
import { WakeList } from "./wake.ts";

/**
 * A bound UDP socket on our stack. Get one from `stack.listenDatagram()`.
 *
 * @example Send a datagram from one stack to another
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24", engine: "js" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24", engine: "js" });
 * const ua = a.listenDatagram({ port: 5000 });
 * const ub = b.listenDatagram({ port: 5001 });
 * await ua.send(new Uint8Array([1, 2, 3]), { transport: "udp", hostname: "10.9.0.2", port: 5001 });
 * const [data, from] = await ub.receive();
 * if (data.length !== 3 || from.port !== 5000) throw new Error("bad datagram");
 * ua.close();
 * ub.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class DatagramConn
  implements AsyncIterable<[Uint8Array<ArrayBuffer>, Deno.NetAddr]>, Disposable {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  #driver: Driver;
  #sock: UdpSocket;
  #wake = new WakeList();
  #closed = false;
  #unhook: () => void;

  /**
   * Wrap an interface UDP socket (internal: use stack.listenDatagram).
   *
   * @ignore
   */
  constructor(driver: Driver, sock: UdpSocket) {
    this.#driver = driver;
    this.#sock = sock;
    this.addr = netAddr(
      "udp",
      sock.localIp,
      sock.localPort,
      (ip) => driver.iface.formatAddress(ip),
    );
    sock.onReadable = () => this.#wake.wakeAll();
    this.#unhook = driver.onClose(() => {
      this.#closed = true;
      this.#wake.wakeAll();
    });
  }

  /**
   * Wait for the next datagram. With `p`, the data is copied into it (truncated to its
   * length) and the returned array is a view of `p`.
   */
  async receive(p?: Uint8Array): Promise<[Uint8Array<ArrayBuffer>, Deno.NetAddr]> {
    for (;;) {
      if (this.#closed) {
        throw new Deno.errors.BadResource(`UDP socket on port ${this.addr.port} is closed`);
      }
      const d = this.#sock.receive();
      if (d) {
        // The interface queues a fresh copy of each datagram (an ArrayBuffer of its own).
        let data = d.data as Uint8Array<ArrayBuffer>;
        if (p) {
          const n = Math.min(p.length, data.length);
          p.set(data.subarray(0, n));
          data = p.subarray(0, n) as Uint8Array<ArrayBuffer>;
        }
        const from = d.remoteIp6
          ? { transport: "udp" as const, hostname: formatIp6(d.remoteIp6), port: d.remotePort }
          : netAddr("udp", d.remoteIp, d.remotePort);
        return [data, from];
      }
      await this.#wake.wait();
    }
  }

  /** Send `data` to `addr` (an IPv4 or IPv6 literal hostname). Resolves the number of bytes sent. */
  send(data: Uint8Array, addr: Deno.NetAddr): Promise<number> {
    if (this.#closed) {
      return Promise.reject(
        new Deno.errors.BadResource(`UDP socket on port ${this.addr.port} is closed`),
      );
    }
    let ip: number | Uint8Array | null;
    try {
      ip = parseIpLiteral(addr.hostname);
      if (ip === null) throw new TypeError(`Cannot send to "${addr.hostname}": not an IP address`);
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof ip !== "number" && this.#driver.iface.ip6Host.dadPending) {
      return this.#sendLater(data, ip, addr.port);
    }
    try {
      this.#sock.send(data, ip, addr.port);
    } catch (err) {
      const where = typeof ip === "number"
        ? endpoint(ip, addr.port)
        : `[${formatIp6(ip)}]:${addr.port}`;
      return Promise.reject(mapLayerError(err, where));
    }
    this.#driver.kick();
    return Promise.resolve(data.length);
  }

  /**
   * Our IPv6 addresses are used once duplicate address detection passed (RFC 4862 5.4, about
   * one second after start): a send before waits for it (at most 3 s).
   */
  async #sendLater(data: Uint8Array, ip: Uint8Array, port: number): Promise<number> {
    const host = this.#driver.iface.ip6Host;
    for (let i = 0; i < 150 && host.dadPending && !this.#driver.closed; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (this.#closed) {
      throw new Deno.errors.BadResource(`UDP socket on port ${this.addr.port} is closed`);
    }
    try {
      this.#sock.send(data, ip, port);
    } catch (err) {
      throw mapLayerError(err, `[${formatIp6(ip)}]:${port}`);
    }
    this.#driver.kick();
    return data.length;
  }

  /** Close the socket; pending receives reject with `BadResource`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unhook();
    if (!this.#driver.closed) this.#sock.close();
    this.#wake.wakeAll();
  }

  /** Multicast is not supported: rejects with `Deno.errors.NotSupported`. */
  joinMulticastV4(
    _address: string,
    _networkInterface: string,
  ): Promise<Deno.MulticastV4Membership> {
    return Promise.reject(new Deno.errors.NotSupported("Multicast is not supported by this stack"));
  }

  /** Multicast is not supported: rejects with `Deno.errors.NotSupported`. */
  joinMulticastV6(
    _address: string,
    _networkInterface: number,
  ): Promise<Deno.MulticastV6Membership> {
    return Promise.reject(new Deno.errors.NotSupported("Multicast is not supported by this stack"));
  }

  /** No-op (the stack's loop keeps the process alive). */
  ref(): void {}

  /** No-op (see `ref`). */
  unref(): void {}

  /** Receive datagrams until the socket is closed. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<[Uint8Array<ArrayBuffer>, Deno.NetAddr]> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) return;
        throw err;
      }
    }
  }

  /** Close the socket. */
  [Symbol.dispose](): void {
    this.close();
  }
}
