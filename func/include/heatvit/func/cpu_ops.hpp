// The functional model's GEMMs on the CPU: the same integers as kernels::linear and
// kernels::attention, computed in another order.
//
// Why the same integers: every product of the kernels is an exact int32 product of
// int8/uint8-range values and every sum an exact int32 sum (the kernels assert that
// K * 255 * 128 < 2^31), so summing in another order gives the same int32; the
// requantisation after the sum is the kernels' (requant<BITS> on int64), evaluated
// lane by lane. tests/func/test_cpu_ops.cpp compares both on random and extreme
// operands, every shape the model uses; the bit-exactness tests against the Python
// reference run through this path.
//
// How: the kernels reduce along K for each output (a dot product per output, a
// horizontal sum per output on SIMD); here the weights are rearranged once, when the
// model is loaded, so that 16 outputs of one row are 16 lanes of one vector and the
// K dimension is walked two elements at a time: one 16-bit multiply-add instruction
// (VPDPWSSD, or VPMADDWD + VPADDD) adds a[i][2k] w[n][2k] + a[i][2k+1] w[n][2k+1]
// to 16 outputs, 4 rows at once sharing each weight load. Attention does the same
// with K and V rearranged per head and call (they are activations).
//
// Compiled with AVX-512 BW (func_model.cpp is built with -march=native by default,
// HEATVIT_FUNC_NATIVE); without it every call is the kernel itself.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "heatvit/func/params.hpp"
#include "heatvit/kernels/all.hpp"

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
#define HEATVIT_CPU_OPS_AVX512 1
#else
#define HEATVIT_CPU_OPS_AVX512 0
#endif

