#include "heatvit/dse/run.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "heatvit/core/atomic_file.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/progress.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/core/plot.hpp"
#include "heatvit/dse/farm.hpp"
#include "heatvit/dse/mpi_farm.hpp"
#include "heatvit/dse/pareto.hpp"
#include "heatvit/dse/store.hpp"
#include "heatvit/dse/strategy.hpp"
#include "heatvit/func/func_model.hpp"
#include "heatvit/func/parallel.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/sim/job.hpp"

namespace heatvit::dse {

std::atomic<bool> g_interrupted{false};

namespace {

using Clock = std::chrono::steady_clock;

/// One-line messages on stderr (nothing when quiet); counted phases use Progress.
class Say {
 public:
  explicit Say(bool quiet) : quiet_(quiet) {}
  void operator()(const std::string& line) const {
    if (!quiet_) std::fprintf(stderr, "%s\n", line.c_str());
  }
  bool quiet() const { return quiet_; }

 private:
  bool quiet_;
};

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

std::string csv_value(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

/// Names the schedules outside the space (baselines added to the evaluator) in a farm
/// batch, so every rank numbers them alike.
void name_added(FarmBatch& fb, const Space& sp, const Evaluator& ev) {
  fb.added_base = static_cast<std::int64_t>(sp.schedule_count());
  fb.added.clear();
  for (std::size_t i = sp.schedule_count(); i < ev.schedules().size(); ++i) fb.added.push_back(ev.schedules()[i].key());
}

class RunSearch : public Search {
 public:
  RunSearch(const Space& sp, Evaluator& ev, Store& store, Farm& farm, const RunOptions& opt, const Say& say)
      : sp_(sp), ev_(ev), store_(store), farm_(farm), opt_(opt), say_(say) {
    for (std::size_t i = 0; i < ev.schedules().size(); ++i) index_[ev.schedules()[i].key()] = static_cast<std::int64_t>(i);
    full_ = ev.oracle().per_image() ? sp.eval.validation_images : 1;
  }
  const Space& space() const override { return sp_; }
  const std::vector<SchedulePoint>& schedules() const override { return ev_.schedules(); }
  std::int64_t schedule_index(const std::string& key) const override {
    const auto it = index_.find(key);
    return it == index_.end() ? -1 : it->second;
  }
  std::int64_t hw_count() const override { return static_cast<std::int64_t>(sp_.hw_count()); }
  bool hw_fits(std::int64_t i) override { return ev_.hw().at(i).fits; }
  std::uint64_t seed() const override { return opt_.seed; }
  std::int64_t budget() const override { return opt_.budget; }
  void note(const std::string& key, json value) override { notes_[key] = std::move(value); }
  std::int64_t evaluated() const override { return static_cast<std::int64_t>(seen_.size()); }
  int full_images() const { return full_; }

  std::vector<Metrics> evaluate(const std::vector<Candidate>& batch) override {
    std::vector<Metrics> out = evaluate_at(batch, full_, "validation");
    if (recording_)
      for (const Metrics& m : out)
        if (seen_.insert(m.cand).second) front_input_.push_back(m);
    return out;
  }

  std::vector<Metrics> evaluate_halving(const std::vector<Candidate>& batch) override {
    std::vector<Candidate> alive = batch;
    if (ev_.oracle().per_image()) {
      for (std::size_t r = 0; r + 1 < sp_.eval.rungs.size(); ++r) {
        const int n = sp_.eval.rungs[r];
        const std::vector<Metrics> ms = evaluate_at(alive, n, "rung " + std::to_string(n) + " images");
        alive = survivors(ms);
        halving_.push_back({{"images", n}, {"evaluated", ms.size()}, {"kept", alive.size()}});
        say_("successive halving: " + std::to_string(ms.size()) + " candidates on " + std::to_string(n) +
                  " images, " + std::to_string(alive.size()) + " go on");
      }
    }
    return evaluate(alive);
  }

  std::vector<double> fitness(const Metrics& m) const override {
    std::vector<double> f = ev_.objectives(m);
    if (!m.feasible)
      for (double& x : f) x = 1e12 * (1.0 + std::min(m.violation, 1e3));
    return f;
  }

  /// Evaluates on the first `images` validation images, reusing stored rows.
  std::vector<Metrics> evaluate_at(const std::vector<Candidate>& batch, int images, const std::string& what) {
    std::vector<Metrics> out(batch.size());
    std::vector<std::size_t> todo;
    std::vector<Metrics> over;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Metrics* stored = store_.find(batch[i], Split::Validation, images);
      if (stored && stored->schedule != ev_.schedules().at(static_cast<std::size_t>(batch[i].schedule)).key())
        throw std::runtime_error("the store's row for schedule " + std::to_string(batch[i].schedule) + " is " +
                                 stored->schedule);
      if (stored) {
        out[i] = *stored;
      } else if (!ev_.hw().at(batch[i].hw).fits) {
        // Over the device: counted, never simulated.
        Metrics m;
        m.cand = batch[i];
        m.schedule = ev_.schedules()[static_cast<std::size_t>(batch[i].schedule)].key();
        m.images = 0;
        HwPoints::Entry& e = ev_.hw().at(batch[i].hw);
        m.fits = false;
        m.feasible = false;
        m.res = e.res;
        m.why = "over the device: " + e.why;
        m.violation = 1e9;
        out[i] = m;
        over.push_back(m);
      } else {
        todo.push_back(i);
      }
    }
    store_.put(over);
    if (todo.empty()) return out;
    // Whole schedules as the farm's groups; each unit is stored as soon as it is back.
    std::map<std::int64_t, std::vector<std::size_t>> by_sched;
    for (std::size_t i : todo) by_sched[batch[i].schedule].push_back(i);
    FarmBatch fb;
    fb.split = Split::Validation;
    fb.images = images;
    name_added(fb, sp_, ev_);
    std::vector<std::size_t> where;  // batch index of each of fb.cands
    for (const auto& [sched, idx] : by_sched) {
      std::vector<Candidate> g;
      for (std::size_t i : idx) {
        g.push_back(batch[i]);
        where.push_back(i);
      }
      fb.add_group(g);
    }
    Progress progress("dse " + what, "schedules", static_cast<std::int64_t>(by_sched.size()), say_.quiet());
    farm_.run(fb, [&](const std::vector<std::size_t>& groups, std::vector<Metrics>&& ms) {
      store_.put(ms);
      save_oracle_state();
      std::size_t k = 0;
      for (std::size_t g : groups)
        for (std::size_t c = fb.group_begin[g]; c < fb.group_begin[g + 1]; ++c) out[where[c]] = std::move(ms[k++]);
      progress.advance(static_cast<std::int64_t>(groups.size()));
    });
    return out;
  }

  /// Candidates a paired test cannot rule out of the front.
  std::vector<Candidate> survivors(const std::vector<Metrics>& ms) const {
    std::vector<std::vector<double>> all(ms.size());  // objective vectors, once per candidate
    for (std::size_t i = 0; i < ms.size(); ++i) all[i] = ev_.objectives(ms[i]);
    std::vector<std::vector<double>> f;
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < ms.size(); ++i)
      if (ms[i].fits && ms[i].feasible) {
        f.push_back(all[i]);
        idx.push_back(i);
      }
    std::vector<std::size_t> front;
    for (std::size_t j : nondominated(f)) front.push_back(idx[j]);
    const auto& objs = sp_.objectives;
    const bool acc = std::find(objs.begin(), objs.end(), Objective::Accuracy) != objs.end();
    std::vector<Candidate> keep;
    for (std::size_t i = 0; i < ms.size(); ++i) {
      const Metrics& c = ms[i];
      if (!c.fits) continue;
      const std::vector<double>& fc = all[i];
      bool drop = false;
      for (std::size_t j : front) {
        if (j == i) continue;
        const Metrics& d = ms[j];
        const std::vector<double>& fd = all[j];
        bool others = true;  // d no worse in every objective but accuracy
        for (std::size_t o = 0; o < objs.size(); ++o)
          if (objs[o] != Objective::Accuracy && fd[o] > fc[o]) others = false;
        if (!others) continue;
        if (!acc || !c.has_accuracy || !d.has_accuracy || c.correct_bits.empty() || d.correct_bits.empty()) {
          if (dominates(fd, fc)) drop = true;
        } else {
          // Paired comparison on the same images: d right where c is wrong minus the
          // reverse, against z standard errors of that difference (sqrt of discordant).
          int d_only = 0, c_only = 0;
          for (std::size_t b = 0; b < c.correct_bits.size() && b < d.correct_bits.size(); ++b) {
            d_only += __builtin_popcount(static_cast<unsigned>(d.correct_bits[b] & ~c.correct_bits[b]) & 0xffu);
            c_only += __builtin_popcount(static_cast<unsigned>(c.correct_bits[b] & ~d.correct_bits[b]) & 0xffu);
          }
          const double diff = d_only - c_only;
          if (diff > 0 && diff > sp_.eval.halving_z * std::sqrt(double(d_only + c_only))) drop = true;
        }
        if (drop) break;
      }
      if (!drop) keep.push_back(c.cand);
    }
    return keep;
  }

