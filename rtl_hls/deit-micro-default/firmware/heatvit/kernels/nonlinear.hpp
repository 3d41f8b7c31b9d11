// Polynomial nonlinear units (I-BERT family) in pure integer arithmetic: GELU, exp
// (for softmax) and the shift-only sigmoid of the token selector. Constants and
// fraction bits are those of docs/integer-numerics.md; each function names the
// fixed-point format of its input and output ("Qf" = f fraction bits).
#pragma once

#include "heatvit/kernels/arith.hpp"

HEATVIT_KERNELS_BEGIN
namespace heatvit::kernels {

/// Fraction bits fixed by the numerics (the exported model records the same values in
/// meta.consts; the loader rejects a file that disagrees).
struct Frac {
  static constexpr int pre_gelu = 10;   ///< F_H: pre-GELU int16 values
  static constexpr int log_odds = 8;    ///< F_D: selector log-odds (int16)
  static constexpr int sigmoid = 12;    ///< F_SIG: sigmoid output
  static constexpr int ln_norm = 12;    ///< F_N: LayerNorm normalised value
  static constexpr int ln_std_extra = 4;  ///< G_LN: extra fraction bits of the std deviation
  static constexpr int softmax_in = 8;  ///< exp input (Q8)
  static constexpr int softmax_out = 8; ///< attention probabilities (uint8, Q8)
};

/// Polynomial constants, rounded once from their real values.
struct PolyConst {
  static constexpr i64 exp_ln2 = 177;    ///< round(ln2 * 2^8)
  static constexpr i64 exp_b = 346;      ///< round(1.353 * 2^8)
  static constexpr i64 exp_a = 1468;     ///< round(0.3585 * 2^12)
  static constexpr i64 exp_c = 11272;    ///< round(0.344 * 2^15)
  static constexpr i64 exp_min = -4096;  ///< -16.0 in Q8: inputs below are clamped
  static constexpr i64 gelu_c = 2562;    ///< round(1.769 * sqrt(2) * 2^10)
  static constexpr i64 gelu_a = 148;     ///< round(0.2888 / 2 * 2^10)
  static constexpr i64 sig_clip = 1024;  ///< 4.0 in Q8
};

/// GELU(x) = x/2 (1 + L(x/sqrt2)), L(u) = sign(u) [a (min(|u|, -b) + b)^2 + 1].
/// x: int16 in Q10. Returns GELU(x) in Q10 (|result| <= 2^15). Every intermediate fits
/// in 32 bits: (t^2 a) < 2^30, |x (2^14 + L)| <= 2^30.
inline i32 gelu_q10(i32 x) {
  const i32 ax = x < 0 ? -x : x;
  const i32 t = (ax < i32(PolyConst::gelu_c) ? ax : i32(PolyConst::gelu_c)) - i32(PolyConst::gelu_c);
  const i32 term = (t * t * i32(PolyConst::gelu_a) + (i32(1) << 15)) >> 16;
  const i32 lmag = (i32(1) << 14) - term;
  const i32 l = x > 0 ? lmag : (x < 0 ? -lmag : 0);
  return (x * ((i32(1) << 14) + l) + (i32(1) << 14)) >> 15;
}

/// GELU followed by requantisation to int8 at `frac_out` fraction bits.
inline i64 gelu_to_int8(i32 x_q10, int frac_out) {
  return requant<8>(gelu_q10(x_q10), Frac::pre_gelu - frac_out);
}

/// exp(x) for x <= 0: x = -ln2 z + p, exp(p) ~ a (p + b)^2 + c, then >> z.
/// x8: Q8 in [exp_min, 0]. Returns exp(x) in Q15 (0 .. 32725). 32-bit intermediates:
/// (p + b)^2 a <= 346^2 * 1468 < 2^28.
inline i32 exp_q8(i32 x8) {
  const i32 z = (-x8) / i32(PolyConst::exp_ln2);  // x8 <= 0: truncation == floor
  const i32 p = x8 + i32(PolyConst::exp_ln2) * z;
  const i32 pb = p + i32(PolyConst::exp_b);
  const i32 e = ((pb * pb * i32(PolyConst::exp_a) + (i32(1) << 12)) >> 13) + i32(PolyConst::exp_c);
  return z < 31 ? (e >> z) : 0;  // e < 2^15: any shift >= 15 gives 0
}

/// sigmoid(x) ~ 0.5 + c/4 - c|c|/32 with c = clamp(x, -4, 4).
/// x8: Q8 (int16). Returns Q12 in [0, 4096].
inline i64 sigmoid_q8(i64 x8) {
  const i64 c = x8 < -PolyConst::sig_clip ? -PolyConst::sig_clip
                                          : (x8 > PolyConst::sig_clip ? PolyConst::sig_clip : x8);
  const i64 ac = c < 0 ? -c : c;
  return (i64(1) << (Frac::sigmoid - 1)) + 4 * c - rshift_round(c * ac, 9);
}

}  // namespace heatvit::kernels
HEATVIT_KERNELS_END
