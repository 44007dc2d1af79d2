/**
 * `StackSocket`: a `node:net` `Socket` look-alike (a `node:stream` Duplex) over one of our
 * `Conn`s, so that Node APIs and npm packages that take a socket (`node:http`'s
 * `createConnection`, `server.emit("connection", socket)`, `tls.connect({ socket })`, `ws`)
 * run over the stack. Reads pull from the connection only when the stream wants more
 * (`_read`), and writes call back once the bytes are in the send ring: backpressure both ways.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import type { Conn } from "./conn.ts";
import { WriteBatcher } from "./node_net_writer.ts";

/** What a `StackSocket` needs to open a connection: the stack's `connect`. */
export interface SocketConnector {
  /** `NetStack.connect`. */
  connect(options: { hostname: string; port: number; localPort?: number }): Promise<Conn>;
}

/** Options of `new StackSocket()` (a subset of `net.SocketConstructorOpts`). */
export interface StackSocketOptions {
  /** Keep our sending side open after the peer's FIN (default false, as `net.Socket`). */
  allowHalfOpen?: boolean;
  /** Wrap this connection (a socket accepted by a server). */
  conn?: Conn;
}

/** Connect options of `StackSocket.connect` (a subset of `net.TcpNetConnectOpts`). */
export interface StackConnectOptions {
  /** The port to connect to (required). */
  port?: number | string | null;
  /** The peer's address (default "127.0.0.1" as in Node). */
  host?: string | null;
  /** Our local port. */
  localPort?: number;
  /** Disable Nagle's algorithm on connect. */
  noDelay?: boolean;
  /** Enable keepalive on connect. */
  keepAlive?: boolean;
  /** Idle timeout in milliseconds (as `setTimeout`). */
  timeout?: number;
}

const READ_SIZE = 65536;

/**
 * A "connect" listener. Typed loosely so that `createConnection` fits where node:http
 * passes its own `(err, socket)` callback (it is called with no arguments, as `net` does).
 */
export type ConnectListener = (...args: never[]) => void;