  /// Calibrated thresholds into the store (a resumed run does not calibrate again).
  void save_oracle_state() {
    const json st = ev_.oracle().saved_state();
    if (st.is_null()) return;
    const std::size_t n = st.contains("thresholds") ? st["thresholds"].size() : 0;
    if (n == saved_thresholds_) return;
    store_.put_extra("oracle_state", st);
    saved_thresholds_ = n;
  }

  const std::vector<Metrics>& front_input() const { return front_input_; }
  const json& notes() const { return notes_; }
  const json& halving() const { return halving_; }
  void set_recording(bool on) { recording_ = on; }

 private:
  const Space& sp_;
  Evaluator& ev_;
  Store& store_;
  Farm& farm_;
  const RunOptions& opt_;
  const Say& say_;
  std::map<std::string, std::int64_t> index_;
  int full_ = 1;
  std::set<Candidate> seen_;
  std::vector<Metrics> front_input_;
  json notes_ = json::object();
  json halving_ = json::array();
  bool recording_ = true;
  std::size_t saved_thresholds_ = 0;
};

/// Checks the output directory before any work: a directory (created when absent)
/// that can be written.
void prepare_out_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw InputError("--out", "", dir + " exists and is not a directory");
  fs::create_directories(dir, ec);
  if (ec) throw InputError("--out", "", "cannot create " + dir + ": " + ec.message());
  if (access(dir.c_str(), W_OK) != 0) throw InputError("--out", "", dir + " is not writable");
}

/// The contract's schedule format (usable as --schedule).
json schedule_json(const SchedulePoint& p) {
  json sel = json::array();
  for (const auto& [b, k] : p.selectors) sel.push_back({{"block", b}, {"keep", k / 1000.0}});
  return {{"selectors", sel}};
}

json dist_json(const Distribution& d) { return {{"mean", d.mean}, {"p50", d.p50}, {"p99", d.p99}}; }

}  // namespace

