/**
 * Conformance cases of the TCP extensions: timestamps and PAWS, window scale (RFC 7323), SACK
 * (RFC 2018), D-SACK (RFC 2883), ISNs (RFC 6528), TIME-WAIT reuse by a new SYN (RFC 6191).
 */

import type { Case } from "./cases.ts";
import { toTimeWait } from "./cases_close.ts";
import { bucket, type Ctx, Flow, type Frame, passiveOpen, rel, sdiff, sleep } from "./harness.ts";

/** SACK blocks of an ACK, relative to the bench's next sequence number. */
function sackStr(f: Flow, x: Frame | null): string {
  if (!x) return "no reply";
  const blocks = x.opts?.sack;
  if (!blocks?.length) return `${f.describe(x)} sack=none`;
  const b = blocks.map(([l, r]) => `[${rel(l!, f.sndNxt, "nxt")},${rel(r!, f.sndNxt, "nxt")}]`);
  return `${f.describe(x)} sack=${b.join(" ")}`;
}

const NO_TS: unknown[][] = [["MSS", 1000], ["SAckOK", ""], ["NOP", null], ["WScale", 7]];

/** The DUT sends `n` bytes in segments of 1000 (no Nagle); returns its data segments. */
async function burst(ctx: Ctx, f: Flow, n: number): Promise<Frame[]> {
  await ctx.agent.setopt(f.id, "nodelay", true);
  await ctx.agent.send(f.id, n);
  // One bench call that returns as soon as every segment is in: the ACKs that follow must
  // reach the DUT well before its retransmission timer (200 ms) on a loaded machine.
  const segs = await ctx.bench.collect(
    { type: "tcp", sport: f.dport, dport: f.bport },
    500,
    Math.ceil(n / 1000),
  );
  return segs.filter((x) => x.len);
}

/** SYN options with a chosen timestamp value. */
function synTs(tsval: number): unknown[][] {
  return [["MSS", 1460], ["SAckOK", ""], ["Timestamp", [tsval, 0]], ["NOP", null], [
    "WScale",
    7,
  ]];
}

/** TIME-WAIT on the DUT, then a new SYN on the same four-tuple. */
async function timeWaitSyn(ctx: Ctx, seqDelta: number, tsDelta: number): Promise<string> {
  const f = await passiveOpen(ctx);
  await toTimeWait(f);
  const g = new Flow(ctx, f.bport, f.dport, f.sndNxt + seqDelta);
  await g.send("S", { opts: synTs(f.tsval + tsDelta) });
  const r = await g.next(500);
  if (r?.flags?.includes("S")) g.irs = r.seq!;
  else if (r) g.rcvNxt = f.rcvNxt;
  return g.describe(r);
}

