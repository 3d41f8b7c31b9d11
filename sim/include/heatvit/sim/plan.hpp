// Lowering a workload onto the accelerator: fusing nonlinear ops into the GEMM
// passes that produce or consume their data, choosing loop tiles that fit the
// on-chip buffers, and listing each pass's tile steps with their data movement and
// compute cycles. Plain C++: both the SystemC model and the analytic model execute
// the same plan, so they differ only in how they time it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "heatvit/models/workload.hpp"
#include "heatvit/sim/hw_config.hpp"

namespace heatvit::sim {

enum class PassKind {
  Linear,     ///< GEMM with a weight operand from DDR (+ fused LayerNorm / GELU / add ...)
  Attention,  ///< fused Q*K^T -> softmax -> A*V per head group, scores kept on chip
  Unit,       ///< a standalone nonlinear or selector-control op
};
const char* to_string(PassKind k);

/// One tile step: load operands (into the free half of each double buffer), compute,
/// and (when an output tile is complete) post-process and store it.
struct Step {
  std::int64_t load_a_bytes = 0;   ///< activation bytes read from DDR before compute (0: resident)
  std::int64_t load_b_bytes = 0;   ///< weight / second-operand bytes read from DDR (0: resident)
  std::int64_t load_cycles = 0;    ///< processing on the load path (fused LayerNorm), row-pipelined
                                   ///< with the DMA: the load stage takes max(DMA, load_cycles)
  std::int64_t compute_cycles = 0; ///< PE array (or unit) busy cycles, pipeline fill excluded
  std::int64_t macs = 0;
  bool ends_tile = true;           ///< completes an output tile: the store stage runs
  std::int64_t store_read_bytes = 0;  ///< residual read by the store path (fused add)
  std::int64_t post_cycles = 0;    ///< nonlinear processing on the store path
  std::int64_t store_bytes = 0;    ///< output bytes written to DDR
};

struct Tiling {
  std::int64_t tm = 0, tn = 0, tk = 0;
  bool n_outer = false;  ///< loop order n -> m -> k (weights stay resident across m)
};

struct Pass {
  std::string name;               ///< the primary op's name
  int block = -1;
  Phase phase = Phase::Msa;
  PassKind kind = PassKind::Linear;
  std::vector<std::string> ops;   ///< every workload op this pass executes (fused ones too)
  Tiling tiling;
  std::vector<Step> steps;
  int fill_cycles = 0;            ///< pipeline fill + drain of the engine, cycles
  int post_latency = 0;           ///< latency of the fused post-processing unit

  std::int64_t macs() const;
  std::int64_t ddr_read_bytes() const;
  std::int64_t ddr_write_bytes() const;
  std::int64_t compute_cycles() const;  ///< sum of step compute cycles
};

struct Plan {
  std::vector<Pass> passes;
  std::int64_t macs() const;
};

/// Lowers `w` onto `hw`. Throws InputError (naming the hw config's buffer field) when
/// a layer's smallest tile does not fit its buffer.
Plan make_plan(const Workload& w, const HwConfig& hw);

/// Tilings chosen so far, by GEMM shape {m, n, k, fused LayerNorm} (Planner).
using TilingCache = std::map<std::array<std::int64_t, 4>, Tiling>;

/// make_plan for many workloads on one hw config (the per-image plans of a run). The
/// tiling search is a pure function of a GEMM's shape and the config, and the plans of
/// one run repeat the same shapes (the same layers at the token counts already seen):
/// each shape is searched once. Plans are identical to make_plan's.
class Planner {
 public:
  explicit Planner(const HwConfig& hw) : hw_(hw) {}
  Plan operator()(const Workload& w);
  /// Distinct GEMM shapes searched so far.
  std::size_t tilings_searched() const { return tilings_.size(); }

 private:
  HwConfig hw_;
  TilingCache tilings_;
};

/// Chooses the tiling of one GEMM (exposed for tests). `a_ln`: a fused LayerNorm
/// needs whole rows on chip (tk = K).
Tiling choose_tiling(std::int64_t m, std::int64_t n, std::int64_t k, bool a_ln, const HwConfig& hw,
                     const std::string& layer);

/// PE-array cycles of one GEMM tile (tm x tk) * (tk x tn), `heads` head-parallel lanes
/// in use (1 for a linear layer: then Th spans rows).
std::int64_t gemm_tile_cycles(const PeArray& pe, std::int64_t tm, std::int64_t tn, std::int64_t tk,
                              bool head_parallel);

/// Cycles of a nonlinear unit over `elements` elements (without its pipeline latency).
std::int64_t unit_cycles(const NonlinearUnit& u, std::int64_t elements);

}  // namespace heatvit::sim
