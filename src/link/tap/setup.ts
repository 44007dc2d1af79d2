/**
 * Setting up a TAP device: name checks, entering a network namespace for the duration of the
 * open, MTU and IFF_UP by ioctl, and the mapping of errno values to clear Deno errors.
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  CLONE_NEWNET,
  cString,
  EACCES,
  EBUSY,
  EINVAL,
  ENOENT,
  EPERM,
  errnoName,
  errnoNow,
  IFF_UP,
  IFNAMSIZ,
  IFREQ_SIZE,
  type Libc,
  O_CLOEXEC,
  O_RDONLY,
  SIOCGIFFLAGS,
  SIOCGIFMTU,
  SIOCSIFADDR,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
  SIOCSIFNETMASK,
  SIOCSIFTXQLEN,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  TUN_F_TSO_ECN,
  TUNSETOFFLOAD,
  TUNSETVNETHDRSZ,
} from "./libc.ts";
import { VNET_HDR_LEN } from "./vnet.ts";
import { formatIpv6, parseIpv6 } from "../../wire/ipv6_address.ts";

const NS_DIR = "/var/run/netns";

/** Throw unless `name` is a usable interface name. */
export function checkIfName(name: string): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new TypeError("TAP device name must be a non-empty string");
  }
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > IFNAMSIZ - 1) {
    throw new RangeError(
      `TAP device name "${name}" is ${bytes} bytes, the limit is ${IFNAMSIZ - 1}`,
    );
  }
  if (/[\s/:]/.test(name) || name === "." || name === "..") {
    throw new TypeError(`TAP device name "${name}" contains a space, "/" or ":"`);
  }
}

/** A namespace name or path over NAME_MAX (255 bytes) or PATH_MAX (4096): RangeError. */
export function checkNetnsLength(ns: string): void {
  const bytes = new TextEncoder().encode(ns).length;
  const max = ns.startsWith("/") ? 4095 : 255;
  if (bytes > max) {
    throw new RangeError(`Network namespace name is ${bytes} bytes, the limit is ${max}`);
  }
}

/** Enter network namespace `ns` on this thread; returns the function that leaves it. */
export function enterNetns(c: Libc, ns: string): () => void {
  // An absolute path names a namespace file directly (/proc/PID/ns/net, as slirp4netns takes).
  const abs = ns.startsWith("/");
  if (!abs && (ns.length === 0 || ns.includes("/") || ns === "." || ns === "..")) {
    throw new TypeError(`Network namespace name "${ns}" is not valid`);
  }
  checkNetnsLength(ns);
  const nsFd = c.open(cString(abs ? ns : `${NS_DIR}/${ns}`), O_RDONLY | O_CLOEXEC);
  if (nsFd < 0) {
    const e = errnoNow(c);
    if (e === ENOENT && abs) {
      throw new Deno.errors.NotFound(`Network namespace file ${ns} does not exist`);
    }
    if (e === ENOENT) {
      throw new Deno.errors.NotFound(
        `Network namespace ${ns} does not exist (no ${NS_DIR}/${ns}; create it with ip netns add ${ns})`,
      );
    }
    throw new Deno.errors.PermissionDenied(`Cannot open network namespace ${ns}: ${errnoName(e)}`);
  }
  const selfFd = c.open(cString("/proc/thread-self/ns/net"), O_RDONLY | O_CLOEXEC);
  if (selfFd < 0) {
    const e = errnoNow(c);
    c.close(nsFd);
    throw new Error(`Cannot open this thread's network namespace: ${errnoName(e)}`);
  }
  if (c.setns(nsFd, CLONE_NEWNET) < 0) {
    const e = errnoNow(c);
    c.close(nsFd);
    c.close(selfFd);
    throw new Deno.errors.PermissionDenied(
      `Cannot enter network namespace ${ns}: ${errnoName(e)}; this needs root (CAP_SYS_ADMIN)`,
    );
  }
  c.close(nsFd);
  return () => {
    const ok = c.setns(selfFd, CLONE_NEWNET) === 0;
    const e = ok ? 0 : errnoNow(c);
    c.close(selfFd);
    if (!ok) {
      // Should never happen (we just left it); the thread must not carry on in the wrong one.
      throw new Error(`Cannot return from network namespace ${ns}: ${errnoName(e)}`);
    }
  };
}

/** What {@link configure} sets besides IFF_UP. */
export interface DeviceSetup {
  /** IP MTU. */
  mtu?: number;
  /** Address and prefix length of the kernel's side ({@link parsePeer}). */
  peer?: { address: number; prefixLength: number };
  /** Transmit queue length. */
  txQueueLen?: number;
  /** IPv6 addresses of the kernel's side ({@link parsePeers}). */
  peer6?: { address: Uint8Array; prefixLength: number }[];
}

/**
 * Parse the kernel side's addresses: at most one IPv4 CIDR ({@link parsePeer}) and any number
 * of IPv6 ones ("fd00::1/64"). TypeError or RangeError when malformed.
 */
