// The integer ViT inference of the numerics of record (docs/integer-numerics.md),
// composed from the kernels for any shape S (compile-time constants, see func::Shape):
// deit-micro's functional model (FuncModel) and the HLS generator's reference for
// the DeiT shapes both run it. Token layout: [CLS, kept patch tokens in ascending patch
// order, package token (once anything was pruned)].
#pragma once

#include <cstdint>

#include "heatvit/func/cpu_ops.hpp"
#include "heatvit/func/params.hpp"
#include "heatvit/kernels/all.hpp"

namespace heatvit::func {

template <class S>
struct IntVit {
  using act_t = std::int16_t;
  static constexpr int T = S::kMaxTokens;
  static constexpr int P = S::kPatches;
  static constexpr int D = S::kDim;
  static constexpr int HD = S::kHeadDim;
  static constexpr int HH = S::kHeadHidden;

  /// Per-call scratch buffers (about 100 KiB for deit-micro, a few MiB for DeiT-S: allocate
  /// them on the heap).
  struct Work {
    alignas(64) act_t x[T][D];       // residual stream, int16 at Q(f_res)
    alignas(64) act_t h[T][D];       // LayerNorm output, int8
    alignas(64) act_t q[T][D], kk[T][D], v[T][D], ao[T][D];
    alignas(64) act_t y16[T][D];     // projection / fc2 output, int16
    alignas(64) act_t f1[T][S::kHidden];  // fc1 output, int16 Q10
    alignas(64) act_t g8[T][S::kHidden];  // GELU output, int8
    alignas(64) act_t patches[P][S::kPatchPixels];
    // selector
    alignas(64) act_t sx[P][HD], sh[P][HD], s16[P][HD], s8[P][HD];
    alignas(64) act_t s16b[P][HD / 2], s8b[P][HD / 2], s16c[P][HD / 4], s8c[P][HD / 4];
    act_t dl[S::kHeads][P][1];
    act_t m8[P][S::kHeads], hb1o[P][HH], hw8[P][HH], hb2o[P][S::kHeads];
    std::int64_t wsig[P][S::kHeads];
    std::int32_t score[P];
    std::uint8_t keep[P];
    std::int16_t index[P];  // absolute patch index of patch row i (row 1 + i of x)
    act_t pkg[D];
  };

  /// `ops` computes the layers (linear, attention core, LayerNorm, GELU, residual add):
  /// the kernels themselves (KernelOps) or the functional model's CPU path to the same
  /// integers (CpuOps, cpu_ops.hpp).
  template <class Ops = KernelOps>
  static void run_block(const BlockParamsT<S>& b, Work& w, int t, const Ops& ops = Ops{}) {
    ops.template layernorm<T>(w.x, t, b.ln1, w.h);
    ops.template linear<T, 8>(w.h, t, b.q, w.q);
    ops.template linear<T, 8>(w.h, t, b.k, w.kk);
    ops.template linear<T, 8>(w.h, t, b.v, w.v);
    ops.template attention<T, D, HD>(w.q, w.kk, w.v, t, b.score_shift, b.attn_shift, w.ao);
    ops.template linear<T, 16>(w.ao, t, b.proj, w.y16);
    ops.template add_saturate16<T>(w.x, w.y16, t);
    ops.template layernorm<T>(w.x, t, b.ln2, w.h);
    ops.template linear<T, 16>(w.h, t, b.fc1, w.f1);
    ops.template gelu<T>(w.f1, t, b.gelu_frac, w.g8);
    ops.template linear<T, 16>(w.g8, t, b.fc2, w.y16);
    ops.template add_saturate16<T>(w.x, w.y16, t);
  }

  /// Selector scores S (Q8) of the n patch tokens in rows 1..n of w.x into w.score.
  template <class Ops = KernelOps>
  static void selector_scores(const SelectorParamsT<S>& s, Work& w, int n, const Ops& ops = Ops{}) {
    for (int h = 0; h < S::kHeads; ++h) {
      for (int i = 0; i < n; ++i)
        for (int c = 0; c < HD; ++c) w.sx[i][c] = w.x[1 + i][h * HD + c];
      ops.template layernorm<P>(w.sx, n, s.ln[h], w.sh);
      ops.template linear<P, 16>(w.sh, n, s.l1[h], w.s16);
      ops.template gelu<P>(w.s16, n, s.g1[h], w.s8);
      kernels::global_token_mean<P, HD, HD / 2>(w.s8, n);
      ops.template linear<P, 16>(w.s8, n, s.l2[h], w.s16b);
      ops.template gelu<P>(w.s16b, n, s.g2[h], w.s8b);
      ops.template linear<P, 16>(w.s8b, n, s.l3[h], w.s16c);
      ops.template gelu<P>(w.s16c, n, s.g3[h], w.s8c);
      ops.template linear<P, 16>(w.s8c, n, s.l4[h], w.dl[h]);
    }
    kernels::head_means<T, D, HD>(w.x, 1, n, s.m_shift, w.m8);
    ops.template linear<P, 16>(w.m8, n, s.hb1, w.hb1o);
    kernels::gelu_layer<P, HH>(w.hb1o, n, s.hg, w.hw8);
    ops.template linear<P, 16>(w.hw8, n, s.hb2, w.hb2o);
    for (int i = 0; i < n; ++i) {
      std::int64_t d[S::kHeads];
      for (int h = 0; h < S::kHeads; ++h) {
        w.wsig[i][h] = kernels::sigmoid_q8(w.hb2o[i][h]);
        d[h] = w.dl[h][i][0];
      }
      w.score[i] = static_cast<std::int32_t>(kernels::head_weighted_score<S::kHeads>(w.wsig[i], d));
    }
  }

