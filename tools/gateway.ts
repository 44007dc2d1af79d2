/**
 * `deno task gateway`: a drop-in for slirp4netns, with its command line:
 *
 *   deno task gateway [--configure|-c] [--mtu=N] [--disable-host-loopback] [--cidr=CIDR]
 *     [--netns-type=pid|path] [--userns-path=PATH] [--allow CIDR]... [--dns=ADDR[:PORT]]...
 *     [--forward tcp:[HOSTADDR:]HOSTPORT[:GUESTADDR]:GUESTPORT]... [--disable-dhcp]
 *     [--enable-ipv6|-6] [--pcap FILE]
 *     [-r FD] [-e FD]
 *     PID|PATH TAPNAME
 *
 * It opens TAPNAME inside the network namespace of process PID (or the namespace file PATH)
 * with setns, as slirp4netns does; with --configure the device gets 10.0.2.100/24 (the .100 of
 * --cidr), the default route via 10.0.2.2, and is brought up (with lo). Our stack is then the
 * gateway 10.0.2.2 (the host's 127.0.0.1 unless --disable-host-loopback) and DNS 10.0.2.3.
 *
 * With --enable-ipv6 the stack is also fd00::2 (the host's ::1) and fd00::3 and advertises
 * fd00::/64 as a router, so the guest forms its IPv6 address by SLAAC; --configure then only
 * turns off the device's DAD (as slirp4netns does) and relies on the advertisement. IPv6
 * addresses go in brackets: `--forward tcp:[::1]:8080:80` forwards the host's [::1]:8080 to the
 * guest's port 80 over IPv6 (to the address the guest formed by SLAAC), `--dns=[::1]:5353` asks
 * an IPv6 upstream. On SIGINT/SIGTERM a final advertisement with router lifetime 0 tells the
 * guest to drop its default route through us (RFC 4861 6.2.5).
 *
 * Secure by default: nothing but the host-loopback mapping is relayed unless allowed with
 * `--allow CIDR` (repeatable; `--allow 0.0.0.0/0` relays anywhere, as slirp4netns does).
 * Prints one line "gateway ready ..." on stdout once serving; SIGINT/SIGTERM stop it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createGateway, type GatewayOptions, openTap, parseForward } from "../mod.ts";
import { addressesOf } from "../src/gateway/config.ts";
import { formatIpv4 } from "../src/api/addr.ts";

const USAGE = `Usage: deno task gateway [OPTIONS] PID|PATH TAPNAME
  -c, --configure            give the device 10.0.2.100/24, the default route, bring it up
  --mtu=N                    MTU of the device (default 1500)
  --disable-host-loopback    do not map 10.0.2.2 to the host's 127.0.0.1
  --cidr=CIDR                the virtual network (default 10.0.2.0/24)
  --netns-type=pid|path      how to read the first argument (default: pid if numeric)
  --userns-path=PATH         (not supported: run as root; the namespace is entered directly)
  --allow=CIDR               relay to destinations in CIDR (repeatable; default: none)
  --dns=ADDR[:PORT]          upstream DNS for 10.0.2.3 and fd00::3 (repeatable; must be
                             allowed; IPv6 as ::1 or [::1]:PORT)
  --forward=tcp:[HA:]HP:GP or tcp:HA:HP:GA:GP
                             forward host HA:HP (default 127.0.0.1) to the guest's GA:GP
                             (default 10.0.2.100); IPv6 in brackets: tcp:[::1]:8080:80
                             reaches the guest's SLAAC address over IPv6 (repeatable)
  --disable-dhcp             do not answer DHCP
  -6, --enable-ipv6          also fd00::2 (the host's ::1) and fd00::3, advertise fd00::/64
  --pcap=FILE                capture the guest's link
  -r, --ready-fd=FD          write "1" to FD once serving (as slirp4netns)
  -e, --exit-fd=FD           exit when FD reaches end of file (as slirp4netns)
  -h, --help                 this text`;

/** Parse the command line into gateway options (throws TypeError with a clear message). */
export function parseGatewayArgs(args: string[]): {
  nsPath: string;
  tap: string;
  mtu: number;
  configure: boolean;
  readyFd: number | null;
  exitFd: number | null;
  options: Omit<GatewayOptions, "link">;
} | null {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      configure: { type: "boolean", short: "c" },
      mtu: { type: "string" },
      "disable-host-loopback": { type: "boolean" },
      "enable-ipv6": { type: "boolean", short: "6" },
      cidr: { type: "string" },
      "netns-type": { type: "string" },
      "userns-path": { type: "string" },
      allow: { type: "string", multiple: true },
      dns: { type: "string", multiple: true },
      forward: { type: "string", multiple: true },
      "disable-dhcp": { type: "boolean" },
      pcap: { type: "string" },
      "ready-fd": { type: "string", short: "r" },
      "exit-fd": { type: "string", short: "e" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return null;
  if (positionals.length !== 2) throw new TypeError(`Expected PID|PATH TAPNAME\n${USAGE}`);
  if (values["userns-path"] !== undefined) {
    throw new TypeError(
      "--userns-path is not supported: run the gateway as root (it enters the network namespace directly)",
    );
  }
  const target = positionals[0]!;
  const type = values["netns-type"] ?? (/^[0-9]+$/.test(target) ? "pid" : "path");
  let nsPath: string;
  if (type === "pid") {
    if (!/^[0-9]+$/.test(target)) throw new TypeError(`Not a PID: "${target}"`);
    nsPath = `/proc/${target}/ns/net`;
  } else if (type === "path") {
    nsPath = target.startsWith("/") ? target : `${Deno.cwd()}/${target}`;
  } else {
    throw new TypeError(`--netns-type must be pid or path, got "${type}"`);
  }
  const mtu = values.mtu === undefined ? 1500 : Number(values.mtu);
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65521) {
    throw new RangeError(`--mtu must be 68..65521, got ${values.mtu}`);
  }
  const fd = (v: string | undefined, name: string): number | null => {
    if (v === undefined) return null;
    if (!/^[0-9]+$/.test(v) || Number(v) < 3) {
      throw new TypeError(`--${name} must be a file descriptor number of 3 or more, got "${v}"`);
    }
    return Number(v);
  };
  return {
    nsPath,
    tap: positionals[1]!,
    mtu,
    configure: values.configure ?? false,
    readyFd: fd(values["ready-fd"], "ready-fd"),
    exitFd: fd(values["exit-fd"], "exit-fd"),
    options: {
      ...(values.cidr ? { cidr: values.cidr } : {}),
      hostLoopback: !values["disable-host-loopback"],
      allow: values.allow ?? [],
      dns: values.dns ?? [],
      forwards: (values.forward ?? []).map(parseForward),
      dhcp: !values["disable-dhcp"],
      ipv6: values["enable-ipv6"] ?? false,
      ...(values.pcap ? { pcap: values.pcap } : {}),
    },
  };
}

