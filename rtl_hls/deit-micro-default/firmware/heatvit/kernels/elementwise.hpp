// Element-wise and small row operations around the GEMMs: patch extraction, position
// embedding, residual add, GELU layer, classifier argmax.
#pragma once

#include "heatvit/kernels/arith.hpp"
#include "heatvit/kernels/nonlinear.hpp"

HEATVIT_KERNELS_BEGIN
namespace heatvit::kernels {

/// Splits a CH x IMG x IMG image (channel-major, rows row-major) into (IMG/P)^2 patches
/// of CH*P*P pixels: patch (r / P) * (IMG / P) + c / P, element ch*P*P + (r % P) * P +
/// c % P inside it (the order of a PyTorch patch-embedding convolution's weights).
template <int IMG, int P, typename TI, typename TO, int CH = 1>
void patchify(const TI img[CH * IMG * IMG], TO out[(IMG / P) * (IMG / P)][CH * P * P]) {
  static_assert(IMG % P == 0, "patchify: image size must be a multiple of the patch size");
  constexpr int G = IMG / P;
patch_chans:
  for (int ch = 0; ch < CH; ++ch) {
  patch_rows:
    for (int r = 0; r < IMG; ++r) {
    patch_cols:
      for (int c = 0; c < IMG; ++c) {
        HEATVIT_HLS(PIPELINE II=1)
        out[(r / P) * G + c / P][ch * P * P + (r % P) * P + c % P] = TO(img[(ch * IMG + r) * IMG + c]);
      }
    }
  }
}

/// x[t][c] = saturate16(x[t][c] + a[t][c]) for the first `rows` rows (residual add,
/// also used for the position embedding).
template <int MAX_T, int D, typename TX, typename TA>
void add_saturate16(TX x[MAX_T][D], const TA a[MAX_T][D], int rows) {
add_rows:
  for (int t = 0; t < rows; ++t) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_T)
  add_cols:
    for (int c = 0; c < D; ++c) {
      HEATVIT_HLS(PIPELINE II=1)
      x[t][c] = TX(saturate<16>(i64(x[t][c]) + i64(a[t][c])));
    }
  }
}

/// GELU layer: int16 Q10 inputs -> int8 at Q(frac_out).
template <int MAX_T, int C, typename TI, typename TO>
void gelu_layer(const TI x[MAX_T][C], int rows, int frac_out, TO out[MAX_T][C]) {
gelu_rows:
  for (int t = 0; t < rows; ++t) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_T)
  gelu_cols:
    for (int c = 0; c < C; ++c) {
      HEATVIT_HLS(PIPELINE II=1)
      out[t][c] = TO(gelu_to_int8(i32(x[t][c]), frac_out));
    }
  }
}

/// Index of the first maximum.
template <int N, typename T>
int argmax(const T v[N]) {
  int best = 0;
argmax_loop:
  for (int i = 1; i < N; ++i) {
    HEATVIT_HLS(PIPELINE II=1)
    if (v[i] > v[best]) best = i;
  }
  return best;
}

}  // namespace heatvit::kernels
HEATVIT_KERNELS_END
