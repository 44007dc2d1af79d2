/**
 * Port forwarding from the host into the guest: a host listener (`Deno.listen`) whose every
 * connection is opened again by our stack toward the guest's port and relayed (relay.ts). The
 * guest sees the connection come from the gateway address (as with slirp4netns).
 *
 * @module
 */

import type { NetStack } from "../api/net_stack.ts";
import { formatIpv4, parseIpv4 } from "../api/addr.ts";
import { relay } from "./relay.ts";
import type { Count } from "./tcp_relay.ts";

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

/** A running forward. */
export class Forward {
  /** The host address listened on. */
  readonly addr: Deno.NetAddr;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Promise<unknown>>();
  readonly #loop: Promise<void>;

  /** @internal Made by `Gateway.forward`. */
  constructor(
    stack: NetStack,
    spec: ForwardSpec,
    guest: string,
    opts: { bufBytes: number; maxConns: number; count: Count },
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
    const target = { hostname: spec.guestAddress ?? guest, port: spec.guestPort };
    const listener = this.#listener;
    this.#loop = (async () => {
      for await (const host of listener) {
        if (this.#conns.size >= opts.maxConns) {
          opts.count("gateway-forward-busy");
          host.close();
          continue;
        }
        const p = stack.connect(target).then(
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
