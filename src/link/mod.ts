/**
 * The links: whole Ethernet frames in and out. TAP and TUN devices through FFI, an in-memory pair,
 * and decorators that wrap any link (pcap writer, fault injector). Re-exports only.
 *
 * @module
 */

export type { ChecksumFn, Link } from "./link.ts";
export { openTap, type TapLink, type TapOptions, type TapStats } from "./tap/tap.ts";
export { openTun, type TunLink, type TunOptions } from "./tun.ts";
export {
  createMemoryLinkPair,
  type MemoryLink,
  type MemoryLinkOptions,
  type MemoryLinkStats,
} from "./memory.ts";
export { type PcapLink, type PcapOptions, withPcap } from "./pcap.ts";
export { type FaultLink, type FaultOptions, type FaultStats, withFaults } from "./fault.ts";
