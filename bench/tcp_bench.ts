/**
 * TCP engine benchmarks (CPU cost of the sans-I/O engine over the test harness link).
 *
 *   deno bench -A bench/tcp_bench.ts
 *
 * - `transfer 1 MiB`: stream 1 MiB one way between two TcpLayers joined back to back (no loss,
 *   5 ms virtual delay); includes segment building, ACK processing, the stream buffers and the
 *   harness's payload copies. Divide 1 MiB by the time per iteration for the throughput.
 * - `handshake+close`: open, accept and close one connection (both sides to CLOSED).
 *
 * @module
 */
import { TcpPair } from "../tests/support/tcp_pair.ts";
import { openPair, Stream } from "../tests/support/tcp_transfer.ts";

for (const engine of ["js", "wasm"] as const) {
  Deno.bench(`transfer 1 MiB (${engine})`, { group: "transfer", baseline: engine === "js" }, () => {
    const p = new TcpPair({ engine, faults: { delayMs: 5 } });
    const [c, s] = openPair(p);
    const st = new Stream(c, s, 1 << 20, 1, 65536);
    p.run(() => st.done, 600000, () => st.pump());
    if (!st.done || st.bad >= 0) throw new Error("Transfer failed");
  });

  Deno.bench(`handshake+close (${engine})`, { group: "conn", baseline: engine === "js" }, () => {
    const p = new TcpPair({ engine, faults: { delayMs: 1 }, tcpA: { timeWaitMs: 10 } });
    const [c, s] = openPair(p);
    c.close();
    s.close();
    p.run(() => p.a.connectionCount + p.b.connectionCount === 0, 10000);
  });
}
