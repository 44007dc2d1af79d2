/**
 * The guest's IPv6 address, for port forwards into the guest over IPv6. The guest forms it by
 * SLAAC from our advertisement (RFC 4862 5.5.3: EUI-64, stable-privacy or temporary, we cannot
 * tell in advance), so the gateway asks: an ICMPv6 echo request from fd00::2 to all-nodes
 * (ff02::1, RFC 4443 4.1; Linux answers it unless `icmp.echo_ignore_multicast` is set), whose
 * reply comes from the address the guest would use toward fd00::2 (RFC 6724 source
 * selection). The address is kept until a forward fails to reach it; then asked again.
 *
 * @module
 */

import { foldSum } from "../wire/checksum.ts";

/** How long a forward waits for the guest to answer the probe (ms). */
export const GUEST6_PROBE_TIMEOUT_MS = 5000;
/** Probes are sent this far apart until one is answered (ms). */
export const GUEST6_PROBE_INTERVAL_MS = 250;

const ALL_NODES = Uint8Array.from([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const IDENT = 0x6477; // "dw"

/** The whole Ethernet frame of an ICMPv6 echo request from `src` to all-nodes. */
export function buildEchoProbe(mac: Uint8Array, src: Uint8Array, seq: number): Uint8Array {
  const data = new TextEncoder().encode("deno-tcp gateway: guest address");
  const icmpLen = 8 + data.length;
  const f = new Uint8Array(14 + 40 + icmpLen);
  const v = new DataView(f.buffer);
  f.set([0x33, 0x33, 0, 0, 0, 1], 0); // RFC 2464 section 7
  f.set(mac, 6);
  v.setUint16(12, 0x86dd);
  const ip = 14;
  f[ip] = 0x60;
  v.setUint16(ip + 4, icmpLen);
  f[ip + 6] = 58;
  f[ip + 7] = 1; // link-local scope: one hop
  f.set(src, ip + 8);
  f.set(ALL_NODES, ip + 24);
  const o = ip + 40;
  f[o] = 128; // echo request
  v.setUint16(o + 4, IDENT);
  v.setUint16(o + 6, seq & 0xffff);
  f.set(data, o + 8);
  // RFC 4443 2.3: the checksum over the pseudo-header (RFC 8200 8.1) and the message.
  let sum = 58 + icmpLen;
  for (let i = ip + 8; i < f.length; i += 2) sum += (f[i]! << 8) | (f[i + 1] ?? 0);
  v.setUint16(o + 2, ~foldSum(sum) & 0xffff);
  return f;
}

/** Finds and keeps the guest's IPv6 address inside the gateway's /64. */
export class GuestAddress6 {
  readonly #mac: Uint8Array;
  readonly #src: Uint8Array;
  readonly #prefix: Uint8Array;
  readonly #send: (frame: Uint8Array) => void;
  #known: Uint8Array | null = null;
  #seq = 0;
  #waiters = new Set<(addr: Uint8Array) => void>();

  /** Probes go from `src` (fd00::2) through `send`; answers inside `prefix` (a /64) count. */
  constructor(
    mac: Uint8Array,
    src: Uint8Array,
    prefix: Uint8Array,
    send: (frame: Uint8Array) => void,
  ) {
    this.#mac = mac;
    this.#src = src.slice();
    this.#prefix = prefix.slice(0, 8);
    this.#send = send;
  }

  /** The address known now, or null. */
  get known(): Uint8Array | null {
    return this.#known;
  }

  /** An echo reply to us (the stack's hook): an answer to our probe from the guest's /64. */
  echoReply(from: Uint8Array, ident: number): void {
    if (ident !== IDENT || !this.#prefix.every((b, i) => b === from[i])) return;
    this.#known = from.slice();
    for (const w of this.#waiters) w(this.#known);
    this.#waiters.clear();
  }

  /** A forward could not reach `addr`: ask again next time. */
  forget(addr: Uint8Array): void {
    if (this.#known !== null && this.#known.every((b, i) => b === addr[i])) this.#known = null;
  }

  /**
   * The guest's address: the known one, else probe (every GUEST6_PROBE_INTERVAL_MS) until one
   * answers; rejects with `NotConnected` after `timeoutMs` (no guest with an IPv6 address).
   */
  async find(timeoutMs = GUEST6_PROBE_TIMEOUT_MS): Promise<Uint8Array> {
    if (this.#known !== null) return this.#known;
    const { promise, resolve } = Promise.withResolvers<Uint8Array>();
    this.#waiters.add(resolve);
    const deadline = Date.now() + timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const probe = (): void => {
      if (Date.now() >= deadline) {
        this.#waiters.delete(resolve);
        return resolve(new Uint8Array(0));
      }
      this.#send(buildEchoProbe(this.#mac, this.#src, this.#seq++));
      timer = setTimeout(probe, GUEST6_PROBE_INTERVAL_MS);
    };
    probe();
    const addr = await promise.finally(() => clearTimeout(timer));
    if (addr.length !== 16) {
      throw new Deno.errors.NotConnected(
        `No guest answered on IPv6 within ${timeoutMs} ms (no SLAAC address yet?)`,
      );
    }
    return addr;
  }

  /** Stop waiting (the gateway closes): pending `find` calls reject. */
  close(): void {
    for (const w of this.#waiters) w(new Uint8Array(0));
    this.#waiters.clear();
  }
}
