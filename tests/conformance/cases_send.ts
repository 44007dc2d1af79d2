/**
 * Conformance cases of the send side: PSH, Nagle and no-delay (RFC 9293 3.7.4, 3.9.1), flow
 * control and sender silly-window avoidance (3.8.6), MSS only in SYNs (3.7.1).
 */

import type { Case } from "./cases.ts";
import { type Flow, type Frame, passiveOpen, sdiff } from "./harness.ts";

/** Sequence space the DUT's data covered (retransmissions counted once). */
function sent(frames: Frame[]): number {
  let lo = Infinity, hi = -Infinity;
  const base = frames[0]?.seq ?? 0;
  for (const x of frames) {
    if (!x.len) continue;
    lo = Math.min(lo, sdiff(x.seq!, base));
    hi = Math.max(hi, sdiff(x.seq!, base) + x.len);
  }
  return hi > lo ? hi - lo : 0;
}

/** Frames carrying data at or beyond what the bench has already received. */
function newData(f: Flow, frames: Frame[]): Frame[] {
  return frames.filter((x) => sdiff(x.seq! + (x.len ?? 0), f.rcvNxt) > 0);
}

export const SEND_CASES: Case[] = [
  {
    name: "tcp_psh_on_last_segment",
    rfc:
      "RFC 9293 3.9.1 MUST-61 (without a PUSH flag on send calls, PSH on the last buffered segment)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.send(f.id, 100);
      return await f.reply(500);
    },
  },
  {
    name: "tcp_no_mss_on_non_syn",
    rfc: "RFC 9293 3.7.1 MUST-65 (the MSS option is not sent on non-SYN segments)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.send(f.id, 10);
      const d = await f.next(500);
      return `${f.describe(d)} mss=${d?.opts?.mss === undefined ? "absent" : "present"}`;
    },
  },
  {
    name: "tcp_sender_sws_avoidance",
    rfc:
      "RFC 9293 3.8.6.2.1 MUST-38 (no small segment into a window much smaller than the largest)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1000]], win: 3000 });
      await ctx.agent.setopt(f.id, "nodelay", true);
      await ctx.agent.send(f.id, 1000);
      const a = await f.next(500);
      if (a) f.consume(a);
      // All acknowledged, but only 200 bytes of window: a 200-byte segment would be silly.
      await f.send("A", { win: 200 });
      await ctx.agent.send(f.id, 2000);
      return `into a 200-byte window: ${sent(newData(f, await f.all(150)))} bytes`;
    },
  },
  {
    name: "tcp_nagle_holds_small_segment",
    rfc: "RFC 9293 3.7.4 / RFC 1122 4.2.3.4 (Nagle: small segment held while data is unacked)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.setopt(f.id, "nodelay", false);
      await ctx.agent.send(f.id, 10);
      const a = await f.next(500);
      if (a) f.consume(a);
      await ctx.agent.send(f.id, 10);
      // Shorter than a tail loss probe (about 200 ms with one segment in flight), which may
      // legitimately send the held data as a probe.
      const held = f.describe(newData(f, await f.all(100))[0] ?? null);
      await f.send("A");
      const next = newData(f, await f.all(300))[0] ?? null;
      return `${held}; after ACK: ${f.describe(next)}`;
    },
  },
  {
    name: "tcp_nodelay_sends_at_once",
    rfc: "RFC 9293 3.7.4 MUST-17 (the application can disable Nagle)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.setopt(f.id, "nodelay", true);
      await ctx.agent.send(f.id, 10);
      const a = await f.next(500);
      if (a) f.consume(a);
      await ctx.agent.send(f.id, 10);
      return f.describe(newData(f, await f.all(200))[0] ?? null);
    },
  },
  {
    name: "tcp_send_window_respected",
    rfc: "RFC 9293 3.8.6 (data within the offered window only)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1460]], win: 1000 });
      await ctx.agent.send(f.id, 5000);
      return `in flight ${sent(await f.all(400))}`;
    },
  },
  {
    name: "tcp_zero_window_no_data",
    rfc: "RFC 9293 3.8.6 (a zero window stops data; only probes may go)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { win: 0 });
      await ctx.agent.send(f.id, 100);
      return `data in 150 ms: ${sent(await f.all(150))}`;
    },
  },
  {
    name: "tcp_window_update_resumes",
    rfc: "RFC 9293 3.8.6 (a window update lets queued data go)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { win: 0 });
      await ctx.agent.send(f.id, 100);
      await f.all(100);
      await f.send("A", { win: 65535 });
      const d = (await f.all(300)).find((x) => x.len);
      return f.describe(d ?? null);
    },
  },
  {
    name: "tcp_window_shrink_respected",
    rfc: "RFC 9293 3.8.6 MUST-34 (robust against a shrinking window)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 1000]], win: 3000 });
      await ctx.agent.send(f.id, 1000);
      const a = (await f.all(150)).filter((x) => x.len);
      for (const x of a) f.consume(x);
      // ACK everything but close the window: later data must wait.
      await f.send("A", { win: 0 });
      await ctx.agent.send(f.id, 2000);
      // New data only: a retransmission of the first segment (its ACK late on a loaded
      // machine) is no breach of the window.
      return `first ${sent(a)}; after shrink ${sent(newData(f, await f.all(150)))}`;
    },
  },
];
