/**
 * Network-namespace helpers for every TAP test, demo and benchmark. The network rule: each TAP
 * device and every address lives in a namespace created here and deleted at the end, even on
 * failure; nothing is ever configured in the main namespace.
 *
 * - {@link tapAvailable} / {@link tapIgnore} / {@link requireTapOrSkip}: whether TAP tests can
 *   run here; with `TCPIP_REQUIRE_TAP=1` (CI) a missing capability fails instead of skipping.
 * - {@link createNetns}: a uniquely named namespace ("dtcp-<pid>-<tag><n>") with `run`, `spawn`
 *   and `delete`.
 * - {@link withTapNamespace}: namespace + TAP device created inside it (see `openTap`'s
 *   `netns`: the device never exists in the main namespace) + the kernel's address on it.
 *
 * Run as a script, `deno run -A tools/netns.ts --cleanup` deletes namespaces left behind by
 * processes that died (names "dtcp-<pid>-..." or another "d...-<pid>-..." prefix of
 * createNetns whose pid is gone).
 *
 * @module
 */

import { openTap, type TapLink } from "../src/link/tap/tap.ts";

/** Result of a command run inside a namespace. */
export interface RunResult {
  /** Exit code. */
  code: number;
  /** Standard output, decoded as UTF-8. */
  stdout: string;
  /** Standard error, decoded as UTF-8. */
  stderr: string;
}

/** A network namespace owned by this process. */
export interface Netns {
  /** Its name under /var/run/netns. */
  readonly name: string;
  /** Run `cmd` inside the namespace (`ip netns exec`), wait for it, return its output. */
  run(cmd: string[]): Promise<RunResult>;
  /**
   * Start `cmd` inside the namespace. stdin, stdout and stderr default to "null"; pass
   * options to pipe them. Children still running at delete() are killed.
   */
  spawn(cmd: string[], options?: Deno.CommandOptions): Deno.ChildProcess;
  /** Kill what still runs inside, then delete the namespace. Idempotent. */
  delete(): Promise<void>;
}

const NS_DIR = "/var/run/netns";
const PREFIX = "dtcp-";
let counter = 0;
// Test modules run with --parallel share one process (one pid) in several isolates, each with
// its own counter: a random tag per isolate keeps their names apart.
const isolateTag = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);

/**
 * Why TAP tests cannot run here, or null when they can: needs Linux, root (or CAP_NET_ADMIN and
 * CAP_SYS_ADMIN), /dev/net/tun, the `ip` command, and `--allow-ffi --allow-run`.
 *
 * @example
 * ```ts
 * import { tapAvailable } from "./netns.ts";
 * const reason = tapAvailable();
 * if (reason !== null) console.log(`TAP tests skip: ${reason}`);
 * ```
 */
export function tapAvailable(): string | null {
  if (Deno.build.os !== "linux") return `TAP needs Linux, this is ${Deno.build.os}`;
  for (const name of ["ffi", "run", "read"] as const) {
    if (Deno.permissions.querySync({ name }).state !== "granted") {
      return `TAP needs --allow-${name} (run the tests with -A)`;
    }
  }
  try {
    Deno.statSync("/dev/net/tun");
  } catch {
    return "/dev/net/tun does not exist (modprobe tun)";
  }
  const caps = effectiveCaps();
  const NET_ADMIN = 12n;
  const SYS_ADMIN = 21n;
  if (caps === null || ((caps >> NET_ADMIN) & 1n) === 0n || ((caps >> SYS_ADMIN) & 1n) === 0n) {
    return "TAP tests need root (CAP_NET_ADMIN and CAP_SYS_ADMIN for network namespaces)";
  }
  if (!findIp()) return "the ip command (iproute2) is missing";
  return null;
}

/**
 * For `Deno.test({ ignore: tapIgnore(), ... })`: true (and a printed reason) when TAP tests
 * cannot run and TCPIP_REQUIRE_TAP is not 1. With TCPIP_REQUIRE_TAP=1 it returns false, so the
 * test runs and {@link requireTapOrSkip} inside it fails with the reason.
 */
export function tapIgnore(): boolean {
  const reason = tapAvailable();
  if (reason === null || required()) return false;
  if (!warned) {
    warned = true;
    console.warn(`skipping TAP tests: ${reason}`);
  }
  return true;
}
let warned = false;

/**
 * Call at the top of a TAP test: returns true when it can run; otherwise prints the reason
 * and returns false (the test should return), or throws when TCPIP_REQUIRE_TAP=1.
 *
 * @example
 * ```ts
 * import { requireTapOrSkip } from "./netns.ts";
 * Deno.test("needs TAP", () => {
 *   if (!requireTapOrSkip()) return;
 *   // ... use withTapNamespace
 * });
 * ```
 */
