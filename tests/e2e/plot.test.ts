/**
 * `deno task plot`: the time-sequence graph of a transfer our stack captured over a lossy memory
 * link with a slow reader (virtual time, seeded), parsed back as XML: one mark per data
 * segment, retransmissions, SACK blocks, zero windows, the ACK and window lines, axes and
 * legend. The same capture's ladder marks retransmissions, zero windows and window updates.
 */
import assert from "node:assert/strict";
import { DOMParser } from "@xmldom/xmldom";
import { createMemoryLinkPair, createStack } from "../../mod.ts";
import { Simulation, VirtualClock, withFaults } from "../../testing.ts";
import { captureSegments } from "../../tools/pcap_read.ts";
import { explainLadder, splitConnections } from "../../tools/ladder_lib.ts";
import { niceStep } from "../../tools/plot_svg.ts";

const PLOT = new URL("../../tools/plot.ts", import.meta.url).pathname;
const TOTAL = 120_000;

/** A server sends TOTAL bytes over 3% loss to a client that stops reading for 2 s. */
async function lossyCapture(path: string): Promise<void> {
  const clock = new VirtualClock();
  const [la, lb] = createMemoryLinkPair();
  // The server's frames are lost on their way out, after its capture saw them: the capture
  // holds each lost segment and its retransmission.
  const lossy = withFaults(lb, {
    seed: 7,
    drop: 0.03,
    clock: () => clock.now(),
    delayMs: 2,
    direction: "out",
  });
  const client = await createStack({
    link: la,
    address: "10.9.0.1/24",
    engine: "js",
    clock,
    tcp: { rcvBuf: 16384 },
  });
  const server = await createStack({
    link: lossy,
    address: "10.9.0.2/24",
    engine: "js",
    clock,
    pcap: path,
  });
  const sim = new Simulation(clock, [client, server]);
  try {
    const listener = server.listen({ port: 80 });
    const accepted = listener.accept();
    const conn = await sim.run(client.connect({ hostname: "10.9.0.2", port: 80 }));
    const peer = await sim.run(accepted);
    const sending = peer.write(new Uint8Array(TOTAL).fill(1)).then(() => peer.close());
    const buf = new Uint8Array(4096);
    let got = 0;
    while (got < TOTAL / 2) got += (await sim.run(conn.read(buf))) ?? 0;
    await sim.advance(2000); // the reader pauses: the window closes, the sender probes
    for (;;) {
      const n = await sim.run(conn.read(buf));
      if (n === null) break;
      got += n;
    }
    assert.equal(got, TOTAL);
    await sim.run(sending);
    conn.close();
    listener.close();
  } finally {
    await client.close();
    await server.close();
  }
}

