// What a schedule does to the images: per-image correctness and tokens per block.
// The deit-micro oracle runs the bit-accurate integer model (func/) with the trained
// selector bank over a trie of schedules, so schedules sharing their first selectors
// share every block before the first difference; the expected-token oracle serves
// models without trained weights (ImageNet shapes) from keep rates alone.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "heatvit/dse/space.hpp"
#include "heatvit/func/func_model.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/models/model.hpp"

namespace heatvit::dse {

enum class Split { Validation, Test };
const char* split_name(Split s);

/// One schedule on the first `images` images of a split.
struct ScheduleOutcome {
  int images = 0;
  bool has_accuracy = false;
  double accuracy = 0;                 ///< fraction (user-supplied for models without weights)
  std::vector<std::uint8_t> correct;   ///< [image] (deit-micro)
  std::vector<std::uint16_t> tokens;   ///< [image * depth + block]: tokens entering each block
  std::vector<std::int32_t> thresholds;  ///< per selector (deit-micro, sequential calibration)
  int correct_count(int n) const;       ///< correct among the first n images
};
using OutcomePtr = std::shared_ptr<const ScheduleOutcome>;

class ScheduleOracle {
 public:
  virtual ~ScheduleOracle() = default;
  /// Outcomes of `schedules` on at least the first `images` images of `split` (an
  /// outcome may cover more images: use the first `images`).
  virtual std::vector<OutcomePtr> run(const std::vector<SchedulePoint>& schedules, Split split, int images) = 0;
  /// Images available in a split (per-image oracles), 1 for expected tokens.
  virtual int split_size(Split s) const = 0;
  virtual bool per_image() const = 0;
  /// Where accuracy and tokens come from, for the report.
  virtual json describe() const = 0;
  /// Schedule-image runs done so far (work counter for reports and benchmarks).
  virtual std::int64_t image_runs() const { return 0; }
  /// Derived per-schedule state worth keeping across runs (calibrated thresholds), and
  /// its reload; deterministic, so a reload changes no result, only the work.
  virtual json saved_state() const { return json(); }
  virtual void load_state(const json&) {}
  /// The part of saved_state() learned since the last call (null: nothing new), in the
  /// form load_state() takes: what a worker process sends back to the search's process.
  virtual json take_new_state() { return json(); }
};

/// deit-micro: the integer model, sequential calibration on the export's calibration
/// images (as `heatvit eval` does), validation = the last N training images.
class MicroOracle : public ScheduleOracle {
 public:
  MicroOracle(const func::FuncModel& model, const std::string& data_dir, int validation_images, int threads);
  std::vector<OutcomePtr> run(const std::vector<SchedulePoint>& schedules, Split split, int images) override;
  int split_size(Split s) const override;
  bool per_image() const override { return true; }
  json describe() const override;
  std::int64_t image_runs() const override { return image_runs_; }
  json saved_state() const override;
  void load_state(const json& j) override;
  json take_new_state() override;

  /// Sequentially calibrated thresholds of a schedule (cached per selector prefix);
  /// equal to func::calibrate_sequential.
  std::vector<std::int32_t> thresholds(const SchedulePoint& s);
  /// Calibration images that are also validation images (should be 0).
  int calibration_overlap() const { return overlap_; }

 private:
  void calibrate(const std::vector<SchedulePoint>& schedules);
  /// Runs images [begin, end) of `data` (offset by `first_image`) through every
  /// schedule of `todo`, appending to their outcomes.
  void evaluate_range(const std::vector<ScheduleOutcome*>& todo, const ImageSet& data, int first_image, int begin,
                      int end);

  func::FuncModel model_;
  ImageSet train_, test_;
  int val_first_ = 0;  ///< index of the first validation image in the training split
  int val_count_ = 0;
  int threads_ = 1;
  int overlap_ = 0;
  std::int64_t image_runs_ = 0;
  std::map<std::string, std::int32_t> threshold_cache_;  ///< "prefix key" -> threshold of its last selector
  std::vector<std::string> new_thresholds_;               ///< keys calibrated since take_new_state()
  std::map<std::pair<std::string, int>, std::shared_ptr<ScheduleOutcome>> cache_;
  std::map<const ScheduleOutcome*, SchedulePoint> point_of_;  ///< (key, split)
};

/// Models without trained weights: every image has the schedule's expected tokens;
/// accuracy only from a user CSV (schedule,top1).
class ExpectedOracle : public ScheduleOracle {
 public:
  ExpectedOracle(const ModelShape& model, const std::string& accuracy_csv);
  std::vector<OutcomePtr> run(const std::vector<SchedulePoint>& schedules, Split split, int images) override;
  int split_size(Split) const override { return 1; }
  bool per_image() const override { return false; }
  json describe() const override;

 private:
  ModelShape model_;
  std::string csv_;
  std::map<std::string, double> acc_;  ///< schedule key -> top-1 fraction
};

}  // namespace heatvit::dse
