/**
 * Writing a Fetch API `Response` into node's `http.ServerResponse`: status, headers (several
 * `set-cookie` kept apart), and the body streamed chunk by chunk, waiting for "drain" when the
 * connection's send ring is full (backpressure). Without a content-length node:http sends the
 * body chunked (RFC 9112 7.1).
 *
 * @module
 */

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
  if (body === null || isHead) {
    if (body !== null) await body.cancel().catch(() => {});
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
  let gone = false;
  const onClose = (): void => {
    gone = true;
    reader.cancel(new DOMException("Client disconnected", "AbortError")).catch(() => {});
  };
  res.once("close", onClose);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || gone) break;
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
