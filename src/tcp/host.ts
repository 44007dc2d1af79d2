/**
 * What a connection needs from its layer. The interface lives in connection.ts (so that the
 * connection imports nothing that imports it back); this module names it for the listener and
 * the replies.
 *
 * @module
 */

export type { ConnHost } from "./connection.ts";
