import assert from "node:assert/strict";
import { type Faults, TcpPair } from "../support/tcp_pair.ts";
import { openPair, Stream } from "../support/tcp_transfer.ts";

const LONG = Deno.env.get("TCPIP_LONG") === "1";

/** Transfer `bytes` both ways at once; returns virtual ms taken. */
function transfer(
  seed: number,
  bytes: number,
  faults: Faults,
  engine: "js" | "wasm" = "js",
): number {
  const p = new TcpPair({
    seed,
    faults,
    engine,
    tcpA: { timeWaitMs: 1000 },
    tcpB: { timeWaitMs: 1000 },
  });
  const [c, s] = openPair(p);
  const t0 = p.now;
  const up = new Stream(c, s, bytes, 1);
  const down = new Stream(s, c, bytes >> 1, 2);
  const ok = p.run(() => up.done && down.done, 3_600_000, () => {
    up.pump();
    down.pump();
  });
  const took = p.now - t0;
  const why = `seed ${seed}, faults ${JSON.stringify(faults)}, up ${up.received}/${bytes}, ` +
    `down ${down.received}/${bytes >> 1}, states ${c.state}/${s.state}, ` +
    `info ${JSON.stringify(c.info())}`;
  assert.ok(ok, `Transfer did not finish: ${why}`);
  assert.equal(up.bad, -1, `Corrupt byte at ${up.bad}: ${why}`);
  assert.equal(down.bad, -1, `Corrupt byte at ${down.bad}: ${why}`);
  c.close();
  s.close();
  assert.ok(
    p.run(() => p.a.connectionCount === 0 && p.b.connectionCount === 0, 600_000),
    `Connections did not close: ${c.state}/${s.state} (${why})`,
  );
  return took;
}

const SIZES = LONG ? [1 << 20, 16 << 20] : [256 << 10];
const LOSSES = [0, 0.01, 0.05, 0.2];

for (const size of SIZES) {
  for (const loss of LOSSES) {
    Deno.test(`transfer ${size >> 10} KiB both ways at ${loss * 100}% loss with reorder and dup`, () => {
      const faults: Faults = {
        loss,
        reorder: loss ? 0.05 : 0,
        dup: loss ? 0.02 : 0,
        delayMs: 5,
        jitterMs: 1,
      };
      for (const seed of LONG ? [1, 2] : [7]) {
        const ms = transfer(seed, size, faults);
        if (LONG) {
          console.log(
            `size ${size} loss ${loss} seed ${seed}: ${ms} ms virtual, ${
              (size * 1.5 / ms / 1000).toFixed(2)
            } MB/s`,
          );
        }
      }
    });
  }
}

Deno.test("transfer over the WASM engine with loss", () => {
  transfer(3, 128 << 10, { loss: 0.05, reorder: 0.05, dup: 0.02, delayMs: 3 }, "wasm");
});

Deno.test("transfer through a bandwidth limit and corruption", () => {
  transfer(11, 256 << 10, { bytesPerMs: 1250, delayMs: 10, corrupt: 0.01 });
});

Deno.test("CUBIC congestion control: transfer under loss, reported in info()", () => {
  const p = new TcpPair({
    seed: 5,
    faults: { loss: 0.02, delayMs: 5 },
    tcpA: { congestion: "cubic" },
    tcpB: { congestion: "cubic" },
  });
  const [c, s] = openPair(p);
  assert.equal(c.info().congestion, "cubic");
  const up = new Stream(c, s, 512 << 10, 9);
  assert.ok(p.run(() => up.done, 600000, () => up.pump()), `seed ${p.seed}`);
  assert.equal(up.bad, -1);
  assert.ok(c.info().ssthresh < 0x7fffffff, "a reduction happened");
});
