// Functional (bit-accurate) model of deit-micro: the exported integer weights and
// selector bank (a "deit-micro-int8" .hvt file) run through the integer kernels
// (kernels/), image by image, exactly as training/intref/reference.py defines it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "heatvit/models/hvt_file.hpp"
#include "heatvit/models/model.hpp"
#include "heatvit/models/schedule.hpp"

namespace heatvit::func {

/// The shape this model is compiled for (fixed-size buffers); an exported model or a
/// --model shape that differs is rejected.
struct Shape {
  static constexpr int kImage = 28;         ///< pixels per side, one channel
  static constexpr int kPatch = 4;          ///< patch side, pixels
  static constexpr int kGrid = kImage / kPatch;
  static constexpr int kPatches = kGrid * kGrid;  ///< 49 patch tokens
  static constexpr int kChans = 1;          ///< input channels
  static constexpr int kPatchPixels = kChans * kPatch * kPatch;
  static constexpr int kDim = 64;           ///< D
  static constexpr int kDepth = 12;
  static constexpr int kHeads = 2;
  static constexpr int kHeadDim = kDim / kHeads;
  static constexpr int kHidden = 4 * kDim;  ///< MLP hidden
  static constexpr int kHeadHidden = kHeads / 2 > 1 ? kHeads / 2 : 1;  ///< selector head-weight MLP width
  static constexpr int kClasses = 10;
  static constexpr int kMaxTokens = kPatches + 2;  ///< CLS + patches + package token
  static constexpr int kKeepGrid = 20;      ///< calibrated thresholds per selector (keep 0.05 .. 1.00)
};

/// An active selector of a schedule, with its calibrated decision threshold.
struct SelectorThreshold {
  int block = 0;              ///< runs before this 0-indexed block
  double keep = 1.0;          ///< target keep rate from the schedule
  int cum_keep_milli = 1000;  ///< cumulative keep in thousandths (this and earlier selectors)
  int table_index = 19;       ///< row of the calibrated table used (0 .. 19); -1: sequential calibration
  std::int32_t threshold = 0; ///< keep a patch token iff its score S (Q8) > threshold
};

/// Everything one image produces. Selector-indexed arrays follow the order of the
/// SelectorThreshold list given to run() (ascending block).
struct ImageResult {
  std::int64_t logits[Shape::kClasses] = {};  ///< classifier accumulators (int32 range)
  int prediction = 0;                         ///< first index of the largest logit
  int tokens[Shape::kDepth] = {};             ///< tokens entering each block (CLS, package incl.)
  int selectors = 0;                          ///< number of active selectors
  int reached[Shape::kDepth] = {};            ///< patch tokens entering selector s
  std::uint64_t kept[Shape::kDepth] = {};     ///< bit p set: patch p (0..48) kept after selector s
  /// Score S (Q8) of each patch at selector s; INT32_MIN for patches pruned earlier.
  std::int32_t score[Shape::kDepth][Shape::kPatches] = {};
};

/// The token stream between two blocks of one image: what a run carries from block to
/// block. Sweeps over schedules copy it at a selector and continue each branch from
/// the copy, so schedules that share their first selectors share every block before
/// the first difference (bit-identical to FuncModel::run).
struct TokenState {
  int block = 0;                    ///< the next block to run
  int n = 0;                        ///< patch tokens (rows 1..n of x)
  bool alive = false;               ///< package token present (row n + 1)
  std::int64_t wsum = 0;            ///< package accumulator weight
  int tokens[Shape::kDepth] = {};   ///< tokens entering each block run so far
  std::int16_t index[Shape::kPatches] = {};          ///< absolute patch index of row 1 + i
  std::int16_t x[Shape::kMaxTokens][Shape::kDim] = {};  ///< residual stream
};

template <class S>
struct ParamsT;  // the weights, as the kernels consume them (params.hpp)
using Params = ParamsT<Shape>;
class CpuOps;    // the weights rearranged for the CPU's GEMMs (cpu_ops.hpp)

/// A loaded model. Cheap to copy (shares the read-only weights); run() is const and
/// thread-safe.
class FuncModel {
 public:
  /// Loads a "deit-micro-int8" file and checks it against `shape` (the --model shape)
  /// and against the compiled Shape: kind, meta.shape, meta.consts, every tensor's dtype
  /// and shape, fraction bits, shifts and the selector bank. Any problem throws
  /// InputError naming `path` (or the model's origin) and the field.
  static FuncModel load(const std::string& path, const ModelShape& shape);
  /// The same from a container already read (kind deit-micro-int8).
  static FuncModel from_file(const HvtFile& f, const ModelShape& shape);

  const std::string& path() const { return path_; }
  const ModelShape& shape() const { return shape_; }
  /// Blocks of the bank's selectors (meta.candidate_blocks), ascending.
  const std::vector<int>& selector_blocks() const { return bank_; }
  bool has_selector(int block) const;
  /// The calibrated threshold table of a bank selector (20 entries, keep 0.05 .. 1.00).
  std::vector<std::int32_t> threshold_table(int block) const;

  /// Maps a schedule's keep rates to thresholds the way training/export/calibration.py
  /// does: cumulative keep c (thousandths) = product of the keep rates of this and
  /// earlier selectors, row j = clamp(round(c * 20 / 1000) - 1, 0, 19) of the calibrated
  /// table. A selector the bank lacks throws InputError(origin, "selectors[i].block", ...).
  std::vector<SelectorThreshold> resolve(const Schedule& schedule, const std::string& origin) const;

  /// Indices into the training split of the images the thresholds were calibrated on
  /// (tensor calib.index); empty for an export that does not record them.
  const std::vector<int>& calibration_indices() const { return calib_; }

  /// The weights as the kernels consume them (heatvit/func/params.hpp).
  const Params& params() const { return *p_; }

  /// Runs one 28x28 uint8 image (row-major) with the given active selectors.
  /// `stop_after_selectors`: return right after the last selector's keep decision
  /// (scores, reached and kept are filled; tokens, logits and prediction are not).
  void run(const std::uint8_t* image, const std::vector<SelectorThreshold>& selectors,
           ImageResult& out, bool stop_after_selectors = false) const;

  /// Per-thread working memory of the TokenState operations below.
  struct Scratch;
  struct ScratchDeleter {
    void operator()(Scratch* s) const;
  };
  using ScratchPtr = std::unique_ptr<Scratch, ScratchDeleter>;
  ScratchPtr make_scratch() const;

  /// Patch and position embedding: `s` enters block 0 with every patch token.
  void begin(const std::uint8_t* image, TokenState& s, Scratch& sc) const;
  /// Runs blocks s.block .. to_block - 1 (no selectors).
  void advance(TokenState& s, int to_block, Scratch& sc) const;
  /// Scores S (Q8) of the s.n patch tokens by the bank's selector before s.block (rows
  /// in stream order); returns s.n.
  int scores(const TokenState& s, std::int32_t* out, Scratch& sc) const;
  /// The keep decision at `threshold` on `scores` (from scores()), the package token
  /// and the compaction.
  void select(TokenState& s, const std::int32_t* scores, std::int32_t threshold, Scratch& sc) const;
  /// Runs the remaining blocks and the head; writes 10 logits, returns the prediction.
  int finish(TokenState& s, std::int64_t* logits, Scratch& sc) const;

 private:
  std::string path_;
  ModelShape shape_;
  std::vector<int> bank_;
  std::vector<int> calib_;
  std::shared_ptr<const Params> p_;
  std::shared_ptr<const CpuOps> ops_;  // refers to *p_'s layers
};

}  // namespace heatvit::func
