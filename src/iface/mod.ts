/**
 * The interface layer: Ethernet, ARP, IPv4 (with reassembly), ICMP, UDP and routing for one
 * interface, sans-I/O. Re-exports only.
 *
 * @module
 */

export { Interface } from "./interface.ts";
export type { FrameSink, InterfaceOptions } from "./interface_types.ts";
export { IfaceError, type IfaceErrorCode } from "./errors.ts";
export { type UdpDatagram, UdpSocket } from "./udp.ts";
export { DEFAULT_LIMITS, type IfaceLimits, resolveLimits } from "./limits.ts";
export { formatIpv4, parseIpv4, type Route } from "./routing.ts";
export { formatMac } from "./ethernet.ts";
export type { UdpOwner } from "./udp.ts";
// The TCP seam the Interface implements and calls (settled contracts of other layers).
export type { TcpHandler, TcpIcmpError, TcpIcmpReport, TcpTransmit } from "../tcp/contract.ts";
export { TcpSegment } from "../wire/tcp_segment.ts";
