/**
 * The receive demux of the interface, sans-I/O: each frame lying in packet memory is decoded
 * by the engine (a non-zero verdict is a counted drop named in src/wire/drop.ts), filtered by
 * its Ethernet destination (ours, broadcast, our multicast groups), and handed to ARP (arp.ts),
 * the IPv4 receive path (ipv4_input.ts) or the IPv6 half (ipv6_path.ts). Frames to our own
 * addresses wait on the loopback path (loopback.ts) and are received here too, marked as
 * looped (127/8 and ::1 are accepted only from there).
 *
 * @module
 */

import type { Engine } from "../kernels/engine.ts";
import { DECODE_L4_VALID, K_ARP, K_ETH_OTHER } from "../wire/layout.ts";
import { ARP_REPLY, ARP_REQUEST, ArpPacket } from "../wire/arp_packet.ts";
import { EthernetFrame, ETHERTYPE_IPV6 } from "../wire/ethernet_frame.ts";
import { dropName } from "../wire/drop.ts";
import { arpInput } from "./arp.ts";
import type { Counters } from "./counters.ts";
import { filterDestination, isGroupMac } from "./ethernet.ts";
import type { ForeignHandler } from "./interface_types.ts";
import type { Ipv4Input } from "./ipv4_input.ts";
import type { Ipv6Path } from "./ipv6_path.ts";
import type { Router } from "./routing.ts";
import { LOOPBACK_RX_OFF, type Transmitter } from "./transmit.ts";

/** What the demux reads from its interface. */
export interface FrameInputEnv {
  /** Our MAC's two halves (hi 16 bits, lo 32 bits). */
  readonly macHi: number;
  readonly macLo: number;
  /** Whether frames to Ethernet multicast addresses are accepted. */
  readonly multicast: boolean;
  /** Gateway mode's handler, when on (ARP replies for the addresses it serves). */
  foreign(): ForeignHandler | null;
  /** Called with the `now` of each frame received, before it is processed. */
  seen(now: number): void;
}

/** The receive demux of one interface. */
export class FrameInput {
  #engine: Engine;
  #tx: Transmitter;
  #router: Router;
  #c: Counters;
  #v4in: Ipv4Input;
  #v6: Ipv6Path;
  #env: FrameInputEnv;
  #looped = false;
  // Received headers, one reused record per layer (filled from the receive descriptor).
  #eth = new EthernetFrame();
  #arp = new ArpPacket();

  /** The demux over the parts of the interface that `env` describes. */
  constructor(
    engine: Engine,
    parts: { tx: Transmitter; router: Router; counters: Counters; v4in: Ipv4Input; v6: Ipv6Path },
    env: FrameInputEnv,
  ) {
    this.#engine = engine;
    this.#tx = parts.tx;
    this.#router = parts.router;
    this.#c = parts.counters;
    this.#v4in = parts.v4in;
    this.#v6 = parts.v6;
    this.#env = env;
  }

  /** True while a frame from the loopback queue is being received. */
  get looped(): boolean {
    return this.#looped;
  }

  /**
   * Receive the frames that were waiting on the loopback path (those looped while they are
   * received wait for the next call). Returns how many were received.
   */
  deliverLoopback(now: number): number {
    const q = this.#tx.loopback;
    const n = q.pending;
    for (let i = 0; i < n; i++) {
      const f = q.shift()!;
      this.#engine.mem.set(f, LOOPBACK_RX_OFF); // mem is re-read: WASM memory may grow
      this.#looped = true;
      try {
        this.frame(LOOPBACK_RX_OFF, f.length, now);
      } finally {
        this.#looped = false;
      }
    }
    return n;
  }

  /**
   * Process one frame lying in `engine.mem[off, off+len)`. Never throws on any bytes.
   * `l4Valid`: its TCP/UDP checksum is vouched for by the link, not verified again.
   */
  frame(off: number, len: number, now: number, l4Valid = false): void {
    this.#env.seen(now);
    const c = this.#c;
    const verdict = this.#engine.decode(off, len, l4Valid ? DECODE_L4_VALID : 0);
    if (verdict !== 0) {
      c.inc(dropName(verdict));
      return this.#v6.dropped(verdict, now); // RFC 8200 section 4: some get a Parameter Problem
    }
    const d = this.#engine.rxDesc;
    const eth = this.#eth.fromDesc(d);
    const { macHi, macLo, multicast } = this.#env;
    const cast = filterDestination(eth.dstHi, eth.dstLo, macHi, macLo, multicast);
    if (cast === "not-for-us") {
      // Our IPv6 multicast groups (all-nodes, solicited-node) are accepted (RFC 2464 7).
      if (!this.#v6.groupInput(eth, now)) c.inc("eth-not-for-us");
      return;
    }
    // No VLAN is configured here: tagged frames belong to another interface (like Linux).
    if (eth.vlan >= 0) return c.inc("eth-vlan-tagged");
    if (eth.kind === K_ARP) {
      const a = this.#arp.fromDesc(d);
      const foreign = this.#env.foreign();
      if (
        foreign && a.op === ARP_REQUEST && a.tpa !== this.#router.address &&
        foreign.ownsAddress(a.tpa) && !isGroupMac(a.shaHi) && a.spa !== 0
      ) {
        c.inc("arp-replies-foreign"); // RFC 826 reply for an address the gateway serves
        return this.#tx.sendArp(ARP_REPLY, a.tpa, a.shaHi, a.shaLo, a.spa, a.shaHi, a.shaLo);
      }
      return arpInput(a, this.#tx, this.#router, c, now);
    }
    if (eth.kind === K_ETH_OTHER) return c.inc("eth-unknown-type");
    // IPv6: reassembly, TCP and UDP, the IPv6 host (ipv6_path.ts).
    if (eth.ethertype === ETHERTYPE_IPV6) return this.#v6.input(eth.kind, now);
    this.#v4in.input(cast !== "unicast", now);
  }
}