namespace {

/// Everything a run reads and builds before its first evaluation; the same on every
/// rank of an MPI job (rank 0 checks that the identities agree).
struct Setup {
  std::unique_ptr<func::FuncModel> fm;
  std::vector<int> bank;  ///< blocks that can take a selector
  Space sp;
  bool has_acc_source = false;
  std::int64_t total = 0;
  std::unique_ptr<Strategy> strategy;
  std::unique_ptr<ScheduleOracle> oracle;
  std::unique_ptr<HwPoints> hw;
  std::unique_ptr<Evaluator> ev;
  json identity;     ///< the resolved space, the model, the base hw config, the weights
  std::string hash;  ///< of the identity
};

/// Reads and checks every input (InputError naming the file and field); no output.
std::unique_ptr<Setup> setup_run(const RunInputs& in, const RunOptions& opt) {
  // The oracle: the trained integer model for deit-micro, expected tokens otherwise.
  auto S = std::make_unique<Setup>();
  std::unique_ptr<func::FuncModel>& fm = S->fm;
  std::vector<int>& bank = S->bank;
  if (in.model.name == "deit-micro") {
    const std::string weights =
        opt.model_weights.empty() ? project_root() + "/models/deit-micro/export/deit-micro-int8.hvt" : opt.model_weights;
    fm = std::make_unique<func::FuncModel>(func::FuncModel::load(weights, in.model));
    bank = fm->selector_blocks();
  } else {
    for (int b = 1; b < in.model.depth; ++b) bank.push_back(b);
  }
  S->sp = load_space(opt.space_path, bank, in.model.depth);
  Space& sp = S->sp;
  const bool has_acc_source = S->has_acc_source = fm != nullptr || !sp.eval.accuracy_csv.empty();
  const bool space_names_objectives = load_json_file(opt.space_path).contains("objectives");
  if (!has_acc_source) {
    if (!space_names_objectives) sp.objectives = {Objective::LatencyMean, Objective::Macs};
    if (std::find(sp.objectives.begin(), sp.objectives.end(), Objective::Accuracy) != sp.objectives.end() ||
        sp.constraints.max_accuracy_drop)
      throw InputError(opt.space_path, "objectives",
                       "accuracy is not measured for " + in.model.name +
                           " (no trained weights): give evaluation.accuracy_csv (schedule,top1 from your own runs) or "
                           "drop the accuracy objective and max_accuracy_drop");
    sp.resolved["objectives"] = json::array();
    for (auto o : sp.objectives) sp.resolved["objectives"].push_back(objective_name(o));
  }
  const std::int64_t total = S->total = static_cast<std::int64_t>(sp.schedule_count() * sp.hw_count());
  if (opt.strategy == "exhaustive" && total > kExhaustiveLimit && !opt.allow_large)
    throw InputError("--strategy", "", "exhaustive over " + std::to_string(total) + " candidates (limit " +
                                           std::to_string(kExhaustiveLimit) +
                                           "): use nsga2 or random, narrow the space, or pass --allow-large");
  S->strategy = make_strategy(opt.strategy);

  std::unique_ptr<ScheduleOracle>& oracle = S->oracle;
  if (fm)
    oracle = std::make_unique<MicroOracle>(*fm, opt.data_dir, sp.eval.validation_images, opt.threads);
  else
    oracle = std::make_unique<ExpectedOracle>(in.model, sp.eval.accuracy_csv);

  S->hw = std::make_unique<HwPoints>(sp, in.model, in.hw_composed, in.hw_prov, in.hw_name);
  HwPoints& hw = *S->hw;
  // Knob values are checked before any work (the first 64 hw points parsed here).
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(sp.hw_count(), 64); ++i) hw.at(static_cast<std::int64_t>(i));
  S->ev = std::make_unique<Evaluator>(sp, in.model, hw, *oracle);

  // Identity of the run: the resolved space, the model and the base hw config.
  std::string weights_hash;
  if (fm) {
    std::ifstream f(fm->path(), std::ios::binary);
    weights_hash = fnv1a_hex(std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>()));
  }
  S->identity = {{"space", sp.resolved}, {"model", in.model_resolved}, {"hw", in.hw_composed},
                 {"weights", fm ? fm->path() : std::string()}, {"weights_fnv1a", weights_hash}};
  S->hash = fnv1a_hex(S->identity.dump());
  return S;
}

/// A front point's SystemC run on the first `images` test images, prepared on the calling
/// thread (the oracle gives the images' token counts); the run returns the simulated
/// latency distribution beside the analytic model's on the same images.
std::function<json()> prepare_systemc(const RunInputs& in, Setup& S, const Candidate& c, int images) {
  const SchedulePoint s = S.ev->schedules().at(static_cast<std::size_t>(c.schedule));
  const OutcomePtr o = S.oracle->run({s}, Split::Test, images).at(0);
  if (images < 1 || o->images < images)
    throw std::runtime_error("SystemC of " + s.key() + ": " + std::to_string(images) + " images asked, " +
                             std::to_string(o->images) + " in the test split");
  HwPoints::Entry& e = S.hw->at(c.hw);
  sim::SimJob job;
  job.model = in.model;
  job.hw = e.hw;
  job.hw_name = e.hw.name;
  for (const auto& p : s.selectors) job.selector_blocks.push_back(p.first);
  const auto depth = static_cast<std::size_t>(in.model.depth);
  for (int i = 0; i < images; ++i)
    job.images.emplace_back(o->tokens.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(i) * depth),
                            o->tokens.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(i + 1) * depth));
  const Distribution an = distribution_of(S.ev->latencies(s, *o, images, c.hw));
  return [job = std::move(job), an, images]() -> json {
    const json rep = sim::run_job(job).report;
    return {{"images", images},
            {"latency_ms", {{"mean", rep["latency_ms"]["mean"]}, {"p50", rep["latency_ms"]["p50"]},
                            {"p99", rep["latency_ms"]["p99"]}}},
            {"analytic_same_images", dist_json(an)},
            {"disagreement", an.mean > 0 ? rep["latency_ms"]["mean"].get<double>() / an.mean - 1.0 : 0.0}};
  };
}

