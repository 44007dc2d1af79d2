/**
 * `stackFetch(stack, input, init)`: `fetch`'s shape for `http:` and `https:` URLs over the
 * stack. Each request opens its own TCP connection (`Connection: close`); `node:http` writes the
 * request and parses the response (chunked or sized bodies, 1xx skipped), `node:tls` does HTTPS
 * with `caCerts` for private CAs. Bodies stream both ways; redirects follow the Fetch standard
 * (4.4 HTTP-redirect fetch: at most 20, 303 and POST-after-301/302 become GET, Authorization
 * dropped across origins); `signal` aborts at any point. Network failures reject with
 * `TypeError` (as `fetch`) whose `cause` is Deno's error class (ConnectionRefused,
 * InvalidData for certificate problems, ...).
 *
 * @module
 */

import http from "node:http";
import { isIP } from "node:net";
import { Readable } from "node:stream";
import tls from "node:tls";
import type { Conn } from "./conn.ts";
import { StackSocket } from "./node_net_socket.ts";
import { mapTlsError, pauseUnderneath } from "./tls_conn.ts";

/** `fetch`'s `RequestInit` plus `caCerts` (as `Deno.createHttpClient`'s) for private CAs. */
export interface StackFetchInit extends RequestInit {
  /** PEM CA certificates to trust for https: instead of the default root store. */
  caCerts?: string[];
}

