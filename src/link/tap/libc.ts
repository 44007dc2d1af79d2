/**
 * The few libc functions the TAP link calls through `Deno.dlopen`, loaded once on first use.
 *
 * Declarations are chosen for V8's fast FFI path on the per-frame calls (`readv`, `writev`,
 * the zero-timeout `poll`): every parameter and result is a 32-bit integer or a buffer, so no
 * BigInt is built per call. `readv`/`writev` take a one-entry iovec kept in a fixed buffer,
 * which lets a frame land at any offset of the caller's view without a pointer object per
 * frame. Results of `ssize_t` functions are declared `i32` (frames are far below 2 GiB).
 *
 * @module
 */

/** The libc symbols used by the links. */
const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** ioctl whose argument is a value, not a pointer (TUNSETOFFLOAD). */
  ioctlValue: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  readv: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  writev: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  pollAsync: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The loaded libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/**
 * Load libc (once). Throws PermissionDenied with a hint when `--allow-ffi` is missing.
 *
 * @example
 * ```ts ignore
 * const c = libc();
 * c.close(-1);
 * ```
 */
export function libc(): Libc {
  if (lib) return lib.symbols;
  if (Deno.build.os !== "linux") {
    throw new Deno.errors.NotSupported(`TAP links need Linux, this is ${Deno.build.os}`);
  }
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new Deno.errors.PermissionDenied(
        "Cannot load libc for the TAP link: run deno with --allow-ffi (and as root or with CAP_NET_ADMIN)",
      );
    }
    throw e;
  }
  return lib.symbols;
}

let errnoView: Deno.UnsafePointerView | undefined;

/**
 * errno of the calling thread, read right after a failed call. Synchronous FFI calls run on
 * the thread of this JavaScript realm, whose errno location is fixed, so it is cached.
 */
export function errnoNow(c: Libc): number {
  if (!errnoView) {
    const p = c.__errno_location();
    if (p === null) return 0;
    errnoView = new Deno.UnsafePointerView(p);
  }
  return errnoView.getInt32(0);
}

// ---- Constants (Linux x86_64 and aarch64 share these values)

export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const AF_INET = 2;
/** Address family of IPv6 sockets. */
export const AF_INET6 = 10;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;
export const AF_PACKET = 17;
export const SOCK_RAW = 3;
/** htons(ETH_P_ALL) on a little-endian machine. */
export const ETH_P_ALL_BE = 0x0300;
export const POLLIN = 0x001;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
/** ioctl requests (include/uapi/linux/if_tun.h, sockios.h). */
export const TUNSETIFF = 0x400454can;
/** _IOW('T', 208, unsigned int): offloads the reader handles (TUN_F_*), passed by value. */
export const TUNSETOFFLOAD = 0x400454d0n;
/** _IOW('T', 216, int): size of the virtio-net header in front of each frame. */
export const TUNSETVNETHDRSZ = 0x400454d8n;
/** TUNSETOFFLOAD bits (include/uapi/linux/if_tun.h). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const SIOCGIFFLAGS = 0x8913n;
export const SIOCSIFFLAGS = 0x8914n;
export const SIOCGIFMTU = 0x8921n;
export const SIOCSIFMTU = 0x8922n;
export const SIOCSIFADDR = 0x8916n;
export const SIOCSIFNETMASK = 0x891cn;
export const SIOCSIFTXQLEN = 0x8943n;
/** struct ifreq flags. */
export const IFF_UP = 0x1;
export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_TUN_EXCL = 0x8000;
export const IFF_VNET_HDR = 0x4000;
/** Size of struct ifreq; the name field is IFNAMSIZ bytes, NUL included. */
export const IFREQ_SIZE = 40;
export const IFNAMSIZ = 16;

// ---- errno values
export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOTTY = 25;
export const EBADFD = 77;

const ERRNO_NAMES: Record<number, string> = {
  [EPERM]: "EPERM",
  [ENOENT]: "ENOENT",
  [EINTR]: "EINTR",
  [EIO]: "EIO",
  [EBADF]: "EBADF",
  [EAGAIN]: "EAGAIN",
  [EACCES]: "EACCES",
  [EBUSY]: "EBUSY",
  [EEXIST]: "EEXIST",
  [ENODEV]: "ENODEV",
  [EINVAL]: "EINVAL",
  [ENOTTY]: "ENOTTY",
  [EBADFD]: "EBADFD",
};

/** A short name for an errno value ("EBUSY", or "errno 95"). */
export function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

/** A NUL-terminated C string in a fresh buffer. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(new ArrayBuffer(bytes.length + 1));
  out.set(bytes);
  return out;
}

/** The address of the first byte of a view, as a number (user-space addresses fit in 53 bits). */
export function addressOf(view: Uint8Array): number {
  return Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(view)));
}

const TWO_32 = 4294967296;

/** Write { base, len } into a one-entry iovec held as four u32 words (little-endian). */
export function setIov(iov: Uint32Array, addr: number, len: number): void {
  setIovAt(iov, 0, addr, len);
}

/** Write { base, len } into entry `i` of an iovec array held as u32 words (little-endian). */
export function setIovAt(iov: Uint32Array, i: number, addr: number, len: number): void {
  const w = 4 * i;
  iov[w] = addr >>> 0;
  iov[w + 1] = Math.floor(addr / TWO_32);
  iov[w + 2] = len;
  iov[w + 3] = 0;
}