/// The search, the front, the test phase and the outputs (the process that owns the
/// store). `share_state` passes the stored oracle state to other ranks (may be empty).
json search_and_report(const RunInputs& in, const RunOptions& opt, Setup& S, Farm& farm,
                       const std::function<void(const json&)>& share_state, Clock::time_point t_start) {
  const Say say(opt.quiet);
  const auto& fm = S.fm;
  const std::vector<int>& bank = S.bank;
  Space& sp = S.sp;
  const bool has_acc_source = S.has_acc_source;
  const std::int64_t total = S.total;
  auto& strategy = S.strategy;
  auto& oracle = S.oracle;
  HwPoints& hw = *S.hw;
  Evaluator& ev = *S.ev;
  const json& identity = S.identity;
  const std::string& hash = S.hash;
  prepare_out_dir(opt.out_dir);  // only now: bad input leaves no directory behind
  Store store(opt.out_dir + "/dse.sqlite", hash, identity);
  {
    json st;
    if (store.get_extra("oracle_state", st)) {
      oracle->load_state(st);
      if (share_state) share_state(st);
    }
  }
  if (store.resumed() > 0) say("resuming: " + std::to_string(store.resumed()) + " stored evaluations in " + store.path());

  RunSearch search(sp, ev, store, farm, opt, say);
  say("dse: " + std::to_string(sp.schedule_count()) + " schedules x " + std::to_string(sp.hw_count()) +
           " hw points = " + std::to_string(total) + " candidates; strategy " + strategy->name());
  strategy->run(search);

  // ---- the front on validation ----
  const std::vector<Metrics>& pts = search.front_input();
  std::vector<std::size_t> cand_idx;
  bool nothing_feasible = true;
  for (std::size_t i = 0; i < pts.size(); ++i)
    if (pts[i].feasible) nothing_feasible = false;
  double min_violation = 1e300;
  if (nothing_feasible)
    for (const auto& m : pts)
      if (m.fits) min_violation = std::min(min_violation, m.violation);
  for (std::size_t i = 0; i < pts.size(); ++i)
    if (nothing_feasible ? (pts[i].fits && pts[i].violation == min_violation) : pts[i].feasible) cand_idx.push_back(i);
  std::vector<std::vector<double>> fobj;
  for (std::size_t i : cand_idx) fobj.push_back(ev.objectives(pts[i]));
  std::vector<std::size_t> front;
  for (std::size_t j : nondominated(fobj)) front.push_back(cand_idx[j]);
  std::sort(front.begin(), front.end(), [&](std::size_t a, std::size_t b) {
    return ev.objectives(pts[a]) < ev.objectives(pts[b]);
  });
  // Identical objective vectors: keep the first (lowest id) only.
  {
    std::vector<std::size_t> uniq;
    for (std::size_t i : front)
      if (uniq.empty() || ev.objectives(pts[uniq.back()]) != ev.objectives(pts[i])) uniq.push_back(i);
    front = uniq;
  }
  if (front.empty()) throw InputError(opt.space_path, "", "no candidate could be evaluated (every hw point is over the device)");
  say("front: " + std::to_string(front.size()) + " points" + (nothing_feasible ? " (nothing meets the constraints: least violation)" : ""));

  // ---- test set and SystemC for every front point ----
  search.set_recording(false);
  const int test_n = oracle->per_image() ? std::min(sp.eval.test_images, oracle->split_size(Split::Test)) : 1;
  const int sysc_n = oracle->per_image() ? std::min(sp.eval.systemc_images, test_n) : 1;
  struct TestView {
    Metrics m;
    json systemc;
  };
  std::map<Candidate, Metrics> test_metrics;  // of the front points, on test_n test images
  {
    // One farm batch of whole schedules, so the front's schedules share their prefixes
    // on the test images too (and other ranks of an MPI job take part).
    std::map<std::int64_t, std::vector<Candidate>> by_sched;
    for (std::size_t i : front) by_sched[pts[i].cand.schedule].push_back(pts[i].cand);
    FarmBatch fb;
    fb.split = Split::Test;
    fb.images = test_n;
    std::vector<SchedulePoint> fs;
    for (const auto& [sched, g] : by_sched) {
      fb.add_group(g);
      fs.push_back(ev.schedules()[static_cast<std::size_t>(sched)]);
    }
    say("front: " + std::to_string(front.size()) + " points on " + std::to_string(test_n) + " test images");
    Progress progress("dse front: test set", "schedules", static_cast<std::int64_t>(fb.groups()), opt.quiet);
    farm.run(fb, [&](const std::vector<std::size_t>& groups, std::vector<Metrics>&& ms) {
      for (Metrics& m : ms) test_metrics[m.cand] = std::move(m);
      progress.advance(static_cast<std::int64_t>(groups.size()));
    });
    progress.finish();
    // The SystemC images' tokens of every front schedule in one pass (prefixes shared);
    // over MPI each rank finds its own for the runs it is given.
    if (farm.ranks() == 1) oracle->run(fs, Split::Test, sysc_n);
  }
  // Stored SystemC results first; the runs still missing (independent child processes,
  // one per front point) go through the farm: on `threads` threads in one process, over
  // the ranks of an MPI job. Each result depends only on its own run, so the results do
  // not depend on where they ran.
  std::vector<TestView> tests;
  SimBatch sims;
  sims.images = sysc_n;
  std::vector<std::size_t> sim_view;  // tests index of each of sims.cands
  auto systemc_key = [&](const Candidate& c) {
    return "systemc:" + ev.schedules()[static_cast<std::size_t>(c.schedule)].key() + "@" + std::to_string(c.hw) +
           "#" + std::to_string(sysc_n);
  };
  for (std::size_t i : front) {
    const Candidate& c = pts[i].cand;
    tests.push_back({test_metrics.at(c), json()});
    if (!store.get_extra(systemc_key(c), tests.back().systemc)) {
      sims.cands.push_back(c);
      sim_view.push_back(tests.size() - 1);
    }
  }
  {
    Progress sysc_progress("dse front: SystemC", "points", static_cast<std::int64_t>(front.size()), opt.quiet);
    sysc_progress.advance(static_cast<std::int64_t>(front.size() - sims.cands.size()));  // stored results
    farm.simulate(
        sims,
        [&](std::size_t k, json&& sc) {
          store.put_extra(systemc_key(sims.cands[k]), sc);
          tests[sim_view[k]].systemc = std::move(sc);
        },
        [&] { sysc_progress.advance(); });
    sysc_progress.finish();
  }
  if (g_interrupted) throw Interrupted();

  // ---- winner: nearest the ideal point on validation ----
  std::vector<std::vector<double>> fvals;
  for (std::size_t i : front) fvals.push_back(ev.objectives(pts[i]));
  const std::size_t wi = nearest_to_ideal(fvals);
  const Metrics& wm = pts[front[wi]];
  const TestView& wt = tests[wi];
  const SchedulePoint& wsched = ev.schedules()[static_cast<std::size_t>(wm.cand.schedule)];
  std::vector<std::int32_t> wthr;
  if (auto* mo = dynamic_cast<MicroOracle*>(oracle.get())) wthr = mo->thresholds(wsched);

  // ---- baselines: trained default, SPViT-style 3/6/9, greedy answer (winner's hw) ----
  if (!search.notes().contains("greedy") && oracle->per_image() && sp.max_selectors > 0 &&
      search.schedule_index("") >= 0) {
    say("baseline: HeatViT's greedy latency-aware procedure on the winner's hw point");
    make_greedy(wm.cand.hw)->run(search);  // not recorded: it does not change the front
  }
  json baselines = json::array();
  std::vector<std::pair<std::string, SchedulePoint>> refs;
  {
    const auto& hwc = hw.at(wm.cand.hw).hw;
    const auto it = hwc.default_schedules.find(in.model.name);
    if (it != hwc.default_schedules.end()) {
      try {
        const Schedule d = load_schedule(it->second, in.model);
        SchedulePoint p;
        for (const auto& s : d.selectors) p.selectors.push_back({s.block, static_cast<int>(std::lround(s.keep * 1000))});
        refs.push_back({"trained default", p});
      } catch (const InputError&) {
      }
    }
    if (in.model.depth >= 10)
      for (int k : sp.keep.empty() ? std::vector<int>{700} : sp.keep[0]) {
        bool ok = true;
        for (int b : {3, 6, 9}) ok = ok && std::find(bank.begin(), bank.end(), b) != bank.end();
        if (ok) refs.push_back({"SPViT 3/6/9", SchedulePoint{{{3, k}, {6, k}, {9, k}}}});
      }
    if (search.notes().contains("greedy"))
      for (const auto& g : search.notes()["greedy"])
        if (g["hw_index"].get<std::int64_t>() == wm.cand.hw)
          refs.push_back({"greedy", parse_schedule_key(g["answer"].get<std::string>(), "greedy")});
  }
  // The baselines' runs go through the farm like the search's (other ranks take part),
  // but are not stored (points.csv holds what the search evaluated): on validation the
  // stored row when the search evaluated it on every image, else a run; on the test
  // images a front point's metrics when it is one, else a run.
  std::map<Candidate, Metrics> ref_val, ref_test;
  {
    std::vector<Candidate> rc;
    for (const auto& r : refs) {
      const Candidate c{ev.add_schedule(r.second), wm.cand.hw};
      if (std::find(rc.begin(), rc.end(), c) == rc.end()) rc.push_back(c);
    }
    auto run_batch = [&](const std::vector<Candidate>& cands, Split split, int images, std::map<Candidate, Metrics>& out,
                         const std::string& what) {
      FarmBatch fb;
      fb.split = split;
      fb.images = images;
      name_added(fb, sp, ev);
      for (const Candidate& c : cands) fb.add_group({c});
      if (fb.groups() == 0) return;
      Progress progress("dse baselines: " + what, "schedules", static_cast<std::int64_t>(fb.groups()), opt.quiet);
      farm.run(fb, [&](const std::vector<std::size_t>& groups, std::vector<Metrics>&& ms) {
        for (Metrics& m : ms) out[m.cand] = std::move(m);
        progress.advance(static_cast<std::int64_t>(groups.size()));
      });
      progress.finish();
    };
    std::vector<Candidate> val_todo, test_todo;
    for (const Candidate& c : rc) {
      const Metrics* stored = c.schedule < static_cast<std::int64_t>(sp.schedule_count())
                                  ? store.find(c, Split::Validation, search.full_images())
                                  : nullptr;
      if (stored)
        ref_val[c] = *stored;
      else
        val_todo.push_back(c);
      const auto it = test_metrics.find(c);
      if (it != test_metrics.end())
        ref_test[c] = it->second;
      else
        test_todo.push_back(c);
    }
    if (!rc.empty())
      say("baselines: " + std::to_string(rc.size()) + " schedules, " + std::to_string(val_todo.size()) +
          " to run on validation and " + std::to_string(test_todo.size()) + " on the " + std::to_string(test_n) +
          " test images");
    run_batch(val_todo, Split::Validation, search.full_images(), ref_val, "validation");
    run_batch(test_todo, Split::Test, test_n, ref_test, "test set");
  }
  for (const auto& [label, p] : refs) {
    const Candidate c{ev.add_schedule(p), wm.cand.hw};
    const Metrics& mv = ref_val.at(c);
    const Metrics& mt = ref_test.at(c);
    // Does a front point match or dominate it on the test set (accuracy, mean latency)?
    std::string by;
    for (std::size_t k = 0; k < front.size() && by.empty(); ++k) {
      const Metrics& t = tests[k].m;
      const bool acc_ok = !t.has_accuracy || !mt.has_accuracy || t.accuracy >= mt.accuracy;
      if (acc_ok && t.latency_ms.mean <= mt.latency_ms.mean * (1 + 1e-12)) by = pts[front[k]].schedule;
    }
    baselines.push_back({{"label", label}, {"schedule", p.key()}, {"hw_index", wm.cand.hw},
                         {"accuracy_val", mv.has_accuracy ? json(mv.accuracy) : json(nullptr)},
                         {"latency_ms_mean_val", mv.latency_ms.mean},
                         {"accuracy_test", mt.has_accuracy ? json(mt.accuracy) : json(nullptr)},
                         {"latency_ms_mean_test", mt.latency_ms.mean}, {"macs_per_image", mt.macs},
                         {"matched_or_dominated_by", by.empty() ? json(nullptr) : json(by)}});
  }

  // ---- outputs ----
  const std::int64_t H = static_cast<std::int64_t>(sp.hw_count());
  auto point_json = [&](const Metrics& m) {
    json j = {{"id", m.cand.schedule * H + m.cand.hw},
              {"schedule", m.schedule},
              {"hw", hw.knob_values(m.cand.hw)},
              {"feasible", m.feasible},
              {"accuracy_val", m.has_accuracy ? json(m.accuracy) : json(nullptr)},
              {"images_val", m.images},
              {"latency_ms_mean", m.latency_ms.mean},
              {"latency_ms_p50", m.latency_ms.p50},
              {"latency_ms_p99", m.latency_ms.p99},
              {"macs_per_image", m.macs},
              {"dsp", m.res.dsp},
              {"bram36", m.res.bram36},
              {"lut", m.res.lut},
              {"ff", m.res.ff}};
    if (!m.feasible) j["why"] = m.why;
    return j;
  };
  // points.csv: one row per candidate (its largest validation subset), from the store.
  std::string csv = "id,schedule";
  for (const auto& k : sp.knobs) csv += "," + k.path;
  csv += ",feasible,fits,accuracy_val,images_val,latency_ms_mean,latency_ms_p50,latency_ms_p99,macs_per_image,dsp,"
         "bram36,lut,ff,why\n";
  std::map<Candidate, const Metrics*> last;
  for (const Metrics* m : store.all())
    if (m->split == Split::Validation && m->cand.schedule < static_cast<std::int64_t>(sp.schedule_count())) {
      auto& slot = last[m->cand];
      if (!slot || m->images > slot->images) slot = m;
    }
  std::int64_t infeasible = 0, over_device = 0;
  for (const auto& [c, m] : last) {
    infeasible += !m->feasible;
    over_device += !m->fits;
    csv += std::to_string(c.schedule * H + c.hw) + ",\"" + m->schedule + "\"";
    for (const json& v : sp.hw_values(static_cast<std::uint64_t>(c.hw))) csv += "," + csv_value(v);
    csv += std::string(",") + (m->feasible ? "1" : "0") + "," + (m->fits ? "1" : "0") + "," +
           (m->has_accuracy ? fmt(m->accuracy) : "") + "," + std::to_string(m->images) + "," + fmt(m->latency_ms.mean) +
           "," + fmt(m->latency_ms.p50) + "," + fmt(m->latency_ms.p99) + "," + fmt(m->macs) + "," +
           std::to_string(m->res.dsp) + "," + std::to_string(m->res.bram36) + "," + std::to_string(m->res.lut) + "," +
           std::to_string(m->res.ff) + ",\"" + m->why + "\"\n";
  }
  json fpoints = json::array();
  std::string fcsv = "id,schedule";
  for (const auto& k : sp.knobs) fcsv += "," + k.path;
  fcsv += ",accuracy_val,accuracy_test,latency_ms_mean,latency_ms_p99,latency_ms_systemc_mean,latency_ms_systemc_p50,"
          "latency_ms_systemc_p99,systemc_vs_analytic,macs_per_image,dsp,bram36,lut,ff\n";
  for (std::size_t k = 0; k < front.size(); ++k) {
    const Metrics& m = pts[front[k]];
    const TestView& t = tests[k];
    json j = point_json(m);
    j["schedule"] = schedule_json(ev.schedules()[static_cast<std::size_t>(m.cand.schedule)]);
    j["schedule_key"] = m.schedule;
    j["accuracy_test"] = t.m.has_accuracy ? json(t.m.accuracy) : json(nullptr);
    j["images_test"] = t.m.images;
    j["latency_ms_test_analytic"] = dist_json(t.m.latency_ms);
    j["latency_ms_systemc"] = t.systemc["latency_ms"];
    j["systemc_images"] = t.systemc["images"];
    j["systemc_vs_analytic"] = t.systemc["disagreement"];
    fpoints.push_back(j);
    fcsv += std::to_string(m.cand.schedule * H + m.cand.hw) + ",\"" + m.schedule + "\"";
    for (const json& v : sp.hw_values(static_cast<std::uint64_t>(m.cand.hw))) fcsv += "," + csv_value(v);
    fcsv += "," + (m.has_accuracy ? fmt(m.accuracy) : std::string()) + "," +
            (t.m.has_accuracy ? fmt(t.m.accuracy) : std::string()) + "," + fmt(m.latency_ms.mean) + "," +
            fmt(m.latency_ms.p99) + "," + fmt(t.systemc["latency_ms"]["mean"].get<double>()) + "," +
            fmt(t.systemc["latency_ms"]["p50"].get<double>()) + "," + fmt(t.systemc["latency_ms"]["p99"].get<double>()) +
            "," + fmt(t.systemc["disagreement"].get<double>()) + "," + fmt(m.macs) + "," + std::to_string(m.res.dsp) +
            "," + std::to_string(m.res.bram36) + "," + std::to_string(m.res.lut) + "," + std::to_string(m.res.ff) + "\n";
  }
  // Hypervolume of the front (accuracy x mean latency) against a fixed reference: 0
  // accuracy and the dense schedule's latency on the base hw point x 1.1.
  double hv = 0;
  json hv_ref = nullptr;
  {
    std::size_t ia = sp.objectives.size(), il = sp.objectives.size();
    for (std::size_t o = 0; o < sp.objectives.size(); ++o) {
      if (sp.objectives[o] == Objective::Accuracy) ia = o;
      if (sp.objectives[o] == Objective::LatencyMean) il = o;
    }
    if (ia < sp.objectives.size() && il < sp.objectives.size()) {
      double lat_ref = 0;
      for (const auto& m : pts) lat_ref = std::max(lat_ref, m.fits ? m.latency_ms.mean : 0.0);
      lat_ref *= 1.1;
      std::vector<std::vector<double>> two;
      for (std::size_t i : front) two.push_back({-pts[i].accuracy, pts[i].latency_ms.mean});
      hv = hypervolume(two, {0.0, lat_ref});
      hv_ref = {{"accuracy", 0.0}, {"latency_ms_mean", lat_ref}};
    }
  }
  json objectives = json::array();
  for (auto o : sp.objectives) objectives.push_back(objective_name(o));
  const double seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  json front_doc = {{"objectives", objectives},
                    {"points", fpoints},
                    {"nothing_feasible", nothing_feasible},
                    {"hypervolume_accuracy_latency", hv},
                    {"hypervolume_reference", hv_ref},
                    {"baselines", baselines}};
  json measured = {{"accuracy", has_acc_source ? (fm ? "measured (integer model)" : "user-supplied") : "not measured"},
                   {"latency", "analytic per image on validation; SystemC for every front point on test images"},
                   {"resources", "resource model"},
                   {"macs_per_image", "workload model"}};
  json winner = {
      {"model", in.model.name},
      {"hw", hw.at(wm.cand.hw).resolved},
      {"hw_knobs", hw.knob_values(wm.cand.hw)},
      {"schedule", schedule_json(wsched)},
      {"thresholds", wthr},
      {"thresholds_note", "decision threshold per selector (keep a token iff its Q8 score > threshold), sequential "
                          "calibration as heatvit eval derives it"},
      {"schedule_key", wsched.key()},
      {"metrics",
       {{"accuracy_val", wm.has_accuracy ? json(wm.accuracy) : json(nullptr)},
        {"accuracy_test", wt.m.has_accuracy ? json(wt.m.accuracy) : json(nullptr)},
        {"images_val", wm.images},
        {"images_test", wt.m.images},
        {"latency_ms", wt.systemc["latency_ms"]},
        {"latency_ms_systemc_images", wt.systemc["images"]},
        {"latency_ms_analytic", dist_json(wt.m.latency_ms)},
        {"latency_ms_analytic_val", dist_json(wm.latency_ms)},
        {"macs_per_image", wt.m.macs},
        {"resources", sim::to_json(wm.res)}}},
      {"chosen_by", "the front point (validation) nearest the ideal point after scaling each objective to [0, 1] "
                    "over the front; the test set was not used to choose"},
      {"strategy", strategy->name()},
      {"measured", measured}};
  json summary = {{"model", in.model.name},
                  {"hw", in.hw_name},
                  {"strategy", strategy->name()},
                  {"seed", opt.seed},
                  {"space_hash", hash},
                  {"candidates", total},
                  {"schedules", sp.schedule_count()},
                  {"hw_points", sp.hw_count()},
                  {"evaluated_full", search.evaluated()},
                  {"store_rows", store.size()},
                  {"resumed_rows", store.resumed()},
                  {"store_rows_added", store.added()},
                  {"store_rows_rewritten", store.rewritten()},
                  {"infeasible", infeasible},
                  {"over_device", over_device},
                  {"image_runs", oracle->image_runs() + farm.remote_image_runs()},
                  {"ranks", farm.ranks()},
                  {"halving", search.halving()},
                  {"notes", search.notes()},
                  {"oracle", oracle->describe()},
                  {"front_points", front.size()},
                  {"hypervolume_accuracy_latency", hv},
                  {"winner", wsched.key()},
                  {"seconds", seconds}};
  if (farm.ranks() > 1) summary["farm"] = farm.stats();

  // report.md
  std::ostringstream md;
  md << "# heatvit dse: " << in.model.name << " on " << in.hw_name << "\n\n"
     << "Space `" << opt.space_path << "` (hash " << hash << "): " << sp.schedule_count() << " schedules x "
     << sp.hw_count() << " hw points = " << total << " candidates. Strategy `" << strategy->name() << "` (seed "
     << opt.seed << "): " << search.evaluated() << " candidates evaluated on the full validation split, "
     << infeasible << " infeasible (" << over_device << " over the device, never simulated).\n\n"
     << "Accuracy: " << measured["accuracy"].get<std::string>() << ". " << oracle->describe().dump() << "\n\n";
  if (!search.halving().empty()) {
    md << "Successive halving (paired test, z = " << sp.eval.halving_z << "):\n\n| images | evaluated | kept |\n|---|---|---|\n";
    for (const auto& h : search.halving()) md << "| " << h["images"] << " | " << h["evaluated"] << " | " << h["kept"] << " |\n";
    md << "\n";
  }
  md << "## Front (" << front.size() << " points" << (nothing_feasible ? "; nothing meets the constraints: least violation" : "")
     << ")\n\nSelected on validation; test accuracy and SystemC latency (first " << sysc_n
     << " test images' token vectors) reported once.\n\n"
     << "| schedule | hw | acc val | acc test | lat mean (analytic, val) | SystemC mean / p99 (test) | SystemC vs analytic | MMACs | DSP | BRAM36 |\n"
     << "|---|---|---|---|---|---|---|---|---|---|\n";
  for (std::size_t k = 0; k < front.size(); ++k) {
    const Metrics& m = pts[front[k]];
    const TestView& t = tests[k];
    char line[512];
    std::snprintf(line, sizeof line, "| %s | %s | %s | %s | %.4f ms | %.4f / %.4f ms | %+.2f %% | %.2f | %lld | %lld |\n",
                  m.schedule.empty() ? "dense" : m.schedule.c_str(), hw.knob_values(m.cand.hw).dump().c_str(),
                  m.has_accuracy ? fmt(100 * m.accuracy).c_str() : "-",
                  t.m.has_accuracy ? fmt(100 * t.m.accuracy).c_str() : "-", m.latency_ms.mean,
                  t.systemc["latency_ms"]["mean"].get<double>(), t.systemc["latency_ms"]["p99"].get<double>(),
                  100 * t.systemc["disagreement"].get<double>(), m.macs / 1e6, static_cast<long long>(m.res.dsp),
                  static_cast<long long>(m.res.bram36));
    md << line;
  }
  md << "\n## Winner\n\n`" << (wsched.key().empty() ? "dense" : wsched.key()) << "` on " << hw.knob_values(wm.cand.hw).dump()
     << ": " << winner["chosen_by"].get<std::string>() << ".\n\n```json\n" << winner["metrics"].dump(2) << "\n```\n\n";
  if (!baselines.empty()) {
    md << "## Baselines (winner's hw point, test set)\n\n| baseline | schedule | acc val | acc test | lat mean test | matched or dominated by |\n|---|---|---|---|---|---|\n";
    for (const auto& b : baselines)
      md << "| " << b["label"].get<std::string>() << " | " << b["schedule"].get<std::string>() << " | "
         << (b["accuracy_val"].is_null() ? "-" : fmt(100 * b["accuracy_val"].get<double>())) << " | "
         << (b["accuracy_test"].is_null() ? "-" : fmt(100 * b["accuracy_test"].get<double>())) << " | "
         << fmt(b["latency_ms_mean_test"].get<double>()) << " ms | "
         << (b["matched_or_dominated_by"].is_null() ? std::string("**not matched**") : b["matched_or_dominated_by"].get<std::string>())
         << " |\n";
    md << "\n";
  }
  md << "Hypervolume (accuracy x mean latency, reference " << hv_ref.dump() << "): " << hv << "\n\n"
     << "Files: points.csv, front.csv, front.json, winner.json (+ winner.hw.json, winner.schedule.json), "
        "space.resolved.json, pareto.png, dse.sqlite (the results store).\n";

  OutputSet out;
  const std::string d = opt.out_dir + "/";
  out.add(d + "points.csv", csv);
  out.add(d + "front.csv", fcsv);
  out.add(d + "front.json", front_doc.dump(2) + "\n");
  out.add(d + "winner.json", winner.dump(2) + "\n");
  out.add(d + "winner.hw.json", hw.at(wm.cand.hw).resolved.dump(2) + "\n");
  out.add(d + "winner.schedule.json", schedule_json(wsched).dump(2) + "\n");
  out.add(d + "space.resolved.json", sp.resolved.dump(2) + "\n");
  out.add(d + "summary.json", summary.dump(2) + "\n");
  out.add(d + "report.md", md.str());
  if (opt.plot) {
    // pareto.png: drawn by matplotlib from the files above.
    try {
      out.add(d + "pareto.png",
              render_plot("plot_dse.py", {{"points.csv", csv}, {"front.json", front_doc.dump()}, {"winner.json", winner.dump()}}));
    } catch (const std::runtime_error& e) {
      say(std::string("warning: pareto.png not drawn: ") + e.what());
    }
  }
  search.save_oracle_state();
  out.commit();
  summary["winner_metrics"] = winner["metrics"];
  summary["front"] = fpoints;
  return summary;
}

}  // namespace

