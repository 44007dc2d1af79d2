/**
 * Port forwarding from the host into the guest: a host listener (`Deno.listen`) whose every
 * connection is opened again by our stack toward the guest's port and relayed (relay.ts).
 *
 * The guest sees the client's own address and port where it can (the issue's "keep the
 * client's source address"; slirp4netns shows every client as the gateway): a client on
 * another host, say 192.0.2.7:40000, reaches the guest as 192.0.2.7:40000, and the guest's
 * answers go to it through its default route, our gateway, which takes TCP to any address.
 * A client on the host's loopback (127/8), or one whose address lies inside the guest's own
 * network, would be answered on the guest's loopback or its link: those come from the gateway
 * address (.2, the host's 127.0.0.1 as the guest knows it) and an ephemeral port, as with
 * slirp4netns. So does a client whose address and port are already taken toward that guest
 * port, and one the guest did not answer within {@link KEPT_SOURCE_TIMEOUT_MS} (a guest with no
 * route back to the client's address).
 *
 * IPv6 (a gateway with `ipv6`): a forward reaches the guest over IPv6 when its guest address is
 * an IPv6 one, or when it has none and the host address is IPv6 (the connection keeps its
 * family, as pasta's `-t` does): `tcp:[::1]:8080:80`. With no guest address, or "::", the
 * guest's address is the one it formed by SLAAC, found by guest6.ts. Those connections come
 * from fd00::2 (the host's ::1 as the guest knows it) and an ephemeral port; the client's own
 * IPv6 address is not kept.
 *
 * @module
 */

import { formatIpv4, parseIpv4 } from "../api/addr.ts";
import { formatIpv6, parseIpv6 } from "../wire/ipv6_address.ts";
import type { GuestAddress6 } from "./guest6.ts";
import { relay } from "./relay.ts";
import type { Count } from "./tcp_relay.ts";
import type { GatewayStack } from "./stack_access.ts";

/** A port forward: host address and port to the guest's address and port. */
export interface ForwardSpec {
  /** "tcp" (the only protocol forwarded so far). */
  proto?: "tcp";
  /** Host address to listen on (default "127.0.0.1"; an IPv6 one such as "::1" too). */
  hostAddress?: string;
  /** Host port (0: any free port; see the returned address). */
  hostPort: number;
  /**
   * Guest address (default: the guest's address, .100; with an IPv6 `hostAddress`, the
   * guest's IPv6 address). An IPv6 address forwards over IPv6 (needs the gateway's `ipv6`);
   * "::" names the guest's own SLAAC address, whatever it is.
   */
  guestAddress?: string;
  /** Guest port. */
  guestPort: number;
}