export function parsePeers(peer: string | string[]): {
  v4?: { address: number; prefixLength: number };
  v6: { address: Uint8Array; prefixLength: number }[];
} {
  const list = Array.isArray(peer) ? peer : [peer];
  const v6: { address: Uint8Array; prefixLength: number }[] = [];
  let v4: { address: number; prefixLength: number } | undefined;
  for (const cidr of list) {
    if (typeof cidr === "string" && cidr.includes(":")) {
      const slash = cidr.indexOf("/");
      const address = slash < 0 ? null : parseIpv6(cidr.slice(0, slash));
      const len = slash < 0 ? NaN : Number(cidr.slice(slash + 1));
      if (address === null || !/^\d{1,3}$/.test(cidr.slice(slash + 1))) {
        throw new TypeError(`Peer address must look like "fd00::1/64", got ${cidr}`);
      }
      if (len < 1 || len > 128) throw new RangeError(`Peer address ${cidr} is out of range`);
      v6.push({ address, prefixLength: len });
    } else {
      if (v4 !== undefined) throw new TypeError(`Peer has more than one IPv4 address: ${list}`);
      v4 = parsePeer(cidr);
    }
  }
  return v4 === undefined ? { v6 } : { v4, v6 };
}

/** Parse "a.b.c.d/n" (the kernel side of a link); TypeError or RangeError when malformed. */
export function parsePeer(cidr: string): { address: number; prefixLength: number } {
  const m = typeof cidr === "string"
    ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr)
    : null;
  if (m === null) throw new TypeError(`Peer address must look like "10.7.0.1/24", got ${cidr}`);
  const parts = m.slice(1, 5).map(Number);
  const prefixLength = Number(m[5]);
  if (parts.some((p) => p > 255) || prefixLength < 1 || prefixLength > 32) {
    throw new RangeError(`Peer address ${cidr} is out of range`);
  }
  const address = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  return { address, prefixLength };
}

/**
 * Give the device an IPv6 address (SIOCSIFADDR with a struct in6_ifreq on an AF_INET6 socket),
 * with the kernel's duplicate address detection off for this device (accept_dad 0), so the
 * address is usable at once instead of tentative for a second: the stack on the other end is
 * the only other node and never claims the peer's address.
 */
function addIpv6(
  c: Libc,
  ifname: string,
  p: { address: Uint8Array; prefixLength: number },
): void {
  const text = `${formatIpv6(p.address)}/${p.prefixLength}`;
  try {
    Deno.writeTextFileSync(`/proc/sys/net/ipv6/conf/${ifname}/accept_dad`, "0");
  } catch (e) {
    throw new Error(
      `Cannot set IPv6 address ${text} on device ${ifname}: IPv6 is off here (${
        (e as Error).message
      })`,
    );
  }
  const sock = c.socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    throw new Error(`Cannot set IPv6 address ${text}: socket failed: ${errnoName(errnoNow(c))}`);
  }
  try {
    // struct in6_ifreq { struct in6_addr addr; u32 prefixlen; int ifindex; }
    const req = new Uint8Array(new ArrayBuffer(24));
    const v = new DataView(req.buffer);
    req.set(p.address);
    v.setUint32(16, p.prefixLength, true);
    v.setInt32(20, c.if_nametoindex(cString(ifname)), true);
    if (c.ioctl(sock, SIOCSIFADDR, req) < 0) {
      throw new Error(
        `Cannot set IPv6 address ${text} on device ${ifname}: ${errnoName(errnoNow(c))}`,
      );
    }
  } finally {
    c.close(sock);
  }
}

/** Write a sockaddr_in holding `address` into the ifreq at offset 16. */
function setSockaddr(ifr: Uint8Array, address: number): void {
  ifr.fill(0, 16);
  ifr[16] = AF_INET; // sa_family, little-endian u16
  ifr[20] = address >>> 24;
  ifr[21] = (address >>> 16) & 0xff;
  ifr[22] = (address >>> 8) & 0xff;
  ifr[23] = address & 0xff;
}

/**
 * Set the MTU, the kernel side's address and netmask, the transmit queue length (each when
 * given) and IFF_UP on `ifname` by ioctl, in the calling thread's namespace; returns the MTU
 * now set.
 */
