/**
 * The WASM engine: the same contract as the JS engine, with the work done by the module
 * compiled from asm/. Only integers cross the boundary; views are refreshed when memory grows.
 *
 * @module
 */

import type { Engine } from "./engine.ts";
import { DESC_RX, DESC_TX, DESC_WORDS, PKT_SIZE } from "../wire/layout.ts";
import { WasmBuffers } from "./wasm/buffers.ts";
import { instantiateEngine } from "./wasm/instance.ts";

/** Create a WASM engine with its own instance and memory. */
export function createWasmEngine(): Engine {
  return new WasmEngine();
}

class WasmEngine extends WasmBuffers implements Engine {
  readonly kind = "wasm" as const;
  #memory: WebAssembly.Memory;
  #buffer: ArrayBufferLike;
  #mem: Uint8Array;
  #rx: Int32Array;
  #tx: Int32Array;
  // deno-lint-ignore no-explicit-any
  #ex: any;

  constructor() {
    const inst = instantiateEngine();
    // The views are refreshed through `mem` before every use that may follow a growth.
    let self: WasmEngine | null = null;
    super(inst.exports, () => self!.mem);
    self = this;
    this.#ex = inst.exports;
    this.#memory = inst.memory;
    this.#buffer = inst.memory.buffer;
    this.#mem = new Uint8Array(this.#buffer);
    this.#rx = new Int32Array(this.#buffer, DESC_RX, DESC_WORDS);
    this.#tx = new Int32Array(this.#buffer, DESC_TX, DESC_WORDS);
  }

  #refresh(): void {
    const b = this.#memory.buffer;
    if (b !== this.#buffer) {
      this.#buffer = b;
      this.#mem = new Uint8Array(b);
      this.#rx = new Int32Array(b, DESC_RX, DESC_WORDS);
      this.#tx = new Int32Array(b, DESC_TX, DESC_WORDS);
    }
  }
  get mem(): Uint8Array {
    this.#refresh();
    return this.#mem;
  }
  get rxDesc(): Int32Array {
    this.#refresh();
    return this.#rx;
  }
  get txDesc(): Int32Array {
    this.#refresh();
    return this.#tx;
  }

  /** The wire calls' misuse check: spans stay in packet memory, below the WASM heap. */
  #span(off: number, len: number): void {
    if (!(off >= 0 && len >= 0 && off + len <= PKT_SIZE)) {
      throw new RangeError(
        `Cannot use bytes [${off}, ${off + len}): packet memory holds ${PKT_SIZE} bytes`,
      );
    }
  }
  checksum(off: number, len: number, initial: number): number {
    this.#span(off, len);
    return this.#ex.checksum(off, len, initial);
  }
  decode(off: number, len: number, flags = 0): number {
    this.#span(off, len);
    return this.#ex.decode(off, len, flags);
  }
  decodeIpv4(off: number, len: number): number {
    this.#span(off, len);
    return this.#ex.decodeIpv4(off, len);
  }
  decodeIpv6(off: number, len: number): number {
    this.#span(off, len);
    return this.#ex.decodeIpv6(off, len);
  }
  encode(payloadOff: number, payloadLen: number): number {
    this.#span(payloadOff, payloadLen);
    return this.#ex.encode(payloadOff, payloadLen);
  }
}