namespace heatvit::func {

/// The kernels themselves (IntVit's default).
struct KernelOps {
  template <int MAX_M, int OUT_BITS, int N, int K, typename TA, typename TO>
  void linear(const TA (*a)[K], int m, const Linear<N, K>& l, TO (*out)[N]) const {
    kernels::linear<MAX_M, N, K, OUT_BITS>(a, m, l.w, l.b, l.shift, out);
  }
  template <int MAX_T, int D, int HD, typename TQ, typename TO>
  void attention(const TQ (*q)[D], const TQ (*k)[D], const TQ (*v)[D], int t, int score_shift, int out_shift,
                 TO (*out)[D]) const {
    kernels::attention<MAX_T, D, HD>(q, k, v, t, score_shift, out_shift, out);
  }
  template <int MAX_T, int C, typename TX, typename TO>
  void layernorm(const TX (*x)[C], int rows, const Ln<C>& l, TO (*out)[C]) const {
    kernels::layernorm<MAX_T, C>(x, rows, l.g, l.b, l.shift, out);
  }
  template <int MAX_T, int C, typename TI, typename TO>
  void gelu(const TI (*x)[C], int rows, int frac_out, TO (*out)[C]) const {
    kernels::gelu_layer<MAX_T, C>(x, rows, frac_out, out);
  }
  template <int MAX_T, int D, typename TX, typename TA>
  void add_saturate16(TX (*x)[D], const TA (*a)[D], int rows) const {
    kernels::add_saturate16<MAX_T, D>(x, a, rows);
  }
};

namespace cpu {

constexpr bool kVector = HEATVIT_CPU_OPS_AVX512 != 0;

/// w[N][K] (int8 values in int16) as wp[K/2][N] int32: the pair (w[n][2k2], w[n][2k2+1])
/// in the low and high half of wp[k2][n].
inline void pack_pairs(const std::int16_t* w, int n_out, int k_in, std::int32_t* wp) {
  for (int n = 0; n < n_out; ++n)
    for (int k2 = 0; k2 < k_in / 2; ++k2) {
      const auto lo = static_cast<std::uint16_t>(w[n * k_in + 2 * k2]);
      const auto hi = static_cast<std::uint16_t>(w[n * k_in + 2 * k2 + 1]);
      wp[k2 * n_out + n] = static_cast<std::int32_t>(std::uint32_t(lo) | (std::uint32_t(hi) << 16));
    }
}

using kernels::i32;
using kernels::i64;
using kernels::u64;
using u32 = std::uint32_t;

/// out[i] = requant<BITS>(y[i], shift) for i < n, the shift's sign decided once per
/// array instead of once per element (kernels::requant: round-half-up shift, or a
/// multiplication by 2^-shift, then saturation).
template <int BITS, typename TO>
inline void requant_array(const i64* y, int n, int shift, TO* out) {
  constexpr i64 lo = -(i64(1) << (BITS - 1)), hi = (i64(1) << (BITS - 1)) - 1;
  const auto clamp = [](i64 v) { return v < lo ? lo : (v > hi ? hi : v); };
  if (shift > 0) {
    const i64 half = i64(1) << (shift - 1);
    for (int i = 0; i < n; ++i) out[i] = TO(clamp((y[i] + half) >> shift));
  } else if (shift < 0) {
    const i64 mul = i64(1) << (-shift);
    for (int i = 0; i < n; ++i) out[i] = TO(clamp(y[i] * mul));
  } else {
    for (int i = 0; i < n; ++i) out[i] = TO(clamp(y[i]));
  }
}

/// floor(sqrt(n)), equal to kernels::isqrt: below 2^52 from the double square root (n
/// is exact in a double, the root correctly rounded, so it is within one of the floor)
/// and corrected; above, the kernel's digit-by-digit root.
inline u64 isqrt(u64 n) {
  if (n >= (u64(1) << 52)) return kernels::isqrt(n);
  auto r = static_cast<u64>(__builtin_sqrt(static_cast<double>(n)));
  while (r * r > n) --r;
  while ((r + 1) * (r + 1) <= n) ++r;
  return r;
}

/// floor(ad 2^16 / sd) from inv = floor(2^33 / sd), as kernels::div_by_row_reciprocal
/// (ad < 2^17): the estimate is at most one short, one compare corrects it.
inline u64 div_row(u64 ad, u64 sd, u64 inv) {
  const u64 q = (ad * inv) >> 17;
  return q + ((q + 1) * sd <= (ad << 16) ? 1 : 0);
}

#if HEATVIT_CPU_OPS_AVX512
/// div_row of 8 int64 lanes by 32 x 32 -> 64-bit multiplies (VPMULUDQ), exact when
/// every ad < 2^17, sd < 2^32 and inv = floor(2^33 / sd) < 2^32 (sd >= 3), so that the
/// estimate q < 2^31 and q + 1 fit 32 bits too.
inline __m512i div_row_x8(__m512i ad, __m512i sdv, __m512i invv) {
  constexpr __mmask8 all = 0xFF;  // zero-masked forms: see requant_store16
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i q = _mm512_maskz_srli_epi64(all, _mm512_maskz_mul_epu32(all, ad, invv), 17);
  const __m512i q1sd = _mm512_maskz_mul_epu32(all, _mm512_maskz_add_epi64(all, q, one), sdv);
  const __mmask8 up = _mm512_cmple_epu64_mask(q1sd, _mm512_maskz_slli_epi64(all, ad, 16));
  return _mm512_mask_add_epi64(q, up, q, one);
}
#endif

/// A LayerNorm row's mean, standard deviation (at Frac::ln_std_extra extra fraction
/// bits, at least 1) and the reciprocal floor(2^33 / sd), as kernels::layernorm_row
/// computes them, with the square root above.
struct LnRowStats {
  i64 mu, sd;
  u64 inv;
};

template <int C>
inline LnRowStats layernorm_stats(const std::int16_t* x) {
  static_assert(C >= 1 && C <= 65536, "layernorm_row: C out of range");
  constexpr bool P2 = kernels::is_pow2(C);
  constexpr int L = P2 ? kernels::log2_exact(C) : 0;
  constexpr int G = kernels::Frac::ln_std_extra;
  i32 s32 = 0;  // |x| <= 2^15, C <= 2^16: the sum fits in 32 bits
  for (int c = 0; c < C; ++c) s32 += x[c];
  const i64 s = s32;
  const i64 mu = P2 ? kernels::rshift_round(s, L) : kernels::div_floor(s + C / 2, C);
  // x and mu lie in [-2^15, 2^15): |d| < 2^16, so d^2 < 2^32 is exact in 32 bits.
  const i32 mu32 = i32(mu);
  u64 v = 0;
  for (int c = 0; c < C; ++c) {
    const u32 d = u32(i32(x[c]) - mu32);
    v += u64(d * d);
  }
  const i64 var_ext = P2 ? i64(v << (2 * G)) >> L : i64(v << (2 * G)) / C;
  i64 sd = i64(isqrt(u64(var_ext)));
  if (sd < 1) sd = 1;
  return {mu, sd, (u64(1) << 33) / u64(sd)};
}

/// The rest of kernels::layernorm_row, given the row's layernorm_stats.
template <int C>
inline void layernorm_apply(const std::int16_t* x, const std::int16_t* g, const std::int32_t* b, int shift,
                            const LnRowStats& st, std::int16_t* out) {
  const i64 mu = st.mu, sd = st.sd;
  const u64 inv = st.inv;
  alignas(64) i64 y[C];
#if HEATVIT_CPU_OPS_AVX512
  if constexpr (C % 8 == 0) {
    if (sd >= 3) {
      // The same quotients with 32-bit multiplies: inv < 2^32, sd <= 2^20 (var_ext <=
      // C 2^32 2^(2G) / C), q <= |d| 2^16 / sd < 2^31 and |d| <= 2^16, so every product
      // below is exact as an unsigned (VPMULUDQ) or signed (VPMULDQ) 32 x 32 -> 64-bit
      // one, where the compiler would use a 64 x 64-bit multiply (three times dearer).
      // Zero-masked forms with an all-ones mask, as in requant_store16 below.
      constexpr __mmask8 all = 0xFF;
      const __m512i muv = _mm512_set1_epi64(mu), invv = _mm512_set1_epi64(i64(inv));
      const __m512i sdv = _mm512_set1_epi64(sd);
      for (int c = 0; c < C; c += 8) {
        const __m512i xv = _mm512_maskz_cvtepi16_epi64(all, _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + c)));
        const __m512i d = _mm512_maskz_sub_epi64(all, xv, muv);
        const __m512i q = div_row_x8(_mm512_maskz_abs_epi64(all, d), sdv, invv);
        const __m512i z = _mm512_mask_sub_epi64(q, _mm512_movepi64_mask(d), _mm512_setzero_si512(), q);
        const __m512i gv = _mm512_maskz_cvtepi16_epi64(all, _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + c)));
        const __m512i bv =
            _mm512_maskz_cvtepi32_epi64(all, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + c)));
        _mm512_store_si512(reinterpret_cast<__m512i*>(y + c),
                           _mm512_maskz_add_epi64(all, _mm512_maskz_mul_epi32(all, gv, z), bv));
      }
      requant_array<8>(y, C, shift, out);
      return;
    }
  }
#endif
  for (int c = 0; c < C; ++c) {
    const i64 d = i64(x[c]) - mu;
    const u64 ad = u64(d < 0 ? -d : d);
    const u64 q = div_row(ad, u64(sd), inv);
    const i64 z = d < 0 ? -i64(q) : i64(q);
    y[c] = i64(g[c]) * z + i64(b[c]);
  }
  requant_array<8>(y, C, shift, out);
}

