// The token selector's small pieces around its GEMMs, and its control logic:
//   - global_token_mean: the "global" half of each head's features, averaged over the
//     kept tokens and broadcast back to every token,
//   - head_means: per-head channel mean of the residual stream (head-importance input),
//   - head_weighted_score: sigmoid-weighted mean of the per-head keep log-odds,
//   - keep_decision: compare with the calibrated threshold,
//   - package_accumulate: score-weighted running average of pruned tokens,
//   - compact_tokens: in-place compaction of kept rows (prefix order preserved).
// Patch tokens are addressed as `n` consecutive rows starting at row `first` of the
// token buffer (the CLS token sits before them).
#pragma once

#include "heatvit/kernels/arith.hpp"
#include "heatvit/kernels/nonlinear.hpp"

HEATVIT_KERNELS_BEGIN
namespace heatvit::kernels {

/// For columns FIRST..C-1 of rows 0..n-1: replace each value by the column mean over
/// the n rows, trunc(sum / n) (0 when n == 0).
template <int MAX_T, int C, int FIRST, typename T>
void global_token_mean(T h[MAX_T][C], int n) {
  static_assert(FIRST >= 0 && FIRST < C, "global_token_mean: FIRST out of range");
  i64 sum[C - FIRST];
gm_init:
  for (int c = 0; c < C - FIRST; ++c) {
    HEATVIT_HLS(UNROLL)
    sum[c] = 0;
  }
gm_rows:
  for (int t = 0; t < n; ++t) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=MAX_T)
    HEATVIT_HLS(PIPELINE II=1)
  gm_cols:
    for (int c = 0; c < C - FIRST; ++c) sum[c] += i64(h[t][FIRST + c]);
  }
gm_bcast:
  for (int t = 0; t < n; ++t) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=MAX_T)
    HEATVIT_HLS(PIPELINE II=1)
  gm_bcast_cols:
    for (int c = 0; c < C - FIRST; ++c) h[t][FIRST + c] = T(div_trunc(sum[c], n));
  }
}

/// m[t][h] = requant8(rshift_round(sum of head h's HD channels of x[first + t], log2 HD),
/// shift), shift = f_res - f_m: the per-head mean of the residual stream as int8.
template <int MAX_T, int D, int HD, typename TX, typename TO>
void head_means(const TX x[MAX_T][D], int first, int n, int shift, TO m[MAX_T][D / HD]) {
  static_assert(is_pow2(HD) && D % HD == 0, "head_means: HD must be a power of two dividing D");
  constexpr int H = D / HD;
hm_rows:
  for (int t = 0; t < n; ++t) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_T)
  hm_heads:
    for (int h = 0; h < H; ++h) {
      HEATVIT_HLS(PIPELINE II=1)
      i64 s = 0;
    hm_sum:
      for (int c = 0; c < HD; ++c) s += i64(x[first + t][h * HD + c]);
      m[t][h] = TO(requant<8>(rshift_round(s, log2_exact(HD)), shift));
    }
  }
}

/// Score S = saturate16(trunc(sum_h w_h d_h / sum_h w_h)), or trunc(sum_h d_h / H) when
/// every weight is 0. w: sigmoid head weights (Q12, 0..4096), d: keep log-odds (Q8).
template <int H, typename TW, typename TD>
i64 head_weighted_score(const TW w[H], const TD d[H]) {
  i64 ws = 0, num = 0, dsum = 0;
hs_heads:
  for (int h = 0; h < H; ++h) {
    HEATVIT_HLS(UNROLL)
    ws += i64(w[h]);
    num += i64(w[h]) * i64(d[h]);
    dsum += i64(d[h]);
  }
  return saturate<16>(ws > 0 ? div_trunc(num, ws) : div_trunc(dsum, H));
}

/// keep[i] = score[i] > threshold for the n tokens reaching the selector. Returns the
/// number kept. (threshold INT32_MIN keeps every token.)
template <int MAX_P, typename TS>
int keep_decision(const TS score[MAX_P], int n, i32 threshold, u8 keep[MAX_P]) {
  int kept = 0;
kd_tokens:
  for (int i = 0; i < n; ++i) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=MAX_P)
    HEATVIT_HLS(PIPELINE II=1)
    keep[i] = i64(score[i]) > i64(threshold) ? 1 : 0;
    kept += keep[i];
  }
  return kept;
}

/// Package token update with the tokens pruned now (keep[i] == 0):
///   o_i = sigmoid_q8(score_i) + 1 (Q12, >= 1),
///   acc = wsum * pkg + sum_pruned o_i x_i,  wsum += sum_pruned o_i,
///   pkg = saturate16(trunc(acc / wsum)) (0 while wsum == 0).
/// pkg: in: the package token as it left the previous block (ignored while wsum == 0);
/// out: the new package token. wsum: running weight sum of this image (in/out).
template <int MAX_T, int D, typename TX, typename TS>
void package_accumulate(const TX x[MAX_T][D], int first, int n, const TS score[], const u8 keep[],
                        i64& wsum, TX pkg[D]) {
  i64 acc[D];
pk_init:
  for (int c = 0; c < D; ++c) {
    HEATVIT_HLS(UNROLL)
    acc[c] = wsum * i64(pkg[c]);
  }
  i64 w = wsum;
pk_tokens:
  for (int i = 0; i < n; ++i) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=MAX_T)
    HEATVIT_HLS(PIPELINE II=1)
    if (keep[i]) continue;
    const i64 o = sigmoid_q8(i64(score[i])) + 1;
    w += o;
  pk_cols:
    for (int c = 0; c < D; ++c) acc[c] += o * i64(x[first + i][c]);
  }
  wsum = w;
pk_out:
  for (int c = 0; c < D; ++c) {
    HEATVIT_HLS(UNROLL)
    pkg[c] = TX(w > 0 ? saturate<16>(div_trunc(acc[c], w)) : 0);
  }
}

/// Moves the kept rows among x[first .. first+n-1] to x[first .. first+kept-1] in their
/// order, and their absolute patch indices likewise (index[i] belongs to row first+i).
/// Returns kept. Row i is read before any row <= i is written: safe in place.
template <int MAX_T, int D, typename TX, typename TI>
int compact_tokens(TX x[MAX_T][D], int first, int n, const u8 keep[], TI index[]) {
  int w = 0;
ct_tokens:
  for (int i = 0; i < n; ++i) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=MAX_T)
    HEATVIT_HLS(PIPELINE II=1)
    if (!keep[i]) continue;
    if (w != i) {
    ct_cols:
      for (int c = 0; c < D; ++c) x[first + w][c] = x[first + i][c];
      index[w] = index[i];
    }
    ++w;
  }
  return w;
}

}  // namespace heatvit::kernels
HEATVIT_KERNELS_END
