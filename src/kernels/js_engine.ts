/**
 * The JS engine: the readable reference implementation of the hot-path contract.
 *
 * @module
 */

import type { Engine } from "./engine.ts";
import { DESC_RX, DESC_TX, DESC_WORDS, PKT_SIZE } from "../wire/layout.ts";
import { jsChecksum } from "./js/checksum.ts";
import { jsDecode, jsDecodeIpv4 } from "./js/decode.ts";
import { jsEncode } from "./js/encode.ts";
import { jsDecodeIpv6 } from "./js/decode6.ts";
import { JsBuffers } from "./js/buffers.ts";

/** Create a JS engine with its own packet memory. */
export function createJsEngine(): Engine {
  return new JsEngine();
}

class JsEngine extends JsBuffers implements Engine {
  readonly kind = "js" as const;
  readonly mem: Uint8Array;
  readonly rxDesc: Int32Array;
  readonly txDesc: Int32Array;

  constructor() {
    const mem = new Uint8Array(PKT_SIZE);
    super(() => mem);
    this.mem = mem;
    this.rxDesc = new Int32Array(mem.buffer, DESC_RX, DESC_WORDS);
    this.txDesc = new Int32Array(mem.buffer, DESC_TX, DESC_WORDS);
  }

  checksum(off: number, len: number, initial: number): number {
    return jsChecksum(this.mem, off, len, initial);
  }
  decode(off: number, len: number, flags = 0): number {
    return jsDecode(this.mem, off, len, this.rxDesc, flags);
  }
  decodeIpv4(off: number, len: number): number {
    return jsDecodeIpv4(this.mem, off, len, this.rxDesc);
  }
  decodeIpv6(off: number, len: number): number {
    return jsDecodeIpv6(this.mem, off, len, this.rxDesc);
  }
  encode(payloadOff: number, payloadLen: number): number {
    return jsEncode(this.mem, this.txDesc, payloadOff, payloadLen);
  }
}
