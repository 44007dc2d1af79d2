/**
 * Conformance cases below TCP: ICMP (RFC 792, RFC 1122 3.2.2, 4.2.3.9 and RFC 1191 for TCP's
 * reaction), IPv4 input checks (RFC 791, RFC 1122 3.2.1) and ARP (RFC 826, RFC 5227 probes).
 */

import type { Case } from "./cases.ts";
import { activeOpen, type Ctx, type Frame, type Json, passiveOpen, PLAN } from "./harness.ts";

const PING_DATA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/** The DUT's next ICMP frame. */
function icmp(ctx: Ctx, ms = 300, extra: Json = {}): Promise<Frame | null> {
  return ctx.bench.expect({ type: "icmp", ...extra }, ms);
}

function echoReply(f: Frame | null, id: number, seq: number, data: string): string {
  if (!f) return "no reply";
  const same = f.id === id && f.seq === seq && f.data === data;
  return `icmp ${f.itype}/${f.code} ${same ? "echoes id, seq and data" : "differs"}`;
}

async function ping(ctx: Ctx, o: Json = {}, data = PING_DATA): Promise<string> {
  const id = 0x4242 + ctx.port % 100;
  await ctx.bench.send({ icmp: { type: 8, id, seq: 7, data, ...(o.icmp ?? {}) }, ...o.frame });
  return echoReply(await icmp(ctx, 300, { itype: 0 }), id, 7, data);
}

/** An ICMP error about the DUT's TCP segment. */
function tcpError(type: number, code: number, quote: Json, extra: Json = {}): Json {
  return { icmp: { type, code, ...extra }, quote: { ...quote, flags: "A", qlen: 28 } };
}

// 1 s: a reply on a loaded machine can take several hundred ms, and one that comes after the
// case's wait is taken for the next case's.
async function arpReply(ctx: Ctx, ms = 1000): Promise<string> {
  const r = await ctx.bench.expect({ type: "arp", op: 2 }, ms);
  if (!r) return "no reply";
  const me = r.hwsrc === PLAN.dutMac && r.psrc === PLAN.dutIp;
  return `arp reply ${me ? "dut-mac is-at dut-ip" : `${r.hwsrc} ${r.psrc}`} to ${
    r.ethdst === PLAN.benchMac ? "bench" : r.ethdst === PLAN.otherMac ? "other" : r.ethdst
  }`;
}

