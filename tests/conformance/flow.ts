/**
 * The bench's view of one TCP flow with the DUT: sequence numbers tracked relative to both
 * ISNs, timestamps, frames described abstractly ("A seq=nxt ack=nxt+10"), and the passive and
 * active opens every case starts from.
 */

import type { Ctx, Frame, Json } from "./harness.ts";

/** Sequence difference a - b as a signed 32-bit number. */
export function sdiff(a: number, b: number): number {
  return ((a - b) | 0);
}

/** "base", "base+N" or "base-N". */
export function rel(v: number, base: number, name: string): string {
  const d = sdiff(v, base);
  return d === 0 ? name : d > 0 ? `${name}+${d}` : `${name}${d}`;
}

/** Default SYN options of the bench: those of a Linux client. */
export const SYN_OPTS: unknown[][] = [
  ["MSS", 1460],
  ["SAckOK", ""],
  ["Timestamp", [1000, 0]],
  ["NOP", null],
  ["WScale", 7],
];

/** Options of a segment of `flow` built by {@link Flow.seg}. */
export interface SegOpts {
  seq?: number;
  ack?: number;
  win?: number;
  data?: string;
  n?: number;
  opts?: unknown[][];
  /** Leave out the timestamp option even when negotiated. */
  noTs?: boolean;
  /** Timestamp value to send (default: the next one). */
  tsval?: number;
  urg?: number;
  chksum?: number;
  dataofs?: number;
}

/** The bench's view of one TCP connection with the DUT. */
export class Flow {
  /** Bench's next sequence number (bench ISS + 1 after the SYN). */
  sndNxt: number;
  /** DUT's next sequence number as the bench knows it (its ISN + 1 after the SYN). */
  rcvNxt = 0;
  /** The DUT's initial sequence number. */
  irs = 0;
  /** The bench's initial sequence number. */
  readonly iss: number;
  /** Agent socket id on the DUT. */
  id = 0;
  ts = false;
  tsval = 1000;
  tsRecent = 0;
  sack = false;
  dutWs = 0;
  dutMss = 0;
  /** The DUT's SYN or SYN-ACK. */
  syn: Frame | null = null;

  constructor(readonly ctx: Ctx, readonly bport: number, readonly dport: number, iss = 0x1000) {
    this.iss = iss >>> 0;
    this.sndNxt = this.iss;
  }

  /** A frame spec from the bench on this flow. */
  seg(flags: string, o: SegOpts = {}): Json {
    const opts = [...(o.opts ?? [])];
    if (this.ts && !o.noTs && !flags.includes("S")) {
      opts.push(["NOP", null], ["NOP", null], ["Timestamp", [
        o.tsval ?? ++this.tsval,
        this.tsRecent,
      ]]);
    }
    const tcp: Json = {
      sport: this.bport,
      dport: this.dport,
      seq: (o.seq ?? this.sndNxt) >>> 0,
      ack: flags.includes("A") ? (o.ack ?? this.rcvNxt) >>> 0 : 0,
      flags,
      window: o.win ?? 65535,
      opts,
    };
    if (o.data) tcp.data = o.data;
    if (o.n) tcp.n = o.n;
    if (o.urg !== undefined) tcp.urgptr = o.urg;
    if (o.chksum !== undefined) tcp.chksum = o.chksum;
    if (o.dataofs !== undefined) tcp.dataofs = o.dataofs;
    return { tcp };
  }

  /** Send a segment; advances sndNxt by its length when `advance`. */
  async send(flags: string, o: SegOpts = {}, advance = true): Promise<void> {
    await this.ctx.bench.send(this.seg(flags, o));
    if (advance && o.seq === undefined) {
      this.sndNxt = (this.sndNxt + (o.n ?? 0) + (o.data?.length ?? 0) / 2 +
        (flags.includes("S") ? 1 : 0) + (flags.includes("F") ? 1 : 0)) >>> 0;
    }
  }

  /** The DUT's next frame on this flow, or null after `timeoutMs`. Updates tsRecent. */
  async next(timeoutMs = 300): Promise<Frame | null> {
    const f = await this.ctx.bench.expect(
      { type: "tcp", sport: this.dport, dport: this.bport },
      timeoutMs,
    );
    if (f?.opts?.ts) this.tsRecent = f.opts.ts[0];
    return f;
  }

  /**
   * The DUT's next frame on this flow, answered by the bench at once with a segment of
   * `flags` and `o` (built before it arrives: its TSecr echoes the frame before), or null
   * after `timeoutMs`. Does not advance SND.NXT.
   */
  async nextReply(flags: string, o: SegOpts = {}, timeoutMs = 300): Promise<Frame | null> {
    const f = await this.ctx.bench.expectReply(
      { type: "tcp", sport: this.dport, dport: this.bport },
      [this.seg(flags, o)],
      timeoutMs,
    );
    if (f?.opts?.ts) this.tsRecent = f.opts.ts[0];
    return f;
  }

  /** Frames of this flow for `ms`. */
  async all(ms: number): Promise<Frame[]> {
    const fs = await this.ctx.bench.collect(
      { type: "tcp", sport: this.dport, dport: this.bport },
      ms,
    );
    for (const f of fs) if (f.opts?.ts) this.tsRecent = f.opts.ts[0];
    return fs;
  }

