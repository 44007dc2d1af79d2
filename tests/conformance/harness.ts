/**
 * The conformance bench's TypeScript side: JSON-line processes (the scapy bench, the DUT
 * agents), the IP/MAC plan and the case context. The bench's view of a TCP flow is in
 * flow.ts (re-exported here).
 *
 * Cases compare abstract observations ("RA seq=0 ack=iss+1", "no reply", "recv ECONNRESET"),
 * never exact ISNs or timestamps, so Linux's answer and ours can be compared as strings.
 */

export * from "./flow.ts";

/** The IP and MAC plan, the same for both devices under test. */
export const PLAN = {
  benchIp: "10.9.0.1",
  dutIp: "10.9.0.2",
  otherIp: "10.9.0.3",
  benchMac: "02:00:00:00:00:01",
  dutMac: "02:00:00:00:00:02",
  otherMac: "02:00:00:00:00:03",
} as const;

// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

/** A frame as the bench parsed it (see bench.py parse()). */
export interface Frame {
  type: string;
  t: number;
  flags?: string;
  seq?: number;
  ack?: number;
  win?: number;
  len?: number;
  data?: string;
  sport?: number;
  dport?: number;
  opts?: { mss?: number; ws?: number; sackok?: boolean; ts?: [number, number]; sack?: number[][] };
  [k: string]: unknown;
}

/** A child process spoken to in JSON lines: one request, one reply. */
export class JsonProc {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: string[] = [];
  #waiters: ((l: string | null) => void)[] = [];
  #done = false;
  #stderr = "";
  #chain: Promise<unknown> = Promise.resolve();
  readonly label: string;

  constructor(child: Deno.ChildProcess, label: string) {
    this.#child = child;
    this.label = label;
    this.#writer = child.stdin.getWriter();
    this.#pump(child.stdout, (l) => this.#push(l)).then(() => {
      this.#done = true;
      for (const w of this.#waiters.splice(0)) w(null);
    });
    this.#pump(child.stderr, (l) => {
      if (this.#stderr.length < 20000) this.#stderr += l + "\n";
    });
  }

  async #pump(s: ReadableStream<Uint8Array>, onLine: (l: string) => void): Promise<void> {
    let buf = "";
    const dec = new TextDecoder();
    try {
      for await (const chunk of s) {
        buf += dec.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
    } catch { /* closed */ }
  }

  #push(line: string): void {
    const w = this.#waiters.shift();
    if (w) w(line);
    else this.#lines.push(line);
  }

  #next(timeoutMs: number): Promise<string | null> {
    const l = this.#lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.#done) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        resolve(null);
      }, timeoutMs);
      const w = (x: string | null): void => {
        clearTimeout(timer);
        resolve(x);
      };
      this.#waiters.push(w);
    });
  }

  /** Wait for the process's first line ({"ready":true}). */
  async ready(timeoutMs = 30_000): Promise<Json> {
    const l = await this.#next(timeoutMs);
    if (l === null) throw new Error(`${this.label} did not start: ${this.#stderr.trim()}`);
    return JSON.parse(l);
  }

  /** Send one command and wait for its reply (calls are serialized). */
  call(cmd: Json, timeoutMs = 30_000): Promise<Json> {
    const run = async (): Promise<Json> => {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify(cmd) + "\n"));
      const l = await this.#next(timeoutMs);
      if (l === null) {
        throw new Error(`${this.label}: no reply to ${cmd.op}; stderr: ${this.#stderr.trim()}`);
      }
      const r = JSON.parse(l) as Json;
      if (r.error) throw new Error(`${this.label}: ${cmd.op} failed: ${r.error}`);
      return r;
    };
    const p = this.#chain.then(run, run);
    this.#chain = p.catch(() => {});
    return p;
  }

  /** Close stdin, wait briefly, then kill. */
  async close(): Promise<void> {
    try {
      await this.#writer.close();
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await this.#child.status;
    clearTimeout(t);
  }
}

