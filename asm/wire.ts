// Wire hot paths of the WASM engine: checksum, whole-frame decode and encode. Each lives in
// asm/wire/; this file re-exports the WASM exports (integers in and out only).
export { checksum } from "./wire/checksum";
export { decode, decodeIpv4 } from "./wire/decode";
export { decodeIpv6 } from "./wire/decode6";
export { encode } from "./wire/encode";
