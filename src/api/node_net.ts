/**
 * `createNodeNet(stack)`: a `node:net`-compatible module over the stack (`createServer`,
 * `connect`, `createConnection`, `Socket`, `Server`, `isIP`...), for npm clients that accept a
 * socket or a `net` factory. `StackServer` mirrors `net.Server`: `listen`, `address()`,
 * `close()`, and the `listening`, `connection`, `error` and `close` events.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import { isIP, isIPv4, isIPv6 } from "node:net";
import type { Conn } from "./conn.ts";
import type { Listener } from "./listener.ts";
import {
  type ConnectListener,
  type SocketConnector,
  type StackConnectOptions,
  StackSocket,
  type StackSocketOptions,
} from "./node_net_socket.ts";

/** What the node:net module needs of a stack: `connect` and `listen` (a `NetStack`). */
export interface NodeNetHost extends SocketConnector {
  /** `NetStack.listen`. */
  listen(options: { port: number; hostname?: string }): Listener;
}

/** Options of `createServer` (a subset of `net.ServerOpts`). */
export interface StackServerOptions {
  /** Keep the sending side open after the peer's FIN (default false). */
  allowHalfOpen?: boolean;
  /** Set no-delay on accepted sockets. */
  noDelay?: boolean;
  /** Enable keepalive on accepted sockets. */
  keepAlive?: boolean;
}

/** Listen options (a subset of `net.ListenOptions`). */
export interface StackListenOptions {
  /** The port. */
  port?: number;
  /** One of our addresses (default: any). */
  host?: string;
}

/**
 * A TCP server on our stack shaped like `net.Server`. Get one from
 * `stack.nodeNet().createServer()`.
 *
 * @example Listen, accept one connection, close
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24" });
 * const server = b.nodeNet().createServer((s) => s.end(`hi ${s.remoteAddress}`));
 * server.listen(80, () => console.log("listening on", server.address()));
 * let text = "";
 * for await (const chunk of a.nodeNet().connect(80, "10.9.0.2")) text += chunk;
 * if (text !== "hi 10.9.0.1") throw new Error(text);
 * await new Promise((r) => server.close(r));
 * await a.close();
 * await b.close();
 * ```
 */
export class StackServer extends EventEmitter {
  #host: NodeNetHost;
  #options: StackServerOptions;
  #listener: Listener | undefined;
  #sockets = new Set<StackSocket>();
  #closing = false;
  /** Refuse connections beyond this many open ones (unset: no limit besides the stack's). */
  maxConnections: number | undefined;

  /**
   * Internal: use `createServer`.
   *
   * @ignore
   */
  constructor(
    host: NodeNetHost,
    options: StackServerOptions = {},
    onConnection?: (socket: StackSocket) => void,
  ) {
    super();
    this.#host = host;
    this.#options = options;
    if (onConnection) this.on("connection", onConnection);
  }

