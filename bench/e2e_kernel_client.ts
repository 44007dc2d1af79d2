/**
 * The reference client of the latency rows, on the kernel's own TCP (Deno.connect): run inside
 * a benchmark namespace by bench/e2e.ts, it measures exactly as our stack's rows do (the same
 * loops from e2e_loops.ts) and prints one JSON line.
 *
 *   deno run -A bench/e2e_kernel_client.ts rr|cps|crr <host> <port> <seconds> [concurrency]
 *   deno run -A bench/e2e_kernel_client.ts sink|source <host> <port> <seconds> <max> <warmup>
 *   deno run -A bench/e2e_kernel_client.ts serve:<app> <host> <port> <seconds> <max> <warmup>
 *
 * "sink" listens on host:port for one connection and reads (opposite socat's source), "source"
 * connects and writes (opposite socat's sink): the bulk loops over kernel sockets, to show
 * what the socat peer of our TAP rows can carry. "serve:<app>" listens on host:port and plays
 * the role the application <app> of e2e_apps.ts needs, as our stack does in its rows.
 *
 * @module
 */

import {
  cpsConcurrentLoop,
  cpsLoop,
  type LoopConn,
  rrLoop,
  sinkLoop,
  sourceLoop,
} from "./e2e_loops.ts";
import { APPS, playRole } from "./e2e_apps.ts";

if (import.meta.main) {
  const [mode, host, portText, secondsText, maxText, warmText] = Deno.args;
  const port = Number(portText);
  const seconds = Number(secondsText);
  if (!host || !Number.isInteger(port) || !(seconds > 0)) {
    throw new TypeError("Usage: e2e_kernel_client.ts rr|cps|crr <host> <port> <seconds>");
  }
  if (mode === "rr") {
    const conn = await Deno.connect({ hostname: host, port });
    conn.setNoDelay(true);
    const r = await rrLoop(conn, { seconds, maxCount: 200000, warmup: 200 });
    conn.close();
    console.log(JSON.stringify(r));
  } else if (mode === "cps" || mode === "crr") {
    // The optional fifth argument: clients in flight at once (1: one after another).
    const concurrency = Number(maxText ?? 1);
    const connect = async (): Promise<LoopConn> => await Deno.connect({ hostname: host, port });
    const request = mode === "crr";
    const r = concurrency > 1
      ? await cpsConcurrentLoop(connect, { seconds, maxCount: 100000, request, concurrency })
      : await cpsLoop(connect, { seconds, maxCount: 20000, request });
    console.log(JSON.stringify(r));
  } else if (mode?.startsWith("serve:")) {
    const app = APPS[mode.slice(6)];
    if (!app) throw new TypeError(`Unknown application ${mode}`);
    const limits = { seconds, maxBytes: Number(maxText), warmupBytes: Number(warmText) };
    const listener = Deno.listen({ hostname: host, port });
    const conn = await listener.accept();
    listener.close();
    const r = await playRole(conn, app.role, limits);
    conn.close();
    console.log(JSON.stringify(r));
  } else if (mode === "sink" || mode === "source") {
    const limits = { seconds, maxBytes: Number(maxText), warmupBytes: Number(warmText) };
    if (!(limits.maxBytes > 0) || !(limits.warmupBytes >= 0)) {
      throw new TypeError(
        "Usage: e2e_kernel_client.ts sink|source <host> <port> <s> <max> <warmup>",
      );
    }
    let conn: Deno.TcpConn;
    if (mode === "sink") {
      const listener = Deno.listen({ hostname: host, port });
      conn = await listener.accept();
      listener.close();
    } else conn = await Deno.connect({ hostname: host, port });
    const r = mode === "sink" ? await sinkLoop(conn, limits) : await sourceLoop(conn, limits);
    conn.close();
    console.log(JSON.stringify(r));
  } else {
    throw new TypeError(`Unknown mode ${mode}`);
  }
}
