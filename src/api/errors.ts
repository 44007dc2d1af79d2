/**
 * Mapping of TCP and interface layer errors to Deno's own error classes, with messages that
 * say what happened and to which address.
 *
 * | layer code      | Deno class                       |
 * | --------------- | -------------------------------- |
 * | refused         | `Deno.errors.ConnectionRefused`  |
 * | reset           | `Deno.errors.ConnectionReset`    |
 * | timed-out       | `Deno.errors.TimedOut`           |
 * | broken-pipe     | `Deno.errors.BrokenPipe`         |
 * | addr-in-use     | `Deno.errors.AddrInUse`          |
 * | not-connected   | `Deno.errors.NotConnected`       |
 * | unreachable     | `Deno.errors.NetworkUnreachable` (like Linux ENETUNREACH/EHOSTUNREACH) |
 * | aborted         | `Deno.errors.ConnectionAborted`  |
 * | closed          | `Deno.errors.BadResource`        |
 *
 * A caller's AbortSignal gives `Deno.errors.Interrupted`.
 *
 * @module
 */

import { IfaceError, type IfaceErrorCode } from "../iface/errors.ts";
import { TcpError, type TcpErrorCode } from "../tcp/types.ts";

/**
 * The error codes of the TCP and interface layers: one union, whose source is the TCP layer's
 * `TcpErrorCode` (the interface layer's codes are a subset of it).
 */
export type LayerErrorCode = TcpErrorCode | IfaceErrorCode;

/**
 * Turn a layer error code into the matching Deno error, its message naming `where`
 * (an "ip:port" text). Exhaustive: a new code does not compile until it is mapped here.
 *
 * @example Map a refused connection
 * ```ts
 * import { toDenoError } from "./errors.ts";
 * const e = toDenoError("refused", "10.7.0.1:8080");
 * if (!(e instanceof Deno.errors.ConnectionRefused)) throw new Error("wrong class");
 * ```
 */
export function toDenoError(code: LayerErrorCode, where: string): Error {
  switch (code) {
    case "refused":
      return new Deno.errors.ConnectionRefused(`Connection refused by ${where}`);
    case "reset":
      return new Deno.errors.ConnectionReset(`Connection reset by ${where}`);
    case "timed-out":
      return new Deno.errors.TimedOut(`Connection to ${where} timed out`);
    case "broken-pipe":
      return new Deno.errors.BrokenPipe(`Cannot write to ${where}: the sending side is closed`);
    case "addr-in-use":
      return new Deno.errors.AddrInUse(`Address ${where} is already in use`);
    case "not-connected":
      return new Deno.errors.NotConnected(`Not connected to ${where}`);
    case "unreachable":
      return new Deno.errors.NetworkUnreachable(`No route to ${where}`);
    case "aborted":
      return new Deno.errors.ConnectionAborted(`Connection to ${where} was aborted`);
    case "closed":
      return new Deno.errors.BadResource(`Connection to ${where} is closed`);
    default: {
      const unmapped: never = code;
      return new Error(`Connection to ${where} failed: ${String(unmapped)}`);
    }
  }
}

/**
 * Map an exception thrown by a layer call: a `TcpError` or `IfaceError` becomes the matching
 * Deno error (its `cause` the layer error); anything else (caller misuse such as TypeError,
 * RangeError) passes through unchanged.
 *
 * @example Pass through a TypeError
 * ```ts
 * import { mapLayerError } from "./errors.ts";
 * const e = new TypeError("bad");
 * if (mapLayerError(e, "10.7.0.1:80") !== e) throw new Error("changed");
 * ```
 */
export function mapLayerError(err: unknown, where: string): unknown {
  if (err instanceof TcpError || err instanceof IfaceError) {
    const mapped = toDenoError(err.code, where);
    mapped.cause = err;
    return mapped;
  }
  return err;
}
