/**
 * The ACK of a peer's FIN waits (delayed ACK, RFC 1122 4.2.3.2; Linux tcp_fin enters pingpong
 * mode) so that the application's FIN, usually right behind, carries it: three segments of
 * ours per short-lived connection instead of four. When the application does not close, the
 * ACK still leaves within the delayed-ACK time.
 */
import assert from "node:assert/strict";
import { F_ACK, F_FIN } from "../../src/wire/layout.ts";
import { TcpPair } from "../support/tcp_pair.ts";
import { openPair } from "../support/tcp_transfer.ts";

Deno.test("FIN ACK: an application that closes at once sends one FIN+ACK, no pure ACK first", () => {
  const p = new TcpPair({ capture: true });
  const [c, s] = openPair(p);
  const from = p.captured.length;
  s.close(); // the server closes first (as a server that answers and closes)
  assert.ok(p.run(() => c.state === "CLOSE-WAIT", 1000)); // the application sees EOF
  c.close(); // at once, as the client reading EOF would
  assert.ok(p.run(() => c.state === "TIME-WAIT" || c.state === "CLOSED", 1000));
  const ours = p.captured.slice(from).filter((x) => x.from === "a");
  assert.equal(ours.length, 1, JSON.stringify(ours.map((x) => x.flags)));
  assert.equal(ours[0]!.flags & (F_FIN | F_ACK), F_FIN | F_ACK);
});

Deno.test("FIN ACK: an application that does not close still ACKs the FIN within the delayed-ACK time", () => {
  const p = new TcpPair({ capture: true });
  const [c, s] = openPair(p);
  const from = p.captured.length;
  s.close();
  const finAt = p.now;
  assert.ok(p.run(() => c.state === "CLOSE-WAIT", 1000));
  assert.ok(p.run(() => s.state === "FIN-WAIT-2", 1000));
  const ack = p.captured.slice(from).find((x) => x.from === "a")!;
  assert.equal(ack.flags, F_ACK);
  assert.ok(ack.at - finAt <= 40 + 2, `ACK after ${ack.at - finAt} ms`);
  assert.ok(ack.at - finAt >= 40 - 2, `ACK after ${ack.at - finAt} ms: not delayed`);
});