  /// Patch embedding + position embedding into rows 0..P of w.x (CLS row = pos[0]).
  template <class Ops = KernelOps>
  static void embed(const ParamsT<S>& p, const std::uint8_t* image, Work& w, const Ops& ops = Ops{}) {
    kernels::patchify<S::kImage, S::kPatch, std::uint8_t, act_t, S::kChans>(image, w.patches);
    ops.template linear<P, 16>(w.patches, P, p.pe, &w.x[1]);
    for (int c = 0; c < D; ++c) w.x[0][c] = p.pos[0][c];
    kernels::add_saturate16<T, D>(&w.x[1], &p.pos[1], P);
    for (int i = 0; i < P; ++i) w.index[i] = static_cast<std::int16_t>(i);
  }

  /// The selector's keep decision on the scores in w.score, the package token and the
  /// compaction of rows 1..n: updates n, alive and wsum.
  static void decide(Work& w, std::int32_t threshold, int& n, bool& alive, std::int64_t& wsum) {
    kernels::keep_decision<P>(w.score, n, threshold, w.keep);
    for (int c = 0; c < D; ++c) w.pkg[c] = alive ? w.x[n + 1][c] : act_t(0);
    kernels::package_accumulate<T, D>(w.x, 1, n, w.score, w.keep, wsum, w.pkg);
    n = kernels::compact_tokens<T, D>(w.x, 1, n, w.keep, w.index);
    alive = wsum > 0;
    if (alive)
      for (int c = 0; c < D; ++c) w.x[n + 1][c] = w.pkg[c];
  }

  /// Final LayerNorm of the CLS row and the classifier.
  static int classify(const ParamsT<S>& p, const Work& w, std::int64_t* logits_out) {
    act_t h0[1][D];
    std::int64_t logits[1][S::kClasses];
    kernels::layernorm_row<D>(w.x[0], p.lnf.g, p.lnf.b, p.lnf.shift, h0[0]);
    kernels::linear<1, S::kClasses, D, 0>(h0, 1, p.head.w, p.head.b, 0, logits);
    for (int c = 0; c < S::kClasses; ++c) logits_out[c] = logits[0][c];
    return kernels::argmax<S::kClasses>(logits_out);
  }

  /// Everything one image produces (the layout-independent parts of ImageResult).
  struct Result {
    std::int64_t logits[S::kClasses];
    int prediction = 0;
    int tokens[S::kDepth];                  ///< tokens entering each block
    int reached[S::kDepth];                 ///< patch tokens entering selector s
    std::uint32_t kept[S::kDepth][(P + 31) / 32];  ///< bit p: patch p kept after selector s
    std::int32_t score[S::kDepth][P];       ///< scores of the patches reaching selector s (stream order)
  };

  /// Runs one image (S::kChans x kImage x kImage, channel-major) with the selectors
  /// before `blocks[i]` at `thresholds[i]` (ascending blocks). `stop_at` >= 0: return
  /// after selector stop_at's scores (for calibration; no decision there).
  static void run(const ParamsT<S>& p, const std::uint8_t* image, const int* blocks, const std::int32_t* thresholds,
                  int selectors, Work& w, Result& out, int stop_at = -1) {
    embed(p, image, w);
    int n = P;
    bool alive = false;
    std::int64_t wsum = 0;
    int next = 0;
    for (int b = 0; b < S::kDepth; ++b) {
      if (next < selectors && blocks[next] == b) {
        const int si = next++;
        selector_scores(p.sel[b], w, n);
        out.reached[si] = n;
        for (int i = 0; i < n; ++i) out.score[si][i] = w.score[i];
        if (si == stop_at) return;
        decide(w, thresholds[si], n, alive, wsum);
        for (auto& word : out.kept[si]) word = 0;
        for (int i = 0; i < n; ++i) out.kept[si][w.index[i] / 32] |= std::uint32_t(1) << (w.index[i] % 32);
      }
      const int t = 1 + n + (alive ? 1 : 0);
      out.tokens[b] = t;
      run_block(p.blocks[b], w, t);
    }
    out.prediction = classify(p, w, out.logits);
  }
};

}  // namespace heatvit::func
