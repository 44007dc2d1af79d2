/**
 * Helpers of the interop tests against the Linux kernel: a tcpdump capture inside the test's
 * namespace checked afterwards with tshark, a Python peer program run inside the namespace,
 * and the deterministic data pattern of rng.ts (re-exported).
 */

import type { Netns } from "../../tools/netns.ts";

export { pattern } from "./rng.ts";

/** A running capture. */
export interface Capture {
  /** Stop tcpdump and return the file path. */
  stop(): Promise<string>;
}

/** Start tcpdump on `ifname` inside `ns` (full frames), resolved once it listens. */
export async function startCapture(ns: Netns, ifname: string, file: string): Promise<Capture> {
  const child = ns.spawn([
    "tcpdump",
    "--immediate-mode",
    "-i",
    ifname,
    "-w",
    file,
    "-U",
    "-n",
    "-s",
    "0",
  ], {
    stdout: "null",
    stderr: "piped",
  });
  const reader = child.stderr.getReader();
  const dec = new TextDecoder();
  let text = "";
  const t0 = performance.now();
  while (!text.includes("listening on") && performance.now() - t0 < 10_000) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value);
  }
  // Keep draining stderr so tcpdump never blocks on a full pipe.
  const drained = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += dec.decode(value);
    }
  })();
  if (!text.includes("listening on")) {
    child.kill("SIGKILL");
    await child.status;
    await drained;
    throw new Error(`tcpdump did not start: ${text.trim()}`);
  }
  return {
    async stop() {
      // Let the last frames land: wait until the file stops growing (tcpdump may lag behind
      // on a busy machine), at most 3 s.
      let size = -1;
      for (let i = 0; i < 30; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const now = (await Deno.stat(file)).size;
        if (now === size && i >= 3) break;
        size = now;
      }
      try {
        child.kill("SIGINT");
      } catch { /* already gone */ }
      await child.status;
      await drained;
      if (Deno.env.get("TCPIP_DEBUG_CAPTURE")) console.log(text);
      return file;
    },
  };
}

/** Counts of tshark findings in a capture. */
export interface CaptureCheck {
  frames: number;
  malformed: number;
  badChecksums: number;
  retransmissions: number;
  /** Retransmissions sent by `ours` (our stack's address), when given. */
  ourRetransmissions: number;
  zeroWindows: number;
  resets: number;
}

async function tsharkCount(file: string, filter: string, ports: number[]): Promise<number> {
  // Our test payloads are random bytes: decode them as plain data, or port-based and heuristic
  // dissectors (Gryphon on 7000, Thrift...) report them as malformed application messages.
  const decodeAs = ports.flatMap((p) => ["-d", `tcp.port==${p},data`, "-d", `udp.port==${p},data`]);
  const out = await new Deno.Command("tshark", {
    args: [
      "-r",
      file,
      ...decodeAs,
      "-o",
      "ip.check_checksum:TRUE",
      "-o",
      "tcp.check_checksum:TRUE",
      "-o",
      "udp.check_checksum:TRUE",
      "-Y",
      filter,
      "-T",
      "fields",
      "-e",
      "frame.number",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`tshark failed on ${file}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).length;
}

/** Check a capture with tshark; TCP/UDP `ports` carry test payloads (decoded as data). */
export async function checkCapture(
  file: string,
  ports: number[],
  ours = "0.0.0.0",
): Promise<CaptureCheck> {
  const retrans =
    "(tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.spurious_retransmission)";
  const [
    frames,
    malformed,
    badChecksums,
    retransmissions,
    ourRetransmissions,
    zeroWindows,
    resets,
  ] = await Promise.all(
    [
      tsharkCount(file, "frame", ports),
      tsharkCount(file, "_ws.malformed || _ws.expert.severity >= error", ports),
      // Linux now and then sends a TCP checksum of 0xffff where 0x0000 is expected: the same
      // value in ones' complement (-0 and +0, RFC 1624 section 3), accepted by every receiver
      // (ours included) but flagged by tshark. Only that form from the kernel is excused; our
      // encoder never emits 0xffff for TCP (the pseudo-header sum is never zero).
      tsharkCount(
        file,
        "(ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0 || icmp.checksum.status == 0)" +
          ` && !(tcp.checksum == 0xffff && ip.src != ${ours})`,
        ports,
      ),
      tsharkCount(file, retrans, ports),
      tsharkCount(file, `ip.src == ${ours} && ${retrans}`, ports),
      tsharkCount(file, "tcp.analysis.zero_window", ports),
      tsharkCount(file, "tcp.flags.reset == 1", ports),
    ],
  );
  return {
    frames,
    malformed,
    badChecksums,
    retransmissions,
    ourRetransmissions,
    zeroWindows,
    resets,
  };
}

/**
 * The Python peer. argv: role (connect|listen) host port nbytes seed order
 * (send-first|recv-first). Sends `nbytes` of random.Random(seed) data and half-closes, reads
 * to EOF, prints "sentSha recvSha recvLen". Errors print their class name.
 */
export const PY_PEER = `
import socket, sys, random, hashlib
role, host, port, n, seed, order = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
data = random.Random(seed).randbytes(n)
try:
    if role == "connect":
        s = socket.create_connection((host, port), timeout=60)
    else:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, port)); ls.listen(16)
        print("ready", flush=True)
        s, _ = ls.accept(); ls.close(); s.settimeout(60)
    h = hashlib.sha256(); total = 0
    def recv_all():
        global total
        while True:
            b = s.recv(262144)
            if not b: break
            h.update(b); total += len(b)
    if order == "recv-first":
        recv_all(); s.sendall(data); s.shutdown(socket.SHUT_WR)
    elif order == "send-first":
        s.sendall(data); s.shutdown(socket.SHUT_WR); recv_all()
    else:
        import threading
        t = threading.Thread(target=recv_all); t.start()
        s.sendall(data); s.shutdown(socket.SHUT_WR); t.join()
    print(hashlib.sha256(data).hexdigest(), h.hexdigest(), total, flush=True)
    s.close()
except Exception as e:
    print(type(e).__name__, flush=True)
`;