export const EXTENSION_CASES: Case[] = [
  {
    name: "tcp_timestamp_echoed",
    rfc: "RFC 7323 4.3 (TSecr of an ACK echoes TS.Recent)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { n: 5, tsval: 5000 });
      const r = await f.next(600);
      return `${f.describe(r)} tsecr=${r?.opts?.ts?.[1] === 5000 ? "tsval" : r?.opts?.ts?.[1]}`;
    },
  },
  {
    name: "tcp_paws_old_timestamp_dropped",
    rfc: "RFC 7323 5.3 R1 (TSval older than TS.Recent: send ACK, drop)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { data: "6161", tsval: 5000 });
      await f.next(600);
      await f.send("PA", { data: "6262", tsval: 4000 });
      const r = await f.reply(600);
      const a = await ctx.agent.recv(f.id, 0.2);
      const b = await ctx.agent.recv(f.id, 0.2);
      return `${r}; ${a}; ${b}`;
    },
  },
  {
    name: "tcp_paws_rst_accepted",
    rfc: "RFC 7323 5.3 R1 (PAWS applies to non-RST segments; a RST is processed)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { data: "6161", tsval: 5000 });
      await f.next(600);
      await f.send("R", { tsval: 4000 }, false);
      await ctx.agent.recv(f.id, 0.2);
      return `${await f.reply(200)}; ${await ctx.agent.recv(f.id, 0.2)}`;
    },
  },
  {
    name: "tcp_timestamp_missing_accepted",
    rfc: "RFC 7323 3.2 (a non-RST segment without TSopt SHOULD be dropped; Linux accepts it)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { data: "6161", noTs: true });
      return `${await f.reply(600)}; ${await ctx.agent.recv(f.id, 0.2)}`;
    },
  },
  {
    name: "tcp_timestamps_on_data",
    rfc: "RFC 7323 3.2 (once negotiated, TSopt MUST be sent in every non-RST segment)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.send(f.id, 10);
      const r = await f.next(500);
      return `${f.describe(r)} ts=${r?.opts?.ts ? "yes" : "no"}`;
    },
  },
  {
    name: "tcp_no_timestamps_unless_negotiated",
    rfc: "RFC 7323 3.2 (TSopt only when both SYNs carried it)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1460], ["SAckOK", ""]] });
      await ctx.agent.send(f.id, 10);
      const r = await f.next(500);
      return `${f.describe(r)} ts=${r?.opts?.ts ? "yes" : "no"}`;
    },
  },
  {
    name: "tcp_window_scale_applied",
    rfc: "RFC 7323 2.3 (SEG.WND is shifted by the peer's shift count after the SYN)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1460], ["WScale", 2]], win: 100 });
      await ctx.agent.send(f.id, 2000);
      const fs = (await f.all(150)).filter((x) => x.len);
      const end = fs.reduce((a, x) => Math.max(a, sdiff(x.seq! + x.len!, f.rcvNxt)), 0);
      return `in flight ${end}`;
    },
  },
  {
    name: "tcp_window_scale_15_clamped",
    rfc: "RFC 7323 2.3 (a shift count over 14 is used as 14, the connection proceeds)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1460], ["WScale", 15]], synOnly: true });
      return `${f.describe(f.syn)} ws=${f.syn?.opts?.ws === undefined ? "no" : "yes"}`;
    },
  },
  {
    name: "tcp_no_window_scale_unless_both",
    rfc: "RFC 7323 2.2 (no scaling unless both SYNs carried WS: SEG.WND used as is)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1460]], win: 700 });
      await ctx.agent.send(f.id, 2000);
      const fs = (await f.all(150)).filter((x) => x.len);
      const end = fs.reduce((a, x) => Math.max(a, sdiff(x.seq! + x.len!, f.rcvNxt)), 0);
      return `in flight ${end}`;
    },
  },
  {
    name: "tcp_sack_block_for_ooo_data",
    rfc: "RFC 2018 4 (an ACK for out-of-order data carries a SACK block of it)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { seq: f.sndNxt + 100, n: 10 }, false);
      return sackStr(f, await f.next());
    },
  },
  {
    name: "tcp_sack_most_recent_block_first",
    rfc: "RFC 2018 4 (the first block reports the most recently received segment)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { seq: f.sndNxt + 100, n: 10 }, false);
      await f.next();
      await f.send("PA", { seq: f.sndNxt + 200, n: 10 }, false);
      return sackStr(f, await f.next());
    },
  },
  {
    name: "tcp_sack_fill_clears_blocks",
    rfc: "RFC 2018 4 (blocks at or below the cumulative ACK are not reported)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { seq: f.sndNxt + 100, n: 10 }, false);
      await f.next();
      await f.send("PA", { n: 100 });
      f.sndNxt += 10;
      return sackStr(f, await f.next());
    },
  },
  {
    name: "tcp_no_sack_unless_permitted",
    rfc: "RFC 2018 2 (SACK options only after SACK-permitted in the SYN)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1460], ["NOP", null], ["WScale", 7]] });
      await f.send("PA", { seq: f.sndNxt + 100, n: 10 }, false);
      return sackStr(f, await f.next());
    },
  },
  {
    name: "tcp_dsack_duplicate_segment",
    rfc: "RFC 2883 4.1.1 (a duplicate segment is reported as the first SACK block)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { n: 10 });
      await f.next(600);
      await f.send("PA", { seq: f.sndNxt - 10, n: 10 }, false);
      return sackStr(f, await f.next());
    },
  },
  {
    name: "tcp_dsack_ooo_duplicate",
    rfc: "RFC 2883 4.1.2 (a duplicate of out-of-order data: D-SACK block, then its SACK block)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { seq: f.sndNxt + 100, n: 10 }, false);
      await f.next();
      await f.send("PA", { seq: f.sndNxt + 100, n: 10 }, false);
      return sackStr(f, await f.next());
    },
  },
  {
    name: "tcp_sack_retransmits_only_hole",
    rfc: "RFC 2018 / RFC 6675 (after SACKs, the hole is retransmitted, SACKed data is not)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: NO_TS });
      const base = f.rcvNxt;
      const s = (d: number): number => (base + d) >>> 0;
      const sack = (right: number) =>
        f.seg("A", {
          ack: s(1000),
          opts: [["NOP", null], ["NOP", null], ["SAck", [s(2000), s(right)]]],
        });
      // The SACKs leave the bench as soon as the burst is in: sent after a round trip through
      // a loaded machine, they came after the DUT's tail loss probe (RFC 8985 7: the last
      // segment, SACKed later) now and then.
      await ctx.agent.setopt(f.id, "nodelay", true);
      await ctx.agent.send(f.id, 4000);
      const { frames, t } = await ctx.bench.collectReply(
        { type: "tcp", sport: f.dport, dport: f.bport },
        500,
        4,
        [sack(3000), sack(4000), sack(4000)],
      );
      const segs = frames.filter((x) => x.len);
      if (segs.length < 4) return `sent ${segs.length} segments`;
      // 150 ms: the SACK-driven retransmission, before a timeout (>= 200 ms after it) could
      // resend more; what each stack resends after an RTO: tcp_sack_rto_resends_only_holes.
      const after = (await f.all(150)).filter((x) => x.t > t && x.len);
      const hole = after.some((x) => x.seq === s(1000));
      const sacked = after.some((x) => sdiff(x.seq!, s(2000)) >= 0);
      return `hole resent: ${hole}; SACKed resent: ${sacked}`;
    },
  },
  {
    name: "tcp_sack_rto_resends_only_holes",
    rfc: "RFC 6675 5.1 / RFC 2018 8 (after a timeout, SACK information kept: only the holes)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: NO_TS });
      const segs = await burst(ctx, f, 8000);
      if (segs.length < 8) return `sent ${segs.length} segments`;
      const base = f.rcvNxt;
      const s = (d: number): number => (base + d) >>> 0;
      const ack = (a: number, blocks: number[][]) =>
        f.seg("A", {
          ack: s(a),
          opts: [["NOP", null], ["NOP", null], ["SAck", blocks.flat().map(s)]],
        });
      // Holes at 1000 and 4000; the fast retransmissions are not answered: a timeout follows.
      const dup = ack(1000, [[5000, 8000], [2000, 4000]]);
      await ctx.bench.send(ack(1000, [[2000, 4000]]), dup, dup);
      await f.all(150);
      const [rto] = await ctx.bench.collect(
        { type: "tcp", sport: f.dport, dport: f.bport },
        2000,
        1,
      );
      if (!rto?.len) return `no retransmission by timeout (${f.describe(rto ?? null)})`;
      // The timeout's retransmission arrived: everything below the second hole is acknowledged,
      // [5000, 8000) is still SACKed. What follows the timeout, each segment once (when the
      // second hole goes, before or after this ACK, is each stack's own timing).
      await ctx.bench.send(ack(4000, [[5000, 8000]]));
      const after = [rto, ...(await f.all(150)).filter((x) => x.len)];
      const what = [...new Set(after.map((x) => sdiff(x.seq!, base)))].sort((a, b) => a - b);
      const sacked = after.some((x) => sdiff(x.seq!, s(5000)) >= 0);
      return `rto: una0+${sdiff(rto.seq!, base)} first; resent ${
        what.map((d) => `una0+${d}`).join(", ")
      }; SACKed resent: ${sacked}`;
    },
  },
  {
    name: "tcp_sack_reneging_resent_soon",
    rfc: "RFC 2018 8 (SACKed data may be discarded: resent when the cumulative ACK stops at it)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: NO_TS });
      const segs = await burst(ctx, f, 10_000);
      if (segs.length < 10) return `sent ${segs.length} segments`;
      const base = f.rcvNxt;
      const s = (d: number): number => (base + d) >>> 0;
      const ack = (a: number, l: number, r: number) =>
        f.seg("A", { ack: s(a), opts: [["NOP", null], ["NOP", null], ["SAck", [s(l), s(r)]]] });
      // Everything but the first segment SACKed: it is resent (as the Linux commit d2a0fc3's
      // packetdrill script). Then the ACK of it stops at 1000 and SACKs only [9000, 10000):
      // [1000, 9000), SACKed before, was discarded by the receiver (reneging).
      await ctx.bench.send(ack(0, 1000, 10_000));
      // (A tail loss probe of the last segment may come first on a loaded machine: skipped.)
      let first: Frame | null = null;
      for (let i = 0; i < 4 && first?.seq !== s(0); i++) first = await f.next(1000);
      if (first?.seq !== s(0)) return `first retransmission ${f.describe(first)}`;
      const t = await ctx.bench.send(ack(1000, 9000, 10_000));
      const x = (await f.all(1500)).find((y) => y.len && y.t > t && y.seq === s(1000));
      if (!x) return "reneged data not resent";
      return `resends una0+1000 ${bucket((x.t - t) * 1000, [100, 1000])} after`;
    },
  },
  {
    name: "tcp_fast_retransmit_three_dupacks",
    rfc: "RFC 5681 3.2 (the third duplicate ACK triggers a retransmission)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1000], ["NOP", null], ["WScale", 7]] });
      // Eight segments: Linux counts at most packets_out - 1 duplicates without SACK.
      const segs = await burst(ctx, f, 8000);
      if (segs.length < 8) return `sent ${segs.length} segments`;
      const base = f.rcvNxt;
      const ack = f.seg("A", { ack: (base + 1000) >>> 0 });
      const t = await ctx.bench.now();
      await ctx.bench.send(ack, ack, ack, ack); // a new ACK, then three duplicates
      const all = await f.all(150);
      const after = all.filter((x) => x.t > t && x.len);
      // What was resent, each once (a later timeout may send the same segment again).
      const what = new Set(after.map((x) => `${rel(x.seq!, base, "una0")} len=${x.len}`));
      return `resent: ${[...what].join(", ") || "none"}`;
    },
  },
  {
    name: "tcp_isn_unpredictable",
    rfc: "RFC 6528 / RFC 9293 3.4.1 MUST-8 (ISNs not predictable from each other)",
    run: async (ctx) => {
      const isns: number[] = [];
      for (let i = 0; i < 3; i++) isns.push((await passiveOpen(ctx, { synOnly: true })).irs);
      const d1 = sdiff(isns[1]!, isns[0]!), d2 = sdiff(isns[2]!, isns[1]!);
      return `distinct=${new Set(isns).size === 3} equal-steps=${d1 === d2}`;
    },
  },
  {
    name: "tcp_isn_same_tuple_advances",
    rfc:
      "RFC 6528 3 / RFC 9293 3.4.1 (ISN = M + F(tuple, secret): a clock-driven increase per tuple)",
    run: async (ctx) => {
      const a = await passiveOpen(ctx, { synOnly: true });
      await a.send("R", {}, false);
      await sleep(50);
      const b = await passiveOpen(ctx, { synOnly: true, bport: a.bport, iss: a.iss + 100000 });
      const d = sdiff(b.irs, a.irs);
      return d > 0 && d < 1 << 26 ? "advanced by the clock" : `delta ${d}`;
    },
  },
  {
    name: "tcp_time_wait_syn_higher_seq_accepted",
    rfc: "RFC 9293 3.10.7.4 / RFC 6191 (TIME-WAIT: a SYN above RCV.NXT may open a new incarnation)",
    run: (ctx) => timeWaitSyn(ctx, 100000, 1000),
  },
  {
    name: "tcp_time_wait_syn_newer_timestamp_accepted",
    rfc: "RFC 6191 2 (TIME-WAIT: a SYN with an old sequence but a newer timestamp is accepted)",
    run: (ctx) => timeWaitSyn(ctx, -100000, 1000),
  },
  {
    name: "tcp_time_wait_syn_old_rejected",
    rfc: "RFC 6191 2 (TIME-WAIT: old sequence and old timestamp: not a new incarnation)",
    run: (ctx) => timeWaitSyn(ctx, -100000, -900),
  },
];
