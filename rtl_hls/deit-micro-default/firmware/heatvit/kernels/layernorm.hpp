// Integer LayerNorm over C channels:
//   mu = floor((sum x + floor(C/2)) / C), d = x - mu        (a rounding shift when C is a
//                                                            power of two: rshift_round)
//   sd = max(isqrt(floor(((sum d^2) << 2 G) / C)), 1)       (std deviation, Q(G))
//   z  = trunc(d << (G + F_N) / sd)                         (normalised, Q(F_N))
//        computed with one reciprocal per row and a multiply per channel, exactly:
//        see div_by_row_reciprocal
//   y  = requant8(g z + b, f_g + F_N - f_out)               (int8, Q(f_out))
// with G = Frac::ln_std_extra, g int16 at Q(f_g), b int32 at Q(f_g + F_N).
#pragma once

#include "heatvit/kernels/arith.hpp"
#include "heatvit/kernels/nonlinear.hpp"

HEATVIT_KERNELS_BEGIN
namespace heatvit::kernels {

/// floor(n * 2^16 / sd) for 0 <= n < 2^17 and 1 <= sd < 2^32, from inv = floor(2^33 / sd):
/// (n inv) >> 17 is at most 1 below the quotient (n / 2^17 < 1), so one compare fixes
/// it. Equal to the integer division; one divider per row instead of one per channel.
/// (The 2^16 factor is taken out of the product so that n inv stays below 2^50.)
inline i64 div_by_row_reciprocal(i64 n, i64 sd, u64 inv) {
  const u64 num = u64(n) << 16;
  u64 q = (u64(n) * inv) >> 17;
  if ((q + 1) * u64(sd) <= num) ++q;
  return i64(q);
}

/// One row. x: C int16-range values. out: int8 at Q(f_out); shift = f_g + F_N - f_out.
template <int C, typename TX, typename TG, typename TB, typename TO>
void layernorm_row(const TX x[C], const TG g[C], const TB b[C], int shift, TO out[C]) {
  static_assert(C >= 1 && C <= 65536, "layernorm_row: C out of range");
  static_assert(Frac::ln_std_extra + Frac::ln_norm == 16, "div_by_row_reciprocal assumes a 2^16 scale");
  constexpr bool P2 = is_pow2(C);
  constexpr int L = P2 ? log2_exact(C) : 0;
  constexpr int G = Frac::ln_std_extra;
  i64 s = 0;
ln_sum:
  for (int c = 0; c < C; ++c) {
    HEATVIT_HLS(UNROLL)
    s += i64(x[c]);
  }
  const i64 mu = P2 ? rshift_round(s, L) : div_floor(s + C / 2, C);
  i64 v = 0;
ln_var:
  for (int c = 0; c < C; ++c) {
    HEATVIT_HLS(UNROLL)
    const i64 d = i64(x[c]) - mu;
    v += d * d;
  }
  const i64 var_ext = P2 ? (v << (2 * G)) >> L : (v << (2 * G)) / C;  // v >= 0: floor
  i64 sd = i64(isqrt(u64(var_ext)));
  if (sd < 1) sd = 1;
  const u64 inv = (u64(1) << 33) / u64(sd);
ln_out:
  for (int c = 0; c < C; ++c) {
    HEATVIT_HLS(PIPELINE II=1)
    const i64 d = i64(x[c]) - mu;  // |d| < 2^16 for int16 x
    const i64 q = div_by_row_reciprocal(d < 0 ? -d : d, sd, inv);
    const i64 z = d < 0 ? -q : q;  // trunc(d 2^16 / sd)
    out[c] = TO(requant<8>(i64(g[c]) * z + i64(b[c]), shift));
  }
}

/// `rows` rows of a token matrix.
template <int MAX_T, int C, typename TX, typename TG, typename TB, typename TO>
void layernorm(const TX x[MAX_T][C], int rows, const TG g[C], const TB b[C], int shift,
               TO out[MAX_T][C]) {
ln_rows:
  for (int t = 0; t < rows; ++t) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_T)
    layernorm_row<C>(x[t], g, b, shift, out[t]);
  }
}

}  // namespace heatvit::kernels
HEATVIT_KERNELS_END
