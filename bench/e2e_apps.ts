/**
 * Ordinary applications as the kernel side of the end-to-end benchmark, and the listening
 * "role" they talk to. Every row of an application test is the same pair: the application
 * (python3, curl or socat, run with the kernel's TCP inside a namespace) connects to a role
 * that listens and measures (sink, source, or an HTTP responder that sinks an upload or
 * streams a download). The role runs on our stack (bench/e2e_ours.ts), on kernel sockets over
 * veth, or on kernel sockets behind slirp4netns (bench/e2e_kernel_client.ts `serve`), with the
 * same loops (e2e_loops.ts), so the rows differ only in the path between the two.
 *
 * @module
 */

import {
  type BulkLimits,
  type BulkResult,
  type LoopConn,
  sinkLoop,
  sourceLoop,
} from "./e2e_loops.ts";

/** An application and the role it needs on the other end. */
export interface App {
  /** Label in the table. */
  label: string;
  /** The listening role: reads ("sink", "http-sink") or writes ("source", "http-source"). */
  role: Role;
  /** The command, connecting to `host:port`. */
  cmd: (host: string, port: number) => string[];
}

/** What the listening end does with the one connection it accepts. */
export type Role = "sink" | "source" | "http-sink" | "http-source";

const PY_SEND = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
b = b"x" * int(sys.argv[3])
try:
    while True:
        s.sendall(b)
except OSError:
    pass
`;

const PY_RECV = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
b = bytearray(int(sys.argv[3]))
try:
    while s.recv_into(b):
        pass
except OSError:
    pass
`;

/** Applications by key (the `--app` of e2e_ours.ts and e2e_kernel_client.ts). */
export const APPS: Record<string, App> = {
  "py-send-16k": {
    label: "python3 sendall 16 KiB",
    role: "sink",
    cmd: (h, p) => ["python3", "-c", PY_SEND, h, String(p), "16384"],
  },
  "py-send-64k": {
    label: "python3 sendall 64 KiB",
    role: "sink",
    cmd: (h, p) => ["python3", "-c", PY_SEND, h, String(p), "65536"],
  },
  "curl-up": {
    label: "curl -T (upload, chunked)",
    role: "http-sink",
    cmd: (
      h,
      p,
    ) => [
      "sh",
      "-c",
      `exec curl -sS -o /dev/null -H "Expect:" -T - http://${h}:${p}/up < /dev/zero`,
    ],
  },
  "socat-send": {
    label: "socat 256 KiB writes (best case)",
    role: "sink",
    cmd: (h, p) => ["socat", "-u", "-b", "262144", "/dev/zero", `TCP:${h}:${p}`],
  },
  "py-recv-64k": {
    label: "python3 recv_into 64 KiB",
    role: "source",
    cmd: (h, p) => ["python3", "-c", PY_RECV, h, String(p), "65536"],
  },
  "curl-down": {
    label: "curl download",
    role: "http-source",
    cmd: (h, p) => ["curl", "-sS", "-o", "/dev/null", `http://${h}:${p}/down`],
  },
  "socat-recv": {
    label: "socat 256 KiB reads (best case)",
    role: "source",
    cmd: (h, p) => ["socat", "-u", "-b", "262144", `TCP:${h}:${p}`, "/dev/null"],
  },
};

/** Read an HTTP request head (up to the blank line, at most 16 KiB); returns the bytes after it. */
async function readHead(conn: LoopConn): Promise<number> {
  const buf = new Uint8Array(16384);
  let have = 0;
  while (have < buf.length) {
    const n = await conn.read(buf.subarray(have));
    if (n === null) throw new Error("Peer closed before the end of its request head");
    have += n;
    for (let i = 3; i < have; i++) {
      if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
        return have - i - 1;
      }
    }
  }
  throw new Error("Request head longer than 16 KiB");
}

/** Play `role` on one accepted connection and measure it with the shared loops. */
export async function playRole(
  conn: LoopConn,
  role: Role,
  limits: BulkLimits,
): Promise<BulkResult> {
  if (role === "http-sink" || role === "http-source") {
    await readHead(conn);
    if (role === "http-source") {
      const head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" +
        "Content-Length: 1099511627776\r\n\r\n";
      await conn.write(new TextEncoder().encode(head));
    }
  }
  return role === "sink" || role === "http-sink"
    ? await sinkLoop(conn, limits)
    : await sourceLoop(conn, limits);
}
