// Whole-test-set evaluation of the functional model: per-image predictions, tokens
// per block, selector masks and MACs, computed on several threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heatvit/func/func_model.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/models/schedule.hpp"

namespace heatvit {
class Progress;
}

namespace heatvit::func {

/// Per-image results in test-set order.
struct EvalResult {
  int images = 0;
  std::vector<SelectorThreshold> selectors;          ///< active selectors (ascending block)
  std::vector<int> labels;                           ///< [image]
  std::vector<int> predictions;                      ///< [image]
  std::vector<std::vector<std::int64_t>> logits;     ///< [image][class]
  std::vector<std::vector<int>> tokens_per_block;    ///< [image][block], CLS and package incl.
  std::vector<std::vector<std::uint64_t>> kept_masks;  ///< [image][selector]: bit p = patch p kept
  std::vector<std::vector<int>> reached;             ///< [image][selector]: patch tokens entering it
  std::vector<std::vector<std::int32_t>> scores;     ///< [image][selector * 49 + patch], INT32_MIN if pruned earlier
  std::vector<std::int64_t> macs;                    ///< [image]: build_workload(...).total_macs()

  /// Absolute indices (0..48, ascending) of the patches kept after selector `s`.
  std::vector<int> kept_patches(int image, int s) const;
  double accuracy() const;           ///< fraction of predictions equal to the label
  std::vector<double> tokens_mean() const;  ///< mean over images, per block
  double macs_mean() const;
  /// Mean over images of kept / reached at selector s.
  double achieved_keep(int s) const;
};

/// Evaluates the first `limit` images of `data` (all when limit <= 0 or larger than
/// the set) under `selectors` (FuncModel::resolve) with `threads` worker threads
/// (<= 0: hardware concurrency). Results are identical for every thread count.
/// `progress`, when given, is advanced once per finished image.
EvalResult evaluate(const FuncModel& model, const std::vector<SelectorThreshold>& selectors,
                    const ImageSet& data, int limit, int threads, Progress* progress = nullptr);

/// How a schedule's keep rates become decision thresholds.
enum class Calibration {
  /// Selector by selector, with the earlier selectors active at their already
  /// calibrated thresholds: the threshold that keeps `keep` of the patch tokens reaching
  /// the selector on the export's calibration images (training split, tensor
  /// calib.index). This is the schedule-file meaning of `keep`.
  Sequential,
  /// FuncModel::resolve: the stored dense-pass table at the cumulative keep rate (no
  /// images needed; over-prunes the later selectors of a multi-selector schedule).
  Table,
};

/// "sequential" or "table"; anything else throws InputError(origin, "", ...).
Calibration parse_calibration(const std::string& name, const std::string& origin);
const char* calibration_name(Calibration c);

/// Integer threshold t (keep iff S > t) keeping keep_milli/1000 of the ascending scores
/// `s`: t = s[m-1] (m = n - round(n * keep)) drops its ties, t - 1 keeps them; whichever
/// count is closer to the asked one, the smaller on a draw. INT32_MIN keeps all.
/// Identical to quantile_threshold in training/export/calibration.py.
std::int32_t quantile_threshold(const std::vector<std::int32_t>& sorted_scores, int keep_milli);

/// Calibration::Sequential on `train` (the Fashion-MNIST training split); the schedule
/// is validated like FuncModel::resolve (errors name `origin` and the field). Throws
/// InputError naming the weights when the export records no calibration images, or an
/// index is outside `train`.
std::vector<SelectorThreshold> calibrate_sequential(const FuncModel& model, const Schedule& schedule,
                                                    const std::string& origin, const ImageSet& train,
                                                    int threads);

/// Thresholds of `schedule` under `rule`; Sequential loads the training split from
/// `data_dir` (only when the schedule has selectors).
std::vector<SelectorThreshold> schedule_thresholds(const FuncModel& model, const Schedule& schedule,
                                                   const std::string& origin, Calibration rule,
                                                   const std::string& data_dir, int threads);

/// schedule_thresholds() remembered between runs in `cache_dir` ("": not remembered).
/// Sequential calibration reads the training split (tens of MB to decompress) and runs
/// the model on the calibration images, a fixed cost of every run that calibrates; its
/// result is kept in `cache_dir`/thresholds-<key>.json, where the key
/// (threshold_cache_key) is a hash of everything the thresholds depend on. An entry
/// that does not parse, or does not match the resolved selectors, is computed anew and
/// replaced; a cache that cannot be read or written is skipped without error. Errors in
/// the schedule or the export are reported as by schedule_thresholds().
std::vector<SelectorThreshold> schedule_thresholds(const FuncModel& model, const Schedule& schedule,
                                                   const std::string& origin, Calibration rule,
                                                   const std::string& data_dir, int threads,
                                                   const std::string& cache_dir);

/// The key of sequentially calibrated thresholds: a 128-bit hash (32 hex digits) of the
/// program's own executable (any change to the code gives new keys), the weights file
/// (which records the calibration images' indices), the training split's image and
/// label files, and the resolved selectors' blocks and keep rates. "" when one of the
/// files cannot be read.
std::string threshold_cache_key(const FuncModel& model, const std::vector<SelectorThreshold>& selectors,
                                const std::string& data_dir);

/// A cache entry's text read into `selectors`' thresholds (table_index -1, as sequential
/// calibration leaves it): false, with `selectors` unchanged, unless the text parses as
/// an entry of this format for `key` with one integer threshold in the int32 range per
/// selector and the same blocks in the same order.
bool read_threshold_cache_entry(const std::string& text, const std::string& key,
                                std::vector<SelectorThreshold>& selectors);

/// Where the command-line tools keep thresholds: $HEATVIT_CACHE_DIR when set (set and
/// empty: nowhere), else $XDG_CACHE_HOME/heatvit, else $HOME/.cache/heatvit, else "".
std::string default_threshold_cache_dir();

/// Convenience: resolve(schedule, schedule.name) then evaluate.
EvalResult evaluate(const FuncModel& model, const Schedule& schedule, const ImageSet& data, int limit,
                    int threads);

}  // namespace heatvit::func