async function nsRun(nsPath: string, args: string[], cmd = "ip"): Promise<void> {
  const out = await new Deno.Command("nsenter", {
    args: [`--net=${nsPath}`, cmd, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseGatewayArgs(Deno.args);
  } catch (e) {
    console.error(`gateway: ${(e as Error).message}`);
    return 2;
  }
  if (parsed === null) {
    console.log(USAGE);
    return 0;
  }
  const { nsPath, tap, mtu, configure, options, readyFd, exitFd } = parsed;
  let a;
  try {
    a = addressesOf(options.cidr);
  } catch (e) {
    console.error(`gateway: ${(e as Error).message}`);
    return 2;
  }
  const guest = formatIpv4(a.guest);
  const gwAddr = formatIpv4(a.gateway);
  const prefix = a.prefixLength;
  const link = openTap({
    name: tap,
    netns: nsPath,
    mtu,
    ...(configure ? { peer: `${guest}/${prefix}` } : {}),
  });
  if (configure) {
    await nsRun(nsPath, ["link", "set", "lo", "up"]);
    await nsRun(nsPath, ["route", "replace", "default", "via", gwAddr, "dev", link.ifname]);
    if (options.ipv6) {
      // As slirp4netns: no DAD on the device; its address and route come from our RA.
      await nsRun(nsPath, ["-w", `net.ipv6.conf.${link.ifname}.accept_dad=0`], "sysctl");
    }
  }
  const gw = await createGateway({ link, ...options });
  const forwards = options.forwards?.length
    ? ` forwards=${options.forwards.map((f) => f.hostPort).join(",")}`
    : "";
  console.log(
    `gateway ready tap=${link.ifname} gateway=${gw.address} dns=${gw.dnsAddress} ` +
      `guest=${gw.guestAddress} allow=${gw.allow.join(",") || "none"}${forwards}` +
      (gw.address6 ? ` gateway6=${gw.address6} dns6=${gw.dnsAddress6}` : ""),
  );
  const { promise, resolve } = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", resolve);
  Deno.addSignalListener("SIGTERM", resolve);
  if (readyFd !== null) {
    // The inherited descriptor, opened again through /proc (Deno has no fdopen).
    using f = Deno.openSync(`/proc/self/fd/${readyFd}`, { write: true });
    f.writeSync(new TextEncoder().encode("1"));
  }
  if (exitFd !== null) {
    const f = Deno.openSync(`/proc/self/fd/${exitFd}`, { read: true });
    (async () => {
      const buf = new Uint8Array(64);
      for (;;) { // until end of file: the parent closed its end (or died)
        const n = await f.read(buf).catch(() => null);
        if (n === null) break;
      }
      f.close();
      resolve();
    })();
  }
  await promise;
  await gw.close();
  return 0;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main();
  } catch (e) {
    console.error(`gateway: ${(e as Error).message}`);
    code = 1;
  }
  Deno.exit(code);
}
