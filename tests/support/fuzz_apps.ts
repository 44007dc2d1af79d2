/**
 * The live traffic of the fuzz harness: echo transfers between the peer and the victim in
 * rounds ("sessions"). Protected connections must complete byte-exact whatever the fuzzer
 * does; sacrificial connections carry the same traffic and are where mutated copies of live
 * frames are aimed (see `protectPorts`), so they may be reset or fed garbage.
 *
 * Ports: peer clients to the victim's listener use 41000-41999 (protected) and 42000-42999
 * (sacrificial); the victim's own protected client to the peer's listener uses 43000-43999.
 *
 * @module
 */

import { PEER_IP, TCP_PORT, VICTIM_IP } from "./fuzz_corpus.ts";
import { layoutOf, repairChecksums } from "./fuzz_frames.ts";
import { Rng } from "./rng.ts";
import type { ConnLike, ListenerLike, TcpLike } from "./fuzz_tcp_types.ts";
import type { World } from "./fuzz_world.ts";

/** The peer's listening port. */
export const PEER_PORT = 9000;

/** Rewrite a frame aimed at a protected connection so it hits a sacrificial one instead. */
export function protectPorts(f: Uint8Array, repair: boolean): void {
  const l = layoutOf(f);
  if (l.proto !== 6 || l.fragment || l.ihl < 20 || l.l4 + 4 > f.length) return;
  const src = (f[l.l4]! << 8) | f[l.l4 + 1]!;
  const dst = (f[l.l4 + 2]! << 8) | f[l.l4 + 3]!;
  let hit = false;
  if (src >= 41000 && src < 42000) {
    const p = src + 1000;
    f[l.l4] = p >>> 8;
    f[l.l4 + 1] = p & 0xff;
    hit = true;
  }
  if (dst >= 43000 && dst < 44000) {
    const p = dst + 1000;
    f[l.l4 + 2] = p >>> 8;
    f[l.l4 + 3] = p & 0xff;
    hit = true;
  }
  if (hit && repair) repairChecksums(f);
}

function isMisuse(e: unknown): boolean {
  return !(e instanceof Error && "code" in e);
}

/** One end of an echo transfer. */
class Endpoint {
  readonly conn: ConnLike;
  readonly isProtected: boolean;
  /** Client: the bytes to send and compare; server: null (echo). */
  readonly data: Uint8Array | null;
  sent = 0;
  got = 0;
  pending: Uint8Array = new Uint8Array(0);
  finished = false;
  failure: string | null = null;
  readonly #buf = new Uint8Array(16384);

  constructor(conn: ConnLike, isProtected: boolean, data: Uint8Array | null) {
    this.conn = conn;
    this.isProtected = isProtected;
    this.data = data;
  }

  /** Move bytes; never throws for a connection that failed (that is the peer's doing). */
  step(): void {
    if (this.finished) return;
    try {
      this.#step();
    } catch (e) {
      if (isMisuse(e)) throw e;
      this.#end(`threw ${(e as Error).message}`);
    }
  }

  #end(why: string | null): void {
    this.finished = true;
    if (why !== null && this.isProtected && this.failure === null) this.failure = why;
  }

  #step(): void {
    const c = this.conn;
    if (c.error !== null) return this.#end(`connection failed: ${c.error.code}`);
    if (c.state === "CLOSED") return this.#end("closed early");
    for (let i = 0; i < 64; i++) {
      const n = c.read(this.#buf);
      if (n === 0) break;
      if (this.data === null) {
        const p = new Uint8Array(this.pending.length + n);
        p.set(this.pending);
        p.set(this.#buf.subarray(0, n), this.pending.length);
        this.pending = p;
      } else {
        for (let k = 0; k < n; k++) {
          if (this.data[this.got + k] !== this.#buf[k]) {
            return this.#end(`byte ${this.got + k} differs`);
          }
        }
        this.got += n;
        if (this.got > this.data.length) return this.#end("more bytes than sent");
      }
    }
    if (this.data === null) {
      if (this.pending.length > 0 && c.writable > 0) {
        const n = c.write(this.pending);
        this.pending = this.pending.slice(n);
      }
      if (c.readEof && this.pending.length === 0) {
        c.close();
        this.finished = true;
      }
      return;
    }
    if (this.sent < this.data.length && c.writable > 0) {
      this.sent += c.write(this.data.subarray(this.sent));
      if (this.sent === this.data.length) c.shutdownWrite();
    }
    if (c.readEof) {
      if (this.got !== this.data.length) return this.#end(`got ${this.got} of ${this.data.length}`);
      c.close();
      this.finished = true;
    }
  }
}

