// Stream buffers of the WASM engine: the reassembly buffer (buffers/rcv.ts) and the send ring
// (buffers/snd.ts), over handle tables and ring storage (buffers/table.ts).
export * from "./buffers/rcv";
export * from "./buffers/snd";
