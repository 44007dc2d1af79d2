/**
 * `TlsConn`: a TLS connection shaped like `Deno.TlsConn` (`read`, `write`, `readable`,
 * `writable`, `closeWrite`, `close`, `handshake()`, `localAddr`, `remoteAddr`) over a
 * `node:tls` `TLSSocket` that runs on one of our TCP connections. TLS failures become Deno's
 * error classes: certificate and protocol errors `Deno.errors.InvalidData` (as
 * `Deno.connectTls`), socket errors keep their class.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import type tls from "node:tls";
import type { StackSocket } from "./node_net_socket.ts";

/** `Deno.TlsHandshakeInfo`'s shape. */
export interface TlsHandshakeInfo {
  /** The ALPN protocol both sides agreed on, or null. */
  alpnProtocol: string | null;
}

const QUEUE_MAX = 256 * 1024;
const DENO_ERRORS = Object.values(Deno.errors) as Array<new (...a: never[]) => Error>;

/**
 * A node:tls error as a Deno error: certificate, name and protocol failures give
 * `Deno.errors.InvalidData` with the reason; Deno errors (reset, refused...) pass unchanged.
 *
 * @example Map a name mismatch
 * ```ts
 * import { mapTlsError } from "./tls_conn.ts";
 * const err = Object.assign(new Error("Hostname/IP does not match"), {
 *   code: "ERR_TLS_CERT_ALTNAME_INVALID",
 * });
 * if (!(mapTlsError(err, "10.7.0.1:443") instanceof Deno.errors.InvalidData)) throw err;
 * ```
 */
export function mapTlsError(err: unknown, where: string): Error {
  if (!(err instanceof Error)) return new Deno.errors.InvalidData(`TLS with ${where} failed`);
  if (DENO_ERRORS.some((cls) => err instanceof cls)) return err;
  const code = (err as { code?: unknown }).code;
  if (code === "ECONNRESET") {
    return new Deno.errors.ConnectionReset(`Connection reset by ${where}`, { cause: err });
  }
  if (code === "EPIPE") {
    return new Deno.errors.BrokenPipe(`Cannot write to ${where}`, { cause: err });
  }
  return new Deno.errors.InvalidData(`TLS handshake with ${where} failed: ${err.message}`, {
    cause: err,
  });
}

/**
 * Make `sock.pause()`/`resume()` pause and resume the TCP socket under it instead: Deno's
 * node:tls loses the end of stream that arrives while a TLSSocket is paused (an HTTP response
 * delimited by the close, RFC 9112 6.3 item 8, then never ends). The TLS socket stays flowing;
 * what it decrypts is bounded by the TCP socket's buffer.
 *
 * @example Internal (used by fetch, serve and TlsConn)
 * ```ts ignore
 * pauseUnderneath(tlsSocket, stackSocket);
 * ```
 */
export function pauseUnderneath(sock: tls.TLSSocket, raw: StackSocket): void {
  sock.pause = function (this: tls.TLSSocket) {
    raw.pause();
    return this;
  };
  const resume = sock.resume;
  sock.resume = function (this: tls.TLSSocket) {
    raw.resume();
    return resume.call(this); // the TLS socket itself flows (it may start paused)
  };
  sock.isPaused = () => raw.isPaused();
}

/**
 * A TLS connection on our stack, shaped like `Deno.TlsConn`. Get one from
 * `stack.connectTls()`, `stack.startTls()` or a `stack.listenTls()` listener.
 *
 * @example A TLS echo between two stacks (certificates made with `openssl` elsewhere)
 * ```ts ignore
 * const conn = await client.connectTls({ hostname: "10.9.0.2", port: 443, caCerts: [ca] });
 * const { alpnProtocol } = await conn.handshake();
 * await conn.write(new TextEncoder().encode("hello"));
 * ```
 */
