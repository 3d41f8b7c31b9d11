// The weights of a loaded deit-micro model as the kernels consume them (int8 values
// in 16-bit storage, int32 biases, the requantisation shift of every layer). Read by
// the functional model and by the HLS generator, which packs them for the accelerator.
#pragma once

#include <cstdint>

#include "heatvit/func/func_model.hpp"

namespace heatvit::func {

using act_t = std::int16_t;  // storage of int8/int16 activations
using w_t = std::int16_t;    // storage of int8 weights
template <int N, int K>
struct Linear {
  alignas(64) w_t w[N][K];
  std::int32_t b[N];
  int shift = 0;  // f_in + f_w - f_out
};

template <int C>
struct Ln {
  std::int16_t g[C];
  std::int32_t b[C];
  int shift = 0;  // f_g + F_N - f_out
};

template <class S>
struct BlockParamsT {
  Ln<S::kDim> ln1, ln2;
  Linear<S::kDim, S::kDim> q, k, v, proj;
  Linear<S::kHidden, S::kDim> fc1;
  Linear<S::kDim, S::kHidden> fc2;
  int score_shift = 0;  // f_q + f_k - 8
  int attn_shift = 0;   // 8 + f_v - f_ao
  int gelu_frac = 0;    // f_g (MLP hidden, int8)
};

template <class S>
struct SelectorParamsT {
  static constexpr int C = S::kHeadDim;  // 32 channels per head
  Ln<C> ln[S::kHeads];
  Linear<C, C> l1[S::kHeads];
  Linear<C / 2, C> l2[S::kHeads];
  Linear<C / 4, C / 2> l3[S::kHeads];
  Linear<1, C / 4> l4[S::kHeads];
  Linear<S::kHeadHidden, S::kHeads> hb1;
  Linear<S::kHeads, S::kHeadHidden> hb2;
  int g1[S::kHeads] = {}, g2[S::kHeads] = {}, g3[S::kHeads] = {};
  int m_shift = 0;  // f_res - f_m
  int hg = 0;
  std::int32_t thr[S::kKeepGrid] = {};
};

template <class S>
struct ParamsT {
  Linear<S::kDim, S::kPatchPixels> pe;
  std::int16_t pos[S::kPatches + 1][S::kDim];
  BlockParamsT<S> blocks[S::kDepth];
  Ln<S::kDim> lnf;
  Linear<S::kClasses, S::kDim> head;
  SelectorParamsT<S> sel[S::kDepth];
  bool has_sel[S::kDepth] = {};
};

using BlockParams = BlockParamsT<Shape>;
using SelectorParams = SelectorParamsT<Shape>;
using Params = ParamsT<Shape>;

}  // namespace heatvit::func
