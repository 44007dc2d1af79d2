/**
 * `createGateway`: our stack as the user-mode gateway of a network namespace, container or VM
 * (what slirp4netns does): on the guest's link it is the gateway (.2, the host's 127.0.0.1
 * unless `hostLoopback: false`) and the DNS forwarder (.3), relays TCP and UDP to the
 * destinations the allow list permits, forwards host ports into the guest and leases the
 * guest its address by DHCP. Secure by default: with no `allow`, only the host-loopback
 * mapping is relayed.
 *
 * @module
 */

import { createStack, type NetStack } from "../api/net_stack.ts";
import { formatIpv4, parseIpv4 } from "../api/addr.ts";
import type { Link } from "../link/link.ts";
import type { TcpOptions } from "../tcp/tcp_layer.ts";
import type { EngineKind } from "../kernels/engine.ts";
import {
  addressesOf,
  type Cidr,
  formatPrefix,
  type GatewayLimits,
  type HostPort,
  inPrefixes,
  parseHostPort,
  parsePrefix,
  resolveGatewayLimits,
} from "./config.ts";
import { DhcpServer } from "./dhcp.ts";
import { Forward, type ForwardSpec } from "./forward.ts";
import { TcpRelay } from "./tcp_relay.ts";
import { UdpRelay } from "./udp_relay.ts";
import { GatewayStack } from "./stack_access.ts";

/**
 * The send buffer of the gateway's TCP connections unless `tcp.sndBuf` says otherwise. Fixed:
 * letting it grow with cwnd up to 4 MiB (the stack's auto-tuning) measured no faster in
 * bench:gateway (host to guest), and a bigger ring's copies run cache-cold.
 */
export const GATEWAY_SND_BUF = 1 << 20;
/**
 * The receive buffer (the window offered to the guest) unless `tcp.rcvBuf` says otherwise.
 * The stack's auto-tuning does not grow a buffer on a path whose round trip is below its 1 ms
 * clock tick (a TAP link always is), so the stack's 256 KiB would stay: with 64 KiB frames
 * (MTU 65520) that is four frames in flight, and guest-to-host relaying stalled on it (1 MiB:
 * 2.2 to 4.0 Gbit/s, bench:gateway).
 */
export const GATEWAY_RCV_BUF = 1 << 20;

/** Options of `createGateway`. */
export interface GatewayOptions {
  /** The guest's link: a TAP device in its namespace (`openTap`), or a memory link. */
  link: Link;
  /** The virtual network (default "10.0.2.0/24": gateway .2, DNS .3, guest .100). */
  cidr?: string;
  /** Map the gateway address to the host's 127.0.0.1 (default true). */
  hostLoopback?: boolean;
  /**
   * Destinations (CIDRs) the gateway may relay to besides the host-loopback mapping. Default
   * none; ["0.0.0.0/0"] relays anywhere, as slirp4netns does.
   */
  allow?: string[];
  /**
   * Upstream DNS servers ("ADDR" or "ADDR:PORT") for the forwarder at .3; each must be allowed.
   * A UDP query goes to all of them (the first answer wins); TCP queries go to the first.
   */
  dns?: string[];
  /** Port forwards from the host into the guest. */
  forwards?: ForwardSpec[];
  /** Answer DHCP (RFC 2131) for guests that ask (default true). */
  dhcp?: boolean;
  /** Limits on flows, buffers and half-open relays. */
  limits?: Partial<GatewayLimits>;
  /** Hot-path engine of the stack (default "wasm"). */
  engine?: EngineKind;
  /**
   * TCP tuning of the stack. The gateway's default send and receive buffers are 1 MiB each
   * (`sndBuf`, `rcvBuf`; the stack's own defaults are 256 KiB), which keeps relays streaming
   * both ways.
   */
  tcp?: Partial<TcpOptions>;
  /** Capture the guest's link to this pcap file. */
  pcap?: string;
}

/** A running gateway. */
export class Gateway implements AsyncDisposable {
  /** The stack on the guest's link. */
  readonly stack: NetStack;
  /** The gateway's address (dotted quad, "10.0.2.2" by default). */
  readonly address: string;
  /** The DNS forwarder's address ("10.0.2.3"). */
  readonly dnsAddress: string;
  /** The guest's address with `--configure` ("10.0.2.100"). */
  readonly guestAddress: string;
  /** The allow list in force. */
  readonly allow: readonly string[];
  readonly #access: GatewayStack;
  readonly #tcp: TcpRelay;
  readonly #udp: UdpRelay;
  readonly #dhcp: DhcpServer | null;
  readonly #forwards = new Set<Forward>();
  readonly #counters: Record<string, number>;
  readonly #limits: GatewayLimits;
  readonly #gatewayIp: number;
  readonly #inside: (ip: number) => boolean;
  #closed = false;

  /** @internal Use `createGateway`. */
  constructor(
    access: GatewayStack,
    parts: {
      tcp: TcpRelay;
      udp: UdpRelay;
      dhcp: DhcpServer | null;
      counters: Record<string, number>;
      limits: GatewayLimits;
      dns: number;
      guest: number;
      allow: readonly Cidr[];
      inside: (ip: number) => boolean;
    },
  ) {
    const stack = access.stack;
    this.#access = access;
    this.stack = stack;
    this.address = stack.address;
    this.dnsAddress = formatIpv4(parts.dns);
    this.guestAddress = formatIpv4(parts.guest);
    this.allow = parts.allow.map(formatPrefix);
    this.#tcp = parts.tcp;
    this.#udp = parts.udp;
    this.#dhcp = parts.dhcp;
    this.#counters = parts.counters;
    this.#limits = parts.limits;
    this.#gatewayIp = parseIpv4(stack.address);
    this.#inside = parts.inside;
  }

