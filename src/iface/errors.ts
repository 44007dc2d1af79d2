/**
 * The error the interface layer throws for conditions a caller catches.
 *
 * @module
 */

import type { TcpErrorCode } from "../tcp/types.ts";

/** Why an interface-layer call failed: the codes of the layer error union it uses. */
export type IfaceErrorCode = Extract<TcpErrorCode, "addr-in-use" | "unreachable" | "closed">;

/**
 * A failure the caller may handle: the port is taken, the destination has no route, the
 * socket is closed.
 *
 * @example
 * ```ts
 * import { IfaceError } from "./errors.ts";
 * const e = new IfaceError("unreachable", "No route to 10.9.9.9");
 * if (e.code !== "unreachable") throw new Error("bad code");
 * ```
 */
export class IfaceError extends Error {
  /** The condition, for programs to branch on. */
  readonly code: IfaceErrorCode;

  /** Create an error with its code and a sentence-case message. */
  constructor(code: IfaceErrorCode, message: string) {
    super(message);
    this.name = "IfaceError";
    this.code = code;
  }
}
