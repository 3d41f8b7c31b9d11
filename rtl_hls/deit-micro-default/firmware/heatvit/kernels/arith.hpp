// Integer primitives of the deit-micro numerics (docs/integer-numerics.md): rounding
// shifts, saturation, requantisation, truncating division and the integer square root.
// Every function is exact on int64 and free of undefined behaviour for the documented
// ranges (no left shift of negative values, no signed overflow).
#pragma once

#include <cstdint>

#include "heatvit/kernels/hls.hpp"

HEATVIT_KERNELS_BEGIN
namespace heatvit::kernels {

using i8 = std::int8_t;
using u8 = std::uint8_t;
using i16 = std::int16_t;
using i32 = std::int32_t;
using i64 = std::int64_t;
using u64 = std::uint64_t;

/// Round-half-up arithmetic shift: (x + 2^(s-1)) >> s for s > 0, x * 2^-s for s < 0,
/// x for s == 0. `s` in [-62, 62]. (>> of a negative value is an arithmetic shift on
/// every compiler we target, and defined as such from C++20 on.)
inline i64 rshift_round(i64 x, int s) {
  if (s > 0) return (x + (i64(1) << (s - 1))) >> s;
  if (s < 0) return x * (i64(1) << (-s));
  return x;
}

/// Clamp to the signed range of BITS bits, e.g. BITS = 8: [-128, 127].
template <int BITS>
inline i64 saturate(i64 x) {
  static_assert(BITS >= 2 && BITS <= 63, "saturate: BITS out of range");
  constexpr i64 lo = -(i64(1) << (BITS - 1));
  constexpr i64 hi = (i64(1) << (BITS - 1)) - 1;
  return x < lo ? lo : (x > hi ? hi : x);
}

/// Requantisation: saturate<BITS>(rshift_round(acc, shift)). BITS == 0 means "no
/// requantisation" (a 32-bit accumulator output such as the classifier logits).
template <int BITS>
inline i64 requant(i64 acc, int shift) {
  if constexpr (BITS == 0) {
    (void)shift;
    return acc;
  } else {
    return saturate<BITS>(rshift_round(acc, shift));
  }
}

/// Division truncating toward zero (C semantics); b > 0.
inline i64 div_trunc(i64 a, i64 b) { return a / b; }

/// floor(a / b) for b > 0 (rounds toward minus infinity, unlike C's division).
inline i64 div_floor(i64 a, i64 b) {
  const i64 q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/// floor(sqrt(n)) for 0 <= n < 2^64, digit by digit: 32 fixed iterations, no division.
/// (Equal to the Newton iteration of the reference, which also converges to floor(sqrt).)
inline u64 isqrt(u64 n) {
  u64 root = 0;
  u64 bit = u64(1) << 62;
isqrt_digits:
  for (int i = 0; i < 32; ++i) {
    HEATVIT_HLS(UNROLL)
    const u64 trial = root + bit;
    if (n >= trial) {
      n -= trial;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
    bit >>= 2;
  }
  return root;
}

/// floor(num / d) by a reciprocal, for 0 <= num < 2^B, d >= 1 and inv = floor(2^B / d)
/// (computed once per divisor, e.g. once per row): (num inv) >> B is at most 1 below
/// the quotient (it loses num * frac(2^B / d) / 2^B < 1), so one compare makes it
/// exact. Requires num * inv < 2^64 (e.g. B <= 32).
template <int B>
inline u64 div_floor_by_reciprocal(u64 num, u64 d, u64 inv) {
  static_assert(B > 0 && B < 64, "div_floor_by_reciprocal: B out of range");
  u64 q = (num * inv) >> B;
  if ((q + 1) * d <= num) ++q;
  return q;
}

/// log2 of a power of two, evaluated at compile time (a loop, not recursion).
constexpr int log2_exact(int c) {
  int l = 0;
  while (c > 1) {
    c /= 2;
    ++l;
  }
  return l;
}

constexpr bool is_pow2(int c) { return c > 0 && (c & (c - 1)) == 0; }

}  // namespace heatvit::kernels
HEATVIT_KERNELS_END
