/**
 * The gateway's whole reach into the stack below the public API, in one place: taking the SYNs
 * no listener claims (and handing a held one back once its upstream answered), wrapping the TCP
 * layer's connections as `Conn`s, opening a connection from an address that is not ours (a
 * port forward that keeps its client's address), taking unicast TCP and UDP to any
 * destination, and sending UDP from any address. Everything else the gateway does goes through
 * `NetStack`'s public methods.
 *
 * @module
 */

import type { NetStack } from "../api/net_stack.ts";
import { Conn } from "../api/conn.ts";
import { mapLayerError } from "../api/errors.ts";
import { endpoint } from "../api/addr.ts";
import type { TcpSegment } from "../wire/tcp_segment.ts";
import type { TcpConnection, TcpListener } from "../tcp/tcp_layer.ts";
import type { ForeignHandler } from "../iface/interface.ts";
import { ADDR_DUPLICATE } from "../iface/ndp_addresses.ts";

/** What the gateway's SYN hook answers (the TCP layer's `onUnclaimedSyn`). */
export type SynVerdict = TcpListener | "hold" | "reset";

/** The stack internals the gateway uses (see the module note). */
export class GatewayStack {
  /** The stack itself (its public API). */
  readonly stack: NetStack;

  /** Wrap `stack`. */
  constructor(stack: NetStack) {
    this.stack = stack;
  }

  /** True once the stack is closing. */
  get closed(): boolean {
    return this.stack.driver.closed;
  }

  /**
   * Take every SYN no listener claims: `onSyn` answers with a relay listener (accept it),
   * "hold" (drop it for now) or "reset". Returns the relay listener (backlog `backlog`) whose
   * connections take the SYN's destination as their local address.
   */
  takeSyns(backlog: number, onSyn: (seg: TcpSegment) => SynVerdict): TcpListener {
    const tcp = this.stack.driver.tcp;
    const l = tcp.relayListener(backlog);
    tcp.onUnclaimedSyn = (seg) => onSyn(seg);
    return l;
  }

  /** Stop taking unclaimed SYNs (they get RST again). */
  releaseSyns(): void {
    this.stack.driver.tcp.onUnclaimedSyn = null;
  }

  /** Hand a held SYN to the TCP layer again (its verdict is asked anew); false when closed. */
  inputAgain(syn: TcpSegment): boolean {
    const d = this.stack.driver;
    if (d.closed) return false;
    d.tcp.input(syn, d.now());
    d.kick();
    return true;
  }

  /** A `Conn` over a connection the relay listener accepted. */
  wrap(tc: TcpConnection): Conn {
    return new Conn(this.stack.driver, tc);
  }

