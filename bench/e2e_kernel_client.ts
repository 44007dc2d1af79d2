/**
 * The reference client of the latency rows, on the kernel's own TCP (Deno.connect): run inside
 * a benchmark namespace by bench/e2e.ts, it measures exactly as our stack's rows do (the same
 * loops from e2e_loops.ts) and prints one JSON line.
 *
 *   deno run -A bench/e2e_kernel_client.ts rr|cps <host> <port> <seconds>
 *
 * @module
 */

import { cpsLoop, type LoopConn, rrLoop } from "./e2e_loops.ts";

if (import.meta.main) {
  const [mode, host, portText, secondsText] = Deno.args;
  const port = Number(portText);
  const seconds = Number(secondsText);
  if (!host || !Number.isInteger(port) || !(seconds > 0)) {
    throw new TypeError("Usage: e2e_kernel_client.ts rr|cps <host> <port> <seconds>");
  }
  if (mode === "rr") {
    const conn = await Deno.connect({ hostname: host, port });
    conn.setNoDelay(true);
    const r = await rrLoop(conn, { seconds, maxCount: 200000, warmup: 200 });
    conn.close();
    console.log(JSON.stringify(r));
  } else if (mode === "cps") {
    const r = await cpsLoop(
      async (): Promise<LoopConn> => await Deno.connect({ hostname: host, port }),
      { seconds, maxCount: 20000 },
    );
    console.log(JSON.stringify(r));
  } else {
    throw new TypeError(`Unknown mode ${mode}`);
  }
}
