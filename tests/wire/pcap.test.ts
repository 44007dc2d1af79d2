// Known-answer test over frames captured from real Linux traffic: linux_veth (two namespaces
// joined by a veth pair: ARP, ping, fragmented ping, UDP to a closed port, an HTTP download, a
// refused connection; tests/wire/fixtures/capture_linux.sh) and linux_sack (Linux answering
// out-of-order segments with one and two SACK blocks through a TAP device;
// tests/wire/fixtures/capture_sack.sh). Every frame is decoded by both engines (equal descriptors,
// verdict 0), its fields are checked against tshark's reading stored beside the capture
// (tests/wire/fixtures/tshark_fields.sh), and re-encoding the decoded descriptor reproduces the
// captured bytes exactly.

import assert from "node:assert/strict";
import {
  D_ARP_OP,
  D_DST_PORT,
  D_ETHERTYPE,
  D_ICMP_TYPE,
  D_IP6_EXT,
  D_IP_DST,
  D_IP_FRAG,
  D_IP_PROTO,
  D_IP_SRC,
  D_KIND,
  D_L3_OFF,
  D_OPT_MSS,
  D_OPT_SACK,
  D_OPT_SACK_N,
  D_OPT_TS,
  D_OPT_TSECR,
  D_OPT_TSVAL,
  D_OPT_WS,
  D_PAYLOAD_LEN,
  D_PAYLOAD_OFF,
  D_SRC_PORT,
  D_TCP_ACK,
  D_TCP_FLAGS,
  D_TCP_SEQ,
  D_TCP_WND,
  EXT6_HOP_BY_HOP,
  K_ARP,
  K_ICMP,
  K_ICMP6,
  K_IPV4_FRAGMENT,
  K_TCP,
  K_UDP,
  RX_OFF,
  TX_IP6_SRC,
  TX_PAYLOAD_OFF,
} from "../../src/wire/layout.ts";
import { engines, ip4 } from "../support/wire_frames.ts";
import { formatIpv6 } from "../../src/wire/ipv6_address.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** Frames of a classic pcap file (microsecond or nanosecond, either byte order). */
function readPcap(bytes: Uint8Array): Uint8Array[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && v.getUint32(0, false) !== 0xa1b2c3d4 && v.getUint32(0, false) !== 0xa1b23c4d) {
    throw new Error("Not a pcap file");
  }
  if (v.getUint32(20, le) !== 1) throw new Error("Pcap link type is not Ethernet");
  const frames: Uint8Array[] = [];
  for (let p = 24; p + 16 <= bytes.length;) {
    const incl = v.getUint32(p + 8, le);
    frames.push(bytes.subarray(p + 16, p + 16 + incl));
    p += 16 + incl;
  }
  return frames;
}

const COLUMNS = [
  "number",
  "len",
  "ethType",
  "vlan",
  "arpOp",
  "ipSrc",
  "ipDst",
  "ipProto",
  "mf",
  "fragOff",
  "icmpType",
  "udpSrc",
  "udpDst",
  "tcpSrc",
  "tcpDst",
  "seq",
  "ack",
  "flags",
  "wnd",
  "tcpLen",
  "mss",
  "ws",
  "tsval",
  "tsecr",
  "sackCount",
  "sackLe",
  "sackRe",
] as const;
type Row = Record<(typeof COLUMNS)[number], string>;

function readTsv(text: string): Row[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((line) => {
    // Fields repeat for an ICMP error's quoted header: the first occurrence is the outer one.
    const cells = line.split("\t");
    return Object.fromEntries(
      COLUMNS.map((
        c,
        i,
      ) => [c, c.startsWith("sack") ? cells[i] ?? "" : (cells[i] ?? "").split(",")[0]]),
    ) as Row;
  });
}

