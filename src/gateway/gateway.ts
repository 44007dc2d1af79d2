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
  type Cidr6,
  formatHost,
  formatPrefix,
  formatPrefix6,
  type GatewayLimits,
  type HostPort,
  inPrefixes,
  inPrefixes6,
  parseHostPort,
  parsePrefix,
  parsePrefix6,
  resolveGatewayLimits,
} from "./config.ts";
import { DhcpServer } from "./dhcp.ts";
import { Forward, type ForwardSpec } from "./forward.ts";
import { TcpRelay } from "./tcp_relay.ts";
import { UdpRelay } from "./udp_relay.ts";
import { GatewayStack } from "./stack_access.ts";
import { RouterAdvertiser } from "./ra.ts";
import { GuestAddress6 } from "./guest6.ts";
import { formatIpv6, parseIpv6 } from "../wire/ipv6_address.ts";
import { isIpv6Handle } from "../wire/ip_handle.ts";

/**
 * The send buffer of the gateway's TCP connections unless `tcp.sndBuf` says otherwise. Fixed:
 * letting it grow with cwnd up to 4 MiB (the stack's auto-tuning) measured no faster in
 * bench:gateway (host to guest), and a bigger ring's copies run cache-cold.
 */
export const GATEWAY_SND_BUF = 1 << 20;
/**
 * The receive buffer (the window offered to the guest) unless `tcp.rcvBuf` says otherwise.
 * It starts at 1 MiB rather than the stack's 256 KiB: with 64 KiB frames (MTU 65520) 256 KiB
 * is four frames in flight, and guest-to-host relaying stalled on it before auto-tuning grew it
 * (1 MiB: 2.2 to 4.0 Gbit/s, bench:gateway). Auto-tuning may still grow it, within the stack's
 * buffer budget.
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
   * none; ["0.0.0.0/0"] relays anywhere, as slirp4netns does. IPv6 CIDRs ("::/0",
   * "2001:db8::/32") apply with `ipv6`.
   */
  allow?: string[];
  /**
   * Upstream DNS servers ("ADDR" or "ADDR:PORT"; IPv6 as "::1" or "[::1]:5353") for the
   * forwarder at .3 (and fd00::3 with `ipv6`); each must be allowed (an IPv6 one by an IPv6
   * CIDR, which needs no `ipv6` for this). A UDP query goes to all of them (the first answer
   * wins); TCP queries go to the first.
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
  /**
   * IPv6 as slirp4netns `--enable-ipv6` (default false): the gateway is also fd00::2 (the
   * host's ::1 unless `hostLoopback: false`) and fd00::3 (the DNS forwarder, to the `dns`
   * upstreams), and advertises fd00::/64 as a router (RFC 4861) once its link-local address
   * passed DAD, so that the guest forms its address by SLAAC and routes through our link-local
   * address; at `close` a final advertisement (router lifetime 0) withdraws that route. TCP and
   * UDP to fd00::2 and fd00::3 are relayed, and to other IPv6 destinations inside an IPv6 CIDR
   * of `allow`; TCP to one outside gets RST (as IPv4), UDP and anything else destination
   * unreachable, administratively prohibited (RFC 4443 3.1 code 1). Port forwards with an IPv6
   * host or guest address reach the guest over IPv6 (see `ForwardSpec`).
   */
  ipv6?: boolean;
}

