/**
 * Opening a Linux TAP (or TUN) device as a {@link Link}, through `Deno.dlopen` on libc:
 * `/dev/net/tun` opened non-blocking, `TUNSETIFF` with `IFF_TAP | IFF_NO_PI` (TUN:
 * `IFF_TUN | IFF_NO_PI`), and by default `IFF_VNET_HDR` with `TUNSETOFFLOAD` (checksum and
 * TSO both ways, see device.ts). The link itself is device.ts; waiting is wait.ts.
 *
 * Offload fallback: when the kernel refuses the virtio-net header or the offloads (an old
 * kernel, a device created elsewhere with other flags), the descriptor is closed and the
 * device opened again without them; `offloadRefused` says what failed. Nothing above the
 * link changes: frames are then at most mtu + 18 bytes.
 *
 * Namespaces: with `netns`, the calling thread enters `/var/run/netns/<netns>` with `setns`
 * for the duration of `openTap` (creating or attaching the device, its MTU, transmit queue,
 * the kernel side's address (`peer`) and IFF_UP, all by ioctl), then returns to its own
 * namespace. The device is born inside the namespace and never exists in the main one; the
 * open file keeps working from any namespace. With `create: true`, a namespace that does not
 * exist yet is created (`ip netns add`) and deleted again when the link closes, or when the
 * process ends first (SIGINT, SIGTERM, SIGHUP, an uncaught error, `Deno.exit`).
 *
 * @module
 */

import type { Link } from "../link.ts";
import type { TapLink, TapOptions, TapStats } from "./types.ts";
export type { Link, TapLink, TapOptions, TapStats };
import {
  checkIfName,
  configure,
  enableOffload,
  enterNetns,
  openError,
  parsePeers,
  setIffError,
} from "./setup.ts";
import { jsChecksum } from "../../kernels/js/checksum.ts";
import { TapDevice } from "./device.ts";
import { createNamedNetns, deleteNamedNetns, netnsExists } from "./netns_admin.ts";
import {
  cString,
  EINVAL,
  errnoNow,
  IFF_NO_PI,
  IFF_TAP,
  IFF_TUN,
  IFF_TUN_EXCL,
  IFF_VNET_HDR,
  IFNAMSIZ,
  IFREQ_SIZE,
  type Libc,
  libc,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  TUNSETIFF,
} from "./libc.ts";

/** Default transmit queue of a device openTap creates (frames). */
export const CREATED_TX_QUEUE = 10000;

/**
 * Open (create or attach) a TAP device as a link. Needs root or CAP_NET_ADMIN and
 * `--allow-ffi`. Throws `Deno.errors.NotFound` (no `/dev/net/tun`, missing device or
 * namespace), `PermissionDenied`, `AlreadyExists`, `Busy`, `RangeError` (name over 15 bytes,
 * MTU out of range) or `TypeError` (bad name, bad `peer`), each with a message saying what
 * failed. Offloads are on by default and fall back transparently when refused.
 *
 * @example A device in namespace "demo" that the kernel there reaches at once
 * ```ts ignore
 * import { openTap } from "./mod.ts";
 * const link = openTap({ name: "tap0", netns: "demo", create: true, peer: ["10.7.0.1/24", "fd00::1/64"] });
 * const meta = new Int32Array(128);
 * await link.wait(1000);
 * const n = link.receive(new Uint8Array(1 << 20), meta, 64);
 * link.close();
 * ```
 */
export function openTap(options: TapOptions): TapLink {
  return openDevice("tap", options);
}

/**
 * Open a TAP (`kind` "tap") or TUN ("tun") device: see {@link openTap}. `c` is the libc to
 * call (tests pass one that refuses offloads).
 */
export function openDevice(kind: "tap" | "tun", options: TapOptions, c?: Libc): TapLink {
  const label = kind.toUpperCase();
  const name = options?.name;
  checkIfName(name);
  const mtu = options.mtu;
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    throw new RangeError(`${label} MTU must be an integer from 68 to 65535, got ${mtu}`);
  }
  const peers = options.peer === undefined ? undefined : parsePeers(options.peer);
  const peer = peers?.v4;
  const qlen = options.txQueueLen;
  if (qlen !== undefined && (!Number.isInteger(qlen) || qlen < 1 || qlen > 1_000_000)) {
    throw new RangeError(`${label} txQueueLen must be an integer from 1 to 1000000, got ${qlen}`);
  }
  const busy = options.busyPollUs ?? 50;
  if (!(busy >= 0 && busy <= 1_000_000)) {
    throw new RangeError(`${label} busyPollUs must be from 0 to 1000000, got ${busy}`);
  }
  const lib = c ?? libc();
  let ownNetns: string | null = null;
  if (options.netns !== undefined && options.create === true && !netnsExists(options.netns)) {
    createNamedNetns(options.netns);
    ownNetns = options.netns;
  }
  const cleanup = ownNetns === null ? undefined : deleteOnSignal(ownNetns);
  try {
    const want = options.offload ?? true;
    let opened: Opened;
    let refused: string | null = null;
    try {
      opened = openInNetns(lib, kind, options, want, peer);
    } catch (e) {
      if (!(e instanceof OffloadRefused)) throw e;
      refused = e.message;
      opened = openInNetns(lib, kind, options, false, peer);
    }
    return new TapDevice(lib, opened.fd, opened.ifname, opened.mtu, {
      kind,
      offload: want && refused === null,
      offloadRefused: refused,
      checksum: options.checksum ?? jsChecksum,
      busyPollUs: busy,
      ...(cleanup ? { onClose: cleanup } : {}),
    });
  } catch (e) {
    cleanup?.();
    throw e;
  }
}

