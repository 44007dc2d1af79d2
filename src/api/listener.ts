/**
 * `Listener`: a TCP listener shaped like `Deno.Listener`: `accept()`, async iteration,
 * `close()`, `addr`, and disposal.
 *
 * @module
 */

import type { Driver } from "../stack.ts";
import type { TcpListener } from "../tcp/tcp_layer.ts";
import { netAddr } from "./addr.ts";
import { Conn } from "./conn.ts";
import { WakeList } from "./wake.ts";

/** Connections waiting for accept() that make the driver let the application catch up. */
const APP_BEHIND = 64;

/**
 * A listening TCP socket on our stack. Get one from `stack.listen()`.
 *
 * @example Accept connections in a loop
 * ```ts
 * import { createMemoryLinkPair, createStack } from "../../mod.ts";
 * const [la, lb] = createMemoryLinkPair();
 * const a = await createStack({ link: la, address: "10.9.0.1/24", engine: "js" });
 * const b = await createStack({ link: lb, address: "10.9.0.2/24", engine: "js" });
 * const listener = b.listen({ port: 80 });
 * const served = (async () => {
 *   for await (const conn of listener) {
 *     await conn.write(new TextEncoder().encode("hello"));
 *     conn.close();
 *     break;
 *   }
 * })();
 * const conn = await a.connect({ hostname: "10.9.0.2", port: 80 });
 * const text = await new Response(conn.readable).text();
 * if (text !== "hello") throw new Error(`got ${text}`);
 * await served;
 * listener.close();
 * await a.close();
 * await b.close();
 * ```
 */
export class Listener implements AsyncIterable<Conn>, Disposable {
  /** The address listened on (hostname "0.0.0.0" for any address of ours). */
  readonly addr: Deno.NetAddr;
  #driver: Driver;
  #tl: TcpListener;
  #wake = new WakeList();
  #closed = false;
  #unhook: () => void;

  /**
   * Wrap a TCP layer listener (internal: use stack.listen).
   *
   * @ignore
   */
  constructor(driver: Driver, tl: TcpListener, anyName?: string) {
    this.#driver = driver;
    this.#tl = tl;
    this.addr = netAddr("tcp", tl.localIp, tl.localPort, (ip) => driver.iface.formatAddress(ip));
    if (tl.localIp === 0 && anyName !== undefined) this.addr.hostname = anyName; // listen on ::
    tl.onAcceptable = () => {
      this.#wake.wakeAll();
      // A batch's worth waiting: the accept loop runs before the next batch (stack.ts).
      if (tl.pending >= APP_BEHIND) driver.deferToApp();
    };
    this.#unhook = driver.onClose(() => {
      this.#closed = true;
      this.#wake.wakeAll();
    });
  }

  /** Wait for the next established connection. Rejects with `BadResource` once closed. */
  async accept(): Promise<Conn> {
    for (;;) {
      if (this.#closed) {
        throw new Deno.errors.BadResource(`Listener on port ${this.addr.port} is closed`);
      }
      const tc = this.#tl.accept();
      if (tc) return new Conn(this.#driver, tc);
      await this.#wake.wait();
    }
  }

  /** Stop listening; connections not yet accepted are reset, pending accepts reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unhook();
    if (!this.#driver.closed) {
      this.#tl.close();
    }
    this.#wake.wakeAll();
  }

  /** No-op (the stack's loop keeps the process alive). */
  ref(): void {}

  /** No-op (see `ref`). */
  unref(): void {}

  /** Accept connections until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterableIterator<Conn> {
    for (;;) {
      let conn: Conn;
      try {
        conn = await this.accept();
      } catch (err) {
        if (err instanceof Deno.errors.BadResource) return;
        throw err;
      }
      yield conn;
    }
  }

  /** Close the listener. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Close the listener. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
