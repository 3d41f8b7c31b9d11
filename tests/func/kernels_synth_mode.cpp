// Compiled with __SYNTHESIS__ defined (so every HEATVIT_HLS directive becomes a real
// `#pragma HLS ...` line) and int8 operands, the way the HLS top will use the kernels:
// keeps the kernels valid in that mode. Build-time check only; nothing runs.
#include "heatvit/kernels/all.hpp"

namespace k = heatvit::kernels;

void synth_block(const k::i8 h[51][64], int t, const k::i8 w[64][64], const k::i32 b[64], k::i8 q[51][64],
                 k::i8 o[51][64], k::i16 x[51][64], const k::i16 g[64], const k::i32 lb[64], k::i8 ln[51][64]) {
  k::layernorm<51, 64>(x, t, g, lb, 17, ln);
  k::linear<51, 64, 64, 8>(h, t, w, b, 9, q);
  k::attention<51, 64, 32>(q, q, q, t, 5, 7, o);
  k::i16 y[51][64];
  k::linear<51, 64, 64, 16>(o, t, w, b, 4, y);
  k::add_saturate16<51, 64>(x, y, t);
}

void synth_selector(k::i16 x[51][64], int n, const k::i32 score[49], k::i32 thr, k::i16 idx[49], k::i64& wsum,
                    k::i16 pkg[64], k::i8 m[51][2], k::i8 h[49][32]) {
  k::u8 keep[49] = {};
  k::global_token_mean<49, 32, 16>(h, n);
  k::head_means<51, 64, 32>(x, 1, n, 3, m);
  k::keep_decision<49>(score, n, thr, keep);
  k::package_accumulate<51, 64>(x, 1, n, score, keep, wsum, pkg);
  k::compact_tokens<51, 64>(x, 1, n, keep, idx);
}