export const IP_CASES: Case[] = [
  {
    name: "icmp_echo_reply",
    rfc:
      "RFC 792 (echo: reply with the same identifier, sequence and data) / RFC 1122 3.2.2.6 MUST",
    run: (ctx) => ping(ctx),
  },
  {
    name: "icmp_echo_large",
    rfc: "RFC 1122 3.2.2.6 (echo data of any size up to the MTU is returned)",
    run: (ctx) => ping(ctx, {}, "ab".repeat(1400)),
  },
  {
    name: "icmp_echo_fragmented_request",
    rfc: "RFC 1122 3.3.2 MUST (reassembly) / 3.2.2.6 (the reply to a 2000-byte echo)",
    run: async (ctx) => {
      const data = "cd".repeat(2000);
      await ctx.bench.send({ icmp: { type: 8, id: 99, seq: 1, data }, frag: 1000 });
      const frags = await ctx.bench.collect({ type: "ipfrag", src: PLAN.dutIp }, 300);
      const whole = await ctx.bench.expect({ type: "icmp", itype: 0 }, 10);
      if (whole) return "reply in one datagram";
      return frags.length ? `reply in ${frags.length} fragments` : "no reply";
    },
  },
  {
    name: "icmp_echo_bad_checksum_dropped",
    rfc: "RFC 792 / RFC 1122 3.2.2 (ICMP checksum verified; bad messages discarded)",
    run: (ctx) => ping(ctx, { icmp: { chksum: 0x1234 } }),
  },
  {
    name: "icmp_echo_to_other_address_ignored",
    rfc: "RFC 1122 3.3.4.2 / 3.3.1.1 (a host does not forward or answer for others' addresses)",
    run: (ctx) => ping(ctx, { frame: { ip: { dst: PLAN.otherIp } } }),
  },
  {
    name: "icmp_echo_broadcast_ignored",
    rfc: "RFC 1122 3.2.2.6 (an echo to a broadcast address MAY be silently discarded; Linux does)",
    run: (ctx) =>
      ping(ctx, {
        frame: { ip: { dst: "10.9.0.255" }, eth: { dst: "ff:ff:ff:ff:ff:ff" } },
      }),
  },
  {
    name: "icmp_unknown_type_ignored",
    rfc: "RFC 1122 3.2.2 MUST (an ICMP message of unknown type is silently discarded)",
    run: async (ctx) => {
      await ctx.bench.send({ icmp: { type: 42, code: 0 } });
      const r = await icmp(ctx);
      return r ? `icmp ${r.itype}/${r.code}` : "no reply";
    },
  },
  {
    name: "icmp_echo_reply_not_answered",
    rfc: "RFC 1122 3.2.2 (an echo reply is never answered)",
    run: async (ctx) => {
      await ctx.bench.send({ icmp: { type: 0, id: 1, seq: 1 } });
      const r = await icmp(ctx);
      return r ? `icmp ${r.itype}/${r.code}` : "no reply";
    },
  },
  {
    name: "icmp_udp_port_unreachable",
    rfc: "RFC 1122 4.1.3.1 SHOULD / RFC 792 (port unreachable quoting the IP header + 8 bytes)",
    run: async (ctx) => {
      await ctx.bench.send({ udp: { sport: 5555, dport: 9999, data: "00112233" } });
      const r = await icmp(ctx);
      if (!r) return "no reply";
      // The quote: IP header (protocol 17) then UDP ports 5555 -> 9999 (15b3 270f).
      const quotes = r.data?.includes("15b3270f") ? "quotes the datagram" : "no quote";
      return `icmp ${r.itype}/${r.code} ${quotes}`;
    },
  },
  {
    name: "ip_bad_header_checksum_dropped",
    rfc: "RFC 791 / RFC 1122 3.2.1.2 MUST (datagrams with a bad header checksum are discarded)",
    run: (ctx) => ping(ctx, { frame: { ip: { chksum: 0x1234 } } }),
  },
  {
    name: "ip_bad_version_dropped",
    rfc: "RFC 1122 3.2.1.1 MUST (a datagram whose version is not 4 is discarded)",
    run: (ctx) => ping(ctx, { frame: { ip: { version: 5 } } }),
  },
  {
    name: "ip_ttl_one_delivered",
    rfc: "RFC 1122 3.2.1.7 (TTL is not checked for datagrams addressed to this host)",
    run: (ctx) => ping(ctx, { frame: { ip: { ttl: 1 } } }),
  },
  {
    name: "ip_options_ignored",
    rfc: "RFC 1122 3.2.1.8 MUST (IP options are processed or passed over; unknown ones ignored)",
    run: (ctx) => ping(ctx, { frame: { ip: { optbytes: "01010100" } } }),
  },
  {
    name: "icmp_frag_needed_lowers_mss",
    rfc: "RFC 1191 / RFC 1122 4.2.3.9 (fragmentation needed: segments fit the new path MTU)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.agent.setopt(f.id, "nodelay", true);
      await ctx.agent.send(f.id, 3000);
      const first = await f.next(500);
      if (!first?.len) return `first ${f.describe(first)}`;
      await f.all(50);
      const t = await ctx.bench.send(
        tcpError(3, 4, { sport: f.dport, dport: f.bport, seq: first.seq }, { nexthopmtu: 1000 }),
      );
      const after = (await f.all(400)).filter((x) => x.t > t && x.len);
      return after.length
        ? `resent, largest ${Math.max(...after.map((x) => x.len!))}`
        : "nothing resent";
    },
  },
  {
    name: "icmp_port_unreachable_syn_sent",
    rfc:
      "RFC 9293 3.9.2.2 SHLD-26 / RFC 1122 4.2.3.9 (port unreachable, code 3, is hard: the attempt fails)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      await ctx.bench.send(
        tcpError(3, 3, { sport: f.dport, dport: f.bport, seq: f.irs, flags: "S" }),
      );
      return await ctx.agent.waitConnect(f.id, 0.5);
    },
  },
  {
    name: "icmp_host_unreachable_syn_sent",
    rfc:
      "RFC 9293 MUST-56 says codes 0, 1, 5 MUST NOT abort; RFC 5461 4.1: stacks (Linux) fail a connection attempt on them in SYN-SENT",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      await ctx.bench.send(
        tcpError(3, 1, { sport: f.dport, dport: f.bport, seq: f.irs, flags: "S" }),
      );
      return await ctx.agent.waitConnect(f.id, 0.5);
    },
  },
  {
    name: "icmp_port_unreachable_established_kept",
    rfc:
      "RFC 1122 4.2.3.9 (an ICMP error in ESTABLISHED does not silently kill the connection; Linux keeps it)",
    run: async (ctx) => {
      const f = await passiveOpen(ctx);
      await ctx.bench.send(tcpError(3, 3, { sport: f.dport, dport: f.bport, seq: f.rcvNxt }));
      await f.send("PA", { data: "6869" });
      return `${await f.reply(600)}; ${await ctx.agent.recv(f.id, 0.3)}`;
    },
  },
  {
    name: "icmp_error_out_of_window_ignored",
    rfc:
      "RFC 5927 4.1 / RFC 5961 (an ICMP error quoting a sequence number not in flight is ignored)",
    run: async (ctx) => {
      const f = await activeOpen(ctx, { synOnly: true });
      await ctx.bench.send(
        tcpError(3, 3, { sport: f.dport, dport: f.bport, seq: f.irs + 5000000, flags: "S" }),
      );
      return await ctx.agent.waitConnect(f.id, 0.3);
    },
  },
  {
    name: "arp_request_reply",
    rfc: "RFC 826 (a request for our protocol address: reply with our hardware address)",
    run: async (ctx) => {
      await ctx.bench.send({ arp: { op: 1 } });
      return await arpReply(ctx);
    },
  },
  {
    name: "arp_request_other_address_ignored",
    rfc: "RFC 826 (not the target protocol address: no reply)",
    run: async (ctx) => {
      await ctx.bench.send({ arp: { op: 1, pdst: PLAN.otherIp } });
      return await arpReply(ctx);
    },
  },
  {
    name: "arp_probe_answered",
    rfc: "RFC 5227 2.1.1 / RFC 826 (a probe with sender address 0.0.0.0 is answered)",
    run: async (ctx) => {
      await ctx.bench.send({
        arp: { op: 1, psrc: "0.0.0.0", hwsrc: PLAN.otherMac },
        eth: { src: PLAN.otherMac },
      });
      return await arpReply(ctx);
    },
  },
  {
    name: "arp_bad_hardware_type_ignored",
    rfc: "RFC 826 (?Do I have the hardware type in ar$hrd? No: discard)",
    run: async (ctx) => {
      await ctx.bench.send({ arp: { op: 1, hwtype: 99 } });
      return await arpReply(ctx);
    },
  },
  {
    name: "arp_bad_protocol_type_ignored",
    rfc: "RFC 826 (?Do I speak the protocol in ar$pro? No: discard)",
    run: async (ctx) => {
      await ctx.bench.send({ arp: { op: 1, ptype: 0x86dd } });
      return await arpReply(ctx);
    },
  },
  {
    name: "arp_request_learns_sender",
    rfc: "RFC 826 (merge: the target of a request adds the sender's pair)",
    run: async (ctx) => {
      await ctx.bench.send({
        arp: { op: 1, hwsrc: PLAN.otherMac, psrc: PLAN.otherIp },
        eth: { src: PLAN.otherMac },
      });
      const a = await arpReply(ctx);
      await ctx.bench.send({
        icmp: { type: 8, id: 5, seq: 5, data: "0a0b" },
        ip: { src: PLAN.otherIp },
        eth: { src: PLAN.otherMac },
      });
      const r = await icmp(ctx, 300, { itype: 0 });
      const asked = await ctx.bench.expect({ type: "arp", op: 1, pdst: PLAN.otherIp }, 10);
      return `${a}; echo reply to ${r?.ethdst === PLAN.otherMac ? "other-mac" : r?.ethdst}; ${
        asked ? "asked again" : "no new request"
      }`;
    },
  },
  {
    name: "arp_unsolicited_reply_not_learned",
    rfc: "RFC 826 leaves unsolicited replies open; Linux (arp_accept=0) creates no entry",
    run: async (ctx) => {
      await ctx.bench.send({
        arp: {
          op: 2,
          hwsrc: PLAN.otherMac,
          psrc: "10.9.0.4",
          hwdst: PLAN.dutMac,
          pdst: PLAN.dutIp,
        },
        eth: { src: PLAN.otherMac },
      });
      await ctx.bench.send({
        icmp: { type: 8, id: 6, seq: 6, data: "0a0b" },
        ip: { src: "10.9.0.4" },
        eth: { src: PLAN.otherMac },
      });
      const asked = await ctx.bench.expect({ type: "arp", op: 1, pdst: "10.9.0.4" }, 500);
      return asked ? `resolves first: who-has ${asked.pdst}` : "uses the unsolicited entry";
    },
  },
  {
    name: "arp_resolution_before_sending",
    rfc: "RFC 826 / RFC 1122 2.3.2.2 (resolve a neighbor before sending; queue the datagram)",
    run: async (ctx) => {
      const port = ctx.bport();
      await ctx.agent.connect(port, undefined, "10.9.0.5");
      const req = await ctx.bench.expect({ type: "arp", op: 1, pdst: "10.9.0.5" }, 1000);
      if (!req) return "no ARP request";
      const bcast = req.ethdst === "ff:ff:ff:ff:ff:ff" && req.psrc === PLAN.dutIp;
      await ctx.bench.send({
        arp: {
          op: 2,
          hwsrc: PLAN.otherMac,
          psrc: "10.9.0.5",
          hwdst: PLAN.dutMac,
          pdst: PLAN.dutIp,
        },
        eth: { src: PLAN.otherMac },
      });
      const syn = await ctx.bench.expect({ type: "tcp", dport: port }, 1000);
      return `request ${bcast ? "broadcast from dut" : "odd"}; then ${
        syn
          ? `${syn.flags} to ${syn.ethdst === PLAN.otherMac ? "resolved mac" : syn.ethdst}`
          : "nothing"
      }`;
    },
  },
];