export function configure(c: Libc, ifname: string, setup: DeviceSetup): number {
  const { mtu, peer, txQueueLen } = setup;
  const sock = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    throw new Error(
      `Cannot configure TAP device ${ifname}: socket failed: ${errnoName(errnoNow(c))}`,
    );
  }
  try {
    const ifr = new Uint8Array(new ArrayBuffer(IFREQ_SIZE));
    const v = new DataView(ifr.buffer);
    ifr.set(new TextEncoder().encode(ifname));
    if (mtu !== undefined) {
      v.setInt32(16, mtu, true);
      if (c.ioctl(sock, SIOCSIFMTU, ifr) < 0) {
        const e = errnoNow(c);
        const msg = `Cannot set MTU ${mtu} on device ${ifname}: ${errnoName(e)}`;
        // EINVAL: beyond the device's range (a TAP takes at most 65521, a TUN 65535).
        throw e === EINVAL
          ? new RangeError(`${msg} (outside the device's MTU range)`)
          : new Error(msg);
      }
    }
    if (txQueueLen !== undefined) {
      ifr.fill(0, 16);
      v.setInt32(16, txQueueLen, true);
      if (c.ioctl(sock, SIOCSIFTXQLEN, ifr) < 0) {
        throw new Error(
          `Cannot set transmit queue length ${txQueueLen} on device ${ifname}: ${
            errnoName(errnoNow(c))
          }`,
        );
      }
    }
    if (peer !== undefined) {
      setSockaddr(ifr, peer.address);
      if (c.ioctl(sock, SIOCSIFADDR, ifr) < 0) {
        const e = errnoNow(c);
        const msg = `Cannot set address on device ${ifname}: ${errnoName(e)}`;
        throw e === EINVAL
          ? new TypeError(`${msg} (peer is not a unicast address)`)
          : new Error(msg);
      }
      setSockaddr(ifr, peer.prefixLength === 0 ? 0 : (~0 << (32 - peer.prefixLength)) >>> 0);
      if (c.ioctl(sock, SIOCSIFNETMASK, ifr) < 0) {
        throw new Error(`Cannot set netmask on device ${ifname}: ${errnoName(errnoNow(c))}`);
      }
    }
    for (const p of setup.peer6 ?? []) addIpv6(c, ifname, p);
    ifr.fill(0, 16);
    if (c.ioctl(sock, SIOCGIFFLAGS, ifr) < 0) {
      throw new Error(`Cannot read flags of TAP device ${ifname}: ${errnoName(errnoNow(c))}`);
    }
    v.setUint16(16, v.getUint16(16, true) | IFF_UP, true);
    if (c.ioctl(sock, SIOCSIFFLAGS, ifr) < 0) {
      throw new Error(`Cannot bring up TAP device ${ifname}: ${errnoName(errnoNow(c))}`);
    }
    if (mtu !== undefined) return mtu;
    ifr.fill(0, 16);
    if (c.ioctl(sock, SIOCGIFMTU, ifr) < 0) return 1500;
    return v.getInt32(16, true);
  } finally {
    c.close(sock);
  }
}

/**
 * Turn on offloads on a TAP file opened with `IFF_VNET_HDR`: a 10-byte virtio-net header in
 * front of every frame (`TUNSETVNETHDRSZ`), and `TUNSETOFFLOAD` with `TUN_F_CSUM` (the kernel
 * may hand us frames with a partial checksum) and TSO for IPv4 (and IPv6 and ECN, which cost
 * nothing here): the kernel then sends TCP segments of up to 64 KiB instead of cutting them
 * to the MTU. Throws when the kernel refuses either request.
 */
export function enableOffload(c: Libc, fd: number, ifname: string): void {
  const size = new Int32Array([VNET_HDR_LEN]);
  if (c.ioctl(fd, TUNSETVNETHDRSZ, new Uint8Array(size.buffer)) < 0) {
    throw new Error(
      `Cannot set the virtio-net header size of TAP device ${ifname}: ${errnoName(errnoNow(c))}`,
    );
  }
  const flags = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
  if (c.ioctlValue(fd, TUNSETOFFLOAD, BigInt(flags)) < 0) {
    throw new Error(
      `Cannot turn on offloads of TAP device ${ifname}: TUNSETOFFLOAD failed: ${
        errnoName(errnoNow(c))
      }`,
    );
  }
}

/** The error for a failed open of /dev/net/tun. */
export function openError(e: number): Error {
  if (e === ENOENT) {
    return new Deno.errors.NotFound(
      "Cannot open /dev/net/tun: it does not exist (load the tun module: modprobe tun)",
    );
  }
  if (e === EACCES || e === EPERM) {
    return new Deno.errors.PermissionDenied(
      "Cannot open /dev/net/tun: permission denied; TAP devices need root or CAP_NET_ADMIN " +
        "(and deno --allow-ffi)",
    );
  }
  return new Error(`Cannot open /dev/net/tun: ${errnoName(e)}`);
}

/** The error for a failed TUNSETIFF. */
export function setIffError(e: number, name: string, where: string): Error {
  if (e === EPERM || e === EACCES) {
    return new Deno.errors.PermissionDenied(
      `Cannot create or attach TAP device ${name}${where}: not permitted; this needs root or ` +
        "CAP_NET_ADMIN (and deno --allow-ffi)",
    );
  }
  if (e === EBUSY) {
    return new Deno.errors.Busy(
      `Cannot attach to TAP device ${name}${where}: it is busy (already open elsewhere, or created meanwhile)`,
    );
  }
  if (e === EINVAL) {
    return new Deno.errors.AlreadyExists(
      `Cannot attach to device ${name}${where}: it exists and is not a TAP device (or has other flags)`,
    );
  }
  return new Error(
    `Cannot create or attach TAP device ${name}${where}: TUNSETIFF failed: ${errnoName(e)}`,
  );
}