export function requireTapOrSkip(): boolean {
  const reason = tapAvailable();
  if (reason === null) return true;
  if (required()) throw new Error(`TAP test cannot run and TCPIP_REQUIRE_TAP=1: ${reason}`);
  console.warn(`skipped: ${reason}`);
  return false;
}

function required(): boolean {
  try {
    return Deno.env.get("TCPIP_REQUIRE_TAP") === "1";
  } catch {
    return false;
  }
}

function effectiveCaps(): bigint | null {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    return m ? BigInt(`0x${m[1]}`) : null;
  } catch {
    return null;
  }
}

let ipPath: string | null | undefined;
function findIp(): string | null {
  if (ipPath !== undefined) return ipPath;
  ipPath = null;
  for (const p of ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]) {
    try {
      Deno.statSync(p);
      ipPath = p;
      break;
    } catch { /* next */ }
  }
  return ipPath;
}

async function exec(cmd: string[]): Promise<RunResult> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function ip(args: string[]): Promise<RunResult> {
  const r = await exec([findIp() ?? "ip", ...args]);
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.trim()}`);
  return r;
}

/** Names of the namespaces this process created and has not deleted yet. */
const live = new Set<string>();
let staleChecked = false;

/**
 * Create a network namespace named `<prefix><pid>-<tag><n>` (prefix "dtcp-"), with its loopback up
 * and IPv6 off (no router solicitations on the TAP device) unless `options.ipv6`. Delete it with
 * `delete()`.
 *
 * @example
 * ```ts ignore
 * const ns = await createNetns();
 * try {
 *   console.log((await ns.run(["ip", "link"])).stdout);
 * } finally {
 *   await ns.delete();
 * }
 * ```
 */
export async function createNetns(
  prefix: string = PREFIX,
  options: { ipv6?: boolean } = {},
): Promise<Netns> {
  if (!staleChecked) {
    staleChecked = true;
    await cleanupStaleNamespaces().catch(() => {}); // left by runs that were killed
  }
  const name = `${prefix}${Deno.pid}-${isolateTag}${counter++}`;
  if (name.length > 200 || name.includes("/")) throw new TypeError(`Bad namespace name ${name}`);
  await ip(["netns", "add", name]);
  live.add(name);
  const ns = new NetnsImpl(name);
  try {
    await ns.must(["ip", "link", "set", "lo", "up"]);
    // IPv6 stays off unless asked for, so that the kernel's own IPv6 traffic (DAD, router
    // solicitations, MLD) does not reach IPv4-only tests.
    const off = options.ipv6 ? 0 : 1;
    for (const key of ["all", "default"]) {
      await ns.must(["sysctl", "-q", "-w", `net.ipv6.conf.${key}.disable_ipv6=${off}`]);
    }
  } catch (e) {
    await ns.delete();
    throw e;
  }
  return ns;
}

class NetnsImpl implements Netns {
  readonly name: string;
  #children = new Set<Deno.ChildProcess>();
  #deleted = false;
  #deleting: Promise<void> | undefined;

  constructor(name: string) {
    this.name = name;
  }

  async run(cmd: string[]): Promise<RunResult> {
    this.#check();
    return await exec([findIp() ?? "ip", "netns", "exec", this.name, ...cmd]);
  }

  /** Run and throw when the command fails. */
  async must(cmd: string[]): Promise<RunResult> {
    const r = await this.run(cmd);
    if (r.code !== 0) {
      throw new Error(
        `${cmd.join(" ")} in namespace ${this.name} failed (${r.code}): ${r.stderr.trim()}`,
      );
    }
    return r;
  }

  spawn(cmd: string[], options?: Deno.CommandOptions): Deno.ChildProcess {
    this.#check();
    const child = new Deno.Command(findIp() ?? "ip", {
      stdin: "null",
      stdout: "null",
      stderr: "null",
      ...options,
      args: ["netns", "exec", this.name, ...cmd],
    }).spawn();
    this.#children.add(child);
    child.status.finally(() => this.#children.delete(child));
    return child;
  }

  delete(): Promise<void> {
    // Every caller (a finally block, a signal handler) waits for the same deletion.
    this.#deleting ??= this.#delete();
    return this.#deleting;
  }

  async #delete(): Promise<void> {
    this.#deleted = true;
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status.catch(() => {});
    }
    // Anything else left inside (started by a child) would keep the namespace alive unnamed.
    const pids = await exec([findIp() ?? "ip", "netns", "pids", this.name]);
    for (const p of pids.stdout.split(/\s+/)) {
      const pid = Number(p);
      if (Number.isInteger(pid) && pid > 1 && pid !== Deno.pid) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
    }
    await ip(["netns", "delete", this.name]);
    live.delete(this.name);
  }

  #check(): void {
    if (this.#deleted) throw new Error(`Network namespace ${this.name} is deleted`);
  }
}

/** Options of {@link withTapNamespace}. */
export interface TapNamespaceOptions {
  /** The kernel's address on its side of the TAP, with prefix length ("10.7.0.1/24"). */
  kernelAddr: string;
  /** MTU of the TAP device (default 1500). */
  mtu?: number;
  /** Device name inside the namespace (default "tap0"). */
  ifname?: string;
  /** Transmit queue length of the device (frames the kernel queues for us; default 10000). */
  txqueuelen?: number;
  /** Delete the namespace on SIGINT/SIGTERM too, then exit (for demos; default false). */
  signals?: boolean;
  /**
   * Checksum and segmentation offload (`TapOptions.offload`): default true, as openTap; pass
   * false for a test about the plain-frame path.
   */
  offload?: boolean;
  /** Busy polling of the TAP link in microseconds (`TapOptions.busyPollUs`). */
  busyPollUs?: number;
  /** Leave IPv6 enabled in the namespace (default false: disabled, see `createNetns`). */
  ipv6?: boolean;
}

/** What {@link withTapNamespace} hands to its callback. */
export interface TapNamespace {
  /** The namespace, deleted after the callback. */
  ns: Netns;
  /** The TAP link (our side), closed after the callback. */
  link: TapLink;
  /** The device name inside the namespace. */
  ifname: string;
}

/**
 * Create a namespace, a TAP device inside it (through `openTap({ netns, peer })`, which gives the
 * kernel's side the address `kernelAddr` and brings it up), run `fn`, then close the link and delete the
 * namespace, also when `fn` throws. Our stack's own address is never configured in any kernel.
 *
 * @example
 * ```ts ignore
 * await withTapNamespace({ kernelAddr: "10.7.0.1/24" }, async ({ ns, link }) => {
 *   await ns.run(["ping", "-c", "1", "-W", "1", "10.7.0.2"]);
 * });
 * ```
 */
export async function withTapNamespace(
  opts: TapNamespaceOptions,
  fn: (ctx: TapNamespace) => Promise<void>,
): Promise<void> {
  const ns = await createNetns(undefined, { ipv6: opts.ipv6 });
  let link: TapLink | undefined;
  let onSignal: (() => void) | undefined;
  if (opts.signals) {
    onSignal = () => {
      try {
        link?.close();
      } catch { /* closing anyway */ }
      ns.delete().finally(() => Deno.exit(130));
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
  }
  try {
    // openTap sets the kernel side's address, the transmit queue and IFF_UP itself (peer).
    link = openTap({
      name: opts.ifname ?? "tap0",
      mtu: opts.mtu ?? 1500,
      create: true,
      netns: ns.name,
      peer: opts.kernelAddr,
      ...(opts.offload !== undefined ? { offload: opts.offload } : {}),
      ...(opts.txqueuelen !== undefined ? { txQueueLen: opts.txqueuelen } : {}),
      busyPollUs: opts.busyPollUs,
    });
    await fn({ ns, link, ifname: link.ifname });
  } finally {
    if (link) {
      link.close();
      await link.wait(0); // settles a parked poll so no async op outlives the caller
    }
    if (onSignal) {
      Deno.removeSignalListener("SIGINT", onSignal);
      Deno.removeSignalListener("SIGTERM", onSignal);
    }
    await ns.delete();
  }
}

/**
 * Delete namespaces named "<prefix><pid>-..." (createNetns's names: "dtcp-" and the tests' own
 * prefixes such as "dgw-", "dgwf-", "dgwb-") whose process is gone. Returns their names.
 */
export async function cleanupStaleNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  let entries: string[] = [];
  try {
    entries = [...Deno.readDirSync(NS_DIR)].map((e) => e.name);
  } catch {
    return removed;
  }
  for (const name of entries) {
    const m = /^d[a-z0-9]*-(\d+)-[0-9a-z]+$/.exec(name);
    if (!m || live.has(name)) continue;
    const pid = Number(m[1]);
    let alive = false;
    try {
      Deno.statSync(`/proc/${pid}`);
      alive = true;
    } catch { /* gone */ }
    if (alive) continue;
    await ip(["netns", "delete", name]);
    removed.push(name);
  }
  return removed;
}

if (import.meta.main) {
  if (Deno.args.includes("--cleanup")) {
    const removed = await cleanupStaleNamespaces();
    console.log(removed.length ? `deleted ${removed.join(" ")}` : "no stale namespaces");
  } else {
    console.log(tapAvailable() ?? "TAP tests can run here");
  }
}