  /** A frame described relative to the flow: "A seq=nxt ack=nxt+10 len=0". */
  describe(f: Frame | null): string {
    if (!f) return "no reply";
    const parts = [f.flags ?? "?"];
    if (f.flags?.includes("S")) {
      parts.push(`seq=${rel(f.seq!, this.irs, "irs")}`);
      if (f.flags.includes("A")) parts.push(`ack=${rel(f.ack!, this.iss, "iss")}`);
    } else {
      parts.push(`seq=${rel(f.seq!, this.rcvNxt, "nxt")}`);
      if (f.flags?.includes("A")) parts.push(`ack=${rel(f.ack!, this.sndNxt, "nxt")}`);
    }
    if (f.len) parts.push(`len=${f.len}`);
    return parts.join(" ");
  }

  /** Describe the next frame of this flow (or "no reply"). */
  async reply(timeoutMs = 300): Promise<string> {
    return this.describe(await this.next(timeoutMs));
  }

  /** The DUT sent `f`: the bench takes its sequence space as received (no ACK sent). */
  consume(f: Frame): void {
    const end = (f.seq! + (f.len ?? 0) + (f.flags!.includes("F") ? 1 : 0) +
      (f.flags!.includes("S") ? 1 : 0)) >>> 0;
    if (sdiff(end, this.rcvNxt) > 0) this.rcvNxt = end;
  }
}

/** Options of {@link passiveOpen}. */
export interface OpenOpts {
  /** SYN options (default {@link SYN_OPTS}). */
  opts?: unknown[][];
  /** Window of the bench's SYN and ACK. */
  win?: number;
  /** Do not complete the handshake (no ACK, no accept). */
  synOnly?: boolean;
  /** Bench ISS. */
  iss?: number;
  /** Bench port. */
  bport?: number;
}

/**
 * The bench connects to a DUT listener on ctx.port: SYN, SYN-ACK, ACK, accept. Throws when
 * a step fails (the case then fails with that message).
 */
export async function passiveOpen(ctx: Ctx, o: OpenOpts = {}): Promise<Flow> {
  const ls = ctx.listenId ??= await ctx.agent.listen(ctx.port);
  const flow = new Flow(ctx, o.bport ?? ctx.bport(), ctx.port, o.iss);
  const opts = o.opts ?? SYN_OPTS;
  await flow.send("S", { opts, win: o.win ?? 65535 });
  const sa = await flow.next(1000);
  if (!sa || sa.flags !== "SA") throw new Error(`no SYN-ACK: ${flow.describe(sa)}`);
  flow.syn = sa;
  flow.irs = sa.seq!;
  flow.rcvNxt = (sa.seq! + 1) >>> 0;
  const offeredTs = opts.some((x) => x[0] === "Timestamp");
  flow.ts = offeredTs && sa.opts?.ts !== undefined;
  flow.sack = opts.some((x) => x[0] === "SAckOK") && sa.opts?.sackok === true;
  flow.dutWs = sa.opts?.ws ?? 0;
  flow.dutMss = sa.opts?.mss ?? 536;
  flow.id = ls;
  if (o.synOnly) return flow;
  await flow.send("A", { win: o.win ?? 65535 });
  const id = await ctx.agent.accept(ls, 1);
  if (typeof id !== "number") throw new Error(`accept: ${id}`);
  flow.id = id;
  return flow;
}

/** Options of {@link activeOpen}. */
export interface ActiveOpts {
  /** SYN-ACK options (default {@link SYN_OPTS}). */
  opts?: unknown[][];
  win?: number;
  /** Options of the agent's socket before connect. */
  sockOpts?: Json;
  /** Stop after the DUT's SYN (no SYN-ACK sent). */
  synOnly?: boolean;
}

/** The DUT connects to the bench: SYN, SYN-ACK, ACK; returns the flow once connected. */
export async function activeOpen(ctx: Ctx, o: ActiveOpts = {}): Promise<Flow> {
  const bport = ctx.bport();
  const id = await ctx.agent.connect(bport, o.sockOpts);
  const syn = await ctx.bench.expect({ type: "tcp", dport: bport }, 2000);
  if (!syn || syn.flags !== "S") throw new Error(`no SYN from the DUT (${syn?.flags})`);
  const flow = new Flow(ctx, bport, syn.sport!, 0x2000);
  flow.id = id;
  flow.syn = syn;
  flow.irs = syn.seq!;
  flow.rcvNxt = (syn.seq! + 1) >>> 0;
  if (syn.opts?.ts) flow.tsRecent = syn.opts.ts[0];
  if (o.synOnly) return flow;
  const opts = o.opts ?? SYN_OPTS;
  flow.ts = opts.some((x) => x[0] === "Timestamp") && syn.opts?.ts !== undefined;
  flow.sack = opts.some((x) => x[0] === "SAckOK") && syn.opts?.sackok === true;
  const synOpts = opts.map((x) =>
    x[0] === "Timestamp" ? ["Timestamp", [++flow.tsval, flow.tsRecent]] : x
  );
  await flow.send("SA", { opts: synOpts, win: o.win ?? 65535 });
  const ack = await flow.next(1000);
  if (!ack || ack.flags !== "A") throw new Error(`no ACK of the SYN-ACK: ${flow.describe(ack)}`);
  const r = await ctx.agent.waitConnect(id, 1);
  if (r !== "ok") throw new Error(`connect: ${r}`);
  return flow;
}

/** Wait `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Round `ms` into a coarse bucket for comparison ("<100ms", "100-400ms", ...). */
export function bucket(ms: number, edges: number[]): string {
  let lo = 0;
  for (const e of edges) {
    if (ms < e) return `${lo}-${e}ms`;
    lo = e;
  }
  return `>=${lo}ms`;
}