  /** True while listening. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /**
   * Start listening: `listen(port, host?, callback?)` or `listen({ port, host }, callback?)`.
   * A busy port is emitted as "error" (`Deno.errors.AddrInUse`).
   */
  listen(
    portOrOptions?: number | string | StackListenOptions,
    hostOrCallback?: string | number | (() => void),
    maybeCallback?: (() => void) | number,
    lastCallback?: () => void,
  ): this {
    const opts: StackListenOptions = typeof portOrOptions === "object"
      ? portOrOptions
      : { port: Number(portOrOptions ?? 0) };
    if (typeof hostOrCallback === "string") opts.host = hostOrCallback;
    const cb = [hostOrCallback, maybeCallback, lastCallback].find((x) => typeof x === "function") as
      | (() => void)
      | undefined;
    if (cb) this.once("listening", cb);
    if (this.#listener) throw new Error("Server is already listening");
    try {
      this.#listener = this.#host.listen({
        port: opts.port ?? 0,
        ...(opts.host === undefined ? {} : { hostname: opts.host }),
      });
    } catch (err) {
      queueMicrotask(() => this.emit("error", err));
      return this;
    }
    this.#closing = false;
    queueMicrotask(() => this.emit("listening"));
    void this.#acceptLoop(this.#listener);
    return this;
  }

  async #acceptLoop(listener: Listener): Promise<void> {
    for await (const conn of listener) this.#accepted(conn);
  }

  #accepted(conn: Conn): void {
    if (this.maxConnections !== undefined && this.#sockets.size >= this.maxConnections) {
      conn.close();
      this.emit("drop", { remoteAddress: conn.remoteAddr.hostname });
      return;
    }
    const opts: StackSocketOptions = { conn, allowHalfOpen: this.#options.allowHalfOpen ?? false };
    const socket = new StackSocket(opts, this.#host);
    if (this.#options.noDelay) socket.setNoDelay(true);
    if (this.#options.keepAlive) socket.setKeepAlive(true);
    this.#sockets.add(socket);
    socket.once("close", () => {
      this.#sockets.delete(socket);
      this.#maybeClosed();
    });
    this.emit("connection", socket);
  }

  #maybeClosed(): void {
    if (this.#closing && this.#sockets.size === 0 && !this.#listener) {
      this.#closing = false;
      this.emit("close");
    }
  }

  /** The address listened on, as `net.Server.address()`, or null when not listening. */
  address(): { address: string; family: string; port: number } | null {
    const a = this.#listener?.addr;
    return a
      ? { address: a.hostname, family: a.hostname.includes(":") ? "IPv6" : "IPv4", port: a.port }
      : null;
  }

  /**
   * Stop accepting; "close" is emitted once every open socket has closed (as `net.Server`).
   * The callback gets an error when the server was not listening.
   */
  close(callback?: (err?: Error) => void): this {
    if (!this.#listener) {
      if (callback) {
        queueMicrotask(() => callback(new Error("Server is not running")));
      }
      return this;
    }
    if (callback) this.once("close", () => callback());
    this.#listener.close();
    this.#listener = undefined;
    this.#closing = true;
    queueMicrotask(() => this.#maybeClosed());
    return this;
  }

  /** Destroy every open socket (as `http.Server.closeAllConnections`). */
  closeAllConnections(): void {
    for (const s of this.#sockets) s.destroy();
  }

  /** The number of open sockets, as `net.Server.getConnections`. */
  getConnections(callback: (err: Error | null, count: number) => void): this {
    queueMicrotask(() => callback(null, this.#sockets.size));
    return this;
  }

  /** No-op (the stack's loop keeps the process alive). */
  ref(): this {
    return this;
  }

  /** No-op (see `ref`). */
  unref(): this {
    return this;
  }

  /** Close the server. */
  [Symbol.asyncDispose](): Promise<void> {
    return new Promise((resolve) => this.close(() => resolve()));
  }
}

/** The `node:net`-compatible module returned by `stack.nodeNet()`. */
export interface NodeNetModule {
  /** `new Socket()` then `socket.connect(...)`, as `net.Socket`. */
  Socket: new (options?: StackSocketOptions) => StackSocket;
  /** `new Server(options?, listener?)`, as `net.Server`. */
  Server: new (
    options?: StackServerOptions,
    onConnection?: (socket: StackSocket) => void,
  ) => StackServer;
  /** `net.createServer(options?, connectionListener?)`. */
  createServer(
    optionsOrListener?: StackServerOptions | ((socket: StackSocket) => void),
    onConnection?: (socket: StackSocket) => void,
  ): StackServer;
  /** `net.connect(port, host?, listener?)` or `net.connect(options, listener?)`. */
  connect(
    portOrOptions: number | string | StackConnectOptions,
    hostOrListener?: string | ConnectListener,
    listener?: ConnectListener,
  ): StackSocket;
  /** Same as `connect`. */
  createConnection(
    portOrOptions: number | string | StackConnectOptions,
    hostOrListener?: string | ConnectListener,
    listener?: ConnectListener,
  ): StackSocket;
  /**
   * Feed the connections of a new listener to a node server (`http.Server`, `https.Server`,
   * or anything that takes `emit("connection", socket)`), and report it as listening: Deno's
   * node:http closes each connection after one response when its server is not listening.
   * Closing the returned server stops both.
   */
  attachServer(
    server: EventEmitter & { listening?: boolean },
    options: StackListenOptions,
  ): StackServer;
  /** `net.isIP`: 4, 6 or 0. */
  isIP(input: string): number;
  /** `net.isIPv4`. */
  isIPv4(input: string): boolean;
  /** `net.isIPv6`. */
  isIPv6(input: string): boolean;
}

/**
 * A `node:net`-compatible module over `host` (a `NetStack`).
 *
 * @example Hand the module's `createConnection` to node:http
 * ```ts
 * import http from "node:http";
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24" });
 * const srv = await b.serve({ port: 80, onListen() {} }, () => new Response("ok"));
 * const net = a.nodeNet();
 * const body = await new Promise<string>((resolve, reject) => {
 *   http.get({ host: "10.9.0.2", port: 80, createConnection: (o) => net.createConnection(o) }, (res) => {
 *     let text = "";
 *     res.on("data", (c) => text += c).on("end", () => resolve(text));
 *   }).on("error", reject);
 * });
 * if (body !== "ok") throw new Error(body);
 * await srv.shutdown();
 * await a.close();
 * await b.close();
 * ```
 */
export function createNodeNet(host: NodeNetHost): NodeNetModule {
  class Socket extends StackSocket {
    constructor(options?: StackSocketOptions) {
      super(options, host);
    }
  }
  class Server extends StackServer {
    constructor(options?: StackServerOptions, onConnection?: (socket: StackSocket) => void) {
      super(host, options, onConnection);
    }
  }
  const connect = (
    portOrOptions: number | string | StackConnectOptions,
    hostOrListener?: string | ConnectListener,
    listener?: ConnectListener,
  ): StackSocket => {
    const allowHalfOpen = typeof portOrOptions === "object" &&
      (portOrOptions as { allowHalfOpen?: boolean }).allowHalfOpen === true;
    return new Socket({ allowHalfOpen }).connect(portOrOptions, hostOrListener, listener);
  };
  const attachServer = (
    server: EventEmitter & { listening?: boolean },
    options: StackListenOptions,
  ): StackServer => {
    // noDelay as node:http's server default (a response written in pieces is not held back
    // by Nagle waiting for a delayed ACK).
    const tcp = new Server(
      { allowHalfOpen: true, noDelay: true },
      (socket) => server.emit("connection", socket),
    );
    tcp.on("error", (err) => server.emit("error", err));
    tcp.listen(options);
    Object.defineProperty(server, "listening", { get: () => tcp.listening, configurable: true });
    return tcp;
  };
  return {
    attachServer,
    Socket,
    Server,
    createServer(optionsOrListener, onConnection) {
      if (typeof optionsOrListener === "function") return new Server({}, optionsOrListener);
      return new Server(optionsOrListener ?? {}, onConnection);
    },
    connect,
    createConnection: connect,
    isIP,
    isIPv4,
    isIPv6,
  };
}
