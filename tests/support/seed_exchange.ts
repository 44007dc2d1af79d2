/**
 * The seed note's worked example between two whole stacks over a memory link in virtual time:
 * the client (ISN 100) connects to the server (ISN 2000), sends 100 bytes, the server answers
 * 500, the client acknowledges 2501. Used by the trace API, ladder and plot tests.
 */

import { createMemoryLinkPair, createStack, type NetStack } from "../../mod.ts";
import { Simulation, VirtualClock } from "../../testing.ts";

/** Two stacks on one virtual clock; `pcap` captures the client's frames. */
export interface SeedWorld {
  client: NetStack;
  server: NetStack;
  sim: Simulation;
  close(): Promise<void>;
}

/** Build the world (client 10.9.0.1 ISN 100, server 10.9.0.2 ISN 2000). */
export async function seedWorld(pcap?: string): Promise<SeedWorld> {
  const clock = new VirtualClock();
  const [la, lb] = createMemoryLinkPair();
  const client = await createStack({
    link: la,
    address: "10.9.0.1/24",
    engine: "js",
    clock,
    tcp: { isn: () => 100 },
    ...(pcap ? { pcap } : {}),
  });
  const server = await createStack({
    link: lb,
    address: "10.9.0.2/24",
    engine: "js",
    clock,
    tcp: { isn: () => 2000 },
  });
  const sim = new Simulation(clock, [client, server]);
  return {
    client,
    server,
    sim,
    async close() {
      await client.close();
      await server.close();
    },
  };
}

/**
 * Run the exchange: connect to port 80, 100 bytes up, 500 down, then let the delayed ACK of
 * the 500 bytes leave (virtual time runs 1 s further). Returns the client's local port.
 */
export async function seedExchange(w: SeedWorld): Promise<number> {
  const listener = w.server.listen({ port: 80 });
  const accepted = listener.accept();
  const conn = await w.sim.run(w.client.connect({ hostname: "10.9.0.2", port: 80 }));
  const peer = await w.sim.run(accepted);
  await w.sim.run(conn.write(new Uint8Array(100).fill(7)));
  const buf = new Uint8Array(1000);
  let got = 0;
  while (got < 100) got += (await w.sim.run(peer.read(buf.subarray(got)))) ?? 0;
  await w.sim.run(peer.write(new Uint8Array(500).fill(9)));
  got = 0;
  while (got < 500) got += (await w.sim.run(conn.read(buf.subarray(got)))) ?? 0;
  await w.sim.advance(1000);
  listener.close();
  return conn.localAddr.port;
}
