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
 * Adaptive (hold only while it pays): a hold that ends with the ACK sent alone (the
 * application read first, as a server-speaks-first client, or did nothing in its turn) cost a
 * pass of its own for nothing. One such miss is forgiven; after two in a row the next open
 * does not hold, and every further miss doubles that (1, 2, 4 ... 64 opens); a hold whose ACK
 * rode on data or a FIN resets it. Counted in connections, not time, so the rule is
 * deterministic: a client that always writes first always holds; one that always reads first
 * holds about once per 64 connections.
 *
 * @module
 */

import type { TcpConnection } from "./connection.ts";

/** Opens that skip holding after a run of misses, at most. */
const MAX_SKIP = 64;

/** The connections whose handshake ACK is held, and the adaptive rule. */
export class AckHold {
  /** Held (not yet known to be carried or released). */
  readonly #held: TcpConnection[] = [];
  /** Opens that send their ACK at once before the next hold. */
  #skip = 0;
  /** The skip after the next miss: 0 (one miss forgiven), 1, 2, 4 ... MAX_SKIP; a hit resets. */
  #backoff = 0;
  /** Holds whose ACK rode on data or a FIN, and holds whose ACK went alone (counters). */
  hits = 0;
  misses = 0;

  /** Connections held. */
  get size(): number {
    return this.#held.length;
  }

  /** Whether to hold the handshake ACK of `c` (then it is held here). */
  hold(c: TcpConnection): boolean {
    if (this.#skip > 0) {
      this.#skip--;
      return false;
    }
    this.#held.push(c);
    return true;
  }

  /**
   * After a poll: forget the connections whose ACK went (carried: a hit; released alone by a
   * reading application: a miss) or that closed. Those still held stay.
   */
  settle(): void {
    const h = this.#held;
    let k = 0;
    for (let i = 0; i < h.length; i++) {
      const c = h[i]!;
      if (c.rcv.ackHeld && c.state !== "CLOSED") h[k++] = c;
      else this.#outcome(c);
    }
    h.length = k;
  }

  /** The application had its turn: every ACK still held goes at the next poll (misses). */
  release(): void {
    const h = this.#held;
    for (let i = 0; i < h.length; i++) {
      const c = h[i]!;
      c.releaseAck();
      this.#outcome(c);
    }
    h.length = 0;
  }

  #outcome(c: TcpConnection): void {
    if (c.state === "CLOSED" && !c.rcv.ackCarried) return; // reset or refused: no verdict
    if (c.rcv.ackCarried) {
      this.hits++;
      this.#backoff = 0;
    } else {
      this.misses++;
      this.#skip = this.#backoff;
      this.#backoff = Math.min(MAX_SKIP, Math.max(1, this.#backoff * 2));
    }
    c.rcv.ackCarried = false;
  }
}