Deno.test("plot: the SVG of a lossy, flow-controlled transfer has every mark, axes and legend", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pcap = `${dir}/lossy.pcap`;
    await lossyCapture(pcap);
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", PLOT, pcap, "--out", `${dir}/plot.svg`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.match(out, /plot\.svg: connection 1 of 1, data from 10\.9\.0\.2:80: \d+ segments/);

    const cap = captureSegments(await Deno.readFile(pcap));
    const data = cap.segments.filter((s) => s.src === "10.9.0.2:80" && s.len > 0);
    const acks = cap.segments.filter((s) => s.src.startsWith("10.9.0.1:") && s.flags & 16);
    const sacks = acks.reduce((a, s) => a + s.options.sack.length, 0);
    const zero = acks.filter((s) => s.window === 0).length;

    // Well-formed XML (the parser throws on any error), then its structure.
    const doc = new DOMParser({
      onError: (level, msg) => {
        throw new Error(`SVG ${level}: ${msg}`);
      },
    }).parseFromString(await Deno.readTextFile(`${dir}/plot.svg`), "image/svg+xml");
    const svg = doc.documentElement!;
    assert.equal(svg.tagName, "svg");
    assert.equal(svg.getAttribute("xmlns"), "http://www.w3.org/2000/svg");
    assert.equal(svg.getAttribute("viewBox"), "0 0 1200 800");
    const byClass = (tag: string, cls: string) =>
      Array.from(doc.getElementsByTagName(tag)).filter((e) =>
        (e.getAttribute("class") ?? "").split(" ").includes(cls)
      );
    const segs = byClass("path", "seg");
    assert.equal(segs.length, data.length);
    const rtx = byClass("path", "rtx");
    assert.ok(rtx.length > 0, "a 3% loss must show retransmissions");
    assert.ok(rtx.length < data.length / 4);
    assert.equal(byClass("line", "sack").length, sacks);
    assert.ok(sacks > 0);
    assert.equal(byClass("circle", "zwnd").length, zero);
    assert.ok(zero > 0, "the paused reader must advertise a zero window");
    for (const cls of ["ack", "rwnd"]) {
      const line = byClass("polyline", cls);
      assert.equal(line.length, 1);
      const pts = line[0]!.getAttribute("points")!.split(" ").map((p) => p.split(",").map(Number));
      assert.equal(pts.length, 2 * acks.length);
      assert.ok(pts.every(([x], i) => i === 0 || x! >= pts[i - 1]![0]!), `${cls} goes forward`);
    }
    const axes = byClass("g", "axis");
    assert.equal(axes.length, 2);
    const axisText = Array.from(axes[1]!.getElementsByTagName("text")).map((t) => t.textContent);
    assert.ok(axisText.includes("time (s)") || axisText.includes("time (ms)"));
    assert.ok(axisText.includes("sequence number (bytes)"));
    assert.ok(axisText.includes("0 KiB") && axisText.some((t) => /^1\d\d KiB$/.test(t ?? "")));
    const legend = byClass("g", "legend");
    assert.equal(legend.length, 1);
    assert.deepEqual(
      Array.from(legend[0]!.getElementsByTagName("text")).map((t) => t.textContent),
      [
        "data segment",
        "retransmission",
        "ACK",
        "ACK + receive window",
        "SACK block",
        "zero window",
      ],
    );

    // The ladder of the same capture marks what the plot shows.
    const lines = explainLadder(splitConnections(cap.segments)[0]!, { times: false });
    const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
    assert.equal(count(/RETRANSMISSION/), rtx.length);
    assert.equal(count(/ZERO WINDOW: the sender must wait/), zero);
    assert.ok(count(/WINDOW UPDATE/) > 0);
    assert.ok(count(/ZERO WINDOW PROBE/) > 0);
    assert.ok(count(/DUP ACK #1/) > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plot: bad arguments and input give a clear error", async () => {
  const run = async (...args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", PLOT, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: r.code,
      out: new TextDecoder().decode(r.stdout),
      err: new TextDecoder().decode(r.stderr),
    };
  };
  const fixture = new URL("../wire/fixtures/linux_sack.pcap", import.meta.url).pathname;
  let r = await run(fixture);
  assert.equal(r.code, 2);
  assert.match(r.out, /usage: deno task plot capture\.pcap --out plot\.svg/);
  r = await run(fixture, "--out", "/tmp/never.svg", "--conn", "0");
  assert.match(r.err, /^plot: --conn must be an integer >= 1, got "0"/);
  r = await run(fixture, "--out", "/tmp/never.svg", "--conn", "2");
  assert.match(r.err, /^plot: --conn 2: the capture has 1 TCP connections/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/x.pcap`, "not a capture at all");
    r = await run(`${dir}/x.pcap`, "--out", `${dir}/x.svg`);
    assert.equal(r.code, 2);
    assert.match(r.err, /^plot: .*x\.pcap: not a pcap or pcapng file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plot: tick steps are 1, 2 or 5 times a power of ten", () => {
  assert.equal(niceStep(100, 10), 10);
  assert.equal(niceStep(73, 10), 10);
  assert.equal(niceStep(1400, 10), 200);
  assert.equal(niceStep(0.35, 10), 0.05);
  assert.equal(niceStep(3, 10), 0.5);
});
