/**
 * Conformance cases: LISTEN, CLOSED ports, SYN-RECEIVED and SYN-SENT (RFC 9293 3.5, 3.10.7.1
 * to 3.10.7.3, RFC 5961 for the blind-attack rules that apply there).
 */

import type { Case } from "./cases.ts";
import { activeOpen, type Ctx, Flow, type Frame, passiveOpen, SYN_OPTS } from "./harness.ts";

/** A flow to a port nobody listens on (or a listener, after `ctx.agent.listen`). */
function stray(ctx: Ctx, ack = 0x5000): Flow {
  const f = new Flow(ctx, ctx.bport(), ctx.port);
  f.rcvNxt = ack;
  return f;
}

/** Option names of a SYN or SYN-ACK, sorted: "mss sackok ts ws". */
export function optNames(f: Frame | null): string {
  if (!f?.opts) return "none";
  return Object.keys(f.opts).sort().join(" ") || "none";
}

async function listenAnd(ctx: Ctx, flags: string, extra: { n?: number } = {}): Promise<string> {
  await ctx.agent.listen(ctx.port);
  const f = stray(ctx);
  await f.send(flags, extra);
  return await f.reply();
}

async function closedAnd(ctx: Ctx, flags: string, extra: { n?: number } = {}): Promise<string> {
  const f = stray(ctx);
  if (!flags.includes("A")) f.rcvNxt = 0;
  await f.send(flags, extra);
  return await f.reply();
}

/** A SYN carrying `hex` as its option bytes (multiple of 4); the reply and its MSS. */
async function rawOptSyn(ctx: Ctx, hex: string): Promise<string> {
  await ctx.agent.listen(ctx.port);
  const f = stray(ctx);
  const spec = f.seg("S");
  spec.tcp.rawopts = hex;
  await ctx.bench.send(spec);
  f.sndNxt = (f.sndNxt + 1) >>> 0;
  const sa = await f.next();
  if (sa) f.irs = sa.seq!;
  return `${f.describe(sa)}${sa ? ` mss=${sa.opts?.mss}` : ""}`;
}