/**
 * A TCP socket on our stack with the `node:net` `Socket` surface: `connect`, `write`, `end`
 * (half-close), `destroy`, `setNoDelay`, `setKeepAlive`, `setTimeout`, `address()`,
 * `remoteAddress`/`remotePort`, `bytesRead`/`bytesWritten`, and the `connect`, `ready`,
 * `data`, `end`, `timeout`, `error` and `close` events. Get one from `stack.nodeNet()`.
 *
 * @example Two stacks, one node-style echo
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24" });
 * const server = b.nodeNet().createServer((s) => s.pipe(s)).listen(7);
 * const sock = a.nodeNet().connect(7, "10.9.0.2");
 * sock.end("ping");
 * let text = "";
 * for await (const chunk of sock) text += chunk;
 * if (text !== "ping") throw new Error(text);
 * server.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class StackSocket extends Duplex {
  #conn: Conn | undefined;
  #connector: SocketConnector | undefined;
  #reading = false;
  #timeoutMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #last = 0;
  #readBuf: Buffer | undefined;
  #writer: WriteBatcher | undefined;
  #noDelay: boolean | undefined;
  #keepAlive: boolean | undefined;
  /** True while a connect is in progress (as `net.Socket`). */
  connecting = false;
  /** Bytes received so far. */
  bytesRead = 0;

  /**
   * A socket, connected when `options.conn` is given (servers), else call `connect()`.
   *
   * @ignore
   */
  constructor(options: StackSocketOptions = {}, connector?: SocketConnector) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, decodeStrings: true });
    this.#connector = connector;
    if (options.conn) this.#attach(options.conn);
  }

  /** The wrapped connection (undefined before `connect` completes). */
  get conn(): Conn | undefined {
    return this.#conn;
  }

  /**
   * Connect to `port` on `host`, as `net.Socket.connect(port, host, listener)` or
   * `connect(options, listener)`. Errors are emitted as "error" (Deno's error classes).
   */
  connect(
    portOrOptions: number | string | StackConnectOptions,
    hostOrListener?: string | ConnectListener,
    listener?: ConnectListener,
  ): this {
    const opts: StackConnectOptions = typeof portOrOptions === "object" ? portOrOptions : {
      port: portOrOptions,
      ...(typeof hostOrListener === "string" ? { host: hostOrListener } : {}),
    };
    const cb = typeof hostOrListener === "function" ? hostOrListener : listener;
    if (cb) this.once("connect", cb as () => void);
    if (!this.#connector) throw new TypeError("This socket cannot connect: it has no stack");
    if (this.#conn || this.connecting) throw new Error("Socket is already connected");
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`Port should be >= 1 and <= 65535, received ${String(opts.port)}`);
    }
    if (opts.noDelay !== undefined) this.#noDelay = opts.noDelay;
    if (opts.keepAlive !== undefined) this.#keepAlive = opts.keepAlive;
    if (opts.timeout !== undefined) this.setTimeout(opts.timeout);
    this.connecting = true;
    const hostname = opts.host == null || opts.host === "localhost" ? "127.0.0.1" : opts.host;
    this.#connector.connect({
      hostname,
      port,
      ...(opts.localPort === undefined ? {} : { localPort: opts.localPort }),
    }).then((conn) => {
      this.connecting = false;
      if (this.destroyed) {
        conn.close();
        return;
      }
      this.#attach(conn);
      this.emit("connect");
      this.emit("ready");
    }, (err: unknown) => {
      this.connecting = false;
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    });
    return this;
  }

  #attach(conn: Conn): void {
    this.#conn = conn;
    this.#writer = new WriteBatcher((bytes) => {
      this.#touch();
      return conn.write(bytes);
    }, (err) => this.destroy(err));
    if (this.#noDelay !== undefined) conn.setNoDelay(this.#noDelay);
    if (this.#keepAlive !== undefined) conn.setKeepAlive(this.#keepAlive);
    this.#touch();
    // As net.Socket: start filling the read buffer at once (up to the high-water mark).
    if (!this.isPaused()) this.read(0);
  }

  /**
   * Internal (node:stream): pull the next bytes from the connection.
   *
   * @ignore
   */
  override _read(_size: number): void {
    const conn = this.#conn;
    if (!conn) {
      this.once("connect", () => this._read(_size));
      return;
    }
    if (this.#reading) return;
    this.#reading = true;
    // One read buffer per socket; what is pushed is a copy of exactly the bytes read.
    const buf = this.#readBuf ??= Buffer.allocUnsafe(READ_SIZE);
    conn.read(buf).then((n) => {
      this.#reading = false;
      if (n === null) {
        this.push(null);
        this.read(0); // as net.Socket: lets "end" fire even when nobody reads
        return;
      }
      this.bytesRead += n;
      this.#touch();
      if (this.push(Buffer.from(buf.subarray(0, n)))) this._read(READ_SIZE);
    }, (err: unknown) => {
      this.#reading = false;
      if (err instanceof Deno.errors.BadResource && this.destroyed) return;
      this.destroy(err as Error);
    });
  }

  /**
   * Internal (node:stream): queue bytes in the send ring.
   *
   * @ignore
   */
  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.#conn) this.#writer!.push(chunk, callback);
    else this.once("connect", () => this.#writer!.push(chunk, callback));
  }

  /**
   * Internal (node:stream): queue several chunks at once.
   *
   * @ignore
   */
  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (error?: Error | null) => void,
  ): void {
    this._write(Buffer.concat(chunks.map((c) => c.chunk)), "binary", callback);
  }

  /**
   * Internal (node:stream): half-close (FIN) once everything is written.
   *
   * @ignore
   */
  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#conn) {
      this.once("connect", () => this._final(callback));
      return;
    }
    this.#writer!.drained().then(() => this.#conn!.closeWrite()).then(
      () => callback(),
      (err: Error) => {
        // Already closed by the peer (or us): nothing left to half-close.
        if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.NotConnected) {
          callback();
        } else callback(err);
      },
    );
  }

  /**
   * Internal (node:stream): close (or reset, on error) the connection.
   *
   * @ignore
   */
  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#clearTimer();
    if (this.#conn) {
      if (err) this.#conn.abort();
      else {
        this.#writer?.flushNow();
        this.#conn.close();
      }
    }
    callback(err);
  }

  /** Disable (true, the default) or enable Nagle's algorithm. */
  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    this.#conn?.setNoDelay(noDelay);
    return this;
  }

  /** Enable or disable keepalive probes (the delay is the stack's `tcp` keepalive setting). */
  setKeepAlive(enable = false, _initialDelay?: number): this {
    this.#keepAlive = enable;
    this.#conn?.setKeepAlive(enable);
    return this;
  }

  /**
   * Emit "timeout" after `ms` without reads or writes (0 turns it off), as `net.Socket`; the
   * socket stays open: the listener decides.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`The timeout must be a non-negative number, received ${ms}`);
    }
    this.#timeoutMs = ms;
    if (callback) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    this.#clearTimer();
    this.#touch();
    return this;
  }

  /** The idle timeout set by `setTimeout` (0: none). */
  get timeout(): number | undefined {
    return this.#timeoutMs === 0 ? undefined : this.#timeoutMs;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Activity: cheap (a time stamp); the one idle timer re-arms itself for what is left. */
  #touch(): void {
    this.#last = performance.now();
    if (this.#timer === undefined && this.#timeoutMs > 0 && !this.destroyed) {
      this.#arm(this.#timeoutMs);
    }
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.destroyed || this.#timeoutMs === 0) return;
      const idle = performance.now() - this.#last;
      if (idle + 1 >= this.#timeoutMs) this.emit("timeout");
      else this.#arm(this.#timeoutMs - idle);
    }, ms);
  }

  /** Our address, as `net.Socket.address()`. */
  address(): { address: string; family: string; port: number } | Record<string, never> {
    const a = this.#conn?.localAddr;
    return a
      ? { address: a.hostname, family: a.hostname.includes(":") ? "IPv6" : "IPv4", port: a.port }
      : {};
  }

  /** The peer's address. */
  get remoteAddress(): string | undefined {
    return this.#conn?.remoteAddr.hostname;
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.#conn?.remoteAddr.port;
  }

  /** "IPv4" or "IPv6" once connected. */
  get remoteFamily(): string | undefined {
    if (!this.#conn) return undefined;
    return this.#conn.remoteAddr.hostname.includes(":") ? "IPv6" : "IPv4";
  }

  /** Our address. */
  get localAddress(): string | undefined {
    return this.#conn?.localAddr.hostname;
  }

  /** Our port. */
  get localPort(): number | undefined {
    return this.#conn?.localAddr.port;
  }

  /** Bytes handed to the connection so far. */
  get bytesWritten(): number {
    return this.#writer?.written ?? 0;
  }

  /** True before a connection exists. */
  get pending(): boolean {
    return this.#conn === undefined;
  }

  /** "opening", "open", "readOnly", "writeOnly" or "closed", as `net.Socket`. */
  get readyState(): string {
    if (this.connecting) return "opening";
    if (this.destroyed || !this.#conn) return "closed";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  /** Close both directions and release the connection (alias of `destroy()` with no error). */
  resetAndDestroy(): this {
    this.#conn?.abort();
    return this.destroy();
  }

  /** No-op (the stack's loop keeps the process alive). */
  ref(): this {
    return this;
  }

  /** No-op (see `ref`). */
  unref(): this {
    return this;
  }
}