/** Listeners on both nodes and the endpoints of the current session. */
export class Traffic {
  readonly #world: World;
  readonly #victimListener: ListenerLike;
  readonly #peerListener: ListenerLike;
  #endpoints: Endpoint[] = [];
  /** Sessions whose protected transfers completed byte-exact. */
  sessions = 0;
  /** Bytes verified end to end. */
  verified = 0;
  #session = 0;
  #next = [0, 0, 0];
  #startedAt = 0;

  /** Listeners on `world`'s two nodes (which must have a TCP layer). */
  constructor(world: World) {
    this.#world = world;
    const v = world.victim.tcp, p = world.peer.tcp;
    if (v === null || p === null) throw new Error("Traffic needs a TCP layer on both nodes");
    this.#victimListener = v.listen(0, TCP_PORT, 64);
    this.#peerListener = p.listen(0, PEER_PORT, 64);
  }

  /** Open a new session: `protectedCount` + `sacrificial` clients of `bytes` each. */
  start(rng: Rng, protectedCount: number, sacrificial: number, bytes: number): void {
    const w = this.#world;
    this.#session++;
    this.#startedAt = w.now;
    const data = (): Uint8Array => {
      return new Rng(rng.u32()).fill(new Uint8Array(bytes));
    };
    for (let i = 0; i < protectedCount + sacrificial; i++) {
      const prot = i < protectedCount;
      const conn = this.#connect(prot ? 0 : 1, w.peer.tcp!, VICTIM_IP, TCP_PORT);
      this.#endpoints.push(new Endpoint(conn, prot, data()));
    }
    const conn = this.#connect(2, w.victim.tcp!, PEER_IP, PEER_PORT);
    this.#endpoints.push(new Endpoint(conn, true, data()));
  }

  /** Connect from the next free port of range `r` (41000, 42000 or 43000 + 0..999). */
  #connect(r: number, tcp: TcpLike, ip: number, port: number): ConnLike {
    for (let tries = 0; tries < 1000; tries++) {
      const local = 41000 + 1000 * r + (this.#next[r]! % 1000);
      this.#next[r]!++;
      try {
        return tcp.connect(ip, port, this.#world.now, { localPort: local });
      } catch (e) {
        if (!(e instanceof Error && "code" in e && e.code === "addr-in-use")) throw e;
      }
    }
    throw new Error("No free port left for the fuzz traffic");
  }

  /** Accept and move bytes on every endpoint. */
  step(): void {
    for (const l of [this.#victimListener, this.#peerListener]) {
      for (let c = l.accept(); c !== null; c = l.accept()) {
        const p = c.remotePort;
        const prot = (p >= 41000 && p < 42000) || (p >= 43000 && p < 44000);
        this.#endpoints.push(new Endpoint(c, prot, null));
      }
    }
    for (const e of this.#endpoints) e.step();
  }

  /** Failures of protected endpoints so far. */
  failures(): string[] {
    return this.#endpoints.filter((e) => e.failure !== null).map((e) =>
      `port ${e.conn.localPort}->${e.conn.remotePort}: ${e.failure}`
    );
  }

  /** True when every protected client finished; sacrificial ones still open are aborted. */
  sessionDone(): boolean {
    const clients = this.#endpoints.filter((e) => e.isProtected && e.data !== null);
    if (!clients.every((e) => e.finished)) return false;
    for (const e of this.#endpoints) {
      if (e.isProtected && e.data !== null && e.failure === null) this.verified += e.got;
      if (!e.finished && !e.isProtected) {
        e.conn.abort();
        e.finished = true;
      }
    }
    this.#endpoints = this.#endpoints.filter((e) => !e.finished);
    this.sessions++;
    return true;
  }

  /** Virtual ms since the session started. */
  age(): number {
    return this.#world.now - this.#startedAt;
  }

  /** Endpoints still open. */
  get open(): number {
    return this.#endpoints.length;
  }
}
