/**
 * `Conn`: a TCP connection shaped like `Deno.TcpConn`, over the TCP layer's `TcpHandle`.
 * `read` resolves null at end of stream; `write` waits for send-ring space (real backpressure)
 * and resolves when every byte is queued; `readable`/`writable` are Web Streams built on them.
 *
 * @module
 */

import { type Driver, STACK_CLOSED } from "../stack.ts";
import type { TcpConnInfo, TcpEvent, TcpHandle, TcpLayer } from "../tcp/tcp_layer.ts";
import { isIpv6Handle } from "../wire/ip_handle.ts";
import { endpoint, netAddr } from "./addr.ts";
import { mapLayerError, toDenoError } from "./errors.ts";
import { WakeList } from "./wake.ts";
import { openTrace, type StackTrace } from "./trace.ts";

// `ConnInfo` (what `conn.info()` returns) is the TCP layer's interface under its public name, so
// that `deno doc` lists its fields.
export type { TcpConnInfo as ConnInfo };

/**
 * A TCP connection on our stack, shaped like `Deno.TcpConn`. Get one from `stack.connect()`
 * or `listener.accept()`.
 *
 * @example Echo one message between two stacks on a memory link
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24", engine: "js" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24", engine: "js" });
 * const listener = b.listen({ port: 7 });
 * const accepted = listener.accept();
 * const conn = await a.connect({ hostname: "10.9.0.2", port: 7 });
 * const server = await accepted;
 * await conn.write(new TextEncoder().encode("hi"));
 * const buf = new Uint8Array(16);
 * const n = await server.read(buf);
 * if (new TextDecoder().decode(buf.subarray(0, n ?? 0)) !== "hi") throw new Error("no echo");
 * conn.close();
 * server.close();
 * listener.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class Conn implements Disposable {
  #localAddr: Deno.NetAddr | undefined;
  #remoteAddr: Deno.NetAddr | undefined;
  #driver: Driver;
  #tc: TcpHandle;
  #wake = new WakeList();
  #closed = false;
  #stackClosed = false;
  #where: string | undefined;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /**
   * Wrap a connection of the TCP layer (internal: use stack.connect or listener.accept).
   *
   * @ignore
   */
  constructor(driver: Driver, tc: TcpHandle) {
    this.#driver = driver;
    this.#tc = tc;
    // IPv4 addresses are formatted when first asked for (a short connection often never
    // is); an IPv6 handle only while the connection holds it, so at once.
    if (isIpv6Handle(tc.remoteIp)) {
      this.#localAddr = this.localAddr;
      this.#remoteAddr = this.remoteAddr;
      this.#where = this.#peer;
    }
    tc.onEvent = (ev: TcpEvent) => this.#onEvent(ev);
    driver.join(this);
  }

  /**
   * The stack closed (Driver.close).
   *
   * @ignore
   */
  [STACK_CLOSED](): void {
    this.#stackClosed = true;
    this.#wake.wakeAll();
  }

  /** Our end of the connection. */
  get localAddr(): Deno.NetAddr {
    const tc = this.#tc;
    return this.#localAddr ??= netAddr("tcp", tc.localIp, tc.localPort, this.#fmt);
  }

  /** The peer's end. */
  get remoteAddr(): Deno.NetAddr {
    const tc = this.#tc;
    return this.#remoteAddr ??= netAddr("tcp", tc.remoteIp, tc.remotePort, this.#fmt);
  }

  /** "address:port" of the peer, for messages. */
  get #peer(): string {
    return this.#where ??= endpoint(this.#tc.remoteIp, this.#tc.remotePort, this.#fmt);
  }

  /** The formatter of this stack's IPv6 handles (made when an address is formatted). */
  get #fmt(): (ip: number) => string {
    const iface = this.#driver.iface;
    return (ip) => iface.formatAddress(ip);
  }

  /**
   * The TCP layer's connection (for tests and tools).
   *
   * @ignore
   */
  get tcp(): TcpHandle {
    return this.#tc;
  }

  /** The RFC 9293 state of the connection. */
  get state(): string {
    return this.#tc.state;
  }

  #onEvent(ev: TcpEvent): void {
    if (ev === "closed") this.#driver.leave(this);
    this.#wake.wakeAll();
  }

  #fail(): never {
    const err = this.#tc.error;
    if (err) throw toDenoError(err.code, this.#peer);
    throw new Deno.errors.NotConnected(`Connection to ${this.#peer} is closed`);
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(`Connection to ${this.#peer} was closed by this side`);
    }
    if (this.#stackClosed || this.#driver.closed) {
      const why = this.#driver.linkError ? ` (${this.#driver.linkError.message})` : "";
      throw new Deno.errors.BadResource(
        `Connection to ${this.#peer} ended: the stack is closed${why}`,
      );
    }
  }

  /** Resolves when the connection is established; rejects when it fails first. */
  async established(): Promise<void> {
    for (;;) {
      this.#checkOpen();
      const s = this.#tc.state;
      if (s !== "SYN-SENT" && s !== "SYN-RECEIVED") {
        if (s === "CLOSED" && this.#tc.error) this.#fail();
        return;
      }
      await this.#wake.wait();
    }
  }

  /**
   * Read into `p`. Resolves the number of bytes read, or null at end of stream (the peer
   * closed its sending side and every byte was read).
   */
  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      this.#checkOpen();
      if (p.length === 0) return 0;
      const n = this.#tc.read(p);
      if (n > 0) return n; // a window update, when due, is queued by the TCP layer
      if (this.#tc.readEof) return null;
      if (this.#tc.state === "CLOSED") {
        if (this.#tc.error) this.#fail();
        return null;
      }
      // Reading before writing (a server speaks first): a handshake ACK held for our first
      // data goes now, since the peer's accept() waits for it (TcpLayer.holdHandshakeAck).
      this.#tc.releaseAck();
      await this.#wake.wait();
    }
  }

  /**
   * Write every byte of `p`, waiting for send-ring space as needed (backpressure). Resolves
   * `p.length`. Rejects with `BrokenPipe` after `closeWrite()`, or the connection's error.
   */
  async write(p: Uint8Array): Promise<number> {
    let off = 0;
    while (off < p.length) {
      this.#checkOpen();
      let n: number;
      try {
        n = this.#tc.write(off === 0 ? p : p.subarray(off));
      } catch (err) {
        throw mapLayerError(err, this.#peer);
      }
      if (n > 0) {
        off += n;
        continue;
      }
      if (this.#tc.state === "CLOSED") this.#fail();
      await this.#wake.wait();
    }
    return p.length;
  }

  /** Close our sending side (FIN after the queued data); reading goes on. */
  closeWrite(): Promise<void> {
    this.#checkOpen();
    try {
      this.#tc.shutdownWrite();
    } catch (err) {
      return Promise.reject(mapLayerError(err, this.#peer));
    }
    return Promise.resolve();
  }

  /**
   * Close both directions (FIN; RST when unread data remains, like Linux). Pending reads and
   * writes reject with `BadResource`. Closing twice is a no-op.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#stackClosed && this.#tc.state !== "CLOSED") {
      this.#tc.close();
    }
    this.#wake.wakeAll();
  }

  /** Reset the connection now (RST), discarding queued data. */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#stackClosed && this.#tc.state !== "CLOSED") {
      this.#tc.abort();
    }
    this.#wake.wakeAll();
  }

  /**
   * `setNoDelay()` or `setNoDelay(true)` disables Nagle's algorithm (small writes leave at
   * once); `setNoDelay(false)` enables it. Connections start with Nagle on (`tcp.noDelay`
   * false by default, as a Linux socket).
   */
  setNoDelay(noDelay = true): void {
    this.#tc.setNoDelay(noDelay);
  }

  /** Enable (true, the default) or disable keepalive probes. */
  setKeepAlive(keepAlive = true): void {
    this.#tc.setKeepAlive(keepAlive);
  }

  /** Follow this connection's segments and state changes (as `NetStack.trace` with `conn`). */
  trace(options: { limit?: number } = {}): StackTrace {
    return openTrace(this.#driver as Driver<TcpLayer>, { ...options, conn: this });
  }

  /** Statistics of this connection: state, bytes, segments, retransmissions, RTT, windows. */
  info(): TcpConnInfo {
    return this.#tc.info();
  }

  /** No-op (the stack's loop, not each connection, keeps the process alive). */
  ref(): void {}

  /** No-op (see `ref`). */
  unref(): void {}

  /** The bytes this connection receives, as a byte stream. Cancelling it closes the conn. */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: 65536,
      pull: async (controller) => {
        const req = controller.byobRequest!;
        const v = req.view!;
        try {
          const n = await this.read(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
          if (n === null) {
            controller.close();
            req.respond(0);
          } else {
            req.respond(n);
          }
        } catch (err) {
          if (err instanceof Deno.errors.BadResource && this.#closed) {
            controller.close();
            req.respond(0);
          } else {
            controller.error(err);
          }
        }
      },
      cancel: () => this.close(),
    });
    return this.#readable;
  }

  /** A byte sink whose writes wait for send-ring space; closing it half-closes the conn. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
    return this.#writable;
  }

  /** Close the connection. */
  [Symbol.dispose](): void {
    this.close();
  }
}
