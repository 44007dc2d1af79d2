// Internet checksum (RFC 1071) of the WASM engine, with WASM SIMD.
//
// Words are summed in little-endian order relative to the start offset (RFC 1071 section 2 (B):
// the ones'-complement sum is byte-order independent up to a final byte swap), so an odd
// start needs no special case. The bulk runs 64 bytes per iteration through four i32x4
// accumulators fed by i32x4.extadd_pairwise_i16x8_u (each lane gains at most 2 * 0xffff per
// iteration, so they are widened into i64x2 sums every 8192 iterations, long before overflow).

// Fold a 64-bit partial sum to 16 bits with end-around carry (RFC 1071 section 4.1).
@inline function fold64(s: u64): u32 {
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  let t = <u32>s;
  t = (t & 0xffff) + (t >> 16);
  t = (t & 0xffff) + (t >> 16);
  return t;
}

// The unfolded sum of the little-endian 16-bit words of [p, p+len), an odd last byte taken
// as a low byte.
function sumLe(p: usize, len: usize): u64 {
  let acc: u64 = 0;
  const end = p + len;
  if (len >= 64) {
    const stop = p + (len & ~(<usize>63));
    while (p < stop) {
      let a0 = i32x4.splat(0);
      let a1 = i32x4.splat(0);
      let a2 = i32x4.splat(0);
      let a3 = i32x4.splat(0);
      let chunk = stop - p;
      if (chunk > 8192 * 64) chunk = 8192 * 64;
      const cend = p + chunk;
      while (p < cend) {
        a0 = i32x4.add(a0, i32x4.extadd_pairwise_i16x8_u(v128.load(p)));
        a1 = i32x4.add(a1, i32x4.extadd_pairwise_i16x8_u(v128.load(p, 16)));
        a2 = i32x4.add(a2, i32x4.extadd_pairwise_i16x8_u(v128.load(p, 32)));
        a3 = i32x4.add(a3, i32x4.extadd_pairwise_i16x8_u(v128.load(p, 48)));
        p += 64;
      }
      let w = i64x2.add(i64x2.extend_low_i32x4_u(a0), i64x2.extend_high_i32x4_u(a0));
      w = i64x2.add(w, i64x2.add(i64x2.extend_low_i32x4_u(a1), i64x2.extend_high_i32x4_u(a1)));
      w = i64x2.add(w, i64x2.add(i64x2.extend_low_i32x4_u(a2), i64x2.extend_high_i32x4_u(a2)));
      w = i64x2.add(w, i64x2.add(i64x2.extend_low_i32x4_u(a3), i64x2.extend_high_i32x4_u(a3)));
      acc += <u64>i64x2.extract_lane(w, 0) + <u64>i64x2.extract_lane(w, 1);
    }
  }
  while (p + 8 <= end) {
    const x = load<u64>(p);
    acc += (x & 0xffffffff) + (x >> 32);
    p += 8;
  }
  if (p + 4 <= end) {
    acc += <u64>load<u32>(p);
    p += 4;
  }
  if (p + 2 <= end) {
    acc += <u64>load<u16>(p);
    p += 2;
  }
  if (p < end) acc += <u64>load<u8>(p);
  return acc;
}

// Internal entry: the complemented checksum of [p, p+len) plus a 32-bit partial sum.
@inline export function cksum(p: usize, len: usize, initial: u32): u32 {
  let s = fold64(sumLe(p, len));
  s = ((s & 0xff) << 8) | (s >> 8); // little-endian pairing back to network order
  return ~fold64(<u64>s + <u64>initial) & 0xffff;
}

// The IPv4 pseudo-header partial sum (RFC 9293 section 3.1), unfolded.
@inline export function pseudo(src: u32, dst: u32, proto: u32, length: u32): u32 {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + (length & 0xffff);
}

/** Internet checksum of mem[off, off+len) plus `initial`; the complemented 16-bit value. */
export function checksum(off: i32, len: i32, initial: i32): i32 {
  return <i32>cksum(<usize>off, <usize>len, <u32>initial);
}