/// kernels::layernorm_row with the square root above and loops a compiler vectorizes.
template <int C>
inline void layernorm_row(const std::int16_t* x, const std::int16_t* g, const std::int32_t* b, int shift,
                          std::int16_t* out) {
  layernorm_apply<C>(x, g, b, shift, layernorm_stats<C>(x), out);
}

/// layernorm_row of `rows` rows, their statistics first, 8 rows at a time: each row's
/// square root and division form a chain of dependent scalar instructions, and the
/// chains of 8 rows overlap where one row's would wait.
template <int C>
inline void layernorm_rows(const std::int16_t (*x)[C], int rows, const std::int16_t* g, const std::int32_t* b,
                           int shift, std::int16_t (*out)[C]) {
  for (int r0 = 0; r0 < rows; r0 += 8) {
    const int n = std::min(8, rows - r0);
    LnRowStats st[8];
    for (int r = 0; r < n; ++r) st[r] = layernorm_stats<C>(x[r0 + r]);
    for (int r = 0; r < n; ++r) layernorm_apply<C>(x[r0 + r], g, b, shift, st[r], out[r0 + r]);
  }
}

/// -x8 / exp_ln2 for 0 <= -x8 <= -exp_min as a multiply and a shift; equal to the
/// division for every input in that range (checked below at compile time).
constexpr i32 kExpDivMul = 5925, kExpDivShift = 20;
constexpr bool exp_div_exact() {
  for (i32 n = 0; n <= -i32(kernels::PolyConst::exp_min); ++n)
    if (((n * kExpDivMul) >> kExpDivShift) != n / i32(kernels::PolyConst::exp_ln2)) return false;
  return true;
}
static_assert(exp_div_exact(), "the exp unit's division by ln2 as a multiply-shift");

/// floor((512 e + tot) / den), den = 2 tot, from inv = floor(2^27 / den), as
/// kernels::div_floor_by_reciprocal<27> (every value below 2^32 for rows of up to 1024).
inline u32 softmax_div(u32 e, u32 tot, u32 den, u64 inv) {
  const u32 num = e * 512u + tot;
  const u32 q = u32((u64(num) * inv) >> 27);
  return q + ((q + 1) * den <= num ? 1u : 0u);
}

#if HEATVIT_CPU_OPS_AVX512
/// softmax_div of 16 lanes (e < 2^23 each): the product num inv (num < 2^32, inv <= 2^26)
/// as two 32 x 32 -> 64-bit multiplies, of the even and of the odd lanes, where the
/// compiler would use 64 x 64-bit ones; the correction in 32-bit lanes as softmax_div's.
inline __m512i softmax_div_x16(__m512i e, u32 tot, u32 den, u64 inv) {
  constexpr __mmask16 all16 = 0xFFFF;  // zero-masked forms: see requant_store16
  constexpr __mmask8 all8 = 0xFF;
  const __m512i num = _mm512_maskz_add_epi32(all16, _mm512_maskz_slli_epi32(all16, e, 9), _mm512_set1_epi32(i32(tot)));
  const __m512i invv = _mm512_set1_epi64(i64(inv));
  const __m512i even = _mm512_maskz_srli_epi64(all8, _mm512_maskz_mul_epu32(all8, num, invv), 27);
  const __m512i odd =
      _mm512_maskz_srli_epi64(all8, _mm512_maskz_mul_epu32(all8, _mm512_maskz_srli_epi64(all8, num, 32), invv), 27);
  const __m512i q = _mm512_maskz_or_epi64(all8, even, _mm512_maskz_slli_epi64(all8, odd, 32));
  const __m512i one = _mm512_set1_epi32(1);
  const __mmask16 up = _mm512_cmple_epu32_mask(
      _mm512_maskz_mullo_epi32(all16, _mm512_maskz_add_epi32(all16, q, one), _mm512_set1_epi32(i32(den))), num);
  return _mm512_mask_add_epi32(q, up, q, one);
}
#endif

/// kernels::softmax_row (one row of t scores to uint8 probabilities in int32), with
/// each step a loop over the row a compiler vectorizes.
template <int MAX_T>
inline void softmax_row(const i32* s, int t, int shift, i32* p) {
  static_assert(MAX_T <= 1024, "softmax_row: row too long");
  using PC = kernels::PolyConst;
  i32 m = s[0];
  for (int j = 1; j < t; ++j) m = s[j] > m ? s[j] : m;
  i32 x8[MAX_T];
  const auto floor_min = [](i64 x) { return i32(x < PC::exp_min ? PC::exp_min : x); };
  if (shift > 0) {
    const i64 half = i64(1) << (shift - 1);
    for (int j = 0; j < t; ++j) x8[j] = floor_min((i64(s[j]) - m + half) >> shift);
  } else if (shift < 0) {
    const i64 mul = i64(1) << (-shift);
    for (int j = 0; j < t; ++j) x8[j] = floor_min((i64(s[j]) - m) * mul);
  } else {
    for (int j = 0; j < t; ++j) x8[j] = floor_min(i64(s[j]) - m);
  }
  i32 e[MAX_T];
  i32 tot = 0;
  for (int j = 0; j < t; ++j) {  // kernels::exp_q8
    const i32 z = (-x8[j] * kExpDivMul) >> kExpDivShift;
    const i32 pb = x8[j] + i32(PC::exp_ln2) * z + i32(PC::exp_b);
    const i32 ev = ((pb * pb * i32(PC::exp_a) + (i32(1) << 12)) >> 13) + i32(PC::exp_c);
    e[j] = z < 31 ? (ev >> z) : 0;
    tot += e[j];
  }
  if (tot < 1) tot = 1;
  const u64 den = 2 * u64(tot);
  const u64 inv = (u64(1) << 27) / den;
#if HEATVIT_CPU_OPS_AVX512
  for (int j = 0; j < t; j += 16) {
    const __mmask16 lanes = t - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (t - j)) - 1);
    const __m512i q = softmax_div_x16(_mm512_maskz_loadu_epi32(lanes, e + j), u32(tot), u32(den), inv);
    _mm512_mask_storeu_epi32(p + j, lanes, _mm512_maskz_min_epu32(lanes, q, _mm512_set1_epi32(255)));
  }
