/**
 * Instantiate the WASM engine synchronously from the inlined bytes.
 *
 * @module
 */

import { ENGINE_WASM_BASE64 } from "./engine_wasm.ts";

/** The raw instance: its exports (integers only) and its memory. */
export interface WasmInstance {
  // deno-lint-ignore no-explicit-any
  readonly exports: any;
  readonly memory: WebAssembly.Memory;
}

let module: WebAssembly.Module | null = null;

/** Create a fresh instance (each engine owns its own memory). Throws a clear error on failure. */
export function instantiateEngine(): WasmInstance {
  try {
    if (module === null) {
      const bin = atob(ENGINE_WASM_BASE64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      module = new WebAssembly.Module(bytes);
    }
    const instance = new WebAssembly.Instance(module, {
      env: {
        abort(_msg: number, _file: number, line: number, col: number): never {
          throw new Error(`WASM engine aborted at asm line ${line}:${col}`);
        },
      },
    });
    const exports = instance.exports as Record<string, unknown>;
    if (typeof exports._initialize === "function") (exports._initialize as () => void)();
    return { exports, memory: exports.memory as WebAssembly.Memory };
  } catch (err) {
    throw new Error(
      `Cannot load the WASM engine (src/kernels/wasm/engine_wasm.ts): ${
        (err as Error).message
      }. Rebuild it with \`deno task build:asm\`, or create the stack with engine: "js"`,
      { cause: err },
    );
  }
}
