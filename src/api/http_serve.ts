/**
 * `serveHttp(stack, options, handler)`: `Deno.serve`'s shape over the stack. HTTP/1.1 (keep-alive,
 * chunked bodies both ways, `Expect: 100-continue`, malformed requests answered 400) comes from
 * `node:http`, HTTPS from `node:https` (when `cert` and `key` are given), both fed the stack's
 * connections through `server.emit("connection", socket)`. This file only converts between
 * node's request/response objects and the Fetch API's `Request`/`Response`, streaming bodies
 * with backpressure, and runs the shutdown.
 *
 * @module
 */

import http from "node:http";
import type { Socket } from "node:net";
import { type Duplex, Readable } from "node:stream";
import tls from "node:tls";
import type { NodeNetModule, StackServer } from "./node_net.ts";
import type { StackSocket } from "./node_net_socket.ts";
import { sendResponse } from "./http_response.ts";
import { serverContext } from "./tls.ts";
import { pauseUnderneath } from "./tls_conn.ts";

/** `Deno.ServeHandlerInfo`'s shape: who sent the request, and when the response is done. */
export interface StackServeHandlerInfo {
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
  /** Resolves when the response has been sent (or the client went away). */
  completed: Promise<void>;
}

/** A request handler, as `Deno.ServeHandler`. */
export type StackServeHandler = (
  request: Request,
  info: StackServeHandlerInfo,
) => Response | Promise<Response>;

/** Options of `stack.serve`, shaped like `Deno.ServeTcpOptions` (+ `cert`/`key` for HTTPS). */
export interface StackServeOptions {
  /** The port (default 8000, as `Deno.serve`). */
  port?: number;
  /** One of our addresses (default: any, "0.0.0.0"). */
  hostname?: string;
  /** Aborting it shuts the server down (as `shutdown()`). */
  signal?: AbortSignal;
  /** Called once listening; the default logs "Listening on http://addr:port/". */
  onListen?: (localAddr: Deno.NetAddr) => void;
  /** Turns a handler error into a response (default: 500 "Internal Server Error", logged). */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** PEM certificate chain: serve HTTPS (with `key`). */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** Idle keep-alive connections are closed after this many ms (default 5000, as node:http). */
  keepAliveTimeout?: number;
  /**
   * A connection must deliver a complete request header within this many ms of arriving, and of
   * its previous response ending, or it is closed (default 60000, as node:http's
   * `headersTimeout`): a client that sends half a header and stalls cannot hold a connection
   * forever.
   */
  headersTimeout?: number;
}

/** The server `stack.serve` returns, shaped like `Deno.HttpServer`. */
export interface StackHttpServer extends AsyncDisposable {
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;
  /** The address listened on. */
  readonly addr: Deno.NetAddr;
  /** Stop accepting, let requests in flight finish, close idle connections; resolves when done. */
  shutdown(): Promise<void>;
  /** No-op (the stack's loop keeps the process alive). */
  ref(): void;
  /** No-op (see `ref`). */
  unref(): void;
}

/** What `serveHttp` needs of a stack. */
export interface ServeHost {
  /** The stack's node:net module. */
  nodeNet(): NodeNetModule;
  /** Our address, for URLs when listening on any address. */
  readonly address: string;
}

/** The argument forms of `Deno.serve`: handler; options and handler; options with handler. */
export type ServeArgs =
  | [StackServeHandler]
  | [StackServeOptions, StackServeHandler]
  | [StackServeOptions & { handler: StackServeHandler }];

/** Normalise `Deno.serve`'s argument forms; throws TypeError when no handler is given. */
export function serveArgs(args: ServeArgs): [StackServeOptions, StackServeHandler] {
  const [a, b] = args as [unknown, unknown];
  if (typeof a === "function") return [{}, a as StackServeHandler];
  if (typeof b === "function") return [(a ?? {}) as StackServeOptions, b as StackServeHandler];
  const h = (a as { handler?: unknown } | undefined)?.handler;
  if (typeof h === "function") return [a as StackServeOptions, h as StackServeHandler];
  throw new TypeError("A handler function must be provided: serve(options, handler)");
}

const NULL_BODY_METHODS = new Set(["GET", "HEAD"]);
/** The TCP socket under each TLS socket of an HTTPS server. */
const rawOf = new WeakMap<object, StackSocket>();

/**
 * Serve HTTP (or HTTPS) on the stack; see `NetStack.serve`.
 *
 * @example Serve and fetch between two stacks
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24" });
 * const server = b.serve({ port: 8080, onListen() {} }, (req) => new Response(`hi ${req.method}`));
 * const res = await a.fetch("http://10.9.0.2:8080/");
 * if (await res.text() !== "hi GET") throw new Error("wrong body");
 * await server.shutdown();
 * await a.close();
 * await b.close();
 * ```
 */