/** The captures: frames and tshark's rows. */
const CAPTURES = await Promise.all(["linux_veth", "linux_sack"].map(async (name) => ({
  name,
  frames: readPcap(await Deno.readFile(new URL(`${name}.pcap`, FIXTURES))),
  rows: readTsv(await Deno.readTextFile(new URL(`${name}.tsv`, FIXTURES))),
  // tshark's reading of the IPv6 frames (fixtures/tshark_ipv6.sh), by frame number.
  ipv6: new Map(
    (await Deno.readTextFile(new URL(`${name}.ipv6.tsv`, FIXTURES))).split("\n")
      .filter((l) => l !== "").map((l) => l.split("\t")).map((c) => [c[0]!, c]),
  ),
})));

Deno.test("the Linux captures hold the frames tshark read", () => {
  for (const { name, frames, rows } of CAPTURES) {
    assert.equal(frames.length, rows.length, name);
    assert.ok(frames.length >= 10, name);
  }
});

for (const engine of engines()) {
  Deno.test(`${engine.kind}: frames captured from Linux decode as tshark reads them`, () => {
    const kinds = new Set<number>();
    let sackFrames = 0;
    for (const { name, frames, rows, ipv6 } of CAPTURES) {
      for (const [i, frame] of frames.entries()) {
        const row = rows[i]!;
        const what = `${name} frame ${row.number}`;
        engine.mem.set(frame, RX_OFF);
        assert.equal(engine.decode(RX_OFF, frame.length), 0, what);
        const r = engine.rxDesc;
        kinds.add(r[D_KIND]!);
        assert.equal(frame.length, Number(row.len), what);
        assert.equal(r[D_ETHERTYPE], parseInt(row.ethType, 16), what);
        if (row.ethType === "0x86dd") {
          // Linux's own IPv6: DAD neighbour solicitations, router solicitations and MLDv2
          // reports behind a hop-by-hop header (router alert), every checksum verified.
          const [, src, dst, nxt, hopNxt, icmpType] = ipv6.get(row.number)!;
          const l3 = r[D_L3_OFF]!;
          assert.equal(formatIpv6(engine.mem, RX_OFF + 14 + 8), src, what);
          assert.equal(formatIpv6(engine.mem, l3 + 24), dst, what);
          assert.equal(engine.mem[l3 + 6], Number(nxt), what);
          assert.equal(r[D_IP6_EXT], hopNxt === "" ? 0 : EXT6_HOP_BY_HOP, what);
          assert.deepEqual([r[D_KIND], r[D_ICMP_TYPE]], [K_ICMP6, Number(icmpType)], what);
          continue;
        }
        if (row.arpOp !== "") {
          assert.deepEqual([r[D_KIND], r[D_ARP_OP]], [K_ARP, Number(row.arpOp)], what);
          continue;
        }
        assert.equal(r[D_IP_SRC]! >>> 0, ip4(row.ipSrc), what);
        assert.equal(r[D_IP_DST]! >>> 0, ip4(row.ipDst), what);
        assert.equal(r[D_IP_PROTO], Number(row.ipProto), what);
        assert.equal(r[D_IP_FRAG]! & 0x1fff, Number(row.fragOff), what);
        assert.equal((r[D_IP_FRAG]! >> 13) & 1, Number(row.mf), what);
        if (row.mf === "1" || row.fragOff !== "0") {
          assert.equal(r[D_KIND], K_IPV4_FRAGMENT, what);
        } else if (row.icmpType !== "") {
          assert.deepEqual([r[D_KIND], r[D_ICMP_TYPE]], [K_ICMP, Number(row.icmpType)], what);
        } else if (row.ipProto === "17") {
          assert.equal(r[D_KIND], K_UDP, what);
          assert.deepEqual(
            [r[D_SRC_PORT], r[D_DST_PORT]],
            [Number(row.udpSrc), Number(row.udpDst)],
            what,
          );
        } else {
          checkTcp(r, row, what);
          if (row.sackCount !== "") sackFrames++;
        }
      }
    }
    for (const k of [K_ARP, K_ICMP, K_UDP, K_TCP, K_IPV4_FRAGMENT, K_ICMP6]) {
      assert.ok(kinds.has(k), `the captures hold kind ${k}`);
    }
    assert.ok(sackFrames >= 3, "the captures hold SACK blocks");
  });

  Deno.test(`${engine.kind}: re-encoding each decoded Linux frame gives the same bytes`, () => {
    for (const { name, frames, rows } of CAPTURES) {
      for (const [i, frame] of frames.entries()) {
        const what = `${name} frame ${rows[i]!.number}`;
        engine.mem.set(frame, RX_OFF);
        assert.equal(engine.decode(RX_OFF, frame.length), 0, what);
        // Frames with IPv6 extension headers are not rebuilt: encode writes none.
        if (engine.rxDesc[D_IP6_EXT] !== 0) continue;
        // The transmit descriptor has the receive descriptor's layout: copy it across (and
        // the IPv6 addresses to where encode reads them).
        engine.txDesc.set(engine.rxDesc);
        if (engine.rxDesc[D_KIND] === K_ICMP6) {
          const l3 = engine.rxDesc[D_L3_OFF]!;
          engine.mem.copyWithin(TX_IP6_SRC, l3 + 8, l3 + 40);
        }
        const off = engine.rxDesc[D_PAYLOAD_OFF]!;
        const len = engine.rxDesc[D_KIND] === K_ARP ? 0 : engine.rxDesc[D_PAYLOAD_LEN]!;
        engine.mem.copyWithin(TX_PAYLOAD_OFF, off, off + len);
        const start = engine.encode(TX_PAYLOAD_OFF, len);
        assert.ok(start >= 0, what);
        assert.deepEqual(engine.mem.slice(start, TX_PAYLOAD_OFF + len), frame, what);
      }
    }
  });
}