/** The fields of a forward: IPv6 addresses in brackets (RFC 3986 3.2.2), split at ":". */
function forwardFields(text: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === "[") {
      const close = text.indexOf("]", i);
      if (close < 0 || (close + 1 < text.length && text[close + 1] !== ":")) return null;
      const inner = text.slice(i + 1, close);
      if (!inner.includes(":")) return null; // brackets hold IPv6 addresses only
      out.push(inner);
      i = close + 2;
    } else {
      const colon = text.indexOf(":", i);
      const end = colon < 0 ? text.length : colon;
      out.push(text.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

/**
 * Parse "tcp:HOSTPORT:GUESTPORT", "tcp:HOSTADDR:HOSTPORT:GUESTPORT" or
 * "tcp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT", IPv6 addresses in brackets
 * ("tcp:[::1]:8080:80", "tcp:[::1]:8080:[::]:80"); TypeError when malformed.
 *
 * @example
 * ```ts
 * import { parseForward } from "../../mod.ts";
 * const f = parseForward("tcp:[::1]:8080:80");
 * if (f.hostAddress !== "::1" || f.hostPort !== 8080 || f.guestPort !== 80) throw new Error();
 * ```
 */
export function parseForward(text: string): ForwardSpec {
  const usage =
    "expected tcp:[HOSTADDR:]HOSTPORT:GUESTPORT or tcp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT";
  const parts = text.startsWith("tcp:") ? forwardFields(text.slice(4)) : null;
  if (parts === null) throw new TypeError(`Cannot parse forward "${text}": ${usage}`);
  const proto = "tcp";
  const port = (s: string | undefined): number => {
    const n = Number(s);
    if (s === undefined || !/^[0-9]+$/.test(s) || n > 65535) {
      throw new TypeError(`Cannot parse forward "${text}": bad port "${s}"`);
    }
    return n;
  };
  const addr = (s: string | undefined): string => {
    if (s !== undefined && s.includes(":")) {
      const b = parseIpv6(s);
      if (b === null) throw new TypeError(`Cannot parse forward "${text}": bad address "${s}"`);
      return formatIpv6(b);
    }
    return formatIpv4(parseIpv4(s ?? ""));
  };
  switch (parts.length) {
    case 2:
      return { proto, hostPort: port(parts[0]), guestPort: port(parts[1]) };
    case 3:
      return {
        proto,
        hostAddress: addr(parts[0]),
        hostPort: port(parts[1]),
        guestPort: port(parts[2]),
      };
    case 4:
      return {
        proto,
        hostAddress: addr(parts[0]),
        hostPort: port(parts[1]),
        guestAddress: addr(parts[2]),
        guestPort: port(parts[3]),
      };
    default:
      throw new TypeError(`Cannot parse forward "${text}": ${usage}`);
  }
}

/**
 * The address and port a forwarded connection comes from in the guest (see the module note):
 * the client's own, or `{ ip: gateway, port: 0 }` (an ephemeral port) for a loopback client or
 * one inside the guest's network (`inside`).
 */
export function forwardSource(
  client: Deno.NetAddr,
  gateway: number,
  inside: (ip: number) => boolean,
): { ip: number; port: number } {
  let ip: number;
  try {
    ip = parseIpv4(client.hostname);
  } catch {
    return { ip: gateway, port: 0 }; // not IPv4 (an IPv6 listener's client)
  }
  if (ip >>> 24 === 127 || ip === 0 || inside(ip) || ip >>> 28 >= 14) {
    return { ip: gateway, port: 0 };
  }
  return { ip, port: client.port };
}

/**
 * How long a forward waits for the guest to answer from the client's own address before it
 * opens the connection from the gateway address instead (a guest with no route back to the
 * client never answers the first).
 */
export const KEPT_SOURCE_TIMEOUT_MS = 3000;

/** A running forward. */
export class Forward {
  /** The host address listened on. */
  readonly addr: Deno.NetAddr;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Promise<unknown>>();
  readonly #loop: Promise<void>;

  /** @internal Made by `Gateway.forward`. */
  constructor(
    stack: GatewayStack,
    spec: ForwardSpec,
    guest: string,
    opts: {
      bufBytes: number;
      maxConns: number;
      count: Count;
      /** The gateway's address (the source of loopback clients). */
      gateway: number;
      /** True for an address inside the guest's network. */
      inside: (ip: number) => boolean;
      /** IPv6: the gateway's address (fd00::2) and the guest's finder; null without ipv6. */
      ipv6: { gateway: Uint8Array; guest: GuestAddress6 } | null;
    },
  ) {
    if (spec.proto !== undefined && spec.proto !== "tcp") {
      throw new TypeError(`Unsupported forward protocol "${spec.proto}"`);
    }
    const hostAddress = spec.hostAddress ?? "127.0.0.1";
    const over6 = (spec.guestAddress ?? hostAddress).includes(":");
    let fixed6: Uint8Array | null = null;
    let guestIp = 0;
    if (over6) {
      if (opts.ipv6 === null) {
        throw new TypeError(
          `Cannot forward to the guest over IPv6 without ipv6 (--enable-ipv6): ${
            spec.guestAddress ?? `host address ${hostAddress}`
          }`,
        );
      }
      if (spec.guestAddress !== undefined) {
        const b = parseIpv6(spec.guestAddress);
        if (b === null) throw new TypeError(`Invalid guest address "${spec.guestAddress}"`);
        if (b.some((x) => x !== 0)) fixed6 = b;
      }
    } else {
      guestIp = parseIpv4(spec.guestAddress ?? guest);
    }
    this.#listener = Deno.listen({ hostname: hostAddress, port: spec.hostPort, transport: "tcp" });
    this.addr = this.#listener.addr;
    const guestPort = spec.guestPort;
    const listener = this.#listener;
    const open6 = async (v6: NonNullable<typeof opts.ipv6>) => {
      const addr = fixed6 ?? await v6.guest.find();
      try {
        // Both handles at once: the guest's is only valid until the next frame.
        const conn = await stack.connectFrom(
          stack.ipv6Handle(v6.gateway),
          0,
          stack.ipv6Handle(addr),
          guestPort,
        );
        opts.count("gateway-forward-ipv6");
        return conn;
      } catch (e) {
        if (!(e instanceof Deno.errors.ConnectionRefused)) v6.guest.forget(addr);
        throw e;
      }
    };
    const open = async (host: Deno.Conn) => {
      if (over6) return await open6(opts.ipv6!);
      const src = forwardSource(host.remoteAddr as Deno.NetAddr, opts.gateway, opts.inside);
      if (src.port !== 0) {
        try {
          const conn = await stack.connectFrom(
            src.ip,
            src.port,
            guestIp,
            guestPort,
            KEPT_SOURCE_TIMEOUT_MS,
          );
          opts.count("gateway-forward-source-kept");
          return conn;
        } catch (e) {
          // Taken, or the guest never answered (no route back to the client's address):
          // from the gateway address then.
          if (!(e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.TimedOut)) throw e;
        }
      }
      return await stack.connectFrom(opts.gateway, 0, guestIp, guestPort);
    };
    this.#loop = (async () => {
      for await (const host of listener) {
        if (this.#conns.size >= opts.maxConns) {
          opts.count("gateway-forward-busy");
          host.close();
          continue;
        }
        const p = open(host).then(
          (conn) => {
            opts.count("gateway-forward-conns");
            return relay(conn, host, opts.bufBytes, () => conn.abort());
          },
          () => {
            opts.count("gateway-forward-failed");
            host.close();
          },
        );
        const tracked = p.finally(() => this.#conns.delete(tracked));
        this.#conns.add(tracked);
      }
    })().catch(() => {});
  }

  /** Stop listening (relayed connections end with the stack). */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    await this.#loop;
  }
}
