/**
 * Stream buffers of the JS engine (reassembly and send ring) over ArrayBuffers.
 * PLACEHOLDER: the buffers issue replaces these bodies.
 *
 * @module
 */
import type { BufferOps } from "../engine.ts";

/** BufferOps over plain ArrayBuffers; `memView()` returns the engine's packet memory. */
export class JsBuffers implements BufferOps {
  constructor(protected readonly memView: () => Uint8Array) {}
  rcvCreate(_capacity: number, _seq: number): number {
    throw new Error("JsBuffers not built yet");
  }
  rcvDestroy(_h: number): void {}
  rcvInsert(_h: number, _seq: number, _off: number, _len: number): number {
    return 0;
  }
  rcvLastInsert(_h: number): number {
    return 0;
  }
  rcvNext(_h: number): number {
    return 0;
  }
  rcvReadable(_h: number): number {
    return 0;
  }
  rcvWindow(_h: number): number {
    return 0;
  }
  rcvRead(_h: number, _dst: Uint8Array): number {
    return 0;
  }
  rcvSack(_h: number, _out: Uint32Array, _max: number): number {
    return 0;
  }
  rcvHeld(_h: number): number {
    return 0;
  }
  sndCreate(_capacity: number, _seq: number): number {
    throw new Error("JsBuffers not built yet");
  }
  sndDestroy(_h: number): void {}
  sndWrite(_h: number, _src: Uint8Array): number {
    return 0;
  }
  sndCopy(_h: number, _seq: number, _len: number, _dstOff: number): void {}
  sndRelease(_h: number, _ackSeq: number): number {
    return 0;
  }
  sndLength(_h: number): number {
    return 0;
  }
  sndFree(_h: number): number {
    return 0;
  }
  sndHead(_h: number): number {
    return 0;
  }
}
