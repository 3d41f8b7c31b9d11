// Running the SystemC model. Each call elaborates a fresh model (DDR, AXI ports,
// accelerator) in a child process, so any number of configurations can be simulated
// from one program (SystemC allows one elaboration per process), and returns timing
// and statistics.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>


#include "heatvit/core/json_config.hpp"
#include "heatvit/sim/accelerator.hpp"
#include "heatvit/sim/hw_config.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/timing.hpp"

namespace heatvit::sim {

struct SimOptions {
  std::string vcd_path;        ///< write a VCD trace of busy signals and queue depths here
  bool trace_events = false;   ///< collect per-phase events (for --timeline)
  bool quiet = false;          ///< SystemC warnings not printed (-q)
  bool progress = false;       ///< progress of the plans on stderr (opt-in: library callers stay silent)
};

struct SimRun {
  std::vector<PlanTiming> plans;  ///< one per plan, in order
  json stats;                     ///< ddr, axi ports, units, PE array
  std::vector<TraceEvent> trace;  ///< when trace_events
  /// With vcd_path: the finished VCD under a temporary name beside it; the caller
  /// moves it into place with its other outputs (OutputSet::add_file).
  std::string vcd_file;
};

/// How many threads may start simulations at the same time, for a caller that would
/// use `threads`. Each simulation forks. Under AddressSanitizer (GCC 12's runtime has no
/// fork handler for its allocator) a fork while another thread allocates can leave the
/// child waiting forever on the allocator's lock, so sanitized builds start one at a
/// time; glibc's malloc is fork-safe, so other builds keep `threads`.
int simulation_threads(int threads);

/// Simulates the plans back to back on one freshly elaborated model.
SimRun simulate(const HwConfig& hw, const std::vector<const Plan*>& plans, const SimOptions& opt = {});

/// The child process of a simulation (internal to simulator.cpp).
struct ChildProc {
  int pid = -1;
  int result_fd = -1;
  int feed_fd = -1;
};

/// A simulation fed while it runs, so that producing the plans (e.g. running the
/// integer model on each image) and simulating them overlap. The child elaborates at
/// construction; each add() sends two integer vectors from which the child builds the
/// next plan with `build` (run in the child: it must be deterministic and use only what
/// existed at construction); finish() returns what simulate() would have returned for
/// the same plans in the same order. Destroying it unfinished ends the child. SIGPIPE is
/// ignored while any StreamingSim lives (a child that failed is reported as an
/// exception from add() or finish(), not by a signal).
class StreamingSim {
 public:
  using Builder = std::function<Plan(const std::vector<int>& a, const std::vector<int>& b)>;
  /// `expected`: the number of plans the feed will carry, when known (the child's
  /// progress line shows it; 0: not known).
  StreamingSim(const HwConfig& hw, const SimOptions& opt, Builder build, std::int64_t expected = 0);
  ~StreamingSim();
  StreamingSim(const StreamingSim&) = delete;
  StreamingSim& operator=(const StreamingSim&) = delete;

  /// Sends the next plan's vectors. Throws the child's error when it has ended early.
  void add(const std::vector<int>& a, const std::vector<int>& b);
  SimRun finish();

 private:
  /// SIGPIPE ignored from the first live StreamingSim to the last (process-wide count).
  struct SigpipeIgnored {
    SigpipeIgnored();
    ~SigpipeIgnored();
    SigpipeIgnored(const SigpipeIgnored&) = delete;
    SigpipeIgnored& operator=(const SigpipeIgnored&) = delete;
  };
  SigpipeIgnored sigpipe_;  // first member: restored even when the constructor throws
  void write_record(const std::vector<std::int32_t>& rec);
  ChildProc child_;
  std::string vcd_tmp_;
  bool feed_broken_ = false;
};

}  // namespace heatvit::sim
