// A DSE run over the ranks of an MPI job (Open MPI through Boost.MPI). Rank 0 runs the
// search and owns the results store; every rank, rank 0 included while it has nothing
// to dispatch, evaluates units of whole schedules. See docs/scale-out.md.
//
// Protocol (point to point on the world communicator, JSON text as MPI_CHAR):
//   worker -> 0  HELLO   {"identity": space hash} or {"error": its setup's message}
//   0 -> worker  STATE   oracle state (calibrated thresholds) to start from, and before
//                        a unit what other ranks learned since the last one
//   0 -> worker  WORK    a unit (farm.hpp: encode_unit)
//   worker -> 0  RESULT  its metrics, evaluation seconds, new oracle state
//   0 -> worker  SIM     a SystemC run of one front point (a unit of one candidate)
//   worker -> 0  SIMRES  its result (farm.hpp: encode_sim_result)
//   worker -> 0  ERROR   an evaluation failed: the message
//   0 -> worker  STOP    finish; the worker answers BYE and returns
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "heatvit/dse/farm.hpp"

namespace heatvit::dse {

/// The MPI world size the launcher announces through the environment (Open MPI's
/// mpirun: OMPI_COMM_WORLD_SIZE; Slurm's srun with PMIx or PMI-2: PMIX_RANK with
/// SLURM_NTASKS, or PMI_SIZE); 0 when this process was not started by a launcher.
int launcher_world_size();

/// Whether this build can run over MPI.
bool mpi_available();

#ifdef HEATVIT_HAVE_MPI

/// MPI initialised for the life of the object (one per process, before any farm).
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, size_ = 1;
};

class MpiFarm : public Farm {
 public:
  struct Hooks {
    EvalFn evaluate;                               ///< this process's evaluator
    std::function<json()> take_state;              ///< worker: oracle state learned since the last call
    std::function<void(const json&)> load_state;   ///< both: state from the other side
    std::function<std::int64_t()> image_runs;      ///< worker: its oracle's work counter
    /// worker: makes schedule base + i the one of keys[i] (FarmBatch::added); throws
    /// when its evaluator numbers them otherwise
    std::function<void(std::int64_t base, const std::vector<std::string>& keys)> add_schedules;
    SimPrepare simulate;                           ///< both: a front point's SystemC run
  };
  /// `unit_target_s`: the seconds a unit should take once its cost is known.
  MpiFarm(MpiSession& session, Hooks hooks, double unit_target_s = 120.0, std::size_t max_unit_cands = 16384);
  ~MpiFarm() override;

  bool master() const { return rank_ == 0; }
  /// Whether rank 0 evaluates units itself: by default while there are at most 7
  /// workers (benchmarks of the dispatch alone turn it off).
  void set_master_evaluates(bool on) { master_evaluates_ = on ? 1 : 0; }

  // ---- rank 0 ----
  /// Receives every worker's HELLO: throws InputError (naming the rank) when a worker's
  /// setup failed or it sees other inputs than rank 0 (another space, model or file).
  void meet_workers(const std::string& identity_hash);
  /// Sends the state every worker starts from (e.g. thresholds stored by a resumed run).
  void send_state(const json& state);
  void run(const FarmBatch& batch, const UnitDone& done) override;
  /// One run a unit, two queued on every worker; rank 0 runs its own while the workers
  /// are few (as run()).
  void simulate(const SimBatch& batch, const SimDone& done, const SimTick& tick) override;
  /// Tells every worker to finish and waits for each to say so (idempotent; results
  /// still in flight are dropped).
  void stop_workers();
  int ranks() const override { return size_; }
  json stats() const override;
  std::int64_t remote_image_runs() const override { return remote_image_runs_; }

  // ---- other ranks ----
  /// Says HELLO (the identity hash, or `setup_error` when the setup failed), then
  /// evaluates units until STOP.
  void serve(const std::string& identity_hash, const std::string& setup_error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Hooks hooks_;
  UnitSizer sizer_;
  int rank_ = 0, size_ = 1;
  bool stopped_ = false;
  int master_evaluates_ = -1;  ///< -1: by the worker count
  std::int64_t next_unit_ = 0;
  std::int64_t remote_image_runs_ = 0;
  struct RankStats {
    std::int64_t units = 0, candidates = 0;
    double seconds = 0;
    std::int64_t systemc_runs = 0;
  };
  bool master_works() const;
  std::vector<RankStats> per_rank_;
  std::int64_t batches_ = 0;
  std::map<std::pair<int, std::int64_t>, int> home_;  ///< (split, schedule) -> rank holding its outcome
  std::vector<std::pair<int, json>> state_log_;        ///< (rank that learned it, oracle state)
  std::vector<std::size_t> state_cursor_;              ///< per rank: log entries already sent
  double master_wait_s_ = 0;  ///< rank 0 blocked waiting for a result
};

#endif

}  // namespace heatvit::dse