/** What `stackFetch` needs of a stack. */
export interface FetchHost {
  /** `NetStack.connect`. */
  connect(options: { hostname: string; port: number; signal?: AbortSignal }): Promise<Conn>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const MAX_REDIRECTS = 20;

interface Outgoing {
  url: URL;
  method: string;
  headers: Headers;
  /** Bytes (replayable on redirects), a stream (not replayable), or nothing. */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
}

/**
 * Fetch over the stack; see `NetStack.fetch`.
 *
 * @example POST a body and read the echo
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24" });
 * const server = b.serve({ port: 80, onListen() {} }, (req) => new Response(req.body));
 * const res = await a.fetch("http://10.9.0.2/echo", { method: "POST", body: "ping" });
 * if (await res.text() !== "ping") throw new Error("no echo");
 * await server.shutdown();
 * await a.close();
 * await b.close();
 * ```
 */
export async function stackFetch(
  host: FetchHost,
  input: string | URL | Request,
  init: StackFetchInit = {},
): Promise<Response> {
  const request = new Request(input, init);
  const signal = request.signal;
  if (signal.aborted) throw signal.reason;
  const streamed = init.body instanceof ReadableStream ||
    (init.body === undefined && input instanceof Request && input.body !== null);
  const out: Outgoing = {
    url: new URL(request.url),
    method: request.method,
    headers: new Headers(request.headers),
    body: request.body === null
      ? null
      : streamed
      ? request.body
      : new Uint8Array(await request.arrayBuffer()),
  };
  for (let redirects = 0;; redirects++) {
    const res = await once(host, out, signal, init.caCerts);
    if (!REDIRECTS.has(res.status) || request.redirect === "manual") {
      return finish(res, out.url, redirects > 0);
    }
    const location = res.headers.get("location");
    if (location === null) return finish(res, out.url, redirects > 0);
    await res.body?.cancel().catch(() => {});
    if (request.redirect === "error") {
      throw new TypeError(
        `Fetch of ${out.url} failed: redirect (${res.status}) with redirect mode "error"`,
      );
    }
    if (redirects >= MAX_REDIRECTS) {
      throw new TypeError(`Fetch of ${request.url} failed: more than ${MAX_REDIRECTS} redirects`);
    }
    let next: URL;
    try {
      next = new URL(location, out.url);
    } catch {
      throw new TypeError(`Fetch of ${out.url} failed: bad redirect location "${location}"`);
    }
    if (
      (res.status === 303 && out.method !== "HEAD") ||
      ((res.status === 301 || res.status === 302) && out.method === "POST")
    ) {
      out.method = "GET";
      out.body = null;
      for (const h of ["content-type", "content-length", "content-encoding", "content-language"]) {
        out.headers.delete(h);
      }
    } else if (out.body instanceof ReadableStream) {
      throw new TypeError(
        `Fetch of ${out.url} failed: cannot follow a ${res.status} redirect with a streamed body`,
      );
    }
    if (next.origin !== out.url.origin) out.headers.delete("authorization");
    out.url = next;
  }
}

function finish(res: Response, url: URL, redirected: boolean): Response {
  Object.defineProperty(res, "url", { value: url.href });
  Object.defineProperty(res, "redirected", { value: redirected });
  return res;
}

function sendError(url: URL, err: unknown): TypeError {
  const cause = url.protocol === "https:" ? mapTlsError(err, url.host) : err;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new TypeError(`error sending request for url (${url.href}): ${why}`, { cause });
}

async function once(
  host: FetchHost,
  out: Outgoing,
  signal: AbortSignal,
  caCerts: string[] | undefined,
): Promise<Response> {
  const url = out.url;
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`scheme '${url.protocol.slice(0, -1)}' is not supported`);
  }
  const secure = url.protocol === "https:";
  const hostname = url.hostname;
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  let conn: Conn;
  try {
    conn = await host.connect({ hostname, port, signal });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw sendError(url, err);
  }
  conn.setNoDelay(true); // as node:http's client: request pieces leave at once
  const raw = new StackSocket({ conn });
  const socket = secure
    ? tls.connect({
      socket: raw,
      host: hostname,
      ALPNProtocols: ["http/1.1"],
      ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
      ...(caCerts ? { ca: caCerts } : {}),
    })
    : raw;
  if (socket !== raw) {
    socket.once("close", () => raw.destroy());
    pauseUnderneath(socket as tls.TLSSocket, raw);
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of out.headers) headers[name] = value;
  headers["accept"] ??= "*/*";
  headers["user-agent"] ??= `Deno/${Deno.version.deno}`;
  if (out.body instanceof Uint8Array) headers["content-length"] = String(out.body.length);
  return await new Promise<Response>((resolve, reject) => {
    const req = http.request({
      method: out.method,
      host: hostname,
      port,
      path: `${url.pathname}${url.search}`,
      headers,
      createConnection: () => socket as unknown as import("node:net").Socket,
    });
    const onAbort = (): void => {
      reject(signal.reason);
      req.destroy(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const detach = (): void => signal.removeEventListener("abort", onAbort);
    req.on("error", (err) => {
      detach();
      reject(sendError(url, err));
    });
    req.on("response", (res: http.IncomingMessage) => {
      res.on("close", detach);
      const h = new Headers();
      const rawHeaders = res.rawHeaders;
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        try {
          h.append(rawHeaders[i]!, rawHeaders[i + 1]!);
        } catch { /* a header value Headers refuses: left out */ }
      }
      const status = res.statusCode ?? 0;
      const noBody = out.method === "HEAD" || NULL_BODY_STATUS.has(status);
      if (noBody) res.resume();
      try {
        resolve(
          new Response(noBody ? null : Readable.toWeb(res) as ReadableStream<Uint8Array>, {
            status,
            statusText: res.statusMessage ?? "",
            headers: h,
          }),
        );
      } catch (err) {
        res.destroy();
        reject(new TypeError(`Bad response from ${url.href}: ${(err as Error).message}`));
      }
    });
    void writeBody(req, out.body).catch((err) => {
      req.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
}

/** Write the request body (streamed with backpressure), then end the request. */
async function writeBody(
  req: http.ClientRequest,
  body: Uint8Array | ReadableStream<Uint8Array> | null,
): Promise<void> {
  if (body === null) {
    req.end();
    return;
  }
  if (body instanceof Uint8Array) {
    req.end(body);
    return;
  }
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (req.destroyed) {
        await reader.cancel();
        return;
      }
      if (!req.write(value)) {
        await new Promise<void>((resolve) => {
          const go = (): void => {
            req.off("drain", go);
            req.off("close", go);
            resolve();
          };
          req.once("drain", go);
          req.once("close", go);
        });
      }
    }
    req.end();
  } finally {
    reader.releaseLock();
  }
}