export function serveHttp(
  host: ServeHost,
  options: StackServeOptions,
  handler: StackServeHandler,
): StackHttpServer {
  if (typeof handler !== "function") throw new TypeError("The handler must be a function");
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("HTTPS needs both cert and key");
  }
  const secure = options.cert !== undefined;
  const scheme = secure ? "https" : "http";
  // HTTPS: node:tls runs over our socket and node:http over the TLS socket (the TCP socket is
  // kept beside it for addresses and for closing).
  const context = secure ? serverContext(options.cert, options.key) : undefined;
  const httpServer = http.createServer();
  httpServer.keepAliveTimeout = options.keepAliveTimeout ?? 5000;
  const state = new ServeState();
  // Deno's node:http closes a connection after each response when its server is not
  // listening; ours is fed connections instead, so it reports listening until shutdown (after
  // which connections close once their response is sent, as a graceful shutdown wants).
  Object.defineProperty(httpServer, "listening", {
    get: () => !state.shuttingDown,
    configurable: true,
  });
  // Header deadline per connection (node:http applies its own only to servers it listens with).
  const headersTimeout = options.headersTimeout ?? 60_000;
  if (!(headersTimeout > 0)) throw new RangeError(`Invalid headersTimeout: ${headersTimeout}`);
  const headerTimers = new Map<Duplex, ReturnType<typeof setTimeout>>();
  const disarm = (s: Duplex): void => {
    const t = headerTimers.get(s);
    if (t !== undefined) clearTimeout(t);
    headerTimers.delete(s);
  };
  const arm = (s: Duplex): void => {
    disarm(s);
    if (s.destroyed) return;
    headerTimers.set(
      s,
      setTimeout(() => {
        headerTimers.delete(s);
        s.destroy();
      }, headersTimeout),
    );
  };
  const net = host.nodeNet();
  const port = options.port ?? 8000;
  // noDelay as Deno.serve and node:http: streamed chunks leave at once (no Nagle delay).
  const tcpServer: StackServer = net.createServer(
    { allowHalfOpen: true, noDelay: true },
    (socket) => {
      state.add(socket);
      if (!context) {
        arm(socket);
        socket.once("close", () => disarm(socket));
        httpServer.emit("connection", socket);
        return;
      }
      const secured = new tls.TLSSocket(socket as unknown as Socket, {
        isServer: true,
        secureContext: context,
        ALPNProtocols: ["http/1.1"],
      });
      rawOf.set(secured, socket);
      pauseUnderneath(secured, socket);
      secured.once("close", () => {
        disarm(secured);
        socket.destroy();
      });
      arm(secured);
      httpServer.emit("connection", secured);
    },
  );
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse, expect: boolean) => {
    // A whole header arrived: no deadline while the request runs; a new one once it is answered.
    const conn = req.socket as Duplex;
    disarm(conn);
    res.once("finish", () => arm(conn));
    void handleRequest(req, res, expect, {
      scheme,
      fallbackHost: `${host.address}:${port}`,
      handler,
      onError: options.onError,
      state,
    });
  };
  httpServer.on("request", (req, res) => onRequest(req, res, false));
  httpServer.on("checkContinue", (req, res) => onRequest(req, res, true));
  httpServer.on("clientError", (err: Error & { code?: string }, socket: Duplex) => {
    // A malformed request (node:http's parser): answer 400 as node does, then close. Other
    // failures (a TLS handshake that failed, a reset) just close.
    if (err.code?.startsWith("HPE_") && socket.writable && !socket.destroyed) {
      const status = err.code === "HPE_HEADER_OVERFLOW"
        ? "431 Request Header Fields Too Large"
        : "400 Bad Request";
      const reply = `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;
      socket.end(reply, () => socket.destroy());
    } else socket.destroy();
  });
  tcpServer.on("error", (err) => state.fail(err));
  // listen() on our stack is synchronous: a busy port throws here, as in Deno.serve.
  // No hostname: every address of ours, IPv4 and IPv6 (reported as "0.0.0.0", as Deno does).
  const hostname = options.hostname ?? "0.0.0.0";
  tcpServer.listen({ port, ...(options.hostname === undefined ? {} : { host: hostname }) });
  const bound = tcpServer.address();
  if (!bound) throw new Error(`Cannot listen on ${hostname}:${port}`);
  const addr: Deno.NetAddr = { transport: "tcp", hostname: bound.address, port: bound.port };
  if (options.onListen) options.onListen(addr);
  else {
    const shown = addr.hostname === "0.0.0.0" ? host.address : addr.hostname;
    console.log(`Listening on ${scheme}://${shown}:${addr.port}/`);
  }
  const shutdown = (): Promise<void> => {
    if (!state.shuttingDown) {
      state.shuttingDown = true;
      tcpServer.close(() => {});
      state.closeIdle();
    }
    return state.finished;
  };
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  if (options.signal?.aborted) void shutdown();
  return {
    finished: state.finished,
    addr,
    shutdown,
    ref() {},
    unref() {},
    [Symbol.asyncDispose]: shutdown,
  };
}

/** Open sockets, requests in flight per socket, and the shutdown's promise. */
class ServeState {
  shuttingDown = false;
  readonly finished: Promise<void>;
  #resolve!: () => void;
  #sockets = new Map<StackSocket, number>();

  constructor() {
    this.finished = new Promise((resolve) => this.#resolve = resolve);
  }

  add(socket: StackSocket): void {
    this.#sockets.set(socket, 0);
    socket.once("close", () => {
      this.#sockets.delete(socket);
      this.#check();
    });
  }

  /** A request started on `socket`; the returned function marks it done. */
  begin(socket: StackSocket): () => void {
    this.#sockets.set(socket, (this.#sockets.get(socket) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.#sockets.get(socket) ?? 1) - 1;
      if (!this.#sockets.has(socket)) return;
      this.#sockets.set(socket, left);
      if (this.shuttingDown && left === 0) socket.destroy(); // FIN after what is queued
    };
  }

  closeIdle(): void {
    for (const [socket, busy] of this.#sockets) if (busy === 0) socket.destroy();
    this.#check();
  }

  fail(err: unknown): void {
    console.error("stack.serve:", err);
  }

  #check(): void {
    if (this.shuttingDown && this.#sockets.size === 0) this.#resolve();
  }
}

interface RequestContext {
  scheme: string;
  fallbackHost: string;
  handler: StackServeHandler;
  onError: ((error: unknown) => Response | Promise<Response>) | undefined;
  state: ServeState;
}

async function handleRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  expectContinue: boolean,
  ctx: RequestContext,
): Promise<void> {
  const socket = rawOf.get(req.socket) ?? req.socket as unknown as StackSocket;
  const done = ctx.state.begin(socket);
  if (ctx.state.shuttingDown) res.shouldKeepAlive = false;
  let markCompleted!: () => void;
  const completed = new Promise<void>((resolve) => markCompleted = resolve);
  const aborter = new AbortController();
  res.once("close", () => {
    // The client went away before the whole response was sent: abort the request's signal.
    if (!res.writableFinished) aborter.abort(new DOMException("Client disconnected", "AbortError"));
    done();
    markCompleted();
  });
  const method = req.method ?? "GET";
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch { /* node:http accepted a header Headers refuses: leave it out */ }
  }
  const hostHeader = req.headers.host ?? ctx.fallbackHost;
  let request: Request;
  try {
    // origin-form targets (RFC 9112 3.2.1) are the common case: one URL parse, in Request.
    const target = req.url ?? "/";
    const url = target.startsWith("/")
      ? `${ctx.scheme}://${hostHeader}${target}`
      : new URL(target, `${ctx.scheme}://${hostHeader}`).href;
    let body: ReadableStream<Uint8Array> | null = null;
    if (!NULL_BODY_METHODS.has(method)) body = requestBody(req, res, expectContinue);
    else req.resume();
    request = new Request(url, {
      method,
      headers,
      body,
      signal: aborter.signal,
      ...(body ? { duplex: "half" } : {}),
    } as RequestInit);
  } catch {
    res.writeHead(400, { "content-length": "0", connection: "close" }).end();
    return;
  }
  const remote = socket.remoteAddress ?? "0.0.0.0";
  const info: StackServeHandlerInfo = {
    remoteAddr: { transport: "tcp", hostname: remote, port: socket.remotePort ?? 0 },
    completed,
  };
  let response: Response;
  try {
    response = await ctx.handler(request, info);
    if (!(response instanceof Response)) {
      throw new TypeError("The handler must return a Response");
    }
  } catch (err) {
    response = await errorResponse(err, ctx.onError);
  }
  try {
    await sendResponse(res, response, method === "HEAD");
  } catch (err) {
    // The body failed before its first bytes went out: nothing honest can be sent.
    console.error("stack.serve: the response body failed", err);
    res.destroy();
  }
}

/** The request body as a byte stream pulled from node's IncomingMessage (backpressure). */
function requestBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  expectContinue: boolean,
): ReadableStream<Uint8Array> {
  const stream = Readable.toWeb(req) as ReadableStream<Uint8Array>;
  if (!expectContinue) return stream;
  // RFC 9110 10.1.1: answer 100 (Continue) only once the handler starts reading the body.
  const reader = stream.getReader();
  let continued = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!continued) {
        continued = true;
        if (!res.headersSent) res.writeContinue();
      }
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

async function errorResponse(
  err: unknown,
  onError: ((error: unknown) => Response | Promise<Response>) | undefined,
): Promise<Response> {
  if (onError) {
    try {
      const r = await onError(err);
      if (r instanceof Response) return r;
    } catch (inner) {
      console.error("stack.serve: onError threw", inner);
    }
  } else {
    console.error("stack.serve: the handler threw", err);
  }
  return new Response("Internal Server Error", { status: 500 });
}
