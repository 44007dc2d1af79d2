/**
 * The option, counter and link types of the TAP and TUN links (tap.ts, tun.ts).
 *
 * @module
 */

import type { ChecksumFn, Link } from "../link.ts";

/** Options of `openTap` (and `openTun`). */
export interface TapOptions {
  /** Device name, at most 15 bytes ("tap0"; "tap%d" lets the kernel pick the number). */
  name: string;
  /** IP MTU to set on the device (68..65535). Left as it is when absent (1500 for new ones). */
  mtu?: number;
  /**
   * true: create a new device, failing when the name exists. false: attach to an existing
   * device, failing when it does not exist. Absent: attach when it exists, else create.
   */
  create?: boolean;
  /**
   * Name of a network namespace (`ip netns add <name>`) to create or attach the device in.
   * With `create: true`, a namespace that does not exist is created (with the `ip` command,
   * so `--allow-run` is needed) and deleted again when the link closes or the process ends
   * first: SIGINT, SIGTERM or SIGHUP (the handler then exits with 130, 143 or 129), an
   * uncaught error, `Deno.exit()` or the end of the program (only SIGKILL leaves it). An absolute path
   * ("/proc/1234/ns/net", a bind-mounted namespace file) names the namespace file itself.
   */
  netns?: string;
  /**
   * The kernel's side of the link, with prefix length ("10.7.0.1/24"): when given, openTap
   * assigns this address to the device (in `netns` when given) before bringing it up, so the
   * kernel can reach the stack at once. Our stack's own address is never configured in the
   * kernel. Absent: the device is brought up without an address. A list may add IPv6 ones
   * (`["10.7.0.1/24", "fd00::1/64"]`); the kernel's duplicate address detection is turned off
   * for the device so they are usable at once.
   */
  peer?: string | string[];
  /**
   * Transmit queue length of the device: frames the kernel queues for us before it drops.
   * Default 10000 when openTap creates the device (the kernel's default of 1000 dropped
   * ~25,000 frames under 10,000 connections); left as it is when attaching.
   */
  txQueueLen?: number;
  /**
   * Checksum and segmentation offload (`IFF_VNET_HDR`, `TUN_F_CSUM | TUN_F_TSO4`), default
   * true: the kernel sends TCP segments of up to 64 KiB, received as single frames larger than
   * the MTU (`receive()` needs 65553 bytes of room per frame, see `maxFrame`), and takes the
   * segments the stack sends merged into large frames (see `cork`). When the kernel refuses
   * the offloads, the device is opened without them (`offloadRefused` says why). false: plain
   * frames of at most mtu + 18 bytes.
   */
  offload?: boolean;
  /**
   * With `offload`: the Internet checksum used to complete partial checksums (default the JS
   * engine's `jsChecksum`; the stack can hand in its engine's with `TapLink.useChecksum`).
   */
  checksum?: ChecksumFn;
  /**
   * Busy polling (as Linux `busy_poll`): within 1 ms of the last frame received, a wait first
   * lets the event loop run what is queued, then checks the device without parking for up to
   * this many microseconds before it parks a poll (whose wake-up costs tens of microseconds).
   * Trades that much CPU per wait for request/response latency; an idle link never spins.
   * Adaptive: after two spins in a row that end without a frame the next waits park at once
   * (1, then 2, 4 ... up to 64 waits per further miss), and a spin that finds one resets
   * that, so a link whose frames arrive slowly (a starved bulk receiver) spins almost never. Default 50; 0 turns it off.
   */
  busyPollUs?: number;
}

