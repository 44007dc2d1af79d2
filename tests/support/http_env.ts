/**
 * Helpers of the HTTP, TLS and node:net tests over two stacks on a memory link: the pair,
 * raw HTTP exchanges over a `Conn` (to see exactly what the server sends), and SHA-256 of a
 * stream.
 */

import { createHash } from "node:crypto";
import { createMemoryLinkPair, createStack, type NetStack } from "../../mod.ts";
import type { Conn } from "../../src/api/conn.ts";

/** Client and server addresses of `stackPair`. */
export const A = "10.9.0.1";
/** The server's address. */
export const B = "10.9.0.2";

/** Two stacks on a memory link (A client, B server), closed by `await using`. */
export async function stackPair(): Promise<
  { a: NetStack; b: NetStack; [Symbol.asyncDispose](): Promise<void> }
> {
  const [la, lb] = createMemoryLinkPair();
  const a = await createStack({ link: la, address: `${A}/24` });
  const b = await createStack({ link: lb, address: `${B}/24` });
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
    },
  };
}

/** Read from `conn` until `done(text)` holds or EOF; at most `ms` milliseconds. */
export async function readUntil(
  conn: Conn,
  done: (text: string) => boolean,
  ms = 10_000,
): Promise<string> {
  const dec = new TextDecoder();
  const buf = new Uint8Array(65536);
  let text = "";
  const deadline = performance.now() + ms;
  while (!done(text)) {
    if (performance.now() > deadline) throw new Error(`Timed out; got so far: ${text}`);
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return text;
}

/** SHA-256 (hex) and length of a byte stream. */
export async function streamSha(
  stream: ReadableStream<Uint8Array>,
): Promise<{ sha: string; length: number }> {
  const h = createHash("sha256");
  let length = 0;
  for await (const chunk of stream) {
    h.update(chunk);
    length += chunk.length;
  }
  return { sha: h.digest("hex"), length };
}

/** A stream of `total` bytes of `data` repeated, in `chunk`-sized pieces, pulled on demand. */
export function repeatStream(data: Uint8Array, total: number, chunk = 65536): {
  stream: ReadableStream<Uint8Array>;
  pulled: () => number;
} {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const n = Math.min(chunk, total - sent);
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = data[(sent + i) % data.length]!;
      sent += n;
      controller.enqueue(out);
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => sent };
}