/**
 * Delete the namespace openTap created when the link closes, and also when the process ends
 * before that: a namespace outlives its process (`ip netns add` pins it), so Ctrl-C on a
 * program, or a program that exits or crashes without closing the link, would otherwise leave
 * it behind. SIGINT, SIGTERM and SIGHUP delete it and exit with 128 + the signal number, as
 * the default action would; an uncaught error or unhandled rejection (the process is about to
 * die) and the `unload` event (`Deno.exit`, or the program's end) delete it too. Only SIGKILL
 * leaves it (`ip netns delete <name>`). The listeners are removed on close.
 */
function deleteOnSignal(name: string): () => void {
  const signals: [Deno.Signal, number][] = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]];
  const handlers = signals.map(([sig, code]) => {
    const h = () => {
      deleteNamedNetns(name);
      Deno.exit(code);
    };
    try {
      Deno.addSignalListener(sig, h);
    } catch { /* signals unavailable here: cleanup on close only */ }
    return [sig, h] as const;
  });
  const onEnd = (e: { defaultPrevented: boolean }) => {
    if (!e.defaultPrevented) deleteNamedNetns(name); // a handled error keeps the program alive
  };
  const events = ["unload", "error", "unhandledrejection"];
  for (const ev of events) globalThis.addEventListener(ev, onEnd);
  return () => {
    for (const [sig, h] of handlers) {
      try {
        Deno.removeSignalListener(sig, h);
      } catch { /* never added */ }
    }
    for (const ev of events) globalThis.removeEventListener(ev, onEnd);
    deleteNamedNetns(name);
  };
}

/** The kernel refused IFF_VNET_HDR or the offloads: open again without them. */
class OffloadRefused extends Error {}

interface Opened {
  fd: number;
  ifname: string;
  mtu: number;
}

/** Enter the namespace, open and set up the device, leave; closes the fd on any failure. */
function openInNetns(
  c: Libc,
  kind: "tap" | "tun",
  options: TapOptions,
  offload: boolean,
  peer: { address: number; prefixLength: number } | undefined,
): Opened {
  const name = options.name;
  const label = kind.toUpperCase();
  const restore = options.netns === undefined ? () => {} : enterNetns(c, options.netns);
  let fd = -1;
  try {
    const exists = !name.includes("%") && c.if_nametoindex(cString(name)) !== 0;
    const where = options.netns === undefined ? "" : ` in network namespace ${options.netns}`;
    if (options.create === true && exists) {
      throw new Deno.errors.AlreadyExists(
        `Cannot create ${label} device ${name}: it already exists${where}`,
      );
    }
    if (options.create === false && !exists) {
      throw new Deno.errors.NotFound(
        `Cannot attach to ${label} device ${name}: it does not exist${where}`,
      );
    }
    fd = c.open(cString("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw openError(errnoNow(c));
    const ifr = new Uint8Array(new ArrayBuffer(IFREQ_SIZE));
    const ifv = new DataView(ifr.buffer);
    ifr.set(new TextEncoder().encode(name));
    const flags = (kind === "tun" ? IFF_TUN : IFF_TAP) | IFF_NO_PI |
      (options.create === true ? IFF_TUN_EXCL : 0) | (offload ? IFF_VNET_HDR : 0);
    ifv.setUint16(16, flags, true);
    if (c.ioctl(fd, TUNSETIFF, ifr) < 0) {
      const e = errnoNow(c);
      // An existing device created without IFF_VNET_HDR refuses an attach that asks for it.
      if (offload && e === EINVAL && exists) {
        throw new OffloadRefused(`TUNSETIFF with IFF_VNET_HDR failed: EINVAL`);
      }
      throw setIffError(e, name, where);
    }
    const end = ifr.indexOf(0);
    const ifname = new TextDecoder().decode(ifr.subarray(0, end < 0 ? IFNAMSIZ : end));
    if (offload) {
      try {
        enableOffload(c, fd, ifname);
      } catch (e) {
        throw new OffloadRefused((e as Error).message);
      }
    }
    const txQueueLen = options.txQueueLen ?? (exists ? undefined : CREATED_TX_QUEUE);
    const actualMtu = configure(c, ifname, {
      ...(options.mtu !== undefined ? { mtu: options.mtu } : {}),
      ...(peer !== undefined ? { peer } : {}),
      ...(options.peer !== undefined ? { peer6: parsePeers(options.peer).v6 } : {}),
      ...(txQueueLen !== undefined ? { txQueueLen } : {}),
    });
    return { fd, ifname, mtu: actualMtu };
  } catch (e) {
    if (fd >= 0) c.close(fd);
    throw e;
  } finally {
    restore();
  }
}
