/**
 * `deno task ladder`: the explaining ladder of a Linux capture (tests/wire/fixtures, taken with
 * tcpdump) and of a pcap our own stack wrote over the memory link (the seed note's numbers,
 * exact lines); the reader agrees with tshark field by field, reads pcapng and Linux cooked
 * captures, and refuses bad input with a clear error.
 */
import assert from "node:assert/strict";
import { captureSegments, PcapError, readCapture } from "../../tools/pcap_read.ts";
import { explainLadder, splitConnections } from "../../tools/ladder_lib.ts";
import { seedExchange, seedWorld } from "../support/seed_exchange.ts";

const FIXTURES = new URL("../wire/fixtures/", import.meta.url);
const LADDER = new URL("../../tools/ladder.ts", import.meta.url).pathname;

function fixture(name: string): Uint8Array {
  return Deno.readFileSync(new URL(name, FIXTURES));
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", LADDER, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

function hasTool(name: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test("ladder: a Linux SACK capture (tcpdump), explained line by line", () => {
  const cap = captureSegments(fixture("linux_sack.pcap"));
  assert.equal(cap.frames, 17);
  const conns = splitConnections(cap.segments);
  assert.equal(conns.length, 1);
  assert.deepEqual(explainLadder(conns[0]!, { times: false }), [
    "  C = client 10.200.0.1:5555, S = server 10.200.0.2:7000",
    "  C --> S  SYN SEQ=1000 ACK=- WIN=64240 <MSS=1460 WS=7 (x128) SACK_PERM TS val=5000 ecr=0>",
    "  C <-- S  SYN+ACK SEQ=3209368300 ACK=1001 WIN=65160 <MSS=1460 WS=10 (x1024) SACK_PERM " +
    "TS val=838652299 ecr=5000>  [ACK 1001 = 1000 + 1 (SYN)]",
    "  C --> S  ACK SEQ=1001 ACK=3209368301 WIN=502 (x128 = 64256)  " +
    "[ACK 3209368301 = 3209368300 + 1 (SYN)]",
    "  C --> S  PSH+ACK SEQ=2001 ACK=3209368301 LEN=100 WIN=502 (x128 = 64256)",
    "  C <-- S  ACK SEQ=3209368301 ACK=1001 WIN=64 (x1024 = 65536) <SACK 2001-2101>  " +
    "[DUP ACK #1: SACK says what arrived beyond the gap]",
    "  C --> S  PSH+ACK SEQ=2201 ACK=3209368301 LEN=100 WIN=502 (x128 = 64256)",
    "  C <-- S  ACK SEQ=3209368301 ACK=1001 WIN=64 (x1024 = 65536) <SACK 2201-2301 2001-2101>  " +
    "[DUP ACK #2: SACK says what arrived beyond the gap]",
    "  C --> S  PSH+ACK SEQ=1001 ACK=3209368301 LEN=1000 WIN=502 (x128 = 64256)  " +
    "[OUT OF ORDER: fills a gap]",
    "  C <-- S  ACK SEQ=3209368301 ACK=2101 WIN=63 (x1024 = 64512) <SACK 2201-2301>  " +
    "[ACK 2101 = 2001 + 100 bytes, 1100 bytes acknowledged in all]",
    "  C --> S  RST SEQ=2301 ACK=- WIN=8192  [RESET: the connection is aborted]",
  ]);
});

Deno.test("ladder: a pcap our stack wrote over the memory link replays the seed's numbers", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcap" });
  try {
    const w = await seedWorld(path);
    const port = await seedExchange(w);
    await w.close();
    const r = await cli(path, "--no-time");
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split("\n");
    const at = lines.indexOf("Connection 1: 7 segments");
    assert.ok(at > 0, r.out);
    assert.deepEqual(lines.slice(at + 1, at + 9), [
      `  C = client 10.9.0.1:${port}, S = server 10.9.0.2:80`,
      "  C --> S  SYN SEQ=100 ACK=- WIN=65535 <MSS=1460 WS=7 (x128) SACK_PERM TS val=0 ecr=0>",
      "  C <-- S  SYN+ACK SEQ=2000 ACK=101 WIN=65535 <MSS=1460 WS=7 (x128) SACK_PERM TS val=0 " +
      "ecr=0>  [ACK 101 = 100 + 1 (SYN)]",
      "  C --> S  ACK SEQ=101 ACK=2001 WIN=2047 (x128 = 262016)  [ACK 2001 = 2000 + 1 (SYN)]",
      "  C --> S  PSH+ACK SEQ=101 ACK=2001 LEN=100 WIN=2047 (x128 = 262016)",
      // The reply carries the request's ACK, as the seed note draws it (RFC 1122 4.2.3.2).
      "  C <-- S  PSH+ACK SEQ=2001 ACK=201 LEN=500 WIN=2047 (x128 = 262016)  " +
      "[ACK 201 = 101 + 100 bytes]",
      "  C --> S  ACK SEQ=201 ACK=2501 WIN=2043 (x128 = 261504)  [ACK 2501 = 2001 + 500 bytes]",
      "  C --> S  RST+ACK SEQ=201 ACK=2501 WIN=0  [RESET: the connection is aborted]",
    ]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("ladder: the command line counts what it skipped; --relative counts from the ISNs", async () => {
  const r = await cli(new URL("linux_sack.pcap", FIXTURES).pathname, "--relative", "--max", "3");
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split("\n");
  assert.match(
    lines[0]!,
    /linux_sack\.pcap: 17 frames, 10 TCP segments in 1 connections \(skipped: 5 ICMPv6, 2 ARP\)$/,
  );
  assert.match(lines[4]!, /^ +0\.000 ms {2}C --> S {2}SYN SEQ=0 ACK=- WIN=64240 /);
  assert.match(lines[5]!, / ms {2}C <-- S {2}SYN\+ACK SEQ=0 ACK=1 .*\[ACK 1 = 0 \+ 1 \(SYN\)\]$/);
  assert.match(lines[6]!, / ms {2}C --> S {2}ACK SEQ=1 ACK=1 WIN=502 \(x128 = 64256\)/);
  assert.equal(lines[3], "  C = client 10.200.0.1:5555, S = server 10.200.0.2:7000");
  assert.equal(lines[7], "  ... 7 more segments");
});

Deno.test({
  name: "ladder: the capture reader agrees with tshark on every TCP segment",
  ignore: !hasTool("tshark"),
  async fn() {
    for (const name of ["linux_sack.pcap", "linux_veth.pcap"]) {
      const path = new URL(name, FIXTURES).pathname;
      const r = await new Deno.Command("tshark", {
        args: [
          "-r",
          path,
          "-Y",
          "tcp",
          "-T",
          "fields",
          "-E",
          "separator=/t",
          "-e",
          "frame.number",
          "-e",
          "tcp.seq_raw",
          "-e",
          "tcp.ack_raw",
          "-e",
          "tcp.len",
          "-e",
          "tcp.window_size_value",
          "-e",
          "tcp.options.mss_val",
        ],
        stdout: "piped",
        stderr: "null",
      }).output();
      const theirs = new TextDecoder().decode(r.stdout).replace(/\n$/, "").split("\n");
      const ours = captureSegments(Deno.readFileSync(path)).segments.map((s) =>
        [s.frame, s.seq, s.ack, s.len, s.window, s.options.mss ?? ""].join("\t")
      );
      assert.deepEqual(ours, theirs, name);
    }
  },
});

Deno.test({
  name: "ladder: pcapng (tshark's default) and Linux cooked captures read like the pcap",
  ignore: !hasTool("editcap"),
  async fn() {
    const src = new URL("linux_sack.pcap", FIXTURES).pathname;
    const ng = await Deno.makeTempFile({ suffix: ".pcapng" });
    try {
      const r = await new Deno.Command("editcap", { args: ["-F", "pcapng", src, ng] }).output();
      assert.ok(r.success);
      const a = captureSegments(Deno.readFileSync(src));
      const b = captureSegments(Deno.readFileSync(ng));
      assert.deepEqual(b.segments, a.segments);
    } finally {
      await Deno.remove(ng);
    }
  },
});

/** A classic pcap with `linkType` holding `frames`. */
function pcapOf(linkType: number, frames: Uint8Array[]): Uint8Array {
  const size = 24 + frames.reduce((a, f) => a + 16 + f.length, 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 65535, true);
  v.setUint32(20, linkType, true);
  let p = 24;
  frames.forEach((f, i) => {
    v.setUint32(p, 1000 + i, true);
    v.setUint32(p + 8, f.length, true);
    v.setUint32(p + 12, f.length, true);
    out.set(f, p + 16);
    p += 16 + f.length;
  });
  return out;
}

Deno.test("ladder: Linux cooked (SLL, tcpdump -i any) and raw IP captures", () => {
  const eth = readCapture(fixture("linux_sack.pcap")).map((f) => f.data);
  const sll = eth.map((f) => {
    const o = new Uint8Array(f.length + 2);
    o.set(f.subarray(12, 14), 14); // protocol
    o.set(f.subarray(14), 16);
    return o;
  });
  const raw = eth.filter((f) => f[12] === 8 && f[13] === 0).map((f) => f.subarray(14));
  const want = captureSegments(fixture("linux_sack.pcap")).segments.map((s) => [s.seq, s.len]);
  for (const bytes of [pcapOf(113, sll), pcapOf(101, raw)]) {
    const got = captureSegments(bytes).segments.map((s) => [s.seq, s.len]);
    assert.deepEqual(got, want);
  }
});

Deno.test("ladder: a snap length that cut the payload and a bad checksum are explained", () => {
  const bytes = fixture("linux_veth.pcap").slice();
  const full = captureSegments(bytes).segments;
  const orig = full.find((s) => s.len > 1000)!;
  const big = orig.frame - 1;
  // Find the record of frame `big` and shorten its captured length to 96 bytes.
  const v = new DataView(bytes.buffer);
  let p = 24;
  for (let i = 0; i < big; i++) p += 16 + v.getUint32(p + 8, true);
  const incl = v.getUint32(p + 8, true);
  const cut = new Uint8Array(bytes.length - (incl - 96));
  cut.set(bytes.subarray(0, p + 16 + 96));
  cut.set(bytes.subarray(p + 16 + incl), p + 16 + 96);
  new DataView(cut.buffer).setUint32(p + 8, 96, true);
  const seg = captureSegments(cut).segments.find((s) => s.frame === big + 1)!;
  assert.equal(seg.truncated, true);
  assert.equal(seg.len, orig.len);
  assert.equal(seg.seq, orig.seq);
  // A wrong TCP checksum (as captured before checksum offload) still decodes, marked.
  const bad = fixture("linux_veth.pcap").slice();
  const at = p + 16 + 14 + 20 + 16; // the TCP checksum
  bad[at] = bad[at]! ^ 0xff;
  const s2 = captureSegments(bad).segments.find((s) => s.frame === big + 1)!;
  assert.equal(s2.checksumBad, true);
  assert.equal(s2.len, orig.len);
});

Deno.test("ladder: bad input gives a clear error and exit code 2", async () => {
  assert.throws(() => readCapture(new Uint8Array([1, 2])), /too short to be a pcap file/);
  assert.throws(
    () => readCapture(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")),
    (e) => e instanceof PcapError && /not a pcap or pcapng file \(magic 0x/.test(e.message),
  );
  assert.throws(
    () => readCapture(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0])),
    /gzip-compressed: gunzip it/,
  );
  assert.throws(() => readCapture(pcapOf(1, []).subarray(0, 20)), /pcap header truncated/);
  assert.throws(
    () => readCapture(pcapOf(105, [new Uint8Array(40)]), "wifi.pcap"),
    /wifi\.pcap: link type 105 \(IEEE 802\.11 wireless\) is not supported; supported: Ethernet/,
  );
  // A record cut off at the end of the file (a capture still being written) is left out.
  const whole = fixture("linux_sack.pcap");
  assert.equal(readCapture(whole.subarray(0, whole.length - 10)).length, 16);

  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/junk.pcap`, new Uint8Array(64).fill(0x41));
    let r = await cli(`${dir}/junk.pcap`);
    assert.equal(r.code, 2);
    assert.match(r.err, /^ladder: .*junk\.pcap: not a pcap or pcapng file/);
    r = await cli(`${dir}/missing.pcap`);
    assert.equal(r.code, 2);
    assert.match(r.err, /^ladder: .*No such file/);
    r = await cli(new URL("linux_sack.pcap", FIXTURES).pathname, "--conn", "3");
    assert.equal(r.code, 2);
    assert.match(r.err, /--conn 3: the capture has 1 TCP connections/);
    r = await cli(new URL("linux_sack.pcap", FIXTURES).pathname, "--max", "x");
    assert.match(r.err, /--max must be an integer >= 0, got "x"/);
    r = await cli();
    assert.equal(r.code, 2);
    assert.match(r.out, /usage: deno task ladder capture\.pcap/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