/** Counters of a TAP link. */
export interface TapStats {
  /** Frames read from the device. */
  rxFrames: number;
  /** Reads that found the device empty (EAGAIN): the cost of looking, with nothing there. */
  rxDryReads: number;
  /** Bytes of those frames. */
  rxBytes: number;
  /** Frames written to the device. */
  txFrames: number;
  /** Bytes of those frames. */
  txBytes: number;
  /** Frames the kernel refused on write (device down, no buffer space). */
  txErrors: number;
  /** Waits that parked a poll in another thread. */
  parkedWaits: number;
  /** Waits answered at once by the zero-timeout poll. */
  readyWaits: number;
  /** Waits answered by busy polling (see `busyPollUs`). */
  busyPollHits: number;
  /** Busy polls that ended without a frame (then the wait parked). */
  busyPollMisses: number;
  /** Waits that parked at once although busy polling applied, after misses (adaptive). */
  busyPollSkips: number;
  /** With offload: frames the kernel sent as one large segment (GSO type not NONE). */
  rxGsoFrames: number;
  /** With offload: frames whose partial checksum we completed (VIRTIO_NET_HDR_F_NEEDS_CSUM). */
  rxChecksumsCompleted: number;
  /**
   * With offload: frames whose partial checksum was left as it came, vouched for instead
   * (`keepPartialChecksums(true)`, the driver's default without a trace observer).
   */
  rxChecksumsKept: number;
  /** Largest frame read, in bytes (above mtu + 14 only with offload). */
  rxLargestFrame: number;
  /** With offload: frames dropped for a virtio-net header that does not fit the frame. */
  rxBadHeader: number;
  /**
   * With offload: GSO frames written, merged here (each carries `txMerged` segments in all) or
   * built large by TCP (TSO).
   */
  txGsoFrames: number;
  /** With offload: segments sent inside merged frames (counted in `txFrames` too). */
  txMerged: number;
  /** TUN: ARP requests of the interface answered by the link itself (no ARP on a TUN). */
  arpAnswered: number;
  /** TUN: IPv6 Neighbor Solicitations of the interface answered by the link itself. */
  ndAnswered: number;
  /** TUN: frames not sent because they carried neither IP nor ARP. */
  txDropped: number;
}

/** A TAP (or TUN) link: a {@link Link} plus the device name, its descriptor and counters. */
export interface TapLink extends Link {
  /** "tap" (Ethernet frames) or "tun" (IP packets behind an Ethernet face). */
  readonly kind: "tap" | "tun";
  /** The device name the kernel gave (differs from the option when it held "%d"). */
  readonly ifname: string;
  /** The file descriptor of the open `/dev/net/tun`, or -1 once closed. */
  readonly fd: number;
  /** Counters. */
  readonly stats: TapStats;
  /** True when the device runs with offloads (`TapOptions.offload`, not refused). */
  readonly offload: boolean;
  /** Why the kernel refused the offloads asked for (the device runs without), or null. */
  readonly offloadRefused: string | null;
  /** With offload: 65553, the largest frame `receive()` returns; else undefined. */
  readonly maxFrame: number | undefined;
  /**
   * TAP with offload: 65553, the largest TCP segment `send()` takes (TSO: TCP builds segments
   * of several MSS, the kernel cuts them at the MTU when it must); else undefined.
   */
  readonly maxSendFrame: number | undefined;
  /** The counters as `tap-<name>` (or `tun-<name>`), plus `tap-offload` (1 or 0). */
  counters(): Record<string, number>;
  /**
   * Use `fn` to complete partial checksums of offloaded frames (for example the WASM
   * engine's checksum, which is faster than the default JS one).
   */
  useChecksum(fn: ChecksumFn): void;
  /**
   * With offload: true when frame `i` of the last `receive()` came with a partial checksum
   * (completed by `receive()`) or one the kernel verified, so its TCP/UDP checksum needs no
   * second check (`Link.rxChecksumValid`). Without offload: false.
   */
  rxChecksumValid(i: number): boolean;
  /**
   * With offload and `keep` true: leave the partial checksums of frames `rxChecksumValid`
   * vouches for as the kernel wrote them (`Link.keepPartialChecksums`). Default false.
   */
  keepPartialChecksums(keep: boolean): void;
  /**
   * With offload: from now on, hold consecutive TCP segments of a flow to send them as one
   * large frame (the kernel takes it whole). Without offload, does nothing.
   */
  cork(): void;
  /** Send what `cork()` held and stop holding. */
  uncork(): void;
}
