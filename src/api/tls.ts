/**
 * TLS over the stack with `Deno.connectTls`, `Deno.startTls` and `Deno.listenTls`'s shapes, on
 * `node:tls`: a `TLSSocket` runs over a `StackSocket` (our TCP connection as a node Duplex).
 * Certificates are verified against `caCerts` when given, else the default root store; the name
 * checked is `hostname` (an IP address is checked against the certificate's IP SANs and sent
 * without SNI, RFC 6066 3).
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import tls from "node:tls";
import type { Conn } from "./conn.ts";
import type { Listener } from "./listener.ts";
import { StackSocket } from "./node_net_socket.ts";
import { TlsConn } from "./tls_conn.ts";

/** Options of `stack.connectTls`, shaped like `Deno.ConnectTlsOptions`. */
export interface StackConnectTlsOptions {
  /** The server's address (dotted quad, or a name once the stack resolves names). */
  hostname?: string;
  /** The server's port. */
  port: number;
  /** PEM CA certificates to trust instead of the default root store. */
  caCerts?: string[];
  /** ALPN protocols to offer, in order of preference. */
  alpnProtocols?: string[];
  /** PEM client certificate chain (mutual TLS, with `key`). */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** Aborts the TCP connect (an extension). */
  signal?: AbortSignal;
  /** "tcp" only. */
  transport?: "tcp";
}

/** Options of `stack.startTls`, shaped like `Deno.StartTlsOptions`. */
export interface StackStartTlsOptions {
  /** The name (or IP address) the server's certificate must carry; also the SNI name. */
  hostname?: string;
  /** PEM CA certificates to trust instead of the default root store. */
  caCerts?: string[];
  /** ALPN protocols to offer. */
  alpnProtocols?: string[];
}

/** Options of `stack.listenTls`, shaped like `Deno.ListenTlsOptions`. */
export interface StackListenTlsOptions {
  /** The port. */
  port: number;
  /** One of our addresses (default: any). */
  hostname?: string;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** ALPN protocols we accept, in order of preference. */
  alpnProtocols?: string[];
  /** "tcp" only. */
  transport?: "tcp";
}

/** What the TLS functions need of a stack. */
export interface TlsHost {
  /** `NetStack.connect`. */
  connect(options: { hostname: string; port: number; signal?: AbortSignal }): Promise<Conn>;
  /** `NetStack.listen`. */
  listen(options: { port: number; hostname?: string }): Listener;
}

/**
 * A secure context for a server, after checking that `cert` and `key` are PEM a server can
 * use: `Deno.errors.InvalidData` saying which one is wrong, else TypeError when missing.
 *
 * @example Refuse a key that is not PEM
 * ```ts
 * import { serverContext } from "./tls.ts";
 * try {
 *   serverContext("junk", "junk");
 *   throw new Error("accepted");
 * } catch (err) {
 *   if (!(err instanceof Deno.errors.InvalidData)) throw err;
 * }
 * ```
 */
export function serverContext(cert: unknown, key: unknown): tls.SecureContext {
  if (typeof cert !== "string" || typeof key !== "string") {
    throw new TypeError("A TLS server needs cert and key (PEM strings)");
  }
  try {
    new X509Certificate(cert);
  } catch (err) {
    throw new Deno.errors.InvalidData(`The TLS certificate is not a valid PEM certificate`, {
      cause: err,
    });
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new Deno.errors.InvalidData(`The TLS key is not a valid PEM private key`, {
      cause: err,
    });
  }
  return tls.createSecureContext({ cert, key });
}

/** Upgrade `conn` to TLS as a client; see `NetStack.startTls`. */
export function startTls(conn: Conn, options: StackStartTlsOptions = {}): Promise<TlsConn> {
  const hostname = options.hostname ?? "127.0.0.1";
  const raw = new StackSocket({ conn, allowHalfOpen: true });
  const sock = tls.connect({
    socket: raw,
    host: hostname,
    ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
    ...(options.caCerts ? { ca: options.caCerts } : {}),
    ...(options.alpnProtocols ? { ALPNProtocols: options.alpnProtocols } : {}),
  });
  return Promise.resolve(new TlsConn(sock, raw, false));
}

/** Connect and start TLS; see `NetStack.connectTls`. */
export async function connectTls(host: TlsHost, options: StackConnectTlsOptions): Promise<TlsConn> {
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("A client certificate needs both cert and key");
  }
  const hostname = options.hostname ?? "127.0.0.1";
  const conn = await host.connect({
    hostname,
    port: options.port,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const raw = new StackSocket({ conn, allowHalfOpen: true });
  const sock = tls.connect({
    socket: raw,
    host: hostname,
    ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
    ...(options.caCerts ? { ca: options.caCerts } : {}),
    ...(options.alpnProtocols ? { ALPNProtocols: options.alpnProtocols } : {}),
    ...(options.cert ? { cert: options.cert, key: options.key } : {}),
  });
  return new TlsConn(sock, raw, false);
}

/**
 * A TLS listener shaped like `Deno.TlsListener`: `accept()` gives a `TlsConn` whose handshake
 * runs as it is used (`handshake()`, `read`, `write`), as Deno's.
 *
 * @example Accept TLS connections (certificates from `openssl`)
 * ```ts ignore
 * const listener = stack.listenTls({ port: 443, cert, key, alpnProtocols: ["h2", "http/1.1"] });
 * for await (const conn of listener) {
 *   await conn.handshake();
 *   await conn.readable.pipeTo(conn.writable);
 * }
 * ```
 */
export class TlsListener implements AsyncIterable<TlsConn>, Disposable {
  /** The address listened on. */
  readonly addr: Deno.NetAddr;
  #listener: Listener;
  #context: tls.SecureContext;
  #alpn: string[] | undefined;

  /**
   * Internal: use `stack.listenTls`.
   *
   * @ignore
   */
  constructor(listener: Listener, context: tls.SecureContext, alpnProtocols?: string[]) {
    this.#listener = listener;
    this.addr = listener.addr;
    this.#context = context;
    this.#alpn = alpnProtocols;
  }

  /** Wait for the next connection (TCP established; TLS handshake on first use). */
  async accept(): Promise<TlsConn> {
    const conn = await this.#listener.accept();
    const raw = new StackSocket({ conn, allowHalfOpen: true });
    const sock = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.#context,
      ...(this.#alpn ? { ALPNProtocols: this.#alpn } : {}),
    });
    return new TlsConn(sock, raw, true);
  }

  /** Stop listening. */
  close(): void {
    this.#listener.close();
  }

  /** No-op. */
  ref(): void {}

  /** No-op. */
  unref(): void {}

  /** Accept until closed. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<TlsConn> {
    for (;;) {
      let conn: TlsConn;
      try {
        conn = await this.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) return;
        throw err;
      }
      yield conn;
    }
  }

  /** Close the listener. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Listen for TLS connections; see `NetStack.listenTls`. */
export function listenTls(host: TlsHost, options: StackListenTlsOptions): TlsListener {
  // The context is built before listening, so a bad certificate leaves no listener behind.
  const context = serverContext(options.cert, options.key);
  const listener = host.listen({
    port: options.port,
    ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
  });
  return new TlsListener(listener, context, options.alpnProtocols);
}
