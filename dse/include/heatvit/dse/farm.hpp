// Where the candidate evaluations of a DSE run happen. The search (strategy, store,
// front) always runs in one process; a Farm takes each batch of candidates it asks for,
// grouped by schedule, and hands back their metrics unit by unit as they finish. The
// local farm evaluates in this process (chunks of whole schedules, as before); the MPI
// farm (mpi_farm.hpp) spreads units over the ranks of an MPI job. A candidate's metrics
// depend only on the candidate, the split and the image count, never on where or with
// what else it was evaluated, so every farm gives the same results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "heatvit/dse/evaluator.hpp"

namespace heatvit::dse {

/// Candidates to evaluate on the first `images` images of `split`, in groups (the
/// candidates of one schedule, adjacent in `cands`): group g is
/// cands[group_begin[g], group_begin[g + 1]). A unit of work is a run of whole groups,
/// so a schedule's image runs are done once per unit whatever its hw points.
struct FarmBatch {
  std::vector<Candidate> cands;
  std::vector<std::size_t> group_begin{0};  ///< groups + 1 offsets, the last is cands.size()
  Split split = Split::Validation;
  int images = 1;
  /// Schedules outside the space (baselines) that candidates may name: index
  /// added_base + i is the schedule with key added[i]. Every rank adds them to its
  /// evaluator before evaluating, in this order, so the indices agree.
  std::int64_t added_base = 0;
  std::vector<std::string> added;
  std::size_t groups() const { return group_begin.size() - 1; }
  void add_group(const std::vector<Candidate>& g);
  /// The candidates of `groups`, group after group.
  std::vector<Candidate> candidates_of(const std::vector<std::size_t>& groups) const;
};

/// SystemC runs of front points on the first `images` test images. Results are JSON,
/// one per candidate; each depends only on its candidate.
struct SimBatch {
  std::vector<Candidate> cands;
  int images = 1;
  std::int64_t added_base = 0;     ///< as FarmBatch
  std::vector<std::string> added;  ///< as FarmBatch
};
/// Prepares a candidate's SystemC run in this process on the calling thread (what
/// needs the oracle) and returns the run itself, which may go to another thread.
using SimPrepare = std::function<std::function<json()>(const Candidate&, int images)>;
/// Called on the calling thread with each run's result (index into SimBatch::cands).
using SimDone = std::function<void(std::size_t index, json&& result)>;
/// Called as each run finishes, from any thread (progress).
using SimTick = std::function<void()>;

/// Evaluates candidates in this process (the caller's evaluator).
using EvalFn = std::function<std::vector<Metrics>(const std::vector<Candidate>&, Split, int images)>;
/// Called on the calling thread as each unit finishes: its groups (ascending) and their
/// candidates' metrics, group after group in that order.
using UnitDone = std::function<void(const std::vector<std::size_t>& groups, std::vector<Metrics>&& ms)>;

class Farm {
 public:
  virtual ~Farm() = default;
  /// Evaluates the whole batch; throws Interrupted when dse::g_interrupted is set
  /// (every unit reported to `done` before that stays reported).
  virtual void run(const FarmBatch& batch, const UnitDone& done) = 0;
  /// Runs SystemC for every candidate of the batch; throws Interrupted as run() does.
  /// When a run fails, the results of those that finished are reported before the
  /// error is rethrown (a resume reuses them).
  virtual void simulate(const SimBatch& batch, const SimDone& done, const SimTick& tick) = 0;
  /// Processes evaluating (1: this one).
  virtual int ranks() const { return 1; }
  /// Work counters for the run summary (units, candidates per rank, ...).
  virtual json stats() const { return json::object(); }
  /// Schedule-image runs done by other processes (added to the oracle's own count).
  virtual std::int64_t remote_image_runs() const { return 0; }
};

/// In this process: chunks of `chunk_groups` whole groups, one evaluator call each.
/// SystemC runs prepared one after the other, run on `sim_threads` threads.
class LocalFarm : public Farm {
 public:
  LocalFarm(EvalFn eval, std::size_t chunk_groups, SimPrepare sim = {}, int sim_threads = 1)
      : eval_(std::move(eval)), chunk_(chunk_groups), sim_(std::move(sim)), sim_threads_(sim_threads) {}
  void run(const FarmBatch& batch, const UnitDone& done) override;
  void simulate(const SimBatch& batch, const SimDone& done, const SimTick& tick) override;

 private:
  EvalFn eval_;
  std::size_t chunk_;
  SimPrepare sim_;
  int sim_threads_;
};

/// Unit sizes of a distributed run. Guided self-scheduling: a unit takes
/// remaining / (2 x ranks) groups, so units shrink towards the end of a batch and the
/// ranks finish together; but never fewer than batch / (8 x ranks) groups (at most about
/// 1/8 of a rank's share is left unbalanced), because every unit of the integer-model
/// oracle pays a calibration pass and shares selector prefixes only within itself. Once
/// a unit has come back, a unit aims at no more than `target_s` of evaluation (the work
/// lost when a job is killed); until then units take the floor alone. Never more than
/// `max_cands` candidates (message size), never less than one group: a group (one
/// schedule with all its hw points) is never split.
class UnitSizer {
 public:
  UnitSizer(double target_s, std::size_t max_cands) : target_s_(target_s), max_cands_(max_cands) {}
  /// Groups for the next unit, given the groups left, the groups of the whole batch,
  /// the candidates per group (mean), and the ranks working.
  std::size_t groups(std::size_t remaining_groups, std::size_t batch_groups, double cands_per_group, int ranks) const;
  /// A unit of `cands` candidates took `seconds` of evaluation.
  void observe(std::size_t cands, double seconds);
  /// Seconds per candidate (0: nothing observed yet).
  double per_candidate() const { return per_cand_; }

 private:
  double target_s_;
  std::size_t max_cands_;
  double per_cand_ = 0;
};

/// The wire form of units and results (JSON text). Metrics travel with their per-image
/// correctness bits, which successive halving's paired test reads.
std::string encode_unit(std::int64_t id, Split split, int images, const std::vector<Candidate>& cands,
                        std::int64_t added_base = 0, const std::vector<std::string>& added = {});
struct WireUnit {
  std::int64_t id = 0;
  Split split = Split::Validation;
  int images = 1;
  std::vector<Candidate> cands;
  std::int64_t added_base = 0;     ///< FarmBatch::added_base
  std::vector<std::string> added;  ///< FarmBatch::added
};
WireUnit decode_unit(const std::string& text);

struct WireResult {
  std::int64_t id = 0;
  double seconds = 0;          ///< evaluation time on the worker
  std::int64_t image_runs = 0; ///< schedule-image runs the unit cost the worker
  json state;                  ///< oracle state learned meanwhile (null: none)
  std::vector<Metrics> metrics;
};
std::string encode_result(const WireResult& r);
WireResult decode_result(const std::string& text);

/// A SystemC run's result on the wire: the unit id, the schedule-image runs it cost the
/// worker's oracle, and the result: {"images", "latency_ms" and "analytic_same_images"
/// (each {"mean", "p50", "p99"}), "disagreement"}; the decoder checks that shape.
struct SimWireResult {
  std::int64_t id = 0;
  std::int64_t image_runs = 0;
  json result;
};
std::string encode_sim_result(std::int64_t id, const json& result, std::int64_t image_runs);
SimWireResult decode_sim_result(const std::string& text);

/// Per-image correctness bits as hex (stored with the metrics and sent with them).
std::string bits_to_hex(const std::vector<std::uint8_t>& bits);
std::vector<std::uint8_t> bits_from_hex(const std::string& hex);

}  // namespace heatvit::dse