/** The IPv6 prefix (fd00::/64), gateway (fd00::2) and DNS forwarder (fd00::3) addresses. */
export const GATEWAY_IPV6 = Object.freeze({
  prefix: "fd00::/64",
  gateway: "fd00::2",
  dns: "fd00::3",
});

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
  /** The gateway's IPv6 address ("fd00::2") with `ipv6`, else null. */
  readonly address6: string | null;
  /** The DNS forwarder's IPv6 address ("fd00::3") with `ipv6`, else null. */
  readonly dnsAddress6: string | null;
  readonly #ra: RouterAdvertiser | null;
  readonly #guest6: GuestAddress6 | null;
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
      allow6: readonly Cidr6[];
      inside: (ip: number) => boolean;
      ra: RouterAdvertiser | null;
      guest6: GuestAddress6 | null;
    },
  ) {
    const stack = access.stack;
    this.#access = access;
    this.stack = stack;
    this.address = stack.address;
    this.dnsAddress = formatIpv4(parts.dns);
    this.guestAddress = formatIpv4(parts.guest);
    this.allow = [...parts.allow.map(formatPrefix), ...parts.allow6.map(formatPrefix6)];
    this.#tcp = parts.tcp;
    this.#udp = parts.udp;
    this.#dhcp = parts.dhcp;
    this.#counters = parts.counters;
    this.#limits = parts.limits;
    this.#gatewayIp = parseIpv4(stack.address);
    this.#inside = parts.inside;
    this.#ra = parts.ra;
    this.#guest6 = parts.guest6;
    this.address6 = parts.ra ? GATEWAY_IPV6.gateway : null;
    this.dnsAddress6 = parts.ra ? GATEWAY_IPV6.dns : null;
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
      ipv6: this.#guest6
        ? { gateway: parseIpv6(GATEWAY_IPV6.gateway)!, guest: this.#guest6 }
        : null,
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
    if (this.#ra) {
      out["gateway-ra-sent"] = this.#ra.sent;
      out["gateway-ra-answers"] = this.#ra.answers;
    }
    return out;
  }

  /** Stop: forwards stop listening, relays and the stack close. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ra?.close(); // the final advertisement (router lifetime 0) while the link is up
    this.#guest6?.close();
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
  const allow = (options.allow ?? []).filter((c) => !c.includes(":")).map(parsePrefix);
  const allow6 = (options.allow ?? []).filter((c) => c.includes(":")).map(parsePrefix6);
  const dns: HostPort[] = (options.dns ?? []).map((s) => parseHostPort(s, 53));
  for (const d of dns) {
    const ok = typeof d.ip === "number" ? inPrefixes(allow, d.ip) : inPrefixes6(allow6, d.ip);
    if (!ok) {
      const host = formatHost(d.ip);
      throw new TypeError(
        `DNS server ${host} is outside the allow list: add --allow ${host}/${
          typeof d.ip === "number" ? 32 : 128
        }`,
      );
    }
  }
  // Without ipv6 an IPv6 prefix only serves IPv6 DNS upstreams of the IPv4 forwarder.
  const upstreams6 = dns.flatMap((d) => typeof d.ip === "number" ? [] : [d.ip]);
  const stray = allow6.find((c) => !upstreams6.some((ip) => inPrefixes6([c], ip)));
  if (stray && !options.ipv6) {
    throw new TypeError(`Cannot allow ${formatPrefix6(stray)} without ipv6 (--enable-ipv6)`);
  }
  const limits = resolveGatewayLimits(options.limits);
  const hostLoopback = options.hostLoopback ?? true;
  const ipv6 = options.ipv6 ?? false;
  const v4cidr = `${formatIpv4(a.gateway)}/${a.prefixLength}`;
  const stack = await createStack({
    link: options.link,
    address: ipv6 ? [v4cidr, `${GATEWAY_IPV6.gateway}/64`, `${GATEWAY_IPV6.dns}/64`] : v4cidr,
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
      const also = dns.slice(1).map((d) => ({ hostname: formatHost(d.ip), port: d.port }));
      return { hostname: formatHost(s.ip), port: s.port, idleMs: dnsIdle, also };
    }
    if (inside(dst) || !inPrefixes(allow, dst)) return null;
    return { hostname: formatIpv4(dst), port };
  };
  const access = new GatewayStack(stack);
  const gw6 = parseIpv6(GATEWAY_IPV6.gateway)!, dns6 = parseIpv6(GATEWAY_IPV6.dns)!;
  const prefix6 = parseIpv6(GATEWAY_IPV6.prefix.split("/")[0]!)!;
  const same = (x: Uint8Array, y: Uint8Array) => x.every((b, i) => b === y[i]);
  // IPv6 (ipv6: true): only our own fd00::2 and fd00::3 reach the relays.
  const route6 = (dst: Uint8Array, port: number, dnsIdle?: number) => {
    if (same(dst, gw6)) return hostLoopback ? { hostname: "::1", port } : null;
    if (same(dst, dns6)) return route(a.dns, port, dnsIdle);
    // fd00::/64 is the guest's own link; ::1 and link-local are not routed (RFC 4291 2.5.3).
    if (same(dst.subarray(0, 8), prefix6.subarray(0, 8)) || !inPrefixes6(allow6, dst)) {
      return null;
    }
    if (dst.every((b, i) => b === (i === 15 ? 1 : 0))) return null;
    return { hostname: formatIpv6(dst), port };
  };
  const tcpRoute = (d: number, p: number) => {
    if (!isIpv6Handle(d)) return route(d, p);
    const b = access.ipv6Bytes(d);
    return b === null ? null : route6(b, p);
  };
  const tcp = new TcpRelay(access, tcpRoute, limits, count);
  const udp = new UdpRelay(
    access,
    (d, p) => route(d, p, 10000),
    limits,
    count,
    ipv6 ? (d, p) => route6(d, p, 10000) : null,
  );
  let ra: RouterAdvertiser | null = null;
  let guest6: GuestAddress6 | null = null;
  if (ipv6) {
    const finder = new GuestAddress6(
      stack.driver.iface.mac,
      gw6,
      prefix6,
      (f) => access.sendFrame(f),
    );
    access.onEchoReply6((from, ident) => finder.echoReply(from, ident));
    guest6 = finder;
    ra = new RouterAdvertiser(
      {
        mac: stack.driver.iface.mac,
        linkLocal: access.linkLocal,
        prefix: prefix6,
        mtu: stack.driver.iface.mtu,
      },
      (f) => access.sendFrame(f),
      () => access.linkLocalState(),
    );
    const adv = ra;
    access.acceptIpv6(
      () => adv.solicited(),
      (s, sp, d, dp, data) => udp.input6(s, sp, d, dp, data),
    );
  }
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
    allow6,
    inside,
    ra,
    guest6,
  });
  for (const f of options.forwards ?? []) gw.forward(f);
  return gw;
}
