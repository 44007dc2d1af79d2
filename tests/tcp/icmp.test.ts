/** ICMP errors for TCP (RFC 1122 4.2.3.9, RFC 5927; RFC 1191 fragmentation-needed). */

import assert from "node:assert/strict";
import { IP_B, TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

Deno.test("ICMP: port unreachable refuses a connecting socket; frag-needed lowers the MSS", () => {
  const p = new TcpPair({ faults: { delayMs: 5 } });
  p.blackhole.a = true;
  const c = p.a.connect(IP_B, 80, p.now);
  p.poll();
  p.a.icmpError(
    {
      kind: "port-unreachable",
      localIp: c.localIp,
      localPort: c.localPort,
      remoteIp: c.remoteIp,
      remotePort: c.remotePort,
      seq: c.info().bytesOut + c.snd.iss,
      mtu: 0,
    },
    p.now,
  );
  assert.equal(c.error?.code, "refused");
  const q = new TcpPair({ capture: true, faults: { delayMs: 5 } });
  const [d] = openPair(q);
  d.write(new Uint8Array(3000));
  q.poll();
  const first = q.captured.filter((r) => r.from === "a" && r.len > 0)[0]!;
  q.a.icmpError(
    {
      kind: "fragmentation-needed",
      localIp: d.localIp,
      localPort: d.localPort,
      remoteIp: d.remoteIp,
      remotePort: d.remotePort,
      seq: first.seq,
      mtu: 1000,
    },
    q.now,
  );
  assert.equal(d.info().mss, 1000 - 40 - 12);
  q.captured.length = 0;
  q.poll();
  assert.ok(q.captured.every((r) => r.len <= 948));
  q.advance(200);
});