/** The agent of a device under test (same protocol for Linux and our stack). */
export class Agent {
  constructor(readonly proc: JsonProc) {}
  async listen(port: number): Promise<number> {
    return (await this.proc.call({ op: "listen", port, backlog: 16 })).id;
  }
  /** The accepted socket's id, or an error name ("timeout"). */
  async accept(id: number, timeout = 1): Promise<number | string> {
    const r = await this.proc.call({ op: "accept", id, timeout });
    return r.err ?? r.id;
  }
  async connect(port: number, opts?: Json, host: string = PLAN.benchIp): Promise<number> {
    return (await this.proc.call({ op: "connect", host, port, opts })).id;
  }
  /** "ok" or an error name. */
  async waitConnect(id: number, timeout = 1): Promise<string> {
    const r = await this.proc.call({ op: "wait_connect", id, timeout });
    return r.ok ? "ok" : r.err;
  }
  async send(id: number, n: number | string): Promise<string> {
    const r = await this.proc.call(
      typeof n === "number" ? { op: "send", id, n } : { op: "send", id, data: n },
    );
    return r.err ?? `sent ${r.n}`;
  }
  /** "data <hex>", "eof", or an error name ("timeout", "ECONNRESET"). */
  async recv(id: number, timeout = 0.5, max = 65536): Promise<string> {
    const r = await this.proc.call({ op: "recv", id, max, timeout });
    return r.data !== undefined ? `data ${r.data}` : r.eof ? "eof" : r.err;
  }
  async shutdown(id: number): Promise<string> {
    const r = await this.proc.call({ op: "shutdown", id });
    return r.err ?? "ok";
  }
  async close(id: number): Promise<void> {
    await this.proc.call({ op: "close", id });
  }
  async abort(id: number): Promise<void> {
    await this.proc.call({ op: "abort", id });
  }
  async setopt(id: number, name: string, value: unknown): Promise<void> {
    await this.proc.call({ op: "setopt", id, name, value });
  }
  async reset(): Promise<void> {
    await this.proc.call({ op: "reset" });
  }
}

/** The scapy bench. */
export class Bench {
  constructor(readonly proc: JsonProc) {}
  async send(...frames: Json[]): Promise<number> {
    return (await this.proc.call({ op: "send", frames })).t;
  }
  async expect(match: Json, timeoutMs = 300): Promise<Frame | null> {
    return (await this.proc.call({ op: "expect", match, timeout: timeoutMs / 1000 })).frame;
  }
  /** Wait for a match and send `frames` at once from the bench (no round trip through us). */
  async expectReply(match: Json, frames: Json[], timeoutMs = 300): Promise<Frame | null> {
    return (await this.proc.call({
      op: "expect_reply",
      match,
      frames,
      timeout: timeoutMs / 1000,
    })).frame;
  }
  async collect(match: Json, durationMs: number, max = 200): Promise<Frame[]> {
    return (await this.proc.call({ op: "collect", match, duration: durationMs / 1000, max }))
      .frames;
  }
  /** As collect, then send `frames` at once from the bench; `t`: when they left. */
  async collectReply(
    match: Json,
    durationMs: number,
    max: number,
    frames: Json[],
  ): Promise<{ frames: Frame[]; t: number }> {
    const r = await this.proc.call({
      op: "collect_reply",
      match,
      duration: durationMs / 1000,
      max,
      frames,
    });
    return { frames: r.frames, t: r.t };
  }
  async drain(): Promise<void> {
    await this.proc.call({ op: "drain" });
  }
  async arpAuto(on: boolean): Promise<void> {
    await this.proc.call({ op: "arp_auto", on });
  }
  async now(): Promise<number> {
    return (await this.proc.call({ op: "now" })).t;
  }
}

/** What a case gets: the bench, the agent, and fresh ports. */
export interface Ctx {
  bench: Bench;
  agent: Agent;
  /** "linux" or "ours". */
  dut: string;
  /** A DUT port for this case's listener. */
  port: number;
  /** A fresh bench port. */
  bport(): number;
  /** The agent's listener on `port`, once {@link passiveOpen} made it. */
  listenId?: number;
}
