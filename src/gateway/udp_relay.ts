/**
 * UDP relaying for the gateway: each flow (guest address and port to a destination address
 * and port) gets its own host socket (`node:dgram`, bound to port 0), so replies find their
 * way back; replies from the flow's upstream are sent to the guest from the address and port
 * it wrote to. Flows are bounded in number and closed after an idle time.
 *
 * @module
 */

import dgram from "node:dgram";
import type { GatewayStack } from "./stack_access.ts";
import type { GatewayLimits } from "./config.ts";
import type { Count } from "./tcp_relay.ts";
import { formatIpv6 } from "../wire/ipv6_address.ts";

/**
 * Where a guest's datagrams go on the host, or null when not allowed. `also`: further
 * upstreams each datagram is sent to as well (the DNS forwarder asks every server, as
 * dnsmasq --all-servers; the guest's resolver takes the first answer).
 */
export type UdpRoute = (
  dstIp: number,
  dstPort: number,
) => UdpTarget | null;

/** As UdpRoute, for a destination IPv6 address (16 bytes). */
export type UdpRoute6 = (dst: Uint8Array, dstPort: number) => UdpTarget | null;

/** An upstream of a UDP flow. */
export interface UdpTarget {
  hostname: string;
  port: number;
  idleMs?: number;
  also?: ReadonlyArray<{ hostname: string; port: number }>;
}

interface Flow {
  sock: dgram.Socket;
  targets: ReadonlyArray<{ hostname: string; port: number }>;
  idleMs: number;
  last: number;
}

/** The UDP side of a gateway. */
export class UdpRelay {
  readonly #stack: GatewayStack;
  readonly #route: UdpRoute;
  readonly #route6: UdpRoute6 | null;
  readonly #limits: GatewayLimits;
  readonly #count: Count;
  readonly #flows = new Map<string, Flow>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #closed = false;

  /** A relay sending guest datagrams through `route`. */
  constructor(
    stack: GatewayStack,
    route: UdpRoute,
    limits: GatewayLimits,
    count: Count,
    route6: UdpRoute6 | null = null,
  ) {
    this.#stack = stack;
    this.#route = route;
    this.#route6 = route6;
    this.#limits = limits;
    this.#count = count;
    this.#sweep = setInterval(() => this.#expire(), 1000);
  }

  /** UDP flows now. */
  get flows(): number {
    return this.#flows.size;
  }

  /**
   * A guest datagram (the interface's foreign-UDP hook): true when relayed or queued, false
   * when not allowed (the interface answers ICMP administratively prohibited).
   */
  input(src: number, srcPort: number, dst: number, dstPort: number, data: Uint8Array): boolean {
    if (this.#closed) return false;
    const key = `${src}:${srcPort}>${dst}:${dstPort}`;
    return this.#input(key, data, () => this.#route(dst, dstPort), (msg) => {
      return this.#stack.sendUdpFrom(dst, dstPort, src, srcPort, msg);
    });
  }

  /**
   * A guest datagram over IPv6 to one of the gateway's IPv6 addresses (views valid during the
   * call): true when relayed or queued, false when not allowed (port unreachable).
   */
  input6(
    src: Uint8Array,
    srcPort: number,
    dst: Uint8Array,
    dstPort: number,
    data: Uint8Array,
  ): boolean {
    if (this.#closed || this.#route6 === null) return false;
    const key = `${formatIpv6(src)}.${srcPort}>${formatIpv6(dst)}.${dstPort}`;
    const route6 = this.#route6;
    const s = src.slice(), d = dst.slice();
    return this.#input(key, data, () => route6(d, dstPort), (msg) => {
      return this.#stack.sendUdp6From(d, dstPort, s, srcPort, msg);
    });
  }

  #input(
    key: string,
    data: Uint8Array,
    route: () => UdpTarget | null,
    reply: (msg: Uint8Array) => boolean,
  ): boolean {
    let f = this.#flows.get(key);
    if (!f) {
      const target = route();
      if (target === null) {
        this.#count("gateway-udp-denied");
        return false;
      }
      if (this.#flows.size >= this.#limits.maxUdpFlows) {
        this.#count("gateway-udp-flows-full");
        return true; // dropped (counted), as a full queue would
      }
      f = this.#open(key, target, reply);
    }
    f.last = Date.now();
    this.#count("gateway-udp-out");
    const copy = data.slice();
    for (const t of f.targets) {
      f.sock.send(copy, t.port, t.hostname, (err) => {
        if (err) this.#count("gateway-udp-send-errors");
      });
    }
    return true;
  }

  #open(key: string, target: UdpTarget, reply: (msg: Uint8Array) => boolean): Flow {
    let targets = [target, ...(target.also ?? [])];
    const v6 = targets.some((t) => t.hostname.includes(":"));
    // IPv4 and IPv6 upstreams at once (DNS): one dual-stack socket, IPv4 ones v4-mapped.
    const mixed = v6 && targets.some((t) => !t.hostname.includes(":"));
    if (mixed) {
      targets = targets.map((t) =>
        t.hostname.includes(":") ? t : { hostname: `::ffff:${t.hostname}`, port: t.port }
      );
    }
    const sock = dgram.createSocket(v6 ? "udp6" : "udp4");
    const f: Flow = {
      sock,
      targets,
      idleMs: target.idleMs ?? this.#limits.udpIdleMs,
      last: Date.now(),
    };
    sock.on("error", () => this.#count("gateway-udp-socket-errors"));
    sock.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
      // Only the flow's upstream may answer through it (as a NAT's endpoint-dependent filter).
      if (!f.targets.some((t) => t.hostname === rinfo.address && t.port === rinfo.port)) {
        return this.#count("gateway-udp-foreign-source");
      }
      if (this.#stack.closed || msg.length > 65507) return;
      f.last = Date.now();
      this.#count("gateway-udp-in");
      if (!reply(msg)) this.#count("gateway-udp-reply-dropped");
    });
    const local = targets.every((t) => t.hostname.startsWith("127.") || t.hostname === "::1");
    const any = v6 ? "::" : "0.0.0.0";
    sock.bind({ port: 0, address: local && !mixed ? (v6 ? "::1" : "127.0.0.1") : any });
    sock.unref();
    this.#flows.set(key, f);
    this.#count("gateway-udp-flows");
    return f;
  }

  #expire(): void {
    const now = Date.now();
    for (const [k, f] of this.#flows) {
      if (now - f.last >= f.idleMs) {
        this.#flows.delete(k);
        f.sock.close();
        this.#count("gateway-udp-expired");
      }
    }
  }

  /** Close every flow. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const f of this.#flows.values()) f.sock.close();
    this.#flows.clear();
  }
}