#else
  for (int j = 0; j < t; ++j) {
    const u32 q = softmax_div(u32(e[j]), u32(tot), u32(den), inv);
    p[j] = i32(q < 255u ? q : 255u);
  }
#endif
}

/// kernels::gelu_layer of one row. The GELU values are below 2^15 in magnitude, so for
/// shifts in [-15, 30] the requantisation is exact in 32-bit lanes (twice as many per
/// vector as 64-bit ones); other shifts take requant_array.
template <int C>
inline void gelu_row(const std::int16_t* x, int frac_out, std::int16_t* out) {
  const int shift = kernels::Frac::pre_gelu - frac_out;
  if (shift < -15 || shift > 30) {
    i64 y[C];
    for (int c = 0; c < C; ++c) y[c] = kernels::gelu_q10(x[c]);
    requant_array<8>(y, C, shift, out);
    return;
  }
  const auto clamp8 = [](i32 v) { return std::int16_t(v < -128 ? -128 : (v > 127 ? 127 : v)); };
  if (shift > 0) {
    const i32 half = i32(1) << (shift - 1);
    for (int c = 0; c < C; ++c) out[c] = clamp8((kernels::gelu_q10(x[c]) + half) >> shift);
  } else {
    const i32 mul = i32(1) << (-shift);
    for (int c = 0; c < C; ++c) out[c] = clamp8(kernels::gelu_q10(x[c]) * mul);
  }
}

/// kernels::add_saturate16 of one row (int16 operands: the sum is exact in 32 bits).
template <int D>
inline void add_saturate16_row(std::int16_t* x, const std::int16_t* a) {
  for (int c = 0; c < D; ++c) {
    const i32 v = i32(x[c]) + i32(a[c]);
    x[c] = std::int16_t(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
  }
}

/// Whether a layer's requantisation is exact in 32-bit lanes: shift in [1, 31] and, for
/// every output, |acc| + |bias| + 2^(shift-1) < 2^31 with |acc| <= K 255 128 (the
/// kernel's bound on the sum of K products of int8/uint8-range operands).
inline bool int32_epilogue(const std::int32_t* bias, int n_out, int k_in, int shift) {
  if (shift < 1 || shift > 31) return false;
  i64 most = 0;
  for (int n = 0; n < n_out; ++n) most = std::max(most, bias[n] < 0 ? -i64(bias[n]) : i64(bias[n]));
  return i64(k_in) * 255 * 128 + most + (i64(1) << (shift - 1)) < (i64(1) << 31);
}

#if HEATVIT_CPU_OPS_AVX512

inline __m512i madd_acc(__m512i acc, __m512i a, __m512i b) {
#if defined(__AVX512VNNI__)
  return _mm512_dpwssd_epi32(acc, a, b);
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
#endif
}

/// The pair (p[0], p[1]) of int16 in every lane.
inline __m512i bcast_pair(const std::int16_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

/// requant<BITS>(acc + bias, shift) of 16 lanes, stored as 16 int16 (kernels/arith.hpp:
/// round-half-up shift for shift > 0, multiplication by 2^-shift for shift < 0, then
/// saturation), in int64 lanes as the kernel computes it.
template <int BITS>
inline void requant_store16(__m512i acc, __m512i bias, int shift, std::int16_t* out) {
  static_assert(BITS == 8 || BITS == 16, "requant_store16: 8 or 16 bits");
  // Zero-masked forms with an all-ones mask: the same instructions, without the
  // undefined source operand of the plain intrinsics (GCC 12 warns about it).
  constexpr __mmask8 all = 0xFF;
  const __m512i x[2] = {_mm512_maskz_cvtepi32_epi64(all, _mm512_maskz_extracti64x4_epi64(all, acc, 0)),
                        _mm512_maskz_cvtepi32_epi64(all, _mm512_maskz_extracti64x4_epi64(all, acc, 1))};
  const __m512i b[2] = {_mm512_maskz_cvtepi32_epi64(all, _mm512_maskz_extracti64x4_epi64(all, bias, 0)),
                        _mm512_maskz_cvtepi32_epi64(all, _mm512_maskz_extracti64x4_epi64(all, bias, 1))};
  const __m512i lo = _mm512_set1_epi64(-(std::int64_t(1) << (BITS - 1)));
  const __m512i hi = _mm512_set1_epi64((std::int64_t(1) << (BITS - 1)) - 1);
  for (int h = 0; h < 2; ++h) {
    __m512i v = _mm512_add_epi64(x[h], b[h]);
    if (shift > 0) {
      v = _mm512_add_epi64(v, _mm512_set1_epi64(std::int64_t(1) << (shift - 1)));
      v = _mm512_maskz_sra_epi64(all, v, _mm_cvtsi32_si128(shift));
    } else if (shift < 0) {
      v = _mm512_maskz_sll_epi64(all, v, _mm_cvtsi32_si128(-shift));
    }
    v = _mm512_maskz_max_epi64(all, _mm512_maskz_min_epi64(all, v, hi), lo);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 8 * h), _mm512_maskz_cvtepi64_epi16(all, v));
  }
}