export class TlsConn implements Disposable {
  /** Our end of the TCP connection. */
  readonly localAddr: Deno.NetAddr;
  /** The peer's end. */
  readonly remoteAddr: Deno.NetAddr;
  #sock: tls.TLSSocket;
  #where: string;
  /** Decrypted chunks not yet read, and their total (the socket pauses above QUEUE_MAX). */
  #queue: Buffer[] = [];
  #queued = 0;
  #raw: StackSocket;
  #secured = false;
  #ended = false;
  #closed = false;
  #error: Error | undefined;
  #handshake: Promise<TlsHandshakeInfo>;
  #wakers: Array<() => void> = [];
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /**
   * Internal: use stack.connectTls / startTls / listenTls.
   *
   * @ignore
   */
  constructor(sock: tls.TLSSocket, raw: StackSocket, isServer: boolean) {
    const conn = raw.conn!;
    this.#sock = sock;
    this.#raw = raw;
    // node:tls does not always end the stream under it: the TCP connection goes with the TLS.
    sock.once("close", () => raw.destroy());
    this.localAddr = conn.localAddr;
    this.remoteAddr = conn.remoteAddr;
    this.#where = `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
    this.#handshake = new Promise((resolve, reject) => {
      sock.once(isServer ? "secure" : "secureConnect", () => {
        this.#secured = true;
        const alpn = sock.alpnProtocol;
        resolve({ alpnProtocol: typeof alpn === "string" ? alpn : null });
      });
      sock.once("error", (err) => reject(mapTlsError(err, this.#where)));
      sock.once("end", () => {
        if (this.#secured) return;
        // The peer gave up during the handshake (for example, it refused our certificate):
        // Deno's word for it, and the connection is closed.
        const err = new Deno.errors.UnexpectedEof(
          `${this.#where} closed the connection during the TLS handshake`,
        );
        this.#error ??= err;
        reject(err);
        sock.destroy();
      });
      sock.once("close", () => reject(this.#closedError()));
    });
    this.#handshake.catch(() => {}); // observed through handshake(), read() or write()
    const wake = (): void => {
      const list = this.#wakers;
      this.#wakers = [];
      for (const w of list) w();
    };
    // The TLS socket stays flowing (Deno's node:tls loses the end of stream of a paused
    // TLSSocket); backpressure pauses the TCP socket under it instead.
    sock.on("data", (chunk: Buffer) => {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued >= QUEUE_MAX) raw.pause();
      wake();
    });
    sock.on("end", () => {
      this.#ended = true;
      wake();
    });
    sock.on("error", (err) => {
      this.#error ??= mapTlsError(err, this.#where);
      wake();
    });
    sock.on("close", () => {
      this.#ended = true;
      wake();
    });
  }

  #closedError(): Error {
    return new Deno.errors.BadResource(`TLS connection to ${this.#where} is closed`);
  }

  /** Resolves once the TLS handshake is complete; rejects when it fails (InvalidData...). */
  handshake(): Promise<TlsHandshakeInfo> {
    return this.#handshake;
  }

  /** Read into `p`: the number of bytes, or null at end of stream. */
  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw this.#closedError();
      if (p.length === 0) return 0;
      const head = this.#queue[0];
      if (head) {
        const n = Math.min(head.length, p.length);
        p.set(head.subarray(0, n));
        if (n < head.length) this.#queue[0] = head.subarray(n);
        else this.#queue.shift();
        this.#queued -= n;
        if (this.#queued < QUEUE_MAX && this.#raw.isPaused()) this.#raw.resume();
        return n;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wakers.push(resolve));
    }
  }

  /** Write every byte of `p` (encrypted); resolves `p.length` once TLS has taken it. */
  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw this.#closedError();
    if (this.#error) throw this.#error;
    if (!this.#sock.writable) {
      throw new Deno.errors.BrokenPipe(
        `Cannot write to ${this.#where}: the sending side is closed`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      this.#sock.write(p, (err) => err ? reject(mapTlsError(err, this.#where)) : resolve());
    });
    return p.length;
  }

  /** Send TLS close_notify and FIN after the queued data; reading goes on. */
  async closeWrite(): Promise<void> {
    if (this.#closed) throw this.#closedError();
    if (this.#sock.writableEnded) return;
    await new Promise<void>((resolve) => this.#sock.end(resolve));
    // close_notify is out (RFC 8446 6.1); our FIN follows, as Deno's closeWrite.
    if (!this.#raw.writableEnded) this.#raw.end();
  }

  /** Close the TLS connection and the TCP connection under it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const sock = this.#sock;
    if (this.#secured && !this.#error && sock.writable && !sock.destroyed) {
      // As Deno.TlsConn.close(): close_notify (RFC 8446 6.1) goes before the TCP close, so the
      // peer sees an orderly end, not a truncation ("unexpected eof" in OpenSSL).
      sock.end(() => sock.destroy());
    } else sock.destroy();
    const list = this.#wakers;
    this.#wakers = [];
    for (const w of list) w();
  }

  /** No-op (the stack's loop keeps the process alive). */
  ref(): void {}

  /** No-op (see `ref`). */
  unref(): void {}

  /** The decrypted bytes, as a byte stream; cancelling it closes the connection. */
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
          } else req.respond(n);
        } catch (err) {
          if (this.#closed) {
            controller.close();
            req.respond(0);
          } else controller.error(err);
        }
      },
      cancel: () => this.close(),
    });
    return this.#readable;
  }

  /** A byte sink; closing it sends close_notify and FIN (half-close). */
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
