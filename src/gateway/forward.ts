/**
 * Port forwarding from the host into the guest: a host listener (`Deno.listen`) whose every
 * connection is opened again by our stack toward the guest's port and relayed (relay.ts).
 *
 * The guest sees the client's own address and port where it can (the "keep the
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
 * @module
 */

import { formatIpv4, parseIpv4 } from "../api/addr.ts";
import { relay } from "./relay.ts";
import type { Count } from "./tcp_relay.ts";
import type { GatewayStack } from "./stack_access.ts";

/** A port forward: host address and port to the guest's address and port. */
export interface ForwardSpec {
  /** "tcp" (the only protocol forwarded so far). */
  proto?: "tcp";
  /** Host address to listen on (default "127.0.0.1"). */
  hostAddress?: string;
  /** Host port (0: any free port; see the returned address). */
  hostPort: number;
  /** Guest address (default: the guest's address, .100). */
  guestAddress?: string;
  /** Guest port. */
  guestPort: number;
}

/**
 * Parse "tcp:HOSTPORT:GUESTPORT", "tcp:HOSTADDR:HOSTPORT:GUESTPORT" or
 * "tcp:HOSTADDR:HOSTPORT:GUESTADDR:GUESTPORT"; TypeError when malformed.
 */
export function parseForward(text: string): ForwardSpec {
  const parts = text.split(":");
  const proto = parts.shift();
  if (proto !== "tcp") {
    throw new TypeError(`Cannot parse forward "${text}": expected tcp:HOSTPORT:GUESTPORT`);
  }
  const port = (s: string | undefined): number => {
    const n = Number(s);
    if (s === undefined || !/^[0-9]+$/.test(s) || n > 65535) {
      throw new TypeError(`Cannot parse forward "${text}": bad port "${s}"`);
    }
    return n;
  };
  const addr = (s: string | undefined): string => formatIpv4(parseIpv4(s ?? ""));
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
      throw new TypeError(`Cannot parse forward "${text}": expected tcp:HOSTPORT:GUESTPORT`);
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
    },
  ) {
    if (spec.proto !== undefined && spec.proto !== "tcp") {
      throw new TypeError(`Unsupported forward protocol "${spec.proto}"`);
    }
    this.#listener = Deno.listen({
      hostname: spec.hostAddress ?? "127.0.0.1",
      port: spec.hostPort,
      transport: "tcp",
    });
    this.addr = this.#listener.addr;
    const guestIp = parseIpv4(spec.guestAddress ?? guest);
    const guestPort = spec.guestPort;
    const listener = this.#listener;
    const open = async (host: Deno.Conn) => {
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
