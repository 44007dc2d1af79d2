import assert from "node:assert/strict";
import { F_ACK, F_FIN, F_PSH, F_SYN } from "../../src/wire/layout.ts";
import type { TcpConnection } from "../../src/tcp/tcp_layer.ts";
import { IP_B, TcpPair } from "../support/tcp_pair.ts";

function flagNames(f: number): string {
  const n: string[] = [];
  if (f & F_SYN) n.push("SYN");
  if (f & F_FIN) n.push("FIN");
  if (f & F_PSH) n.push("PSH");
  if (f & F_ACK) n.push("ACK");
  return n.join("+");
}

for (const engine of ["js", "wasm"] as const) {
  Deno.test(`seed note worked example, number for number (${engine})`, () => {
    const p = new TcpPair({
      engine,
      capture: true,
      tcpA: { isn: () => 100 },
      tcpB: { isn: () => 2000 },
    });
    const l = p.b.listen(0, 80);
    const c = p.a.connect(IP_B, 80, p.now);
    let s: TcpConnection | null = null;
    assert.ok(p.run(() => c.state === "ESTABLISHED" && (s = l.accept()) !== null, 1000));
    const server = s as unknown as TcpConnection;
    assert.equal(c.write(new Uint8Array(100).fill(7)), 100);
    const buf = new Uint8Array(1000);
    let replied = false;
    let got = 0;
    p.run(() => got === 500 && p.inFlight === 0 && p.a.pollAt() === Infinity, 2000, () => {
      if (!replied && server.readable === 100) {
        assert.equal(server.read(buf), 100);
        server.write(new Uint8Array(500).fill(9));
        replied = true;
      }
      got += c.read(buf);
    });
    const rows = p.captured.map((r) =>
      `${r.from} ${flagNames(r.flags)} SEQ ${r.seq} ACK ${
        r.flags & F_ACK ? r.ack : "-"
      } LEN ${r.len}`
    );
    assert.deepEqual(rows, [
      "a SYN SEQ 100 ACK - LEN 0",
      "b SYN+ACK SEQ 2000 ACK 101 LEN 0",
      "a ACK SEQ 101 ACK 2001 LEN 0",
      "a PSH+ACK SEQ 101 ACK 2001 LEN 100",
      "b PSH+ACK SEQ 2001 ACK 201 LEN 500",
      "a ACK SEQ 201 ACK 2501 LEN 0",
    ]);
    c.abort();
    server.abort();
  });
}