/// requant_store16 in 32-bit lanes, for a layer where it is exact: shift in [1, 31] and
/// |acc| + |bias| + 2^(shift-1) below 2^31 for every output (int32_epilogue()), so that
/// no 32-bit sum overflows and the arithmetic shift sees the kernel's int64 value.
template <int BITS>
inline void requant_store16_i32(__m512i acc, __m512i bias, int shift, std::int16_t* out) {
  static_assert(BITS == 8 || BITS == 16, "requant_store16_i32: 8 or 16 bits");
  constexpr __mmask16 all = 0xFFFF;
  __m512i v = _mm512_add_epi32(_mm512_add_epi32(acc, bias), _mm512_set1_epi32(std::int32_t(1) << (shift - 1)));
  v = _mm512_maskz_sra_epi32(all, v, _mm_cvtsi32_si128(shift));
  v = _mm512_maskz_max_epi32(all, _mm512_maskz_min_epi32(all, v, _mm512_set1_epi32((1 << (BITS - 1)) - 1)),
                             _mm512_set1_epi32(-(1 << (BITS - 1))));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_maskz_cvtepi32_epi16(all, v));
}

/// One K step of a tile, by activation type: int16 activations go two K elements a
/// step (pairs: wp[k2][n], one 16-bit multiply-add a lane); unsigned bytes four (quads:
/// wq[k4][n], VPDPBUSD: four u8 x s8 products a lane, summed exactly in int32, without
/// saturation; VNNI only).
template <typename TA>
struct TileStep;
template <>
struct TileStep<std::int16_t> {
  static constexpr int kElems = 2;
  static __m512i madd(__m512i acc, const std::int16_t* a, __m512i w) { return madd_acc(acc, bcast_pair(a), w); }
};

/// R rows x CB vectors of 16 outputs: acc[r][c] = sum over steps s < steps of row r of
/// `a` (row stride lda, TileStep<TA>::kElems elements a step) times the rearranged
/// weights w[s][j0 + 16c ..] (row stride ldw).
template <int R, int CB, typename TA>
inline void tile(const TA* a, int lda, const std::int32_t* w, int ldw, int steps, __m512i (&acc)[R][CB]) {
  constexpr int E = TileStep<TA>::kElems;
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < CB; ++c) acc[r][c] = _mm512_setzero_si512();
  for (int st = 0; st < steps; ++st) {
    __m512i wv[CB];
    for (int c = 0; c < CB; ++c) wv[c] = _mm512_loadu_si512(w + st * ldw + 16 * c);
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < CB; ++c) acc[r][c] = TileStep<TA>::madd(acc[r][c], a + r * lda + E * st, wv[c]);
  }
}

/// out[i][n] = requant<BITS>(sum_k a[i][k] w[n][k] + bias[n], shift) for i < m, from the
/// rearranged weights (pack_pairs for int16 activations, pack_quads for bytes). N a
/// multiple of 16, K of TileStep<TA>::kElems.
template <int R, int N, int K, int BITS, bool I32, typename TA>
inline void linear_rows(const TA* a, const std::int32_t* w, const std::int32_t* bias, int shift, std::int16_t* out) {
  constexpr int CB = N % 64 == 0 ? 4 : (N % 32 == 0 ? 2 : 1);
  for (int j0 = 0; j0 < N; j0 += 16 * CB) {
    __m512i acc[R][CB];
    tile<R, CB>(a, K, w + j0, N, K / TileStep<TA>::kElems, acc);
    for (int c = 0; c < CB; ++c) {
      const __m512i b = _mm512_loadu_si512(bias + j0 + 16 * c);
      for (int r = 0; r < R; ++r) {
        if constexpr (I32) requant_store16_i32<BITS>(acc[r][c], b, shift, out + r * N + j0 + 16 * c);
        else requant_store16<BITS>(acc[r][c], b, shift, out + r * N + j0 + 16 * c);
      }
    }
  }
}

#if defined(__AVX512VNNI__)
#define HEATVIT_CPU_OPS_VNNI_U8 1
/// The smallest and the largest of a[0 .. n) (n > 0): whether operands fit the byte path.
inline std::pair<std::int16_t, std::int16_t> value_range(const std::int16_t* a, int n) {
  std::int16_t lo = a[0], hi = a[0];
  for (int i = 0; i < n; ++i) {
    lo = a[i] < lo ? a[i] : lo;
    hi = a[i] > hi ? a[i] : hi;
  }
  return {lo, hi};
}

/// Quads of int8 weights along K for VPDPBUSD: wq[k4][n] holds w[n][4k4 .. 4k4 + 3] as
/// its four bytes (K a multiple of 4; every weight in [-128, 127]).
inline void pack_quads(const std::int16_t* w, int n_out, int k_in, std::int32_t* wq) {
  for (int k4 = 0; k4 < k_in / 4; ++k4)
    for (int n = 0; n < n_out; ++n) {
      std::uint32_t v = 0;
      for (int i = 0; i < 4; ++i)
        v |= std::uint32_t(std::uint8_t(w[static_cast<std::size_t>(n) * k_in + 4 * k4 + i])) << (8 * i);
      wq[static_cast<std::size_t>(k4) * n_out + n] = static_cast<std::int32_t>(v);
    }
}

template <>
struct TileStep<std::uint8_t> {
  static constexpr int kElems = 4;
  static __m512i madd(__m512i acc, const std::uint8_t* a, __m512i w) {
    std::int32_t quad;
    std::memcpy(&quad, a, sizeof quad);
    return _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(quad), w);
  }
};
#else
#define HEATVIT_CPU_OPS_VNNI_U8 0
#endif

