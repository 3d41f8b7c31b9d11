// The operation list the accelerator executes for one image: a model + tokens per
// block (+ where selectors run) expanded into GEMMs, nonlinear ops and the token
// selector's control steps, each with its shape and element counts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/models/model.hpp"
#include "heatvit/models/schedule.hpp"

namespace heatvit {

enum class OpKind {
  Gemm,          ///< out[M x N] = in[M x K] * B[K x N], `batch` independent GEMMs
  LayerNorm,     ///< `rows` rows of `cols` elements
  Softmax,       ///< `rows` rows of `cols` elements
  Gelu,          ///< elementwise
  Sigmoid,       ///< elementwise
  Add,           ///< residual add, elementwise
  TokenMean,     ///< column means over `rows` tokens of `cols` channels (selector global part)
  Decision,      ///< per-token keep/prune compare (selector control logic)
  Compaction,    ///< prefix sum + index reorder of kept tokens (selector control logic)
  Package,       ///< score-weighted accumulation of pruned tokens into the package token
};

const char* to_string(OpKind k);

/// What a block's op belongs to; used to group reports.
enum class Phase { Stem, Msa, Mlp, Selector, Head };
const char* to_string(Phase p);

struct Op {
  std::string name;  ///< unique, e.g. "block3.qkv"
  int block = -1;    ///< -1 before the first block (stem); depth for the head
  OpKind kind = OpKind::Gemm;
  Phase phase = Phase::Msa;
  // GEMM shape (kind == Gemm): batch x [M x K] * [K x N].
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  /// B is a weight matrix read from DDR (false: both operands are activations,
  /// e.g. Q*K^T and A*V, produced on chip).
  bool b_is_weight = true;
  bool has_bias = true;
  // Non-GEMM ops: `rows` x `cols` elements.
  std::int64_t rows = 0, cols = 0;

  std::int64_t macs() const { return kind == OpKind::Gemm ? batch * m * n * k : 0; }
  std::int64_t elements() const {
    return kind == OpKind::Gemm ? batch * m * n : rows * cols;
  }
  /// Weight elements (B operand when it is a weight, plus bias).
  std::int64_t weight_elements() const {
    return (kind == OpKind::Gemm && b_is_weight) ? batch * k * n + (has_bias ? batch * n : 0) : 0;
  }
};

struct Workload {
  ModelShape model;
  std::vector<int> tokens;           ///< tokens entering each block
  std::vector<int> selector_blocks;  ///< blocks with a selector before them
  std::vector<Op> ops;

  std::int64_t backbone_macs() const;  ///< stem/patch embed + blocks + head
  std::int64_t selector_macs() const;
  std::int64_t total_macs() const { return backbone_macs() + selector_macs(); }
  /// Total weight elements the model reads from DDR per image.
  std::int64_t weight_elements() const;
};

/// Expands a model with the given tokens per block and selector positions.
/// `tokens` must pass validate_tokens(); selectors in [0, depth). `kept_patches`
/// (optional, one per selector in ascending block order): the patch tokens each
/// selector keeps. Without it they are inferred from the token counts, which cannot
/// tell "nothing pruned" from "one token pruned and the package token created" (the
/// count stays the same); with it the selector's package op and the later selectors'
/// scored rows are exact.
Workload build_workload(const ModelShape& model, const std::vector<int>& tokens,
                        const std::vector<int>& selector_blocks, const std::vector<int>& kept_patches = {});

/// The ops of one token selector before block `block` that scores `scored` patch
/// tokens and prunes `pruned` of them.
std::vector<Op> selector_ops(const ModelShape& model, int block, std::int64_t scored, std::int64_t pruned);

/// Dense workload (no selectors).
Workload build_dense_workload(const ModelShape& model);

/// Workload of a schedule using expected_tokens().
Workload build_schedule_workload(const ModelShape& model, const Schedule& s);

/// The `heatvit workload --json` report (contract fields plus shapes).
json workload_to_json(const Workload& w, int bits_per_element);

}  // namespace heatvit
