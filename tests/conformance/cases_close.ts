/**
 * Conformance cases of closing: FIN-WAIT, CLOSING, LAST-ACK, TIME-WAIT, half-close, abort and
 * RST on close with unread data (RFC 9293 3.6, 3.10.4, 3.10.7.4; RFC 1122 4.2.2.13).
 */

import type { Case } from "./cases.ts";
import { type Flow, passiveOpen } from "./harness.ts";

/** The agent closes; the DUT's FIN is returned described, and consumed. */
async function dutFin(f: Flow, how: "close" | "shutdown" = "close"): Promise<string> {
  if (how === "close") await f.ctx.agent.close(f.id);
  else await f.ctx.agent.shutdown(f.id);
  const fin = await f.next(500);
  const d = f.describe(fin);
  if (fin) f.consume(fin);
  return d;
}

/** Bring the DUT to TIME-WAIT by an active close; returns the observations on the way. */
export async function toTimeWait(f: Flow): Promise<string> {
  const fin = await dutFin(f);
  await f.send("A");
  await f.send("FA");
  return `${fin}; ${await f.reply(500)}`;
}

export const CLOSE_CASES: Case[] = [
  {
    name: "tcp_close_sends_fin",
    rfc: "RFC 9293 3.10.4 (CLOSE in ESTABLISHED: FIN, FIN-WAIT-1)",
    run: async (ctx) => dutFin(await passiveOpen(ctx)),
  },
  {
    name: "tcp_fin_wait_2_fin_acked",
    rfc: "RFC 9293 3.10.7.4 MUST-13 (FIN-WAIT-2, FIN: ACK it, TIME-WAIT)",
    run: async (ctx) => toTimeWait(await passiveOpen(ctx)),
  },
  {
    name: "tcp_time_wait_fin_retransmission_acked",
    rfc: "RFC 9293 3.10.7.4 (TIME-WAIT: a retransmitted FIN is acknowledged again)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await toTimeWait(f);
      await f.send("FA", { seq: f.sndNxt - 1 }, false);
      return await f.reply(500);
    },
  },
  {
    name: "tcp_time_wait_data_acked",
    rfc: "RFC 9293 3.10.7.4 (TIME-WAIT: other segments are acknowledged, not delivered)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await toTimeWait(f);
      await f.send("PA", { n: 5 }, false);
      return await f.reply(500);
    },
  },
  {
    name: "tcp_simultaneous_close",
    rfc: "RFC 9293 3.6 (FIN-WAIT-1, FIN: ACK it, CLOSING; ACK of our FIN: TIME-WAIT)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      const fin = await dutFin(f);
      // The bench's FIN crosses the DUT's: it does not acknowledge it.
      await f.send("FA", { ack: f.rcvNxt - 1 });
      const r1 = await f.reply(500);
      await f.send("A");
      return `${fin}; ${r1}; ${await f.reply(200)}`;
    },
  },
  {
    name: "tcp_fin_wait_1_receives_data",
    rfc: "RFC 9293 3.10.7.4 (FIN-WAIT-1 and -2 still receive text after shutdown)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      const fin = await dutFin(f, "shutdown");
      await f.send("PA", { ack: f.rcvNxt - 1, data: "616263" });
      return `${fin}; ${await f.reply(600)}; ${await ctx.agent.recv(f.id, 0.3)}`;
    },
  },
  {
    name: "tcp_fin_wait_2_receives_data",
    rfc: "RFC 9293 3.10.7.4 (FIN-WAIT-2: text is processed) / 3.10.3 (half-close)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await dutFin(f, "shutdown");
      await f.send("A");
      await f.send("PA", { data: "616263" });
      return `${await f.reply(600)}; ${await ctx.agent.recv(f.id, 0.3)}`;
    },
  },
  {
    name: "tcp_passive_close_last_ack",
    rfc: "RFC 9293 3.10.4 (CLOSE in CLOSE-WAIT: FIN, LAST-ACK; the ACK closes)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("FA");
      const r1 = await f.reply(600);
      await ctx.agent.recv(f.id, 0.2);
      const fin = await dutFin(f);
      await f.send("A");
      return `${r1}; ${fin}; ${await f.reply(200)}`;
    },
  },
  {
    name: "tcp_last_ack_rst_closes",
    rfc: "RFC 9293 3.10.7.4 (LAST-ACK, RST: closed; afterwards the port answers RST)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("FA");
      await f.reply(600);
      await dutFin(f);
      await f.send("R", {}, false);
      const r1 = await f.reply(200);
      await f.send("A", { n: 1 });
      return `${r1}; then data: ${await f.reply()}`;
    },
  },
  {
    name: "tcp_close_unread_data_rst",
    rfc:
      "RFC 9293 3.6 SHLD-3 / RFC 1122 4.2.2.13 (CLOSE with unread data: RST to show data was lost)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { n: 10 });
      await f.next(600);
      await ctx.agent.close(f.id);
      return await f.reply(500);
    },
  },
  {
    name: "tcp_data_after_close_rst",
    rfc:
      "RFC 9293 3.10.7.4 / RFC 1122 4.2.2.13 (text after the user closed cannot be delivered: RST)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      const fin = await dutFin(f);
      await f.send("PA", { n: 5 });
      return `${fin}; ${await f.reply(500)}`;
    },
  },
  {
    name: "tcp_abort_sends_rst",
    rfc: "RFC 9293 3.10.5 (ABORT in ESTABLISHED: <SEQ=SND.NXT><CTL=RST>)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.abort(f.id);
      return await f.reply(500);
    },
  },
  {
    name: "tcp_abort_discards_queued_data",
    rfc: "RFC 9293 3.10.5 (ABORT: queued sends are flushed, RST goes at SND.NXT)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { win: 0 });
      await ctx.agent.send(f.id, 100);
      await ctx.agent.abort(f.id);
      const fs = await f.all(300);
      return fs.map((x) => f.describe(x)).join(", ") || "no reply";
    },
  },
  {
    name: "tcp_listener_close_resets_queued",
    rfc: "RFC 9293 3.10.4 (CLOSE of a LISTEN: pending connections are reset)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      await f.send("A");
      await f.reply(200);
      await ctx.agent.close(f.id);
      return await f.reply(500);
    },
  },
];