/// f(std::integral_constant<int, rows>) for rows in 1..4 (a tile's row count as a constant).
template <class F>
inline void with_rows(int rows, F&& f) {
  switch (rows) {
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    default: f(std::integral_constant<int, 1>{}); break;
  }
}

/// linear_rows over m rows, 4 at a time.
template <int N, int K, int BITS, typename TA>
inline void linear_packed(const TA* a, int m, const std::int32_t* w, const std::int32_t* bias, int shift,
                          bool i32_epilogue, std::int16_t* out) {
  static_assert(N % 16 == 0 && K % TileStep<TA>::kElems == 0, "linear_packed: N a multiple of 16, K of the step");
  for (int i = 0; i < m; i += 4)
    with_rows(std::min(4, m - i), [&](auto rows_c) {
      constexpr int R = decltype(rows_c)::value;
      if (i32_epilogue) linear_rows<R, N, K, BITS, true>(a + i * K, w, bias, shift, out + i * N);
      else linear_rows<R, N, K, BITS, false>(a + i * K, w, bias, shift, out + i * N);
    });
}

/// One group of R query rows of one head: the scores (rows of `qa`, row stride lda,
/// against the rearranged keys kw in ksteps steps, less kcorr[j] when given), each row's
/// softmax, and the probabilities (rows of `pa`, TP wide, as TA) against the rearranged
/// values vw in vsteps steps, requantised into out (row stride D).
template <int R, int MAX_T, int TP, int HD, int D, typename TA>
inline void attend_rows(const TA* qa, int lda, const std::int32_t* kw, int ksteps, const std::int32_t* kcorr,
                        const std::int32_t* vw, int vsteps, int t, int score_shift, int out_shift, TA (*pa)[TP],
                        std::int16_t* out) {
  constexpr int JB = TP / 16, CB = HD / 16;
  alignas(64) std::int32_t p32[MAX_T];
  __m512i sacc[R][JB];
  tile<R, JB>(qa, lda, kw, TP, ksteps, sacc);
  for (int r = 0; r < R; ++r) {
    alignas(64) std::int32_t row[TP];
    for (int jb = 0; jb < JB; ++jb)
      _mm512_store_si512(row + 16 * jb,
                         kcorr ? _mm512_sub_epi32(sacc[r][jb], _mm512_load_si512(kcorr + 16 * jb)) : sacc[r][jb]);
    softmax_row<MAX_T>(row, t, score_shift, p32);
    for (int j = 0; j < t; ++j) pa[r][j] = static_cast<TA>(p32[j]);  // 0..255
    for (int j = t; j < TP; ++j) pa[r][j] = 0;
  }
  __m512i acc[R][CB];
  tile<R, CB>(&pa[0][0], TP, vw, HD, vsteps, acc);
  const __m512i zero = _mm512_setzero_si512();
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < CB; ++c) requant_store16<8>(acc[r][c], zero, out_shift, out + r * D + 16 * c);
}

#if HEATVIT_CPU_OPS_VNNI_U8
/// attention() on bytes (VPDPBUSD) for int8 q, k and v: the scores from q + 128 (unsigned
/// bytes) and k in quads along the head's channels, less 128 sum_c k[j][c] per key; the
/// output from the probabilities (0..255) and v in quads along the keys.
template <int MAX_T, int D, int HD>
void attention_u8(const std::int16_t (*q)[D], const std::int16_t (*k)[D], const std::int16_t (*v)[D], int t,
                  int score_shift, int out_shift, std::int16_t (*out)[D]) {
  constexpr int H = D / HD;
  constexpr int TP = (MAX_T + 15) / 16 * 16;  // score columns, padded to whole vectors
  alignas(64) std::int32_t kq[HD / 4][TP];     // kq[c4][j]: k[j][c0 + 4c4 .. + 3]
  alignas(64) std::int32_t kcorr[TP];          // 128 sum_c k[j][c0 + c]
  alignas(64) std::int32_t vq[TP / 4][HD];     // vq[j4][c]: v[4j4 .. 4j4 + 3][c0 + c]
  alignas(64) std::uint8_t q8[4][HD];
  alignas(64) std::uint8_t p8[4][TP];
  const int t4 = (t + 3) / 4;
  auto byte = [](std::int16_t x, int i) { return std::uint32_t(std::uint8_t(x)) << (8 * i); };
  for (int h = 0; h < H; ++h) {
    const int c0 = h * HD;
    for (int j = 0; j < TP; ++j) {
      std::int32_t sum = 0;
      for (int c4 = 0; c4 < HD / 4; ++c4) {
        std::uint32_t w = 0;
        if (j < t)
          for (int i = 0; i < 4; ++i) {
            w |= byte(k[j][c0 + 4 * c4 + i], i);
            sum += k[j][c0 + 4 * c4 + i];
          }
        kq[c4][j] = static_cast<std::int32_t>(w);
      }
      kcorr[j] = 128 * sum;
    }
    for (int j4 = 0; j4 < TP / 4; ++j4)
      for (int c = 0; c < HD; ++c) {
        std::uint32_t w = 0;
        for (int i = 0; i < 4; ++i)
          if (4 * j4 + i < t) w |= byte(v[4 * j4 + i][c0 + c], i);
        vq[j4][c] = static_cast<std::int32_t>(w);
      }
    for (int i0 = 0; i0 < t; i0 += 4) {
      with_rows(std::min(4, t - i0), [&](auto rows_c) {
        constexpr int R = decltype(rows_c)::value;
        for (int r = 0; r < R; ++r)
          for (int c = 0; c < HD; ++c) q8[r][c] = static_cast<std::uint8_t>(q[i0 + r][c0 + c] + 128);
        attend_rows<R, MAX_T, TP, HD, D>(&q8[0][0], HD, &kq[0][0], HD / 4, kcorr, &vq[0][0], t4, t, score_shift,
                                         out_shift, p8, &out[i0][c0]);
      });
    }
  }
}
#endif

