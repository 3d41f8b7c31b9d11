// Fully connected layer on the GEMM engine: out[m][n] = requant(sum_k a[m][k] w[n][k]
// + bias[n]). int8 (or uint8) operands, exact int32 products and sums, bias added in
// int64, then the round-half-up shift and saturation of the output format.
//
// Shapes: a[MAX_M][K] with `m` valid rows (tokens: data dependent), w[N][K] (PyTorch
// layout: one row per output feature), bias[N], out[MAX_M][N]. The operand element
// types are template parameters: the HLS top instantiates int8/uint8, the C++
// functional model wider integer types holding the same values (faster on CPUs).
#pragma once

#include "heatvit/kernels/arith.hpp"

HEATVIT_KERNELS_BEGIN
namespace heatvit::kernels {

/// Dot product of K int8-range values, exact in int32 (K * 255 * 128 < 2^31).
template <int K, typename TA, typename TW>
inline i32 dot(const TA a[K], const TW w[K]) {
  static_assert(K > 0 && K <= 65535, "dot: K * 255 * 128 must fit in int32");
  i32 acc = 0;
dot_k:
  for (int k = 0; k < K; ++k) {
    HEATVIT_HLS(UNROLL)
    acc += i32(a[k]) * i32(w[k]);
  }
  return acc;
}

/// Linear layer. OUT_BITS: 8 or 16 (requantised and saturated), 0 (raw accumulator +
/// bias, e.g. logits). shift = f_in + f_w - f_out (may be negative: a left shift).
/// Rows go in groups of ROWS sharing each weight row (the HLS unroll factor of the row
/// loop; on CPUs, independent accumulator chains), then one row at a time.
template <int MAX_M, int N, int K, int OUT_BITS, typename TA, typename TW, typename TB, typename TO>
void linear(const TA a[MAX_M][K], int m, const TW w[N][K], const TB bias[N], int shift,
            TO out[MAX_M][N]) {
  static_assert(OUT_BITS == 0 || OUT_BITS == 8 || OUT_BITS == 16, "linear: OUT_BITS 0, 8 or 16");
  static_assert(K > 0 && K <= 65535, "linear: K * 255 * 128 must fit in int32");
  constexpr int ROWS = 4;
  int i = 0;
linear_row_groups:
  for (; i + ROWS <= m; i += ROWS) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=MAX_M/ROWS)
  linear_group_cols:
    for (int j = 0; j < N; ++j) {
      HEATVIT_HLS(PIPELINE II=1)
      i32 acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
    linear_group_dot:
      for (int kk = 0; kk < K; ++kk) {
        HEATVIT_HLS(UNROLL)
        const i32 wv = i32(w[j][kk]);
        acc0 += i32(a[i][kk]) * wv;
        acc1 += i32(a[i + 1][kk]) * wv;
        acc2 += i32(a[i + 2][kk]) * wv;
        acc3 += i32(a[i + 3][kk]) * wv;
      }
      const i64 bj = i64(bias[j]);
      out[i][j] = TO(requant<OUT_BITS>(i64(acc0) + bj, shift));
      out[i + 1][j] = TO(requant<OUT_BITS>(i64(acc1) + bj, shift));
      out[i + 2][j] = TO(requant<OUT_BITS>(i64(acc2) + bj, shift));
      out[i + 3][j] = TO(requant<OUT_BITS>(i64(acc3) + bj, shift));
    }
  }
linear_rows:
  for (; i < m; ++i) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=ROWS-1)
  linear_cols:
    for (int j = 0; j < N; ++j) {
      HEATVIT_HLS(PIPELINE II=1)
      const i64 acc = i64(dot<K>(a[i], w[j])) + i64(bias[j]);
      out[i][j] = TO(requant<OUT_BITS>(acc, shift));
    }
  }
}

}  // namespace heatvit::kernels
HEATVIT_KERNELS_END
