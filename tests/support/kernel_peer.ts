/**
 * Our side of the kernel peer (PY_PEER in interop_env.ts) for tests over TAP: start it in the
 * namespace, read its result line, stream a buffer both ways, and connect to a kernel server
 * that may not be listening yet.
 */

import { createHash } from "node:crypto";
import type { NetStack } from "../../mod.ts";
import type { Conn } from "../../src/api/conn.ts";
import type { Netns } from "../../tools/netns.ts";
import { PY_PEER } from "./interop_env.ts";

/** Run PY_PEER with `args` inside `ns`. */
export function py(ns: Netns, args: string[]): Deno.ChildProcess {
  return ns.spawn(["python3", "-c", PY_PEER, ...args], { stdout: "piped", stderr: "piped" });
}

/** The peer's last output line, split on spaces; throws with its stderr if it failed. */
export async function pyResult(child: Deno.ChildProcess): Promise<string[]> {
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) => l !== "ready");
  if (!out.success) throw new Error(`python peer failed: ${new TextDecoder().decode(out.stderr)}`);
  return (text.at(-1) ?? "").split(" ");
}

/** SHA-256 of `data`, in hex. */
export function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Send `data` and half-close, and read to EOF, at once or one after the other; returns the
 * SHA-256 and length of what was read.
 */
export async function exchange(
  conn: Conn,
  data: Uint8Array,
  order: "both" | "send-first" | "recv-first" = "both",
): Promise<{ recvSha: string; recvLen: number }> {
  const h = createHash("sha256");
  let recvLen = 0;
  const recv = async (): Promise<void> => {
    const buf = new Uint8Array(262144);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      h.update(buf.subarray(0, n));
      recvLen += n;
    }
  };
  const send = async (): Promise<void> => {
    for (let off = 0; off < data.length; off += 65536) {
      await conn.write(data.subarray(off, Math.min(data.length, off + 65536)));
    }
    await conn.closeWrite();
  };
  if (order === "both") await Promise.all([send(), recv()]);
  else if (order === "send-first") {
    await send();
    await recv();
  } else {
    await recv();
    await send();
  }
  return { recvSha: h.digest("hex"), recvLen };
}

/** Connect to `hostname:port`, retrying refusals for up to 5 s while the server starts. */
export async function connectRetry(
  stack: NetStack,
  hostname: string,
  port: number,
  tcp?: object,
): Promise<Conn> {
  for (let i = 0; i < 100; i++) {
    try {
      return await stack.connect(tcp ? { hostname, port, tcp } : { hostname, port });
    } catch (err) {
      if (!(err instanceof Deno.errors.ConnectionRefused)) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`Kernel server on port ${port} never started`);
}
