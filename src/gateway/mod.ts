/**
 * The gateway (issue 20): our stack as a slirp4netns-style user-mode gateway. Re-exports only.
 *
 * @module
 */

export { createGateway, Gateway, type GatewayOptions } from "./gateway.ts";
export { GATEWAY_LIMITS, type GatewayLimits } from "./config.ts";
export { Forward, type ForwardSpec, parseForward } from "./forward.ts";