json run_dse(const RunInputs& in, const RunOptions& opt) {
  const auto t_start = Clock::now();
  std::unique_ptr<Setup> S = setup_run(in, opt);
  Evaluator& ev = *S->ev;
  LocalFarm farm([&](const std::vector<Candidate>& c, Split split, int images) { return ev.evaluate(c, split, images); },
                 S->oracle->per_image() ? 256 : 100000,
                 [&](const Candidate& c, int images) { return prepare_systemc(in, *S, c, images); },
                 sim::simulation_threads(opt.threads));
  return search_and_report(in, opt, *S, farm, {}, t_start);
}

#ifdef HEATVIT_HAVE_MPI
json run_dse(const RunInputs& in, const RunOptions& opt_in, MpiSession& session) {
  const auto t_start = Clock::now();
  RunOptions opt = opt_in;
  if (session.rank() != 0) opt.quiet = true;  // one voice: rank 0's
  std::unique_ptr<Setup> S;
  MpiFarm::Hooks hooks;
  hooks.evaluate = [&](const std::vector<Candidate>& c, Split split, int images) {
    return S->ev->evaluate(c, split, images);
  };
  hooks.take_state = [&] { return S->oracle->take_new_state(); };
  hooks.load_state = [&](const json& st) { S->oracle->load_state(st); };
  hooks.image_runs = [&] { return S->oracle->image_runs(); };
  hooks.simulate = [&](const Candidate& c, int images) { return prepare_systemc(in, *S, c, images); };
  hooks.add_schedules = [&](std::int64_t base, const std::vector<std::string>& keys) {
    const auto have = static_cast<std::int64_t>(S->sp.schedule_count());
    if (base != have)
      throw std::runtime_error("rank 0 numbers the schedules outside the space from " + std::to_string(base) +
                               ", this rank from " + std::to_string(have));
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::int64_t idx = S->ev->add_schedule(parse_schedule_key(keys[i], "rank 0's unit"));
      if (idx != base + static_cast<std::int64_t>(i))
        throw std::runtime_error("schedule " + keys[i] + " is number " + std::to_string(idx) + " here, " +
                                 std::to_string(base + static_cast<std::int64_t>(i)) + " on rank 0");
    }
  };
  MpiFarm farm(session, hooks, opt.unit_seconds);
  if (!farm.master()) {
    std::string error;
    try {
      S = setup_run(in, opt);
    } catch (const std::exception& e) {
      error = e.what();
    }
    farm.serve(S ? S->hash : std::string(), error);
    return json{{"worker", session.rank()}, {"failed", !error.empty()}};
  }
  try {
    S = setup_run(in, opt);
    farm.meet_workers(S->hash);
    json summary = search_and_report(in, opt, *S, farm, [&](const json& st) { farm.send_state(st); }, t_start);
    farm.stop_workers();
    return summary;
  } catch (...) {
    farm.stop_workers();
    throw;
  }
}
#endif

}  // namespace heatvit::dse