/// Multi-head attention as kernels::attention computes it (scores, softmax_row of each
/// row, requant<8> of p v), with K and V of each head rearranged into pairs first.
template <int MAX_T, int D, int HD>
void attention(const std::int16_t (*q)[D], const std::int16_t (*k)[D], const std::int16_t (*v)[D], int t,
               int score_shift, int out_shift, std::int16_t (*out)[D]) {
  static_assert(D % HD == 0 && HD % 32 == 0, "attention: head dimension a multiple of 32");
#if HEATVIT_CPU_OPS_VNNI_U8
  if (t > 0) {
    // q, k and v all int8 (rows t.. unused)
    bool int8 = true;
    for (const std::int16_t* m : {&q[0][0], &k[0][0], &v[0][0]}) {
      const auto [lo, hi] = value_range(m, t * D);
      int8 = int8 && lo >= -128 && hi <= 127;
    }
    if (int8) {
      attention_u8<MAX_T, D, HD>(q, k, v, t, score_shift, out_shift, out);
      return;
    }
  }
#endif
  constexpr int H = D / HD;
  constexpr int TP = (MAX_T + 15) / 16 * 16;  // score columns, padded to whole vectors
  alignas(64) std::int32_t kp[HD / 2][TP];     // kp[c2][j] = (k[j][c0 + 2c2], k[j][c0 + 2c2 + 1])
  alignas(64) std::int32_t vp[(TP + 1) / 2][HD];  // vp[j2][c] = (v[2j2][c0 + c], v[2j2 + 1][c0 + c])
  alignas(64) std::int16_t p16[4][TP];
  const int t2 = (t + 1) / 2;
  for (int h = 0; h < H; ++h) {
    const int c0 = h * HD;
    for (int c2 = 0; c2 < HD / 2; ++c2) {
      for (int j = 0; j < t; ++j) {
        const auto lo = static_cast<std::uint16_t>(k[j][c0 + 2 * c2]);
        const auto hi = static_cast<std::uint16_t>(k[j][c0 + 2 * c2 + 1]);
        kp[c2][j] = static_cast<std::int32_t>(std::uint32_t(lo) | (std::uint32_t(hi) << 16));
      }
      for (int j = t; j < TP; ++j) kp[c2][j] = 0;
    }
    for (int j2 = 0; j2 < t2; ++j2)
      for (int c = 0; c < HD; ++c) {
        const auto lo = static_cast<std::uint16_t>(v[2 * j2][c0 + c]);
        const auto hi = 2 * j2 + 1 < t ? static_cast<std::uint16_t>(v[2 * j2 + 1][c0 + c]) : std::uint16_t(0);
        vp[j2][c] = static_cast<std::int32_t>(std::uint32_t(lo) | (std::uint32_t(hi) << 16));
      }
    for (int i0 = 0; i0 < t; i0 += 4) {
      with_rows(std::min(4, t - i0), [&](auto rows_c) {
        constexpr int R = decltype(rows_c)::value;
        attend_rows<R, MAX_T, TP, HD, D>(&q[i0][c0], D, &kp[0][0], HD / 2, nullptr, &vp[0][0], t2, t, score_shift,
                                         out_shift, p16, &out[i0][c0]);
      });
    }
  }
}

#endif  // HEATVIT_CPU_OPS_AVX512

}  // namespace cpu

/// The CPU path for IntVit (func/src/func_model.cpp): the weights of every layer it
/// applies to rearranged once (pack_pairs), found by the layer's address.
class CpuOps {
 public:
  CpuOps() = default;

  /// Rearranges layer `l` (kept by address: `l` must outlive this object).
  template <int N, int K>
  void add(const Linear<N, K>& l) {
    if constexpr (cpu::kVector && N % 16 == 0 && K % 2 == 0) {
      const std::size_t at = store_.size();
      store_.resize(at + static_cast<std::size_t>(N) * (K / 2));
      cpu::pack_pairs(&l.w[0][0], N, K, store_.data() + at);
      Packed p{reinterpret_cast<std::uintptr_t>(&l), at, cpu::int32_epilogue(l.b, N, K, l.shift), kNone, kNone};
#if HEATVIT_CPU_OPS_VNNI_U8
      // Byte activations too (VPDPBUSD), when every weight is an int8: the activations
      // are then taken as unsigned bytes, int8 ones shifted by 128 and that shift taken
      // out through the bias (bias - 128 sum_k w[n][k], kept when it fits int32).
      if constexpr (K % 4 == 0) {
        bool int8 = true;
        for (int n = 0; n < N; ++n)
          for (int kk = 0; kk < K; ++kk) int8 = int8 && l.w[n][kk] >= -128 && l.w[n][kk] <= 127;
        if (int8) {
          p.at_q = store_.size();
          store_.resize(p.at_q + static_cast<std::size_t>(N) * (K / 4));
          cpu::pack_quads(&l.w[0][0], N, K, store_.data() + p.at_q);
          std::vector<std::int32_t> shifted(N);
          bool fits = true;
          for (int n = 0; n < N; ++n) {
            std::int64_t sum = 0;
            for (int kk = 0; kk < K; ++kk) sum += l.w[n][kk];
            const std::int64_t b = std::int64_t(l.b[n]) - 128 * sum;
            fits = fits && b >= INT32_MIN && b <= INT32_MAX;
            shifted[static_cast<std::size_t>(n)] = static_cast<std::int32_t>(b);
          }
          if (fits) {
            p.at_b = store_.size();
            store_.insert(store_.end(), shifted.begin(), shifted.end());
          }
        }
      }
#endif
      index_.insert(std::upper_bound(index_.begin(), index_.end(), p,
                                     [](const Packed& x, const Packed& y) { return x.layer < y.layer; }),
                    p);
    }
  }

