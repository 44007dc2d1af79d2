// Entry point of the WASM engine. Each hot path lives in its own file; this one re-exports.
export * from "./wire";
export * from "./buffers";