  /**
   * Open a TCP connection to `remoteIp:remotePort` from `localIp` (any address, also one that
   * is not ours: the guest answers it through its route to us) and `localPort` (0: an
   * ephemeral port). Resolves once established; rejects as `NetStack.connect` does, with
   * `AddrInUse` when the four-tuple is taken, and with `TimedOut` after `timeoutMs` (default:
   * only the TCP layer's own SYN retries bound it).
   */
  async connectFrom(
    localIp: number,
    localPort: number,
    remoteIp: number,
    remotePort: number,
    timeoutMs = Infinity,
  ): Promise<Conn> {
    const d = this.stack.driver;
    const where = endpoint(remoteIp, remotePort, (ip) => d.iface.formatAddress(ip));
    if (d.closed) {
      throw new Deno.errors.BadResource(`Cannot connect to ${where}: the stack is closed`);
    }
    let conn: Conn;
    try {
      const opts = localPort === 0 ? { localIp } : { localIp, localPort };
      conn = new Conn(d, d.tcp.connect(remoteIp, remotePort, d.now(), opts));
    } catch (err) {
      throw mapLayerError(err, where);
    }
    d.kick();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (timeoutMs === Infinity) await conn.established();
      else {
        await Promise.race([
          conn.established(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Deno.errors.TimedOut(`Connection to ${where} timed out`)),
              timeoutMs,
            );
          }),
        ]);
      }
    } catch (err) {
      conn.abort();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return conn;
  }

  /** Take unicast TCP and UDP to any destination (`null`: stop). */
  acceptForeign(handler: ForeignHandler | null): void {
    this.stack.driver.iface.acceptForeign(handler);
  }

  /**
   * Keep an address's IPv6 handle (a SYN's source while its upstream connects: a received
   * source's handle is only tentative); false when the table is full. IPv4: always true.
   */
  holdAddress(ip: number): boolean {
    return this.stack.driver.iface.holdAddress(ip);
  }

  /** Drop what `holdAddress` kept. */
  releaseAddress(ip: number): void {
    this.stack.driver.iface.releaseAddress(ip);
  }

  /** The 16 bytes of an IPv6 handle, null for an IPv4 address. */
  ipv6Bytes(ip: number): Uint8Array | null {
    return this.stack.driver.iface.addressBytes(ip)?.slice() ?? null;
  }

  /** Our IPv6 link-local address. */
  get linkLocal(): Uint8Array {
    return this.stack.driver.iface.linkLocal;
  }

  /** The handle of an IPv6 address for a `connectFrom` made at once (no await between). */
  ipv6Handle(addr: Uint8Array): number {
    return this.stack.driver.iface.ipv6Handle(addr);
  }

  /** Take the ICMPv6 echo replies to our addresses: source (a view) and identifier. */
  onEchoReply6(fn: ((from: Uint8Array, ident: number) => void) | null): void {
    this.stack.driver.iface.ip6Host.onEchoReply6 = fn === null ? null : (from, id) => fn(from, id);
  }

  /** Whether our link-local address passed duplicate address detection (RFC 4862 5.4). */
  linkLocalState(): "tentative" | "usable" | "duplicate" {
    const iface = this.stack.driver.iface;
    const a = iface.ip6Host.nd.addrs.find(iface.linkLocal);
    return a?.usable ? "usable" : a?.state === ADDR_DUPLICATE ? "duplicate" : "tentative";
  }

  /** Send a whole Ethernet frame onto the guest's link (a router advertisement). */
  sendFrame(frame: Uint8Array): void {
    const d = this.stack.driver;
    if (d.closed) return;
    d.observer?.frame("out", frame, 0, frame.length); // a pcap capture
    d.link.send(frame, 0, frame.length);
  }

  /**
   * IPv6 gateway mode: answer router solicitations with `onRs` (null: off), take TCP to any
   * unicast IPv6 address (to the SYN hook) and UDP to other hosts and to our IPv6 addresses'
   * unbound ports with `udp6` (views valid during the call; true: taken; false: the guest
   * gets destination unreachable, administratively prohibited for another host).
   */
  acceptIpv6(
    onRs: (() => void) | null,
    udp6:
      | ((src: Uint8Array, sp: number, dst: Uint8Array, dp: number, data: Uint8Array) => boolean)
      | null,
  ): void {
    const iface = this.stack.driver.iface;
    iface.ip6Host.onRouterSolicit = onRs === null ? null : () => onRs();
    iface.foreignUdp6 = udp6;
    iface.foreign6 = udp6 !== null;
  }

  /** Send one UDP datagram over IPv6 from one of our addresses; false when not sent. */
  sendUdp6From(
    src: Uint8Array,
    srcPort: number,
    dst: Uint8Array,
    dstPort: number,
    data: Uint8Array,
  ): boolean {
    const d = this.stack.driver;
    if (d.closed) return false;
    const ok = d.iface.udpSendFrom6(src, srcPort, dst, dstPort, data);
    d.kick();
    return ok;
  }

  /** Send one UDP datagram from any address and port; false when it could not be queued. */
  sendUdpFrom(
    srcIp: number,
    srcPort: number,
    dstIp: number,
    dstPort: number,
    data: Uint8Array,
  ): boolean {
    const d = this.stack.driver;
    if (d.closed) return false;
    const ok = d.iface.udpSendFrom(srcIp, srcPort, dstIp, dstPort, data);
    d.kick();
    return ok;
  }
}
