/**
 * The kernel's side of the end-to-end benchmark: commands run inside a benchmark namespace
 * (socat as bulk sender and sink, small Python servers for the 1-byte echo and the
 * accept-and-close listener), and helpers to wait until a listener is up and to run a child
 * Deno script inside a namespace. Every command is bounded: callers kill it when the
 * measurement ends, and namespace deletion kills whatever is left.
 *
 * @module
 */

import type { Netns } from "../tools/netns.ts";

/** Socket buffer size socat moves per read and write. */
const SOCAT_BLOCK = 262144;

/** socat reading /dev/zero and sending it to `host:port` until the connection ends. */
export function socatSource(host: string, port: number): string[] {
  return ["socat", "-u", "-b", String(SOCAT_BLOCK), "/dev/zero", `TCP:${host}:${port}`];
}

/** socat accepting one connection on `port` and discarding what it reads. */
export function socatSink(port: number): string[] {
  return [
    "socat",
    "-u",
    "-b",
    String(SOCAT_BLOCK),
    `TCP-LISTEN:${port},reuseaddr`,
    "/dev/null",
  ];
}

const PY_ECHO = `
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(128)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
`;

const PY_ACCEPT_CLOSE = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1024)
while True:
    c, _ = s.accept()
    c.close()
`;

const PY_REQUEST_REPLY = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1024)
while True:
    c, _ = s.accept()
    if c.recv(64):
        c.sendall(b"y")
    c.close()
`;

/** A Python echo server on `host:port` (TCP_NODELAY, one connection at a time). */
export function pyEcho(host: string, port: number): string[] {
  return ["python3", "-c", PY_ECHO, host, String(port)];
}

/** A Python listener on `host:port` that closes every connection as soon as it accepts it. */
export function pyAcceptClose(host: string, port: number): string[] {
  return ["python3", "-c", PY_ACCEPT_CLOSE, host, String(port)];
}

/**
 * A Python listener on `host:port` that, for every connection, reads one request, answers one
 * byte and closes (a short request/response connection, as HTTP/1.0 without keep-alive).
 */
export function pyRequestReply(host: string, port: number): string[] {
  return ["python3", "-c", PY_REQUEST_REPLY, host, String(port)];
}

/** Sleep `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Wait until something in `ns` listens on TCP `port` (polling `ss -ltn` every 20 ms, at most
 * `timeoutMs`). Throws when it does not come up in time.
 */
export async function waitListening(ns: Netns, port: number, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const r = await ns.run(["ss", "-Hltn", `sport = :${port}`]);
    if (r.code === 0 && r.stdout.trim() !== "") return;
    await sleep(20);
  }
  throw new Error(
    `Nothing listened on port ${port} in namespace ${ns.name} within ${timeoutMs} ms`,
  );
}

/** Path of a script next to this file. */
export function benchScript(name: string): string {
  return new URL(`./${name}`, import.meta.url).pathname;
}

/**
 * Run a Deno script inside `ns` (kernel sockets of that namespace), wait for it and parse the
 * last line of its standard output as JSON. Throws with its standard error when it fails.
 */
export async function runDenoIn(
  ns: Netns,
  script: string,
  args: string[],
): Promise<Record<string, number>> {
  const r = await ns.run([Deno.execPath(), "run", "-A", benchScript(script), ...args]);
  if (r.code !== 0) throw new Error(`${script} ${args.join(" ")} failed: ${r.stderr.trim()}`);
  return lastJson(r.stdout);
}

/** Parse the last non-empty line of `text` as a JSON object of numbers. */
export function lastJson(text: string): Record<string, number> {
  const lines = text.trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  try {
    return JSON.parse(last) as Record<string, number>;
  } catch {
    throw new Error(`Expected a JSON result line, got: ${text.slice(-400)}`);
  }
}

/** Kill a child if it still runs and wait for it. */
export async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
  await child.status.catch(() => {});
}
