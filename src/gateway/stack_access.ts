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
    const where = endpoint(remoteIp, remotePort);
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
