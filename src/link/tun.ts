/**
 * A Linux TUN device as a {@link Link}: layer 3, IPv4 packets with no Ethernet header and no
 * ARP, as VPN-style programs (WireGuard, tun2socks) use. Opened like a TAP device (same
 * options, offloads on by default with the same fallback, same capabilities), through the
 * same FFI code (tap/device.ts); the interface above still sees Ethernet frames, through the
 * Ethernet face of tap/l3.ts (headers added and removed, the interface's ARP requests
 * answered by the link itself).
 *
 * @module
 */

import { openDevice } from "./tap/tap.ts";
import type { TapLink, TapOptions } from "./tap/types.ts";

/** Options of {@link openTun}: those of `openTap`. */
export type TunOptions = TapOptions;

/** A TUN link: the same shape as a TAP link, `kind` "tun". */
export type TunLink = TapLink;

/**
 * Open (create or attach) a TUN device (`IFF_TUN | IFF_NO_PI`, and by default
 * `IFF_VNET_HDR` with checksum and TSO offloads) as a link. Needs root or CAP_NET_ADMIN and
 * `--allow-ffi`; errors as for `openTap`.
 *
 * @example A TUN device in namespace "demo", the kernel at 10.8.0.1, our stack at 10.8.0.2
 * ```ts ignore
 * import { createStack, openTun } from "./mod.ts";
 * const link = openTun({ name: "tun0", netns: "demo", create: true, peer: "10.8.0.1/24" });
 * const stack = await createStack({ link, address: "10.8.0.2/24" });
 * const http = stack.serve({ port: 8080 }, () => new Response("hello over TUN\n"));
 * // Then: ip netns exec demo ping -c 1 10.8.0.2; ip netns exec demo curl http://10.8.0.2:8080/
 * await http.finished; // Ctrl-C ends it, and deletes namespace "demo" it created
 * await stack.close();
 * ```
 */
export function openTun(options: TunOptions): TunLink {
  return openDevice("tun", options);
}
