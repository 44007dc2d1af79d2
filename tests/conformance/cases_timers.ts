/**
 * Conformance cases of the timers: retransmission (RFC 6298), SYN and SYN-ACK retransmission,
 * zero-window probes (RFC 9293 3.8.6.1), keep-alive and delayed ACK (RFC 1122 4.2.3.6,
 * 4.2.3.2). Times are compared in coarse buckets, never exactly.
 */

import type { Case } from "./cases.ts";
import { activeOpen, bucket, type Frame, passiveOpen } from "./harness.ts";

/** Milliseconds between two bench timestamps (seconds). */
const ms = (a: Frame, b: Frame): number => (b.t - a.t) * 1000;

export const TIMER_CASES: Case[] = [
  {
    name: "tcp_rto_retransmits_same_data",
    rfc: "RFC 6298 5.4 (on expiry, retransmit the earliest unacknowledged segment)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.send(f.id, 100);
      const a = await f.next(500);
      const b = await f.next(2000);
      if (!a || !b) return `first ${f.describe(a)}; then ${f.describe(b)}`;
      const same = a.seq === b.seq && b.len! >= a.len!;
      return `retransmitted same data: ${same}; after ${bucket(ms(a, b), [150, 1500])}`;
    },
  },
  {
    name: "tcp_rto_backoff_doubles",
    rfc: "RFC 6298 5.5 / RFC 9293 MUST-19 (back off the timer: RTO = RTO * 2)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.send(f.id, 100);
      const fs: Frame[] = [];
      for (let i = 0; i < 4; i++) {
        const x = await f.next(3000);
        if (!x) break;
        if (x.len) fs.push(x);
      }
      if (fs.length < 4) return `only ${fs.length} transmissions`;
      // The first interval may end in a tail loss probe (RFC 8985 7, both stacks): the
      // backoff shows between the timeouts after it.
      const r = ms(fs[2]!, fs[3]!) / ms(fs[1]!, fs[2]!);
      return `next interval ${r > 1.5 && r < 2.6 ? "x2" : r.toFixed(2)}`;
    },
  },
  {
    name: "tcp_syn_retransmit_initial_rto",
    rfc: "RFC 6298 2.1 (initial RTO 1 s) / RFC 9293 3.8.1",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      const b = await f.next(2500);
      if (!b) return "no retransmission";
      return `${f.describe(b)} after ${bucket(ms(f.syn!, b), [700, 1500])}`;
    },
  },
  {
    name: "tcp_synack_retransmit_initial_rto",
    rfc: "RFC 6298 2.1 (initial RTO 1 s, also for the SYN-ACK)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      const b = await f.next(2500);
      if (!b) return "no retransmission";
      return `${f.describe(b)} after ${bucket(ms(f.syn!, b), [700, 1500])}`;
    },
  },
  {
    name: "tcp_zero_window_probe",
    rfc: "RFC 9293 3.8.6.1 MUST-35/36 (a zero window is probed)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { win: 0 });
      await ctx.agent.send(f.id, 100);
      const p = await f.next(2000);
      return f.describe(p);
    },
  },
  {
    name: "tcp_zero_window_probe_backoff",
    rfc: "RFC 9293 3.8.6.1 SHLD-29/30 (first probe after an RTO, exponential backoff)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { win: 0 });
      await ctx.agent.send(f.id, 100);
      const ps: Frame[] = [];
      // Each probe answered by the bench at once (Linux times the next probe from the answer):
      // an answer that took a round trip through a loaded machine stretched the intervals.
      for (let i = 0; i < 3; i++) {
        const p = await f.nextReply("A", { win: 0 }, 2500);
        if (!p) break;
        ps.push(p);
      }
      if (ps.length < 3) return `${ps.length} probes`;
      const r = ms(ps[1]!, ps[2]!) / ms(ps[0]!, ps[1]!);
      return `probes ${ps.map((x) => f.describe(x)).join(", ")}; interval ${
        r > 1.5 && r < 2.6 ? "x2" : r.toFixed(2)
      }`;
    },
  },
  {
    name: "tcp_zero_window_probe_answered_data_flows",
    rfc: "RFC 9293 3.8.6.1 (when the window opens, data flows)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { win: 0 });
      await ctx.agent.send(f.id, 100);
      await f.next(2000);
      await f.send("A", { win: 65535 });
      const d = (await f.all(300)).find((x) => x.len);
      return f.describe(d ?? null);
    },
  },
  {
    name: "tcp_keepalive_probe",
    rfc:
      "RFC 9293 3.8.4 MUST-24/26 / RFC 1122 4.2.3.6 (on request, after the idle time: SEG.SEQ = SND.NXT-1)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { sockOpts: { keepalive: [1, 1, 3] } });
      const p = await f.next(2500);
      return f.describe(p);
    },
  },
  {
    name: "tcp_keepalive_off_by_default",
    rfc: "RFC 9293 3.8.4 MUST-25 (keep-alives are off unless requested)",
    run: async (ctx) => {
      const f = await activeOpen(ctx);
      return f.describe(await f.next(1500));
    },
  },
  {
    name: "tcp_keepalive_answered_keeps_connection",
    rfc:
      "RFC 9293 3.8.4 MUST-29 / RFC 1122 4.2.3.6 (an answered probe keeps the connection; probes repeat)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { sockOpts: { keepalive: [1, 1, 3] } });
      const p = await f.next(2500);
      if (!p) return "no probe";
      await f.send("A");
      const q = await f.next(2500);
      return `${f.describe(q)}; ${await ctx.agent.recv(f.id, 0.05)}`;
    },
  },
  {
    name: "tcp_delayed_ack_within_500ms",
    rfc: "RFC 1122 4.2.3.2 / RFC 9293 3.8.6.3 MUST-40 (an ACK is not delayed more than 0.5 s)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      const t = await ctx.bench.send(f.seg("PA", { n: 10 }));
      f.sndNxt += 10;
      const a = await f.next(600);
      return a ? `${f.describe(a)} ${a.t - t < 0.5 ? "within 500ms" : "late"}` : "no ACK";
    },
  },
  {
    name: "tcp_ack_every_second_full_segment",
    rfc:
      "RFC 9293 3.8.6.3 SHLD-19 / RFC 5681 4.2 (an ACK at least every second full-sized segment)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1460], ["NOP", null], ["WScale", 7]] });
      const t = await ctx.bench.send(
        f.seg("A", { n: 1460 }),
        f.seg("A", { seq: f.sndNxt + 1460, n: 1460 }),
      );
      f.sndNxt += 2920;
      // Both segments acknowledged well before a delayed-ACK timeout could stretch it (the
      // bound is loose for a loaded machine; the RFC's limit is 500 ms).
      const acks = await f.all(250);
      const last = acks.at(-1);
      return last ? `${f.describe(last)} ${last.t - t < 0.25 ? "within 250ms" : "late"}` : "no ACK";
    },
  },
  {
    name: "tcp_last_ack_fin_retransmitted",
    rfc: "RFC 9293 3.10.4 / RFC 6298 (an unacknowledged FIN is retransmitted)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("FA");
      await f.next(600);
      await ctx.agent.recv(f.id, 0.2);
      await ctx.agent.close(f.id);
      const a = await f.next(500);
      const b = await f.next(2000);
      if (!a || !b) return `${f.describe(a)}; ${f.describe(b)}`;
      return `${f.describe(a)}; again ${f.describe(b)}`;
    },
  },
];