export const HANDSHAKE_CASES: Case[] = [
  {
    name: "tcp_listen_syn_synack",
    rfc: "RFC 9293 3.10.7.2 (LISTEN, SYN: send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      return f.describe(f.syn);
    },
  },
  {
    name: "tcp_listen_ack_rst",
    rfc: "RFC 9293 3.10.7.2 (LISTEN, ACK: <SEQ=SEG.ACK><CTL=RST>)",
    run: (ctx) => listenAnd(ctx, "A"),
  },
  {
    name: "tcp_listen_rst_ignored",
    rfc: "RFC 9293 3.10.7.2 (LISTEN: an incoming RST should be ignored)",
    run: (ctx) => listenAnd(ctx, "R"),
  },
  {
    name: "tcp_listen_fin_dropped",
    rfc: "RFC 9293 3.10.7.2 (LISTEN: any other control or text-bearing segment: drop)",
    run: (ctx) => listenAnd(ctx, "F"),
  },
  {
    name: "tcp_listen_syn_fin_dropped",
    rfc: "RFC 9293 3.10.7.2; SYN+FIN is not a valid open (Linux drops it)",
    run: (ctx) => listenAnd(ctx, "SF"),
  },
  {
    name: "tcp_listen_syn_bad_checksum",
    rfc: "RFC 9293 3.1 MUST-2/3 (checksum verified on receipt)",
    run: async (ctx) => {
      await ctx.agent.listen(ctx.port);
      const f = stray(ctx);
      await f.ctx.bench.send(f.seg("S", { opts: SYN_OPTS, chksum: 0x1234 }));
      return await f.reply();
    },
  },
  {
    name: "tcp_syn_to_broadcast_dropped",
    rfc: "RFC 9293 3.9.2.1 MUST-57 (segments to a broadcast or multicast address are discarded)",
    run: async (ctx) => {
      await ctx.agent.listen(ctx.port);
      const f = stray(ctx);
      await ctx.bench.send({
        ...f.seg("S", { opts: SYN_OPTS }),
        ip: { dst: "10.9.0.255" },
        eth: { dst: "ff:ff:ff:ff:ff:ff" },
      });
      return await f.reply();
    },
  },
  {
    name: "tcp_closed_port_syn_rst",
    rfc: "RFC 9293 3.10.7.1 (CLOSED, no ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>)",
    run: (ctx) => closedAnd(ctx, "S"),
  },
  {
    name: "tcp_closed_port_ack_rst",
    rfc: "RFC 9293 3.10.7.1 (CLOSED, ACK on: <SEQ=SEG.ACK><CTL=RST>)",
    run: (ctx) => closedAnd(ctx, "A"),
  },
  {
    name: "tcp_closed_port_rst_ignored",
    rfc: "RFC 9293 3.10.7.1 (CLOSED: an incoming RST is discarded)",
    run: (ctx) => closedAnd(ctx, "R"),
  },
  {
    name: "tcp_closed_port_data_rst",
    rfc: "RFC 9293 3.10.7.1 (RST ACK acknowledges SEG.SEQ+SEG.LEN)",
    run: (ctx) => closedAnd(ctx, "P", { n: 10 }),
  },
  {
    name: "tcp_closed_port_fin_rst",
    rfc: "RFC 9293 3.10.7.1 (SEG.LEN counts the FIN)",
    run: (ctx) => closedAnd(ctx, "F"),
  },
  {
    name: "tcp_closed_port_syn_data_rst",
    rfc: "RFC 9293 3.10.7.1 (SEG.LEN counts the SYN and its data)",
    run: (ctx) => closedAnd(ctx, "S", { n: 20 }),
  },
  {
    name: "tcp_closed_port_data_ack_rst",
    rfc: "RFC 9293 3.10.7.1 (ACK on: <SEQ=SEG.ACK><CTL=RST>, whatever the data)",
    run: (ctx) => closedAnd(ctx, "PA", { n: 10 }),
  },
  {
    name: "tcp_listen_syn_data_not_acked",
    rfc: "RFC 9293 3.10.7.2 (data in a SYN may be queued; without TFO Linux ignores it)",
    run: async (ctx) => {
      await ctx.agent.listen(ctx.port);
      const f = stray(ctx);
      await f.send("S", { opts: SYN_OPTS, n: 10 });
      const sa = await f.next();
      if (sa) f.irs = sa.seq!;
      return f.describe(sa);
    },
  },
  {
    name: "tcp_synack_options_echo",
    rfc: "RFC 7323 2.2/3.2, RFC 2018 2: WS, TS and SACK-permitted answered when offered",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      const ecr = f.syn!.opts?.ts?.[1];
      return `${optNames(f.syn)} ecr=${ecr === 1000 ? "tsval" : ecr}`;
    },
  },
  {
    name: "tcp_synack_options_not_offered",
    rfc: "RFC 7323 2.2 (WS only if received), 3.2 (TS only if received), RFC 2018 2",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true, opts: [["MSS", 1460]] });
      return optNames(f.syn);
    },
  },
  {
    name: "tcp_synack_mss_of_mtu",
    rfc: "RFC 9293 3.7.1 MUST-14/67 (MSS option sent, from the MTU: 1500 - 40)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      return `mss=${f.syn!.opts?.mss}`;
    },
  },
  {
    name: "tcp_synack_window_scale_at_most_14",
    rfc: "RFC 7323 2.3 (shift.cnt MUST NOT exceed 14)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      const ws = f.syn!.opts?.ws;
      return ws === undefined ? "no ws" : ws <= 14 ? "ws<=14" : `ws=${ws}`;
    },
  },
  {
    name: "tcp_syn_unknown_option_ignored",
    rfc: "RFC 9293 3.1 MUST-5/6 (unknown options ignored)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, {
        synOnly: true,
        opts: [["MSS", 1460], [99, "0102"], ["NOP", null]],
      });
      return `${f.describe(f.syn)} ${optNames(f.syn)}`;
    },
  },
  {
    name: "tcp_syn_unaligned_options",
    rfc: "RFC 9293 3.1 MUST-64 (options are processed regardless of word alignment)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, {
        synOnly: true,
        opts: [["WScale", 7], ["MSS", 1460], ["Timestamp", [1000, 0]], ["SAckOK", ""]],
      });
      const ecr = f.syn!.opts?.ts?.[1];
      return `${optNames(f.syn)} ecr=${ecr === 1000 ? "tsval" : ecr}`;
    },
  },
  {
    name: "tcp_syn_bad_mss_length",
    rfc: "RFC 9293 3.1 MUST-7 (cope with an illegal option length: Linux skips the option)",
    run: async (ctx) => {
      await ctx.agent.listen(ctx.port);
      const f = stray(ctx);
      await f.send("S", { opts: [[2, "05"], ["NOP", null]] });
      const sa = await f.next();
      if (sa) f.irs = sa.seq!;
      return `${f.describe(sa)}${sa ? ` mss=${sa.opts?.mss}` : ""}`;
    },
  },
  {
    name: "tcp_syn_option_zero_length",
    rfc: "RFC 9293 3.1 MUST-7 (an option length of 0: cope; Linux stops parsing, keeps the SYN)",
    run: (ctx) => rawOptSyn(ctx, "020405b401011e00"),
  },
  {
    name: "tcp_syn_option_overrun",
    rfc: "RFC 9293 3.1 MUST-7 (an option running past the header: cope; Linux stops parsing)",
    run: (ctx) => rawOptSyn(ctx, "020405b40101fe10"),
  },
  {
    name: "tcp_syn_no_mss_default_536",
    rfc: "RFC 9293 3.7.1 MUST-15 (no MSS option: send segments of at most 536)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [] });
      await ctx.agent.setopt(f.id, "nodelay", true);
      await ctx.agent.send(f.id, 2000);
      const segs = (await f.all(400)).filter((x) => x.len);
      return `largest=${Math.max(0, ...segs.map((x) => x.len!))}`;
    },
  },
  {
    name: "tcp_syn_mss_respected",
    rfc: "RFC 9293 3.7.1 MUST-14/16 (segments no larger than the peer's MSS)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { opts: [["MSS", 700]] });
      await ctx.agent.send(f.id, 3000);
      const segs = (await f.all(400)).filter((x) => x.len);
      return `largest=${Math.max(0, ...segs.map((x) => x.len!))}`;
    },
  },
  {
    name: "tcp_listen_dup_syn_synack",
    rfc: "RFC 9293 3.10.7.4 (SYN-RECEIVED, retransmitted SYN: SYN-ACK again)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      await ctx.bench.send(f.seg("S", { seq: f.iss, opts: SYN_OPTS }));
      return f.describe(await f.next(500));
    },
  },
  {
    name: "tcp_syn_rcvd_rst_aborts",
    rfc: "RFC 9293 3.10.7.4 (SYN-RECEIVED, RST in window: back to LISTEN)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      await f.send("R", {}, false);
      const r1 = await f.reply(200);
      await f.send("A");
      return `${r1}; then ACK: ${await f.reply()}`;
    },
  },
  {
    name: "tcp_syn_rcvd_bad_ack_rst",
    rfc: "RFC 9293 3.10.7.4 (SYN-RECEIVED, unacceptable ACK: <SEQ=SEG.ACK><CTL=RST>)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      await f.send("A", { ack: f.rcvNxt + 999 });
      return await f.reply();
    },
  },
  {
    name: "tcp_handshake_accept",
    rfc: "RFC 9293 3.5 (three-way handshake completes, accept returns)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      return `accepted; ${await f.reply(200)}`;
    },
  },
  {
    name: "tcp_handshake_ack_with_data",
    rfc: "RFC 9293 3.10.7.4 (text in the handshake-completing ACK is processed)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx, { synOnly: true });
      await f.send("PA", { data: "68656c6c6f" });
      const reply = await f.reply(500);
      const id = await ctx.agent.accept(f.id, 1);
      if (typeof id !== "number") return `accept ${id}`;
      return `${reply}; recv ${await ctx.agent.recv(id)}`;
    },
  },
  {
    name: "tcp_syn_sent_synack_established",
    rfc: "RFC 9293 3.10.7.3 (SYN-SENT, SYN-ACK: ESTABLISHED, <SEQ=SND.NXT><ACK=RCV.NXT>)",
    run: async (ctx) => {
      const f = await activeOpen(ctx);
      return `connected; ${await f.reply(200)}`;
    },
  },
  {
    name: "tcp_syn_options_offered",
    rfc: "RFC 9293 3.7.1 (MSS), RFC 7323 (WS, TS), RFC 2018 (SACK-permitted) in the SYN",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      return `${optNames(f.syn)} mss=${f.syn!.opts?.mss}`;
    },
  },
  {
    name: "tcp_syn_sent_reset",
    rfc: "RFC 9293 3.10.7.3 (SYN-SENT, RST with acceptable ACK: connection reset)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      await f.send("RA", { seq: 0 }, false);
      return await ctx.agent.waitConnect(f.id, 1);
    },
  },
  {
    name: "tcp_syn_sent_rst_bad_ack_ignored",
    rfc: "RFC 9293 3.10.7.3 (SYN-SENT, unacceptable ACK on a RST: discard)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      await f.send("RA", { seq: 0, ack: f.rcvNxt + 100 }, false);
      // Linux also retransmits its SYN at once here (a stale peer may have lost the
      // SYN-ACK): SYNs are left out, what matters is that no RST goes out.
      const other = (await f.all(300)).filter((x) => x.flags !== "S");
      return `${f.describe(other[0] ?? null)}; ${await ctx.agent.waitConnect(f.id, 0.1)}`;
    },
  },
  {
    name: "tcp_syn_sent_rst_no_ack_ignored",
    rfc: "RFC 9293 3.10.7.3 (SYN-SENT, RST without ACK: drop)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      await f.send("R", { seq: 0 }, false);
      return `${await f.reply(200)}; ${await ctx.agent.waitConnect(f.id, 0.3)}`;
    },
  },
  {
    name: "tcp_syn_sent_bad_ack_rst",
    rfc: "RFC 9293 3.10.7.3 (SYN-SENT, SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      await f.send("SA", { ack: f.rcvNxt + 99, opts: [["MSS", 1460]] }, false);
      return await f.reply();
    },
  },
  {
    name: "tcp_syn_sent_ack_without_syn",
    rfc: "RFC 9293 3.10.7.3 (SYN-SENT, acceptable ACK, neither SYN nor RST: drop)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      await f.send("A", {}, false);
      return `${await f.reply(200)}; ${await ctx.agent.waitConnect(f.id, 0.3)}`;
    },
  },
  {
    name: "tcp_syn_sent_simultaneous_open",
    rfc:
      "RFC 9293 3.10.7.3 MUST-10 (simultaneous open: SYN-RECEIVED, <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      await f.send("S", { opts: [["MSS", 1460]] });
      const sa = await f.next();
      const first = f.describe(sa);
      if (!sa || sa.flags !== "SA") return first;
      await f.send("A");
      return `${first}; ${await ctx.agent.waitConnect(f.id, 1)}`;
    },
  },
];