/** An echo request of 64 data bytes sent as hand-made fragments; what comes back. */
async function fragmentedPing(ctx: Ctx, fragments: [number, number, boolean][]): Promise<string> {
  const data = "ef".repeat(64);
  await ctx.bench.send({
    icmp: { type: 8, id: 77, seq: 3, data },
    ip: { id: 4242 + ctx.port % 1000, flags: 0 },
    fragments,
  });
  return echoReply(await icmp(ctx, 300, { itype: 0 }), 77, 3, data);
}

/** Cases added after the first run: fragments and ARP updates. */
export const IP_MORE_CASES: Case[] = [
  {
    name: "ip_fragments_out_of_order_reassembled",
    rfc: "RFC 791 / RFC 1122 3.3.2 MUST (reassembly, whatever the arrival order)",
    // 72 bytes of ICMP: [48, 72) first, then [0, 48).
    run: (ctx) => fragmentedPing(ctx, [[48, 24, false], [0, 48, true]]),
  },
  {
    name: "ip_overlapping_fragments_dropped",
    rfc: "RFC 5722 (overlaps drop the datagram; Linux applies it to IPv4) / RFC 1858",
    run: (ctx) => fragmentedPing(ctx, [[0, 48, true], [40, 32, false]]),
  },
  {
    name: "arp_gratuitous_updates_entry",
    rfc:
      "RFC 826 (merge: an entry for the sender's address is updated with the new hardware address)",
    run: async (ctx) => {
      const ip = "10.9.0.6", first = "02:00:00:00:00:06", second = "02:00:00:00:00:07";
      await ctx.bench.send({ arp: { op: 1, hwsrc: first, psrc: ip }, eth: { src: first } });
      await ctx.bench.expect({ type: "arp", op: 2 }, 300);
      await ctx.bench.send({
        arp: { op: 1, hwsrc: second, psrc: ip, pdst: ip },
        eth: { src: second, dst: "ff:ff:ff:ff:ff:ff" },
      });
      await ctx.bench.send({
        icmp: { type: 8, id: 8, seq: 8, data: "0a0b" },
        ip: { src: ip },
        eth: { src: second },
      });
      const r = await icmp(ctx, 500, { itype: 0 });
      if (!r) return "no echo reply";
      return `echo reply to ${
        r.ethdst === second ? "the new MAC" : r.ethdst === first ? "the old MAC" : r.ethdst
      }`;
    },
  },
];