  template <int MAX_M, int OUT_BITS, int N, int K, typename TA, typename TO>
  void linear(const TA (*a)[K], int m, const Linear<N, K>& l, TO (*out)[N]) const {
#if HEATVIT_CPU_OPS_AVX512
    if constexpr ((OUT_BITS == 8 || OUT_BITS == 16) && N % 16 == 0 && K % 2 == 0 &&
                  std::is_same_v<TA, std::int16_t> && std::is_same_v<TO, std::int16_t>) {
      if (const Packed* pk = find(&l)) {
#if HEATVIT_CPU_OPS_VNNI_U8
        if constexpr (K % 4 == 0) {
          if (pk->at_q != kNone && m > 0) {
            // The activations as unsigned bytes: uint8 values as they are, int8 ones
            // shifted by 128 (with the bias that takes the shift out); others (outside
            // both ranges) take the 16-bit path.
            const std::int16_t* a0 = &a[0][0];
            const int n = m * K;
            const auto [lo, hi] = cpu::value_range(a0, n);
            const bool u8 = lo >= 0 && hi <= 255, s8 = lo >= -128 && hi <= 127;
            if (u8 || (s8 && pk->at_b != kNone)) {
              alignas(64) std::uint8_t a8[MAX_M * K];
              const std::int16_t off = u8 ? 0 : 128;
              for (int i = 0; i < n; ++i) a8[i] = static_cast<std::uint8_t>(a0[i] + off);
              const std::int32_t* bias = u8 ? l.b : store_.data() + pk->at_b;
              cpu::linear_packed<N, K, OUT_BITS>(a8, m, store_.data() + pk->at_q, bias, l.shift, pk->i32,
                                                 &out[0][0]);
              return;
            }
          }
        }
#endif
        cpu::linear_packed<N, K, OUT_BITS>(&a[0][0], m, store_.data() + pk->at, l.b, l.shift, pk->i32, &out[0][0]);
        return;
      }
    }
#endif
    kernels::linear<MAX_M, N, K, OUT_BITS>(a, m, l.w, l.b, l.shift, out);
  }

  template <int MAX_T, int D, int HD, typename TQ, typename TO>
  void attention(const TQ (*q)[D], const TQ (*k)[D], const TQ (*v)[D], int t, int score_shift, int out_shift,
                 TO (*out)[D]) const {
#if HEATVIT_CPU_OPS_AVX512
    if constexpr (HD % 32 == 0 && std::is_same_v<TQ, std::int16_t> && std::is_same_v<TO, std::int16_t>) {
      cpu::attention<MAX_T, D, HD>(q, k, v, t, score_shift, out_shift, out);
      return;
    }
#endif
    kernels::attention<MAX_T, D, HD>(q, k, v, t, score_shift, out_shift, out);
  }

  template <int MAX_T, int C, typename TX, typename TO>
  void layernorm(const TX (*x)[C], int rows, const Ln<C>& l, TO (*out)[C]) const {
    if constexpr (std::is_same_v<TX, std::int16_t> && std::is_same_v<TO, std::int16_t>) {
      cpu::layernorm_rows<C>(x, rows, l.g, l.b, l.shift, out);
    } else {
      kernels::layernorm<MAX_T, C>(x, rows, l.g, l.b, l.shift, out);
    }
  }
  template <int MAX_T, int C, typename TI, typename TO>
  void gelu(const TI (*x)[C], int rows, int frac_out, TO (*out)[C]) const {
    if constexpr (std::is_same_v<TI, std::int16_t> && std::is_same_v<TO, std::int16_t>) {
      for (int r = 0; r < rows; ++r) cpu::gelu_row<C>(x[r], frac_out, out[r]);
    } else {
      kernels::gelu_layer<MAX_T, C>(x, rows, frac_out, out);
    }
  }
  template <int MAX_T, int D, typename TX, typename TA>
  void add_saturate16(TX (*x)[D], const TA (*a)[D], int rows) const {
    if constexpr (std::is_same_v<TX, std::int16_t> && std::is_same_v<TA, std::int16_t>) {
      for (int r = 0; r < rows; ++r) cpu::add_saturate16_row<D>(x[r], a[r]);
    } else {
      kernels::add_saturate16<MAX_T, D>(x, a, rows);
    }
  }

  /// Layers rearranged (0 without AVX-512: every call is the kernel).
  std::size_t layers() const { return index_.size(); }

 private:
  static constexpr std::size_t kNone = ~std::size_t(0);
  struct Packed {
    std::uintptr_t layer;  // the layer's address
    std::size_t at;        // its rearranged weights: store_[at ..]
    bool i32;              // its requantisation is exact in 32-bit lanes
    std::size_t at_q;      // its weights as quads (pack_quads), kNone: not all int8
    std::size_t at_b;      // its bias less 128 sum_k w[n][k], kNone: outside int32
  };
  const Packed* find(const void* layer) const {
    const auto key = reinterpret_cast<std::uintptr_t>(layer);
    const auto it = std::lower_bound(index_.begin(), index_.end(), key,
                                     [](const Packed& p, std::uintptr_t k) { return p.layer < k; });
    return it != index_.end() && it->layer == key ? &*it : nullptr;
  }

  std::vector<Packed> index_;  // by layer address
  std::vector<std::int32_t> store_;
};

}  // namespace heatvit::func
