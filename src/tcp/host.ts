/**
 * What a connection needs from its layer (internal): the engine, the transmit seam, a reusable
 * outgoing segment, counters, scheduling and removal.
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpTransmit } from "./contract.ts";
import type { TcpConnection } from "./connection.ts";

/** The layer as its connections see it. */
export interface ConnHost {
  /** The hot-path engine (buffers). */
  readonly engine: Engine;
  /** The layer below. */
  readonly tx: TcpTransmit;
  /** The reusable outgoing segment. */
  readonly out: TcpSegment;
  /** Count one layer event or drop reason. */
  count(name: string): void;
  /** A timer of `c` is due at `at`. */
  schedule(at: number): void;
  /** `c` has output to flush at the next poll. */
  markDirty(c: TcpConnection): void;
  /** `c` reached CLOSED: forget it. */
  release(c: TcpConnection): void;
  /** A passive connection became established (hand to its listener). */
  established(c: TcpConnection): void;
  /** Challenge ACK budget (RFC 5961 section 7): true when one may be sent now. */
  challengeAllowed(now: number): boolean;
}
