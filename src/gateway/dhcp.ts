/**
 * A small DHCP server (RFC 2131) for guests that ask (VMs): DISCOVER gets an OFFER of the
 * client's lease (from .15 up, one per hardware address, at most 64), REQUEST of that address
 * an ACK (else a NAK, RFC 2131 4.3.2), RELEASE frees it, INFORM gets the options. Replies go to
 * the broadcast address (RFC 2131 4.1 allows it when unicast to a client with no address is
 * not possible). Options: subnet mask, router, DNS (when a forwarder is set), lease time,
 * server identifier.
 *
 * @module
 */

import type { GatewayStack } from "./stack_access.ts";
import type { DatagramConn } from "../api/datagram.ts";
import {
  decodeDhcp,
  DHCP_ACK,
  DHCP_DECLINE,
  DHCP_DISCOVER,
  DHCP_INFORM,
  DHCP_NAK,
  DHCP_OFFER,
  DHCP_RELEASE,
  DHCP_REQUEST,
  type DhcpMessage,
  encodeDhcp,
  ipBytes,
  OPT_DNS,
  OPT_LEASE_TIME,
  OPT_MSG_TYPE,
  OPT_REQUESTED_IP,
  OPT_ROUTER,
  OPT_SERVER_ID,
  OPT_SUBNET_MASK,
} from "../wire/dhcp.ts";
import { type GatewayAddresses, maskOf } from "./config.ts";
import type { Count } from "./tcp_relay.ts";

/** Leases handed out at most (addresses .15 to .78). */
export const DHCP_MAX_LEASES = 64;
/** Lease time offered (seconds). */
export const DHCP_LEASE_SECONDS = 86400;

function ipOf(v: Uint8Array | number[] | undefined): number {
  if (!v || v.length !== 4) return 0;
  return ((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0;
}

/** The DHCP server of a gateway. */
export class DhcpServer {
  readonly #stack: GatewayStack;
  readonly #a: GatewayAddresses;
  readonly #dns: boolean;
  readonly #count: Count;
  readonly #sock: DatagramConn;
  readonly #leases = new Map<string, number>();

  /** Serve on UDP port 67 of `stack`. */
  constructor(stack: GatewayStack, a: GatewayAddresses, dns: boolean, count: Count) {
    this.#stack = stack;
    this.#a = a;
    this.#dns = dns;
    this.#count = count;
    this.#sock = stack.stack.listenDatagram({ port: 67 });
    this.#serve().catch(() => {});
  }

  async #serve(): Promise<void> {
    for (;;) {
      let data: Uint8Array;
      try {
        [data] = await this.#sock.receive();
      } catch {
        return; // closed
      }
      const m = decodeDhcp(data);
      if (!m || m.op !== 1) {
        this.#count("dhcp-malformed");
        continue;
      }
      this.#handle(m);
    }
  }

  #leaseFor(mac: string): number {
    const have = this.#leases.get(mac);
    if (have !== undefined) return have;
    const used = new Set(this.#leases.values());
    for (let i = 0; i < DHCP_MAX_LEASES; i++) {
      const ip = this.#a.dhcpFirst + i;
      if (!used.has(ip)) {
        this.#leases.set(mac, ip);
        return ip;
      }
    }
    return 0;
  }

  #handle(m: DhcpMessage): void {
    const type = m.options.get(OPT_MSG_TYPE)?.[0];
    const mac = Array.from(m.chaddr, (x) => x.toString(16).padStart(2, "0")).join(":");
    switch (type) {
      case DHCP_DISCOVER: {
        const ip = this.#leaseFor(mac);
        if (ip === 0) return this.#count("dhcp-pool-exhausted");
        this.#count("dhcp-offers");
        return this.#reply(m, DHCP_OFFER, ip);
      }
      case DHCP_REQUEST: {
        // RFC 2131 4.3.2: the requested address (option 50, or ciaddr when renewing).
        const sid = ipOf(m.options.get(OPT_SERVER_ID));
        if (sid !== 0 && sid !== this.#a.gateway) return; // the client chose another server
        const want = ipOf(m.options.get(OPT_REQUESTED_IP)) || m.ciaddr;
        const ip = this.#leaseFor(mac);
        if (ip === 0 || want !== ip) {
          this.#count("dhcp-naks");
          return this.#reply(m, DHCP_NAK, 0);
        }
        this.#count("dhcp-acks");
        return this.#reply(m, DHCP_ACK, ip);
      }
      case DHCP_RELEASE:
      case DHCP_DECLINE:
        this.#leases.delete(mac);
        return this.#count("dhcp-released");
      case DHCP_INFORM:
        this.#count("dhcp-informs");
        return this.#reply(m, DHCP_ACK, 0);
      default:
        return this.#count("dhcp-unknown-type");
    }
  }

  #reply(m: DhcpMessage, type: number, yiaddr: number): void {
    const a = this.#a;
    const options = new Map<number, number[]>([[OPT_MSG_TYPE, [type]]]);
    options.set(OPT_SERVER_ID, ipBytes(a.gateway));
    if (type !== DHCP_NAK) {
      if (yiaddr !== 0) options.set(OPT_LEASE_TIME, ipBytes(DHCP_LEASE_SECONDS));
      options.set(OPT_SUBNET_MASK, ipBytes(maskOf(a.prefixLength)));
      options.set(OPT_ROUTER, ipBytes(a.gateway));
      if (this.#dns) options.set(OPT_DNS, ipBytes(a.dns));
    }
    const bytes = encodeDhcp({
      op: 2,
      xid: m.xid,
      flags: m.flags,
      ciaddr: type === DHCP_NAK ? 0 : m.ciaddr,
      yiaddr,
      siaddr: 0,
      chaddr: m.chaddr,
      options,
    });
    this.#stack.sendUdpFrom(a.gateway, 67, 0xffffffff, 68, bytes);
  }

  /** Stop serving. */
  close(): void {
    try {
      this.#sock.close();
    } catch { /* closed */ }
  }
}
