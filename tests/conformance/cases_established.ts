/**
 * Conformance cases in ESTABLISHED: segment acceptability, RST and SYN handling (RFC 9293
 * 3.10.7.4, RFC 5961 3-5), ACK processing, text and FIN delivery, Nagle and PSH on the send
 * side (RFC 9293 3.7.4, 3.9.1), flow control (3.8.6).
 */

import type { Case } from "./cases.ts";
import { type Flow, passiveOpen } from "./harness.ts";

const FAR = 10_000_000;

/** The agent's view after an event: what a recv returns within `s` seconds. */
async function recv(f: Flow, s = 0.2): Promise<string> {
  return await f.ctx.agent.recv(f.id, s);
}

export const ESTABLISHED_CASES: Case[] = [
  {
    name: "tcp_data_acked_and_delivered",
    rfc: "RFC 9293 3.10.7.4 (in-window text: RCV.NXT advances, <SEQ=SND.NXT><ACK=RCV.NXT>)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { data: "0102030405060708090a" });
      return `${await f.reply(600)}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_outside_the_window",
    rfc: "RFC 9293 3.10.7.4 (unacceptable segment: send <ACK>, drop)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { seq: f.sndNxt + FAR, n: 10 });
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_outside_the_window_old_data",
    rfc: "RFC 9293 3.10.7.4 (segment wholly before RCV.NXT: send <ACK>, drop)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { seq: f.sndNxt - 20000, n: 10 });
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_zero_length_outside_the_window",
    rfc: "RFC 9293 3.10.7.4 (zero-length segment, SEG.SEQ outside the window: send <ACK>)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("A", { seq: f.sndNxt + FAR });
      return await f.reply();
    },
  },
  {
    name: "tcp_rst_in_window_challenge_ack",
    rfc: "RFC 5961 3.2 (RST in window but not RCV.NXT: challenge ACK, connection kept)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("R", { seq: f.sndNxt + 100 }, false);
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_rst_exact_resets",
    rfc:
      "RFC 5961 3.2 / RFC 9293 3.10.7.4 MUST-12 (RST with SEG.SEQ = RCV.NXT resets; the application is told)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("R", {}, false);
      return `${await f.reply(200)}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_rst_ack_exact_resets",
    rfc: "RFC 9293 3.10.7.4 (RST processing does not depend on the ACK bit)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("RA", {}, false);
      return `${await f.reply(200)}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_rst_outside_window_ignored",
    rfc: "RFC 5961 3.2 (RST outside the window: silently dropped)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("R", { seq: f.sndNxt + FAR }, false);
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_rst_with_data_exact_resets",
    rfc: "RFC 9293 3.5.3 (a RST may carry data; it still resets)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("RA", { n: 5 }, false);
      return `${await f.reply(200)}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_syn_in_window_challenge_ack",
    rfc: "RFC 5961 4.2 (SYN in a synchronized state: challenge ACK, connection kept)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("S", {}, false);
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_syn_outside_window_challenge_ack",
    rfc: "RFC 5961 4.2 (any SYN in a synchronized state, whatever its sequence number)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("S", { seq: f.sndNxt + FAR }, false);
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_synack_in_established_ack",
    rfc: "RFC 5961 4.2 / RFC 9293 3.10.7.4 (SYN-ACK in ESTABLISHED: ACK, no reset)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("SA", { seq: f.sndNxt - 1 }, false);
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_ack_of_unsent_data",
    rfc: "RFC 9293 3.10.7.4 / RFC 5961 5.2 (SEG.ACK > SND.NXT: send ACK, drop the segment)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { ack: f.rcvNxt + 1000, n: 5 });
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_ack_too_old",
    rfc: "RFC 5961 5.2 (SEG.ACK < SND.UNA - MAX.SND.WND: discard, send ACK)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { ack: f.rcvNxt - 0x40000000, n: 5 });
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_old_ack_data_accepted",
    rfc: "RFC 9293 3.10.7.4 (SEG.ACK < SND.UNA is a duplicate: ignored, the text is processed)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.send(f.id, 100);
      const d = await f.next(500);
      if (d) f.consume(d);
      await f.send("A");
      await f.send("PA", { ack: f.rcvNxt - 50, data: "6162" });
      return `${await f.reply(600)}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_no_ack_flag_dropped",
    rfc: "RFC 9293 3.10.7.4 (fifth: if the ACK bit is off, drop the segment)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("P", { n: 5 });
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_bad_checksum_data_dropped",
    rfc: "RFC 9293 3.1 MUST-2/3 (a segment with a bad checksum is discarded)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.bench.send(f.seg("PA", { n: 5, chksum: 0x1234 }));
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_bad_data_offset_dropped",
    rfc: "RFC 9293 3.1 (data offset beyond the segment: malformed, discarded)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.bench.send(f.seg("PA", { n: 8, dataofs: 15, noTs: true }));
      return `${await f.reply()}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_ooo_data_duplicate_ack",
    rfc: "RFC 9293 3.10.7.4 / RFC 5681 4.2 (out-of-order data: immediate ACK of RCV.NXT)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { seq: f.sndNxt + 100, n: 10 }, false);
      return `${await f.reply(100)}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_ooo_fill_acks_everything",
    rfc: "RFC 9293 3.10.7.4 / RFC 5681 4.2 (a hole fill: immediate ACK of all queued data)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { seq: f.sndNxt + 100, n: 10 }, false);
      await f.next(200);
      await f.send("PA", { n: 100 });
      f.sndNxt += 10;
      const r = await f.reply(100);
      let got = 0;
      for (let i = 0; i < 3 && got < 110; i++) {
        const x = await recv(f);
        if (!x.startsWith("data ")) break;
        got += (x.length - 5) / 2;
      }
      return `${r}; delivered ${got}`;
    },
  },
  {
    name: "tcp_partial_overlap_trimmed",
    rfc: "RFC 9293 3.10.7.4 (a segment starting before RCV.NXT: the new part is accepted)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { data: "6161616161" });
      await f.next(600);
      await f.send("PA", { seq: f.sndNxt - 5, data: "61616161616262626262" }, false);
      f.sndNxt += 5;
      const r = await f.reply(600);
      const a = await recv(f);
      const b = await recv(f, 0.1);
      return `${r}; ${a}${b.startsWith("data") ? ` + ${b}` : ""}`;
    },
  },
  {
    name: "tcp_duplicate_data_acked",
    rfc: "RFC 9293 3.10.7.4 (a duplicate segment: <ACK> of RCV.NXT, not delivered twice)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PA", { data: "6161616161" });
      await f.next(600);
      await f.send("PA", { seq: f.sndNxt - 5, data: "6161616161" }, false);
      const r = await f.reply();
      const a = await recv(f);
      const b = await recv(f, 0.1);
      return `${r}; ${a}; ${b}`;
    },
  },
  {
    name: "tcp_urgent_data_acked",
    rfc:
      "RFC 9293 3.8.5 MUST-30/31/62 (urgent pointer accepted; urgent data is in the sequence space)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("PAU", { data: "6162636465", urg: 5 });
      return await f.reply(600);
    },
  },
  {
    name: "tcp_fin_acked_eof",
    rfc: "RFC 9293 3.10.7.4 (FIN: RCV.NXT+1, ACK it, signal end of data; CLOSE-WAIT)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("FA");
      return `${await f.reply(600)}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_fin_with_data",
    rfc: "RFC 9293 3.10.7.4 (text then FIN in one segment)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("FPA", { data: "787878" });
      return `${await f.reply(600)}; ${await recv(f)}; ${await recv(f)}`;
    },
  },
  {
    name: "tcp_ooo_fin_waits_for_hole",
    rfc: "RFC 9293 3.10.7.4 (FIN takes effect only in sequence)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await f.send("FA", { seq: f.sndNxt + 10 }, false);
      const r1 = await f.reply(200);
      await f.send("PA", { n: 10 });
      f.sndNxt += 1;
      const r2 = await f.reply(300);
      return `${r1}; ${r2}; ${await recv(f)}; ${await recv(f)}`;
    },
  },
];