/** TCP fields of the receive descriptor against tshark's row. */
function checkTcp(r: Int32Array, row: Row, what: string): void {
  assert.equal(r[D_KIND], K_TCP, what);
  assert.deepEqual(
    [r[D_SRC_PORT], r[D_DST_PORT], r[D_TCP_SEQ]! >>> 0, r[D_TCP_ACK]! >>> 0],
    [Number(row.tcpSrc), Number(row.tcpDst), Number(row.seq), Number(row.ack)],
    what,
  );
  assert.equal(r[D_TCP_FLAGS], parseInt(row.flags, 16), what);
  assert.equal(r[D_TCP_WND], Number(row.wnd), what);
  assert.equal(r[D_PAYLOAD_LEN], Number(row.tcpLen), what);
  assert.equal(r[D_OPT_MSS], row.mss === "" ? -1 : Number(row.mss), what);
  assert.equal(r[D_OPT_WS], row.ws === "" ? -1 : Number(row.ws), what);
  assert.equal(r[D_OPT_TS], row.tsval === "" ? 0 : 1, what);
  if (row.tsval !== "") {
    assert.equal(r[D_OPT_TSVAL]! >>> 0, Number(row.tsval), what);
    assert.equal(r[D_OPT_TSECR]! >>> 0, Number(row.tsecr), what);
  }
  const n = row.sackCount === "" ? 0 : Number(row.sackCount);
  assert.equal(r[D_OPT_SACK_N], n, what);
  const le = row.sackLe.split(",");
  const re = row.sackRe.split(",");
  for (let k = 0; k < n; k++) {
    assert.equal(r[D_OPT_SACK + 2 * k]! >>> 0, Number(le[k]), what);
    assert.equal(r[D_OPT_SACK + 2 * k + 1]! >>> 0, Number(re[k]), what);
  }
}

Deno.test("both engines write the same descriptor for every Linux frame", () => {
  const [a, b] = engines();
  for (const { frames } of CAPTURES) {
    for (const frame of frames) {
      a!.mem.set(frame, RX_OFF + 3);
      b!.mem.set(frame, RX_OFF + 3);
      assert.equal(a!.decode(RX_OFF + 3, frame.length), b!.decode(RX_OFF + 3, frame.length));
      assert.deepEqual(Array.from(a!.rxDesc), Array.from(b!.rxDesc));
    }
  }
});
