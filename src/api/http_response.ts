/**
 * Writing a Fetch API `Response` into node's `http.ServerResponse`: status, headers (several
 * `set-cookie` kept apart), and the body streamed chunk by chunk, waiting for "drain" when the
 * connection's send ring is full (backpressure). Without a content-length node:http sends the
 * body chunked (RFC 9112 7.1).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type http from "node:http";

/**
 * Send `response` on `res`; resolves when the body is written or the client went away.
 *
 * @example Internal (used by stack.serve)
 * ```ts ignore
 * await sendResponse(res, new Response("hi"), false);
 * ```
 */
export async function sendResponse(
  res: http.ServerResponse,
  response: Response,
  isHead: boolean,
): Promise<void> {
  if (res.destroyed) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  const cookies = response.headers.getSetCookie();
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") continue;
    res.setHeader(name, value);
  }
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  const body = response.body;
  if (body === null) {
    if (
      body === null && !res.hasHeader("content-length") && response.status >= 200 &&
      response.status !== 204 && response.status !== 304
    ) {
      res.setHeader("content-length", "0");
    }
    res.end();
    return;
  }
  const reader = body.getReader();
  let next = reader.read();
  if (!res.hasHeader("content-length") && !res.hasHeader("transfer-encoding")) {
    // A body that is already complete (bytes, text, JSON) gets a content-length, as in
    // Deno.serve; a body still being produced goes out chunked from its first chunk.
    const head: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await settledSoon(next);
      if (r === undefined) break;
      if (r.done) {
        const total = head.reduce((n, c) => n + c.length, 0);
        res.setHeader("content-length", String(total));
        // node:http sends no body bytes in answer to HEAD (RFC 9110 9.3.2).
        res.end(isHead ? undefined : head.length === 1 ? head[0] : Buffer.concat(head));
        return;
      }
      head.push(r.value);
      next = reader.read();
    }
    if (!isHead) { for (const c of head) res.write(c); }
  }
  if (isHead) {
    await reader.cancel().catch(() => {});
    res.end();
    return;
  }
  let gone = false;
  const onClose = (): void => {
    gone = true;
    reader.cancel(new DOMException("Client disconnected", "AbortError")).catch(() => {});
  };
  res.once("close", onClose);
  try {
    for (;;) {
      const { value, done } = await next;
      if (done || gone) break;
      next = reader.read();
      if (value.length === 0) continue;
      if (!res.write(value)) await drained(res);
    }
    if (!gone) res.end();
  } catch (err) {
    // The body stream failed mid-way: the response cannot be completed honestly, so the
    // connection is closed without the final chunk (the client sees a truncated body).
    if (!gone) {
      console.error("stack.serve: the response body failed", err);
      res.destroy();
    }
  } finally {
    res.off("close", onClose);
  }
}

/**
 * `p`'s result if it settles within a few microtask turns (a body that is already complete:
 * bytes, text, JSON), else undefined while `p` keeps running (a body still being produced).
 */
function settledSoon<T>(p: Promise<T>): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    p.then((v) => {
      settled = true;
      resolve(v);
    }, (err) => {
      settled = true;
      reject(err);
    });
    let hops = 0;
    const step = (): void => {
      if (settled) return;
      if (++hops >= 16) resolve(undefined);
      else queueMicrotask(step);
    };
    queueMicrotask(step);
  });
}

function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}
