/**
 * Every conformance case, in run order. A case drives the bench and the agent and returns an
 * abstract observation string; the same string from Linux and from our stack means agreement.
 */

import { HANDSHAKE_CASES } from "./cases_handshake.ts";
import { ESTABLISHED_CASES } from "./cases_established.ts";
import { SEND_CASES } from "./cases_send.ts";
import { CLOSE_CASES } from "./cases_close.ts";
import { EXTENSION_CASES } from "./cases_extensions.ts";
import { TIMER_CASES } from "./cases_timers.ts";
import { IP_CASES, IP_MORE_CASES } from "./cases_ip.ts";
import type { Ctx } from "./harness.ts";

/** One scripted case. */
export interface Case {
  /** packetimpact-style name: what it checks. */
  name: string;
  /** The requirement it checks ("RFC 9293 3.10.7.2 ...", with its MUST-n label where it has one). */
  rfc: string;
  /** Drive the DUT; return what was observed. */
  run(ctx: Ctx): Promise<string>;
}

/** All cases. */
export const CASES: Case[] = [
  ...HANDSHAKE_CASES,
  ...ESTABLISHED_CASES,
  ...SEND_CASES,
  ...CLOSE_CASES,
  ...EXTENSION_CASES,
  ...TIMER_CASES,
  ...IP_CASES,
  ...IP_MORE_CASES,
];
