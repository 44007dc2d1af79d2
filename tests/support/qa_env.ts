/**
 * Helpers of the new-user acceptance tests (tests/e2e/qa_*.test.ts): a small HTTP/1.1 responder
 * written on our listener (what a user would write first), a Python peer that moves data with
 * `sendall()` of fixed-size blocks both ways, and a check that a tool is installed.
 */

import { createHash } from "node:crypto";
import type { NetStack } from "../../mod.ts";
import type { Conn } from "../../src/api/conn.ts";
import { pattern } from "./rng.ts";

/** Whether `cmd` is on the PATH. */
export async function have(cmd: string): Promise<boolean> {
  const r = await new Deno.Command("sh", {
    args: ["-c", `command -v ${cmd}`],
    stdout: "null",
    stderr: "null",
  }).output();
  return r.success;
}

/** The body `GET /<n>` answers: `n` bytes of the seeded pattern (seed 7). */
export function httpBody(n: number): Uint8Array {
  return pattern(n, 7);
}

/** A running responder. */
export interface HttpResponder {
  /** Requests answered so far. */
  readonly served: number;
  /** Errors of single connections (a reset client is not a failure of the responder). */
  readonly errors: string[];
  /** Close the listener. */
  close(): void;
}

const enc = new TextEncoder();
// Server and Date make the answer a recognisable HTTP server (nmap -sV matches on them).
const REQUEST_LINE = /^[A-Z]{1,16} \S+ HTTP\/1\.[01]\r\n/;
const HEADERS = "Server: qa-responder/1.0\r\nContent-Type: application/octet-stream\r\n";

async function writeAll(conn: Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) {
    off += await conn.write(data.subarray(off, Math.min(data.length, off + 65536)));
  }
}

/**
 * HTTP/1.1 on `stack.listen({ port })`: `GET /<n>` answers `n` pattern bytes (`httpBody`),
 * `PUT`/`POST` reads the body (content-length, answering `Expect: 100-continue`) and answers
 * "<length> <sha256>". One request per connection (`Connection: close`).
 */
export function startHttpResponder(stack: NetStack, port: number): HttpResponder {
  const listener = stack.listen({ port });
  const state = { served: 0, errors: [] as string[] };
  const one = async (conn: Conn): Promise<void> => {
    const buf = new Uint8Array(65536);
    let head = "";
    let rest = new Uint8Array(0);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      head += new TextDecoder("latin1").decode(buf.subarray(0, n));
      const i = head.indexOf("\r\n\r\n");
      if (i >= 0) {
        rest = Uint8Array.from(head.slice(i + 4), (c) => c.charCodeAt(0));
        head = head.slice(0, i);
        break;
      }
      if (head.length > 65536) throw new Error("request head too long");
      // Not HTTP (a scanner's binary probe): answer 400 at once, as any web server would.
      if (!/^[A-Z]{1,16}( |$)/.test(head) || (head.includes("\r\n") && !REQUEST_LINE.test(head))) {
        await conn.write(
          enc.encode(
            `HTTP/1.1 400 Bad Request\r\n${HEADERS}Content-Length: 0\r\nConnection: close\r\n\r\n`,
          ),
        );
        await conn.closeWrite();
        return;
      }
    }
    const [method = "", path = "/"] = head.split(" ");
    if (method === "GET" || method === "HEAD") {
      const n = Number(path.slice(1)) || 0;
      const body = httpBody(n);
      await conn.write(
        enc.encode(
          `HTTP/1.1 200 OK\r\n${HEADERS}Content-Length: ${n}\r\nConnection: close\r\n\r\n`,
        ),
      );
      if (method === "GET") await writeAll(conn, body);
    } else {
      const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (/\r\nexpect: *100-continue/i.test(head)) {
        await conn.write(enc.encode("HTTP/1.1 100 Continue\r\n\r\n"));
      }
      const h = createHash("sha256").update(rest);
      let got = rest.length;
      while (got < len) {
        const n = await conn.read(buf);
        if (n === null) break;
        h.update(buf.subarray(0, n));
        got += n;
      }
      const text = `${got} ${h.digest("hex")}\n`;
      await conn.write(
        enc.encode(
          `HTTP/1.1 200 OK\r\n${HEADERS}Content-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`,
        ),
      );
    }
    state.served++;
    await conn.closeWrite();
    // Read to the client's FIN so the close is orderly (no RST for unread bytes).
    while ((await conn.read(buf)) !== null) { /* drain */ }
  };
  (async () => {
    for await (const conn of listener) {
      one(conn).catch((e) => state.errors.push(String(e))).finally(() => {
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }
  })().catch((e) => state.errors.push(`listener: ${e}`));
  return {
    get served() {
      return state.served;
    },
    errors: state.errors,
    close: () => listener.close(),
  };
}

/**
 * Python peer moving data in `sendall()` blocks. argv: role (connect|listen) host port
 * nbytes block seed. Sends nbytes of random.Random(seed) data in `block`-byte sendall calls while
 * reading (a thread) to EOF; half-closes after sending. Prints "ready" when listening, then
 * "sentSha recvSha recvLen".
 */
export const PY_BLOCKS = `
import socket, sys, random, hashlib, threading
role, host, port, n, block, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
data = random.Random(seed).randbytes(n)
if role == "connect":
    s = socket.create_connection((host, port), timeout=60)
else:
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port)); ls.listen(4)
    print("ready", flush=True)
    s, _ = ls.accept(); ls.close(); s.settimeout(60)
h = hashlib.sha256(); total = [0]
def recv_all():
    while True:
        b = s.recv(65536)
        if not b: break
        h.update(b); total[0] += len(b)
t = threading.Thread(target=recv_all); t.start()
for off in range(0, n, block):
    s.sendall(data[off:off + block])
s.shutdown(socket.SHUT_WR)
t.join(90)
print(hashlib.sha256(data).hexdigest(), h.hexdigest(), total[0], flush=True)
s.close()
`;
