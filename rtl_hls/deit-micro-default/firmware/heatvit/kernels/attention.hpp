// Multi-head self-attention core over `t` dense tokens: per head h,
//   s = q_h k_h^T                                   (int32, Q(f_q + f_k))
//   p = softmax(s) per row                          (uint8, Q8; see softmax_row)
//   o_h = requant8(p v_h, 8 + f_v - f_o)            (int8, Q(f_o))
// The token rows are the compacted kept tokens (CLS, kept patches, package), so no
// masking is needed: every row is a valid key.
#pragma once

#include "heatvit/kernels/arith.hpp"
#include "heatvit/kernels/gemm.hpp"
#include "heatvit/kernels/nonlinear.hpp"

HEATVIT_KERNELS_BEGIN
namespace heatvit::kernels {

/// Integer softmax of `rows` rows of `t` scores each (row r at s[r * MAX_T]), each row
/// on its own:
///   m = max s; x8 = max(rshift_round(s - m, shift), exp_min); e = exp_q8(x8) (Q15);
///   p = min(round-half-up(256 e / sum e), 255)  (uint8, Q8).
/// shift = f_q + f_k - 8 brings the scores to Q8.
/// Each of the three element loops runs over the rows' elements one after another as
/// one loop (a segmented reduction: an element updates its own row's maximum and sum),
/// pipelined at II=1 and unrolled by LANES under synthesis: ceil(rows * t / LANES)
/// iterations, the softmax unit of the cycle model with LANES lanes. No effect on the
/// values.
template <int MAX_T, int MAX_R, int LANES = 1, typename TS, typename TP>
void softmax_rows(const TS* s, int rows, int t, int shift, TP* p) {
  // sum e <= MAX_T * 2^15 must fit in 32 bits; the normalisation's numerator in 2^27
  static_assert(MAX_T <= 1024, "softmax_rows: row too long");
  i64 m[MAX_R];
  i32 tot[MAX_R];
  u64 den[MAX_R], inv[MAX_R];
  i32 e[MAX_R * MAX_T];
sm_init:
  for (int r = 0; r < MAX_R; ++r) {
    HEATVIT_HLS(UNROLL)
    m[r] = r < rows ? i64(s[r * MAX_T]) : 0;
    tot[r] = 0;
  }
  const int n = rows * t;
  int r = 0, j = 0;
sm_max:
  for (int x = 0; x < n; ++x) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_R*MAX_T)
    HEATVIT_HLS(PIPELINE II=1)
    HEATVIT_HLS(UNROLL factor=LANES)
    if (i64(s[r * MAX_T + j]) > m[r]) m[r] = s[r * MAX_T + j];
    if (++j == t) j = 0, ++r;
  }
  r = 0;
  j = 0;
sm_exp:
  for (int x = 0; x < n; ++x) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_R*MAX_T)
    HEATVIT_HLS(PIPELINE II=1)
    HEATVIT_HLS(UNROLL factor=LANES)
    i64 x8 = rshift_round(i64(s[r * MAX_T + j]) - m[r], shift);
    if (x8 < PolyConst::exp_min) x8 = PolyConst::exp_min;
    e[r * MAX_T + j] = exp_q8(i32(x8));
    tot[r] += e[r * MAX_T + j];
    if (++j == t) j = 0, ++r;
  }
  // floor((512 e + tot) / (2 tot)): 512 e < 2^24 and tot <= MAX_T 2^15 <= 2^25, so the
  // numerator is below 2^27 and one reciprocal per row (B = 27) plus a multiply and a
  // compare per element are exact (div_floor_by_reciprocal).
  constexpr int B = 27;
sm_recip:
  for (int q = 0; q < MAX_R; ++q) {
    HEATVIT_HLS(UNROLL)
    if (tot[q] < 1) tot[q] = 1;
    den[q] = 2 * u64(tot[q]);
    inv[q] = (u64(1) << B) / den[q];
  }
  r = 0;
  j = 0;
sm_norm:
  for (int x = 0; x < n; ++x) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_R*MAX_T)
    HEATVIT_HLS(PIPELINE II=1)
    HEATVIT_HLS(UNROLL factor=LANES)
    const u64 q = div_floor_by_reciprocal<B>(u64(e[r * MAX_T + j]) * 512u + u64(tot[r]), den[r], inv[r]);
    p[r * MAX_T + j] = TP(q < 255u ? q : 255u);
    if (++j == t) j = 0, ++r;
  }
}

/// One row (softmax_rows with one row).
template <int MAX_T, int LANES = 1, typename TS, typename TP>
void softmax_row(const TS s[MAX_T], int t, int shift, TP p[MAX_T]) {
  softmax_rows<MAX_T, 1, LANES>(s, 1, t, shift, p);
}

/// All heads. q, k, v: [t][D] int8 values (head h owns columns h*HD .. h*HD+HD-1).
/// score_shift = f_q + f_k - 8, out_shift = 8 + f_v - f_o. out: [t][D] int8.
template <int MAX_T, int D, int HD, typename TQ, typename TO>
void attention(const TQ q[MAX_T][D], const TQ k[MAX_T][D], const TQ v[MAX_T][D], int t,
               int score_shift, int out_shift, TO out[MAX_T][D]) {
  static_assert(D % HD == 0, "attention: D must be a multiple of the head dimension");
  constexpr int H = D / HD;
att_heads:
  for (int h = 0; h < H; ++h) {
    const int c0 = h * HD;
  att_rows:
    for (int i = 0; i < t; ++i) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_T)
      i32 s[MAX_T];
    att_scores:
      for (int j = 0; j < t; ++j) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_T)
        HEATVIT_HLS(PIPELINE II=1)
        s[j] = dot<HD>(&q[i][c0], &k[j][c0]);
      }
      i32 p[MAX_T];
      softmax_row<MAX_T>(s, t, score_shift, p);
      i32 acc[HD];
    att_acc_init:
      for (int c = 0; c < HD; ++c) {
        HEATVIT_HLS(UNROLL)
        acc[c] = 0;
      }
    att_pv:
      for (int j = 0; j < t; ++j) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_T)
        HEATVIT_HLS(PIPELINE II=1)
      att_pv_cols:
        for (int c = 0; c < HD; ++c) acc[c] += p[j] * i32(v[j][c0 + c]);  // 255*128*MAX_T fits
      }
    att_out:
      for (int c = 0; c < HD; ++c) {
        HEATVIT_HLS(UNROLL)
        out[i][c0 + c] = TO(requant<8>(acc[c], out_shift));
      }
    }
  }
}

}  // namespace heatvit::kernels
HEATVIT_KERNELS_END
