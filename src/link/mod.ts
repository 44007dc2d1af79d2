/**
 * The links: whole Ethernet frames in and out. A TAP device through FFI, an in-memory pair,
 * and decorators that wrap any link (pcap writer, fault injector). Re-exports only.
 *
 * @module
 */

export type { Link } from "./link.ts";
export { openTap, type TapLink, type TapOptions, type TapStats } from "./tap/tap.ts";
export type { ChecksumFn } from "./tap/vnet.ts";
export {
  createMemoryLinkPair,
  type MemoryLink,
  type MemoryLinkOptions,
  type MemoryLinkStats,
} from "./memory.ts";
export { type PcapLink, type PcapOptions, withPcap } from "./pcap.ts";
export { type FaultLink, type FaultOptions, type FaultStats, withFaults } from "./fault.ts";