  /**
   * Forward a host port into the guest (listening on 127.0.0.1 unless `hostAddress` says
   * otherwise). Returns the forward; `addr` tells the host port when `hostPort` was 0.
   */
  forward(spec: ForwardSpec): Forward {
    if (this.#closed) throw new Deno.errors.BadResource("The gateway is closed");
    const f = new Forward(this.#access, spec, this.guestAddress, {
      bufBytes: this.#limits.relayBufferBytes,
      maxConns: this.#limits.maxForwardConns,
      count: (n, k) => this.#inc(n, k),
      gateway: this.#gatewayIp,
      inside: this.#inside,
    });
    this.#forwards.add(f);
    return f;
  }

  #inc(name: string, n = 1): void {
    this.#counters[name] = (this.#counters[name] ?? 0) + n;
  }

  /** The stack's counters plus the gateway's (`gateway-*`: relayed, denied, bytes, flows). */
  stats(): Record<string, number> {
    const t = this.#tcp.active;
    const out: Record<string, number> = { ...this.stack.stats(), ...this.#counters };
    out["gateway-tcp-active"] = t.flows;
    out["gateway-tcp-pending"] = t.pending;
    out["gateway-udp-active"] = this.#udp.flows;
    return out;
  }

  /** Stop: forwards stop listening, relays and the stack close. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of this.#forwards) await f.close();
    this.#tcp.close();
    this.#udp.close();
    this.#dhcp?.close();
    await this.stack.close();
    await this.#tcp.settled();
  }

  /** Close the gateway. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Start a gateway on a guest's link. Throws TypeError/RangeError for malformed options, and
 * TypeError when a DNS server lies outside the allow list.
 *
 * @example A guest on a memory link reaches a host service through 10.0.2.2
 * ```ts
 * import { createGateway, createMemoryLinkPair, createStack } from "../../mod.ts";
 * const host = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const served = host.accept().then(async (c) => {
 *   await c.write(new TextEncoder().encode("hi"));
 *   c.close();
 * });
 * const [gl, ul] = createMemoryLinkPair();
 * await using gw = await createGateway({ link: gl });
 * await using guest = await createStack({ link: ul, address: "10.0.2.100/24", gateway: "10.0.2.2" });
 * const conn = await guest.connect({ hostname: "10.0.2.2", port: host.addr.port });
 * if (await new Response(conn.readable).text() !== "hi") throw new Error("no relay");
 * await served;
 * host.close();
 * ```
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  await Promise.resolve();
  const a = addressesOf(options.cidr);
  const allow = (options.allow ?? []).map(parsePrefix);
  const dns: HostPort[] = (options.dns ?? []).map((s) => parseHostPort(s, 53));
  for (const d of dns) {
    if (!inPrefixes(allow, d.ip)) {
      throw new TypeError(
        `DNS server ${formatIpv4(d.ip)} is outside the allow list: add --allow ${
          formatIpv4(d.ip)
        }/32`,
      );
    }
  }
  const limits = resolveGatewayLimits(options.limits);
  const hostLoopback = options.hostLoopback ?? true;
  const stack = await createStack({
    link: options.link,
    address: `${formatIpv4(a.gateway)}/${a.prefixLength}`,
    mac: "52:55:0a:00:02:02",
    ...(options.engine ? { engine: options.engine } : {}),
    tcp: { sndBuf: GATEWAY_SND_BUF, rcvBuf: GATEWAY_RCV_BUF, ...options.tcp },
    ...(options.pcap ? { pcap: options.pcap } : {}),
  });
  const counters: Record<string, number> = {};
  const count = (n: string, k = 1): void => {
    counters[n] = (counters[n] ?? 0) + k;
  };
  const mask = a.prefixLength === 0 ? 0 : (0xffffffff << (32 - a.prefixLength)) >>> 0;
  const inside = (ip: number): boolean => ((ip & mask) >>> 0) === a.network;
  const route = (dst: number, port: number, dnsIdle?: number) => {
    if (dst === a.gateway) return hostLoopback ? { hostname: "127.0.0.1", port } : null;
    if (dst === a.dns) {
      const s = port === 53 ? dns[0] : undefined;
      if (!s) return null;
      const also = dns.slice(1).map((d) => ({ hostname: formatIpv4(d.ip), port: d.port }));
      return { hostname: formatIpv4(s.ip), port: s.port, idleMs: dnsIdle, also };
    }
    if (inside(dst) || !inPrefixes(allow, dst)) return null;
    return { hostname: formatIpv4(dst), port };
  };
  const access = new GatewayStack(stack);
  const tcp = new TcpRelay(access, (d, p) => route(d, p), limits, count);
  const udp = new UdpRelay(access, (d, p) => route(d, p, 10000), limits, count);
  access.acceptForeign({
    ownsAddress: (ip) => ip === a.dns,
    udp: (s, sp, d, dp, data) => udp.input(s, sp, d, dp, data),
  });
  const dhcp = options.dhcp === false ? null : new DhcpServer(access, a, dns.length > 0, count);
  const gw = new Gateway(access, {
    tcp,
    udp,
    dhcp,
    counters,
    limits,
    dns: a.dns,
    guest: a.guest,
    allow,
    inside,
  });
  for (const f of options.forwards ?? []) gw.forward(f);
  return gw;
}
