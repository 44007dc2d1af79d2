/**
 * The handshake ACK held for the application's first turn (`TcpLayer.holdHandshakeAck`), and
 * the rule that decides when holding pays.
 *
 * An active open's third segment (the ACK of the peer's SYN-ACK, RFC 9293 3.10.7.3) is owed at
 * once. A client that writes as soon as it is connected (HTTP, TLS: the client speaks first)
 * would send that ACK and, a moment later, its request with the same acknowledgment: holding
 * the ACK until the application had its turn lets the request carry it (RFC 9293 3.10.7.3:
 * "Data or controls that were queued for transmission MAY be included"), one segment and one
 * device write fewer, and the peer's kernel completes the handshake and queues the request
 * in one go. Linux defers that ACK in the same spirit when a write is pending
 * (tcp_rcv_synsent_state_process). RFC 1122 4.2.3.2 bounds any ACK delay at 0.5 s; this one
 * lasts one turn of the application at most.
 *
 * Learned (hold only where it pays): an open holds its ACK only after the application was seen
 * writing at once. An ACK sent alone and followed by the connection's first data or FIN in
 * a few milliseconds, before anything came from the peer, was avoidable: the next open
 * holds. A hold whose ACK rides on data or a FIN keeps holding; one that ends with the ACK
 * sent alone (the application read first, as a server-speaks-first client, or did nothing in
 * its turn) cost a pass of its own for nothing: the next opens send their ACK at once until
 * another avoidable one is seen. So a fresh stack's first connection sends the three
 * segments of the handshake as drawn in RFC 9293 3.5 figure 6, a client that keeps writing
 * first (HTTP, a connection loop) saves one segment per connection from its second on, and
 * one that reads first never pays for a hold after its first miss. Decided from segments and
 * the injected clock only: deterministic.
 *
 * @module
 */

import type { TcpConnection } from "./connection.ts";

/** The connections whose handshake ACK is held, and the rule that decides when to hold. */
export class AckHold {
  /** Held (not yet known to be carried or released): the first `#n` slots (emptied, never
   * truncated, so the array keeps its backing store). */
  readonly #held: (TcpConnection | undefined)[] = [];
  #n = 0;
  /** The application was seen writing at once: the next open holds. */
  #learned = false;
  /** Holds whose ACK rode on data or a FIN (counter). */
  carried = 0;
  /** Holds whose ACK went alone after the application's turn (counter). */
  alone = 0;
  /** Handshake ACKs sent alone that the first data could have carried (counter). */
  avoidable = 0;

  /** Connections held. */
  get size(): number {
    return this.#n;
  }

  /** Whether to hold the handshake ACK of `c` (then it is held here). */
  hold(c: TcpConnection): boolean {
    if (!this.#learned) return false;
    this.#held[this.#n++] = c;
    return true;
  }

  /** A handshake ACK that went alone was followed at once by the first data or FIN. */
  avoidableSeen(): void {
    this.avoidable++;
    this.#learned = true;
  }

  /**
   * After a poll: forget the connections whose ACK went (carried, or released alone by a
   * reading application) or that closed. Those still held stay.
   */
  settle(): void {
    const h = this.#held;
    const n = this.#n;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const c = h[i]!;
      h[i] = undefined;
      if (c.rcv.ackHeld && c.state !== "CLOSED") h[k++] = c;
      else this.#outcome(c);
    }
    this.#n = k;
  }

  /** The application had its turn: every ACK still held goes at the next poll. */
  release(): void {
    const h = this.#held;
    const n = this.#n;
    this.#n = 0;
    for (let i = 0; i < n; i++) {
      const c = h[i]!;
      h[i] = undefined;
      c.releaseAck();
      this.#outcome(c);
    }
  }

  #outcome(c: TcpConnection): void {
    if (c.rcv.ackCarried) {
      this.carried++;
      c.rcv.ackCarried = false;
    } else if (c.state !== "CLOSED") { // a reset or refused one gives no verdict
      this.alone++;
      this.#learned = false;
    }
  }
}
