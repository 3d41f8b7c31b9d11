#include "heatvit/dse/calibrate.hpp"
#include "heatvit/dse/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>
#include <random>
#include <sstream>
#include <tuple>

#include <unistd.h>

#include "heatvit/core/atomic_file.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/core/plot.hpp"
#include "heatvit/func/parallel.hpp"
#include "heatvit/models/model.hpp"
#include "heatvit/models/schedule.hpp"
#include "heatvit/models/workload.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/resources.hpp"
#include "heatvit/sim/simulator.hpp"
#include "heatvit/sim/timing.hpp"

namespace heatvit::dse {

std::atomic<bool> g_calibrate_interrupted{false};

namespace {

const std::vector<std::string> kMetrics = {"gops_per_dsp", "fps_per_dsp",   "latency_ms",   "speedup",
                                           "pruning_speedup", "int8_speedup", "dsp_overhead", "lut_overhead",
                                           "computation_cut"};
const std::vector<std::string> kModels = {"deit-tiny", "deit-small", "deit-base", "lvvit-s", "lvvit-m"};
constexpr double kInf = std::numeric_limits<double>::infinity();


std::vector<CalKnob> parse_knobs(ConfigReader& r, const std::string& key, const std::string& file) {
  std::vector<CalKnob> out;
  if (!r.has(key)) return out;
  const json& node = r.raw(key);
  if (!node.is_object()) r.fail(key, "must be an object of hw config path -> list of values");
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string field = (r.path().empty() ? "" : r.path() + ".") + key + "." + it.key();
    if (it.key().empty() || it.key().rfind("hw.", 0) == 0)
      throw InputError(file, field, "must be a hw config path without the 'hw.' prefix (as --set names it)");
    if (!it->is_array() || it->empty() || it->size() > 64)
      throw InputError(file, field, "must be a list of 1 to 64 values");
    CalKnob k;
    k.path = it.key();
    for (const auto& v : *it) k.values.push_back(v);
    out.push_back(std::move(k));
  }
  return out;
}

// A path as reports show it: relative to the project when inside it.
std::string shown(const std::string& path) {
  const std::string root = project_root() + "/";
  return path.rfind(root, 0) == 0 ? path.substr(root.size()) : path;
}

double ms_of(std::int64_t cycles, const sim::HwConfig& hw) { return double(cycles) / hw.frequency_mhz / 1000.0; }

std::string fmt(double v, int prec = 4) {
  if (!std::isfinite(v)) return "inf";
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", prec, v);
  return b;
}

}  // namespace

// ------------------------------------------------------------------ published figures
PublishedSet load_published(const std::string& path) {
  PublishedSet ps;
  ps.path = path;
  ps.raw = load_json_file(path);
  if (!ps.raw.is_object()) throw InputError(path, "", "must be a JSON object with a 'figures' list");
  ConfigReader r(ps.raw, path);
  r.string("source", "");
  r.string("note", "");
  std::map<std::string, int> ids;
  for (ConfigReader* f : r.children("figures")) {
    Figure g;
    g.id = f->string("id");
    if (g.id.empty()) f->fail("id", "must not be empty");
    if (ids[g.id]++) f->fail("id", "'" + g.id + "' is listed twice");
    g.metric = f->one_of("metric", kMetrics);
    g.design = f->string("design");
    g.measures = f->string("measures");
    g.source = f->string("source");
    if (g.source.empty()) f->fail("source", "every figure needs its source");
    g.confidence = f->one_of("confidence", {"high", "medium", "low"});
    g.note = f->string("note", "");
    g.preset = f->one_of("preset", "heatvit", {"heatvit", "baseline"});
    g.schedule = f->one_of("schedule", "default", {"default", "dense"});
    g.ops = f->one_of("ops", "executed", {"executed", "dense"});
    g.fit = f->boolean("fit", true);
    g.absolute = g.metric == "dsp_overhead" || g.metric == "lut_overhead" || g.metric == "computation_cut";
    g.tolerance = f->number("tolerance", g.absolute ? 0.02 : 0.10, 0.0, 10.0, true);
    if (g.preset == "baseline" && g.schedule != "dense")
      f->fail("schedule", "the baseline has no selectors: use \"dense\"");
    if ((g.metric == "pruning_speedup" || g.metric == "speedup" || g.metric == "computation_cut") &&
        g.schedule != "default")
      f->fail("schedule", "a " + g.metric + " figure compares the default (pruned) schedule");
    const bool has_value = f->has("value"), has_range = f->has("range");
    if (has_value == has_range) f->fail(has_value ? "range" : "value", "give exactly one of 'value' and 'range'");
    if (has_value) {
      g.value = f->number("value", -1e9, 1e9);
      if (!g.absolute && g.value <= 0) f->fail("value", "must be positive");
    } else {
      const json& rg = f->raw("range");
      if (!rg.is_array() || rg.size() != 2 || !rg[0].is_number() || !rg[1].is_number())
        f->fail("range", "must be [low, high]");
      g.is_range = true;
      g.lo = rg[0].get<double>();
      g.hi = rg[1].get<double>();
      if (!(g.lo <= g.hi) || (!g.absolute && g.lo <= 0)) f->fail("range", "must be [low, high] with 0 < low <= high");
    }
    if (g.metric == "dsp_overhead" || g.metric == "lut_overhead") {
      g.models = {"-"};
      if (f->has("models")) f->fail("models", "a resource overhead is a property of the presets, not of a model");
    } else {
      const json& ms = f->raw("models");
      if (!ms.is_array() || ms.empty()) f->fail("models", "must be a non-empty list of model names");
      for (const auto& m : ms) {
        if (!m.is_string() || std::find(kModels.begin(), kModels.end(), m.get<std::string>()) == kModels.end())
          f->fail("models", "must name models among deit-tiny, deit-small, deit-base, lvvit-s, lvvit-m");
        g.models.push_back(m.get<std::string>());
      }
    }
    ps.figures.push_back(std::move(g));
  }
  if (ps.figures.empty()) r.fail("figures", "must list at least one figure");
  r.finish();
  return ps;
}

// ------------------------------------------------------------------ space
CalibrationSpace load_calibration_space(const std::string& path) {
  CalibrationSpace sp;
  sp.path = path;
  sp.raw = load_json_file(path);
  if (!sp.raw.is_object()) throw InputError(path, "", "must be a JSON object");
  ConfigReader r(sp.raw, path);
  const std::string dir = dir_of(path);
  r.string("note", "");
  if (r.has("published")) r.string("published");
  {
    const json& ms = r.raw("models");
    if (!ms.is_array() || ms.empty()) r.fail("models", "must be a non-empty list of model names");
    for (const auto& m : ms) {
      if (!m.is_string() || std::find(kModels.begin(), kModels.end(), m.get<std::string>()) == kModels.end())
        r.fail("models", "must name models among deit-tiny, deit-small, deit-base, lvvit-s, lvvit-m");
      if (std::find(sp.models.begin(), sp.models.end(), m.get<std::string>()) != sp.models.end())
        r.fail("models", "lists " + m.get<std::string>() + " twice");
      sp.models.push_back(m.get<std::string>());
    }
  }
  {
    ConfigReader& s = r.child("schedules");
    for (const auto& m : sp.models) sp.schedules[m] = resolve_relative(dir, s.string(m));
  }
  ConfigReader& presets = r.child("presets");
  auto preset = [&](const std::string& role, CalPreset& p) {
    ConfigReader& c = presets.child(role);
    p.role = role;
    p.name = c.string("name");
    if (p.name.empty() || p.name.find('/') != std::string::npos || p.name.find("..") != std::string::npos)
      c.fail("name", "must be a plain file name (without .json)");
    p.base = resolve_relative(dir, c.string("base"));
    p.knobs = parse_knobs(c, "knobs", path);
  };
  preset("heatvit", sp.heatvit);
  preset("baseline", sp.baseline);
  if (sp.heatvit.name == sp.baseline.name) r.fail("presets.baseline.name", "must differ from the heatvit preset's");
  sp.shared = parse_knobs(r, "shared", path);
  if (r.has("search")) {
    ConfigReader& s = r.child("search");
    sp.budget = s.integer("budget", 400, 1, 1000000);
    sp.restarts = static_cast<int>(s.integer("restarts", 3, 1, 1000));
    sp.seed = static_cast<std::uint64_t>(s.integer("seed", 1, 0, std::numeric_limits<std::int32_t>::max()));
    sp.confirm = static_cast<int>(s.integer("systemc_checks", 4, 1, 100));
  }
  r.finish();
  return sp;
}

sim::HwConfig apply_knobs(const json& base, const Provenance& prov, const std::vector<const CalKnob*>& knobs,
                          const std::vector<json>& values, const std::string& origin, json* resolved) {
  json doc = base;
  auto p = std::make_shared<Provenance>(prov);
  std::vector<Override> ovs;
  for (std::size_t k = 0; k < knobs.size(); ++k) {
    const std::string& path = knobs[k]->path;
    ovs.push_back({path, hw_knob_value(path, values[k], origin), origin + " (hw." + path + " = " + values[k].dump() + ")"});
  }
  apply_overrides(doc, ovs, *p);
  ConfigReader r(doc, p);
  sim::HwConfig hw = sim::parse_hw_config(r);
  r.finish();
  if (resolved) *resolved = r.resolved();
  return hw;
}

// ------------------------------------------------------------------ residuals
std::vector<Residual> residuals(const PublishedSet& pub, const PresetResult& h, const PresetResult& b) {
  std::vector<Residual> out;
  for (const auto& f : pub.figures) {
    const PresetResult& p = f.preset == "baseline" ? b : h;
    for (const auto& m : f.models) {
      Residual r;
      r.fig = &f;
      r.model = m;
      // Every row needs both presets timed (a two-preset metric reads both; a point whose
      // other preset does not fit is no answer either), and the models it reads.
      const bool ok = h.ok && b.ok &&
                      (m == "-" || (h.dense_ms.count(m) && h.sched_ms.count(m) && b.dense_ms.count(m)));
      if (!ok) {
        r.ours = std::numeric_limits<double>::quiet_NaN();
        r.residual = kInf;
        out.push_back(r);
        continue;
      }
      auto lat = [&](const PresetResult& q) { return f.schedule == "dense" ? q.dense_ms.at(m) : q.sched_ms.at(m); };
      const double dsp = double(p.res.dsp);
      double v = 0;
      if (f.metric == "gops_per_dsp") {
        const double macs = (f.ops == "dense" || f.schedule == "dense") ? p.dense_macs.at(m) : p.sched_macs.at(m);
        v = 2.0 * macs / (lat(p) * 1e-3) / 1e9 / dsp;
      } else if (f.metric == "fps_per_dsp") {
        v = 1000.0 / lat(p) / dsp;
      } else if (f.metric == "latency_ms") {
        v = lat(p);
      } else if (f.metric == "speedup") {
        v = b.dense_ms.at(m) / h.sched_ms.at(m);
      } else if (f.metric == "pruning_speedup") {
        v = h.dense_ms.at(m) / h.sched_ms.at(m);
      } else if (f.metric == "int8_speedup") {
        v = b.dense_ms.at(m) / h.dense_ms.at(m);
      } else if (f.metric == "dsp_overhead") {
        v = double(h.res.dsp) / double(b.res.dsp) - 1.0;
      } else if (f.metric == "lut_overhead") {
        v = double(h.res.lut) / double(b.res.lut) - 1.0;
      } else if (f.metric == "computation_cut") {
        v = 1.0 - h.sched_macs.at(m) / h.dense_macs.at(m);
      }
      r.ours = v;
      auto dist = [&](double target) { return f.absolute ? v - target : v / target - 1.0; };
      if (!f.is_range) r.residual = dist(f.value);
      else if (v < f.lo) r.residual = dist(f.lo);
      else if (v > f.hi) r.residual = dist(f.hi);
      else r.residual = 0;
      r.within = std::abs(r.residual) <= f.tolerance * (1 + 1e-12);
      out.push_back(r);
    }
  }
  return out;
}

double objective(const std::vector<Residual>& rs) {
  double s = 0;
  for (const auto& r : rs) {
    if (!r.fig->fit) continue;
    if (!std::isfinite(r.residual)) return kInf;
    const double z = r.residual / r.fig->tolerance;
    s += z * z;
  }
  return s;
}

// ------------------------------------------------------------------ the run
namespace {

struct ModelWork {
  ModelShape model;
  Workload dense, sched;
};
using WorkMap = std::map<std::string, ModelWork>;

WorkMap build_work(const std::vector<std::string>& models, const std::map<std::string, std::string>& schedules) {
  WorkMap work;
  for (const auto& m : models) {
    ModelWork w;
    w.model = load_model(m);
    w.dense = build_dense_workload(w.model);
    w.sched = build_schedule_workload(w.model, load_schedule(schedules.at(m), w.model));
    work.emplace(m, std::move(w));
  }
  return work;
}

PresetResult time_on(const sim::HwConfig& hw, const WorkMap& work, const std::vector<std::string>& models,
                     bool pruned, bool systemc, int threads) {
  PresetResult r;
  r.res = sim::estimate_resources(hw).total();
  const auto& cap = hw.device.capacity;
  if (r.res.dsp > cap.dsp || r.res.bram36 > cap.bram36 || r.res.lut > cap.lut || r.res.ff > cap.ff) {
    r.why = "does not fit " + hw.device.name + ": " + to_json(r.res).dump();
    return r;
  }
  if (pruned && !hw.selector.enabled) {
    r.why = "the heatvit preset needs selector support";
    return r;
  }
  struct Job {
    std::string model;
    bool sched;
    sim::Plan plan;
    double ms = 0;
  };
  std::vector<Job> jobs;
  try {
    for (const auto& m : models) {
      const ModelWork& w = work.at(m);
      jobs.push_back({m, false, sim::make_plan(w.dense, hw), 0});
      if (pruned) jobs.push_back({m, true, sim::make_plan(w.sched, hw), 0});
    }
  } catch (const InputError& e) {
    r.why = e.what();  // a layer's tile does not fit a buffer
    return r;
  }
  if (systemc) {
    func::parallel_for(int(jobs.size()), sim::simulation_threads(threads), [&](int i, int) {
      const auto run = sim::simulate(hw, {&jobs[std::size_t(i)].plan});
      jobs[std::size_t(i)].ms = ms_of(run.plans.at(0).cycles(), hw);
    }, 1);
  } else {
    const sim::AnalyticModel am(hw);
    for (auto& j : jobs) j.ms = ms_of(am.time_plan(j.plan).cycles(), hw);
  }
  for (const auto& j : jobs) {
    const ModelWork& w = work.at(j.model);
    (j.sched ? r.sched_ms : r.dense_ms)[j.model] = j.ms;
    (j.sched ? r.sched_macs : r.dense_macs)[j.model] = double((j.sched ? w.sched : w.dense).total_macs());
  }
  r.ok = true;
  return r;
}

class Calibration {
 public:
  Calibration(const CalibrateOptions& opt)
      : opt_(opt), sp_(load_calibration_space(opt.space_path)),
        pub_(load_published(opt.published_path.empty() ? published_of_space() : opt.published_path)) {
    work_ = build_work(sp_.models, sp_.schedules);
    for (std::size_t i = 0; i < pub_.figures.size(); ++i)
      for (const auto& m : pub_.figures[i].models)
        if (m != "-" && !work_.count(m))
          throw InputError(pub_.path, "figures[" + std::to_string(i) + "].models",
                           "compares " + m + ", which the calibration space's 'models' does not list");
    for (CalPreset* p : {&sp_.heatvit, &sp_.baseline}) {
      Base b;
      b.composed = sim::compose_hw_config(p->base, b.prov);
      for (const auto& k : p->knobs) b.knobs.push_back(&k);
      for (const auto& k : sp_.shared) b.knobs.push_back(&k);
      base_[p->role] = std::move(b);
      for (const auto& k : p->knobs)
        for (const auto& sk : sp_.shared)
          if (k.path == sk.path)
            throw InputError(opt_.space_path, "shared." + sk.path, "is also a knob of presets." + p->role);
    }
    for (const auto& k : sp_.heatvit.knobs) dims_.push_back(&k);
    for (const auto& k : sp_.baseline.knobs) dims_.push_back(&k);
    for (const auto& k : sp_.shared) dims_.push_back(&k);
    nh_ = int(sp_.heatvit.knobs.size());
    nb_ = int(sp_.baseline.knobs.size());
    ns_ = int(sp_.shared.size());
    check_outputs();
    if (!opt_.evaluate_only) {
      // Every knob value must make a valid config (with the other knobs at their first
      // values): a bad one fails now, naming the space file and knob, not minutes into
      // the search.
      for (std::size_t d = 0; d < dims_.size(); ++d)
        for (std::size_t v = 0; v < dims_[d]->values.size(); ++v) {
          std::vector<int> x(dims_.size(), 0);
          x[d] = int(v);
          for (const char* role : {"heatvit", "baseline"}) {
            if ((role == std::string("heatvit") && int(d) >= nh_ && int(d) < nh_ + nb_) ||
                (role == std::string("baseline") && int(d) < nh_))
              continue;
            const Base& b = base_.at(role);
            apply_knobs(b.composed, b.prov, b.knobs, preset_values(role, x), opt_.space_path, nullptr);
          }
        }
    }
  }

  // Output names and directories are checked before any work.
  void check_outputs() const {
    namespace fs = std::filesystem;
    // error_code overloads throughout: a path the OS cannot examine (a name too long)
    // is reported as not writable, naming the option's path, below
    auto same = [](const std::string& a, const std::string& b) {
      std::error_code ea, eb;
      const fs::path ca = fs::weakly_canonical(fs::absolute(a), ea), cb = fs::weakly_canonical(fs::absolute(b), eb);
      return !ea && !eb && ca == cb;
    };
    if (!opt_.evaluate_only && same(presets_dir(), opt_.out_dir))
      for (const CalPreset* p : {&sp_.heatvit, &sp_.baseline})
        for (const char* reserved : {"residuals", "published.resolved", "space.resolved", "report", "search"})
          if (p->name == reserved)
            throw InputError(opt_.space_path, "presets." + p->role + ".name",
                             "'" + p->name + "' is an output of the run in the same directory");
    for (const std::string& d : {opt_.out_dir, presets_dir()}) {
      std::error_code ec;
      fs::path a = fs::absolute(d, ec);
      if (ec) throw InputError(d, "", "cannot be created or written (" + ec.message() + ")");
      while (!a.empty() && !fs::exists(a, ec) && !ec && a.has_parent_path() && a.parent_path() != a) a = a.parent_path();
      if (ec) throw InputError(d, "", "cannot be created or written (" + a.string() + ": " + ec.message() + ")");
      if (!fs::is_directory(a, ec) || ::access(a.c_str(), W_OK) != 0)
        throw InputError(d, "", "cannot be created or written (" + a.string() + " is not a writable directory)");
    }
    std::error_code ec;
    for (const char* f : {"residuals.json", "residuals.csv", "report.md"})
      if (fs::exists(opt_.out_dir, ec)) check_output_path(opt_.out_dir + "/" + f);
  }

  json run() {
    std::vector<int> best;
    bool have_best = false;
    double best_f = kInf;
    if (opt_.evaluate_only) {
      return finish_evaluate_only();
    }
    const std::int64_t budget = opt_.budget > 0 ? opt_.budget : sp_.budget;
    const std::uint64_t seed = opt_.seed > 0 ? opt_.seed : sp_.seed;
    std::mt19937_64 rng(seed);
    const int restarts = opt_.restarts > 0 ? opt_.restarts : sp_.restarts;
    for (int restart = 0; restart < restarts && evaluated_ < budget && !g_calibrate_interrupted; ++restart) {
      // Start 1: every knob's first value. Then, alternately, a random point and the best
      // point so far with three knobs changed at random (iterated local search).
      if (restart > 0 && dims_.empty()) break;  // one point, evaluated
      std::vector<int> cur(dims_.size(), 0);
      if (restart > 0 && (restart % 2 == 1 || !have_best)) {
        for (std::size_t d = 0; d < dims_.size(); ++d)
          cur[d] = static_cast<int>(rng() % dims_[d]->values.size());
      } else if (restart > 0) {
        cur = best;
        for (int k = 0; k < 3; ++k) {
          const std::size_t d = rng() % dims_.size();
          cur[d] = static_cast<int>(rng() % dims_[d]->values.size());
        }
      }
      double cur_f = evaluate({cur})[0];
      bool improved = true;
      while (improved && evaluated_ < budget && !g_calibrate_interrupted) {
        improved = false;
        for (std::size_t d = 0; d < dims_.size() && evaluated_ < budget && !g_calibrate_interrupted; ++d) {
          std::vector<std::vector<int>> cands;
          for (int v = 0; v < int(dims_[d]->values.size()); ++v) {
            if (v == cur[d]) continue;
            auto c = cur;
            c[d] = v;
            cands.push_back(c);
          }
          const std::int64_t left = budget - evaluated_;
          if (std::int64_t(cands.size()) > left) cands.resize(std::size_t(std::max<std::int64_t>(left, 0)));
          const auto fs = evaluate(cands);
          for (std::size_t i = 0; i < cands.size(); ++i)
            if (fs[i] < cur_f - 1e-12) {
              cur_f = fs[i];
              cur = cands[i];
              improved = true;
            }
        }
      }
      if (!have_best || cur_f < best_f) {
        best_f = cur_f;
        best = cur;
        have_best = true;
      }
      progress(restart, best_f, budget);
    }
    if (!have_best) throw InputError(opt_.space_path, "search", "no point was evaluated");
    if (!std::isfinite(best_f))
      throw InputError(opt_.space_path, "presets", "no evaluated point fits the device and the buffers");
    if (!opt_.systemc) {
      const auto h = eval_preset("heatvit", preset_values("heatvit", best), false);
      const auto b = eval_preset("baseline", preset_values("baseline", best), false);
      systemc_[best] = {h, b};  // the table is timed by the analytic model (--no-systemc)
      return finish(best, best_f);
    }
    // The analytic model steers the search; the SystemC model decides among the best
    // few, so that the choice does not rest on where the two models disagree.
    std::vector<std::pair<double, std::vector<int>>> top;
    for (const auto& [x, f] : seen_)
      if (std::isfinite(f)) top.push_back({f, x});
    std::sort(top.begin(), top.end());
    // Points with the same objective differ only in knobs that do not matter there (the
    // PS's cost while LayerNorm runs on the PL): one of them is checked.
    top.erase(std::unique(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
              top.end());
    if (int(top.size()) > sp_.confirm) top.resize(std::size_t(sp_.confirm));
    double best_sc = kInf;
    best = top.at(0).second;
    best_f = top[0].first;
    for (std::size_t i = 0; i < top.size(); ++i) {
      if (!opt_.quiet)
        std::fprintf(stderr, "calibrate: SystemC check of candidate %zu of %zu (analytic objective %s)\n", i + 1,
                     top.size(), fmt(top[i].first).c_str());
      const auto& x = top[i].second;
      const PresetResult h = eval_preset("heatvit", preset_values("heatvit", x), true);
      const PresetResult b = eval_preset("baseline", preset_values("baseline", x), true);
      const double f = objective(residuals(pub_, h, b));
      systemc_[x] = {h, b};
      confirmed_.push_back({{"analytic", top[i].first}, {"systemc", f}, {"knobs", knob_json(x)}});
      if (f < best_sc) {
        best_sc = f;
        best = x;
        best_f = top[i].first;
      }
    }
    if (!std::isfinite(best_sc))
      throw InputError(opt_.space_path, "presets", "no checked point can be timed by the SystemC model");
    return finish(best, best_f);
  }

 private:
  struct Base {
    json composed;
    Provenance prov;
    std::vector<const CalKnob*> knobs;
  };

  std::string published_of_space() const {
    if (!sp_.raw.contains("published") || !sp_.raw["published"].is_string())
      throw InputError(opt_.space_path, "published", "missing: name the published-figures file here or with --published");
    return resolve_relative(dir_of(opt_.space_path), sp_.raw["published"].get<std::string>());
  }

  // Values of one preset's knobs (its own, then the shared ones) from a point.
  std::vector<json> preset_values(const std::string& role, const std::vector<int>& x) const {
    std::vector<json> v;
    const int off = role == "heatvit" ? 0 : nh_, n = role == "heatvit" ? nh_ : nb_;
    for (int i = 0; i < n; ++i) v.push_back(dims_[std::size_t(off + i)]->values[std::size_t(x[std::size_t(off + i)])]);
    for (int i = 0; i < ns_; ++i)
      v.push_back(dims_[std::size_t(nh_ + nb_ + i)]->values[std::size_t(x[std::size_t(nh_ + nb_ + i)])]);
    return v;
  }

  /// A resolved config without the sections that have no effect in it.
  static json effective(json resolved) {
    json& ac = resolved["accelerator"];
    if (ac.contains("ps") && !ac["ps"].value("layernorm", false)) ac.erase("ps");
    if (ac.value("macs_per_dsp", 1) == 1) ac.erase("packing");
    return resolved;
  }

  PresetResult eval_preset(const std::string& role, const std::vector<json>& values, bool systemc,
                           json* resolved = nullptr) const {
    const Base& b = base_.at(role);
    const sim::HwConfig hw = apply_knobs(b.composed, b.prov, b.knobs, values, opt_.space_path, resolved);
    return time_on(hw, work_, sp_.models, role == "heatvit", systemc, opt_.threads);
  }

  const PresetResult& cached(const std::string& role, const std::vector<int>& x) {
    // Keyed by the effective config: points that differ only in knobs without effect
    // there (the PS's costs with LayerNorm on the PL, packing on a one-MAC array) share it.
    const Base& b = base_.at(role);
    json resolved;
    const sim::HwConfig hw = apply_knobs(b.composed, b.prov, b.knobs, preset_values(role, x), opt_.space_path, &resolved);
    const std::string key = role + effective(resolved).dump();
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = cache_.find(key);
      if (it != cache_.end()) return it->second;
    }
    PresetResult r = time_on(hw, work_, sp_.models, role == "heatvit", false, opt_.threads);
    std::lock_guard<std::mutex> lock(mu_);
    return cache_.emplace(key, std::move(r)).first->second;
  }

  // Objective of each point (cached); new points are evaluated on the worker threads.
  std::vector<double> evaluate(const std::vector<std::vector<int>>& xs) {
    std::vector<double> f(xs.size(), kInf);
    std::vector<int> todo;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      auto it = seen_.find(xs[i]);
      if (it != seen_.end()) f[i] = it->second;
      else todo.push_back(int(i));
    }
    func::parallel_for(int(todo.size()), opt_.threads, [&](int k, int) {
      const auto& x = xs[std::size_t(todo[std::size_t(k)])];
      const PresetResult& h = cached("heatvit", x);
      const PresetResult& b = cached("baseline", x);
      f[std::size_t(todo[std::size_t(k)])] = objective(residuals(pub_, h, b));
    }, 1);
    for (int i : todo) {
      seen_[xs[std::size_t(i)]] = f[std::size_t(i)];
      log_.push_back({xs[std::size_t(i)], f[std::size_t(i)]});
      ++evaluated_;
    }
    return f;
  }

  void progress(int restart, double best, std::int64_t budget) const {
    if (opt_.quiet) return;
    std::fprintf(stderr, "calibrate: start %d done, %lld/%lld points evaluated, best objective %s\n", restart + 1,
                 static_cast<long long>(evaluated_), static_cast<long long>(budget), fmt(best).c_str());
  }

  json knob_json(const std::vector<int>& x) const {
    json j = json::object();
    for (const char* role : {"heatvit", "baseline"}) {
      const auto v = preset_values(role, x);
      const auto& ks = base_.at(role).knobs;
      json o = json::object();
      for (std::size_t i = 0; i < ks.size(); ++i) o[ks[i]->path] = v[i];
      j[role] = o;
    }
    return j;
  }

  static json residual_rows(const std::vector<Residual>& rs, const std::vector<Residual>* analytic) {
    json rows = json::array();
    for (std::size_t i = 0; i < rs.size(); ++i) {
      const auto& r = rs[i];
      const Figure& f = *r.fig;
      json row = {{"id", f.id},
                  {"metric", f.metric},
                  {"model", r.model},
                  {"design", f.design},
                  {"preset", f.preset},
                  {"schedule", f.schedule},
                  {"ours", std::isfinite(r.ours) ? json(r.ours) : json(nullptr)},
                  {"residual", std::isfinite(r.residual) ? json(r.residual) : json(nullptr)},
                  {"residual_kind", f.absolute ? "points" : "relative"},
                  {"tolerance", f.tolerance},
                  {"within", r.within},
                  {"fit", f.fit},
                  {"source", f.source},
                  {"confidence", f.confidence}};
      if (f.is_range) row["published"] = json::array({f.lo, f.hi});
      else row["published"] = f.value;
      if (analytic) row["ours_analytic"] = (*analytic)[i].ours;
      rows.push_back(row);
    }
    return rows;
  }

  static std::string csv_of(const json& rows) {
    std::ostringstream o;
    o << "id,metric,model,preset,schedule,published_low,published_high,ours,ours_analytic,residual,residual_kind,"
         "tolerance,within,fit,confidence\n";
    for (const auto& r : rows) {
      const double lo = r["published"].is_array() ? r["published"][0].get<double>() : r["published"].get<double>();
      const double hi = r["published"].is_array() ? r["published"][1].get<double>() : lo;
      o << r["id"].get<std::string>() << "," << r["metric"].get<std::string>() << "," << r["model"].get<std::string>()
        << "," << r["preset"].get<std::string>() << "," << r["schedule"].get<std::string>() << "," << fmt(lo, 6) << ","
        << fmt(hi, 6) << "," << (r["ours"].is_null() ? "" : fmt(r["ours"].get<double>(), 6)) << ","
        << (r.contains("ours_analytic") && r["ours_analytic"].is_number() ? fmt(r["ours_analytic"].get<double>(), 6) : "")
        << "," << (r["residual"].is_null() ? "" : fmt(r["residual"].get<double>(), 6)) << ","
        << r["residual_kind"].get<std::string>() << "," << fmt(r["tolerance"].get<double>(), 6) << ","
        << (r["within"].get<bool>() ? 1 : 0) << "," << (r["fit"].get<bool>() ? 1 : 0) << ","
        << r["confidence"].get<std::string>() << "\n";
    }
    return o.str();
  }

  // Creates the output directories only now, writes every file together, and removes
  // the directories it created when that fails: a failed run leaves nothing behind.
  void commit_outputs(OutputSet& out) const {
    namespace fs = std::filesystem;
    std::vector<fs::path> created;
    try {
      for (const std::string& d : {opt_.out_dir, presets_dir()}) {
        std::vector<fs::path> chain;
        for (fs::path a = fs::absolute(d); !a.empty() && !fs::exists(a); a = a.parent_path()) {
          chain.push_back(a);
          if (a == a.parent_path()) break;
        }
        for (auto it = chain.rbegin(); it != chain.rend(); ++it)
          if (fs::create_directory(*it)) created.push_back(*it);
      }
      out.check();
      out.commit();
    } catch (...) {  // a filesystem error reaches heatvit's main as exit 2 naming the path
      std::error_code ec;
      for (auto it = created.rbegin(); it != created.rend(); ++it) fs::remove(*it, ec);
      throw;
    }
  }

  std::string presets_dir() const { return opt_.presets_dir.empty() ? opt_.out_dir : opt_.presets_dir; }

  // The preset file: the resolved config, named, with its source and default schedules
  // relative to where it is written.
  json preset_doc(const CalPreset& p, json resolved, const json& knobs, double obj) const {
    namespace fs = std::filesystem;
    const json base_schedules = resolved.contains("default_schedules") ? resolved["default_schedules"] : json::object();
    resolved = effective(std::move(resolved));
    resolved["name"] = p.name;
    std::ostringstream src;
    src << "calibrated by `heatvit calibrate --space " << fs::path(opt_.space_path).filename().string()
        << "` against " << fs::path(pub_.path).filename().string() << " (objective " << fmt(obj) << "): base "
        << fs::path(p.base).filename().string() << " with " << knobs.dump()
        << "; docs/validation.md explains every parameter";
    resolved["source"] = src.str();
    json ds = json::object();
    if (p.role == "heatvit") {
      const fs::path dir = fs::absolute(presets_dir());
      for (const auto& m : sp_.models)
        ds[m] = fs::relative(fs::absolute(sp_.schedules.at(m)), dir).generic_string();
      // The base's schedules for other models (deit-micro's trained one) stay.
      for (auto it = base_schedules.begin(); it != base_schedules.end(); ++it)
        if (!ds.contains(it.key()) && it->is_string())
          ds[it.key()] = fs::relative(fs::absolute(it->get<std::string>()), dir).generic_string();
    }
    if (ds.empty()) resolved.erase("default_schedules");
    else resolved["default_schedules"] = ds;
    return resolved;
  }

  json finish(const std::vector<int>& best, double best_f) {
    json hres, bres;
    const auto hv = preset_values("heatvit", best), bv = preset_values("baseline", best);
    const PresetResult ha = eval_preset("heatvit", hv, false, &hres), ba = eval_preset("baseline", bv, false, &bres);
    const auto& [hs, bs] = systemc_.at(best);
    const auto rs = residuals(pub_, hs, bs), ra = residuals(pub_, ha, ba);
    const json knobs = knob_json(best);
    json doc = summary_doc(rs, ra, hs, bs, ha, ba, objective(rs));
    doc["objective_analytic"] = best_f;
    doc["knobs"] = knobs;
    doc["evaluated"] = evaluated_;
    doc["systemc_checked"] = confirmed_;
    doc["interrupted"] = g_calibrate_interrupted.load();

    std::ostringstream scsv;
    scsv << "order";
    for (std::size_t i = 0; i < dims_.size(); ++i)
      scsv << "," << (int(i) < nh_ ? "heatvit:" : int(i) < nh_ + nb_ ? "baseline:" : "shared:") << dims_[i]->path;
    scsv << ",objective\n";
    for (std::size_t i = 0; i < log_.size(); ++i) {
      scsv << i;
      for (std::size_t d = 0; d < dims_.size(); ++d) {
        std::string v = dims_[d]->values[std::size_t(log_[i].first[d])].dump();
        std::replace(v.begin(), v.end(), ',', ';');
        scsv << "," << v;
      }
      scsv << "," << fmt(log_[i].second, 8) << "\n";
    }

    OutputSet out;
    const std::string d = opt_.out_dir + "/", pd = presets_dir() + "/";
    write_common(out, d, doc);
    out.add(d + "search.csv", scsv.str());
    out.add(pd + sp_.heatvit.name + ".json",
            preset_doc(sp_.heatvit, hres, knobs["heatvit"], objective(rs)).dump(2) + "\n");
    out.add(pd + sp_.baseline.name + ".json",
            preset_doc(sp_.baseline, bres, knobs["baseline"], objective(rs)).dump(2) + "\n");
    commit_outputs(out);
    return doc;
  }

  json finish_evaluate_only() {
    const std::string pd = presets_dir() + "/";
    auto load = [&](const CalPreset& p, bool systemc) {
      const std::string file = pd + p.name + ".json";
      const sim::HwConfig hw = sim::load_hw_config(file);
      PresetResult r = time_on(hw, work_, sp_.models, p.role == "heatvit", systemc, opt_.threads);
      if (!r.ok) throw InputError(file, "", "cannot be evaluated: " + r.why);
      return r;
    };
    const PresetResult hs = load(sp_.heatvit, opt_.systemc), bs = load(sp_.baseline, opt_.systemc);
    const PresetResult ha = load(sp_.heatvit, false), ba = load(sp_.baseline, false);
    const auto rs = residuals(pub_, hs, bs), ra = residuals(pub_, ha, ba);
    json doc = summary_doc(rs, ra, hs, bs, ha, ba, objective(rs));
    doc["presets_evaluated"] = {shown(pd + sp_.heatvit.name + ".json"), shown(pd + sp_.baseline.name + ".json")};
    OutputSet out;
    write_common(out, opt_.out_dir + "/", doc);
    commit_outputs(out);
    return doc;
  }

  json summary_doc(const std::vector<Residual>& rs, const std::vector<Residual>& ra, const PresetResult& h,
                   const PresetResult& b, const PresetResult& ha, const PresetResult& ba, double obj) const {
    json doc;
    doc["published"] = shown(pub_.path);
    doc["space"] = shown(opt_.space_path);
    doc["objective"] = obj;
    doc["timing"] = opt_.systemc ? "SystemC (ours); ours_analytic: the analytic model"
                                 : "analytic model only (--no-systemc): ours = ours_analytic";
    doc["figures"] = residual_rows(rs, &ra);
    int fitted = 0, within = 0;
    for (const auto& r : rs)
      if (r.fig->fit) {
        ++fitted;
        within += r.within ? 1 : 0;
      }
    doc["fitted_rows"] = fitted;
    doc["fitted_within_tolerance"] = within;
    json presets;
    double worst = 0;  // largest analytic-vs-SystemC latency difference, relative
    for (const auto& [role, p, a] : {std::tuple<std::string, const PresetResult*, const PresetResult*>{"heatvit", &h, &ha},
                                     {"baseline", &b, &ba}}) {
      json lat = json::object();
      for (const auto& [m, v] : p->dense_ms) {
        lat[m]["dense_ms"] = v;
        lat[m]["dense_ms_analytic"] = a->dense_ms.at(m);
        worst = std::max(worst, std::abs(a->dense_ms.at(m) / v - 1));
        if (p->sched_ms.count(m)) {
          lat[m]["schedule_ms"] = p->sched_ms.at(m);
          lat[m]["schedule_ms_analytic"] = a->sched_ms.at(m);
          worst = std::max(worst, std::abs(a->sched_ms.at(m) / p->sched_ms.at(m) - 1));
        }
      }
      presets[role] = {{"name", role == "heatvit" ? sp_.heatvit.name : sp_.baseline.name},
                       {"resources", to_json(p->res)},
                       {"latency", lat}};
    }
    doc["presets"] = presets;
    doc["analytic_vs_systemc_worst"] = worst;
    return doc;
  }

  void write_common(OutputSet& out, const std::string& d, const json& doc) const {
    out.add(d + "residuals.json", doc.dump(2) + "\n");
    out.add(d + "residuals.csv", csv_of(doc["figures"]));
    out.add(d + "published.resolved.json", pub_.raw.dump(2) + "\n");
    out.add(d + "space.resolved.json", sp_.raw.dump(2) + "\n");
    out.add(d + "report.md", report_md(doc));
    if (opt_.plot) {
      try {
        out.add(d + "calibration.png", render_plot("plot_calibration.py", {{"residuals.json", doc.dump()}}));
      } catch (const std::runtime_error& e) {
        if (!opt_.quiet) std::fprintf(stderr, "warning: calibration.png not drawn: %s\n", e.what());
      }
    }
  }

  static std::string report_md(const json& doc) {
    std::ostringstream o;
    o << "# Calibration against published figures\n\n"
      << "Published figures: `" << doc["published"].get<std::string>() << "`; space: `"
      << doc["space"].get<std::string>() << "`.\n"
      << "Ours: SystemC timing of the calibrated presets (analytic in the last column).\n\n"
      << "Fitted rows within tolerance: " << doc["fitted_within_tolerance"].get<int>() << " of "
      << doc["fitted_rows"].get<int>() << "; objective " << fmt(doc["objective"].get<double>()) << ".\n\n";
    o << "| figure | model | published | ours | residual | within | fitted | confidence | analytic |\n"
      << "|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : doc["figures"]) {
      std::string pub = r["published"].is_array()
                            ? fmt(r["published"][0].get<double>()) + "-" + fmt(r["published"][1].get<double>())
                            : fmt(r["published"].get<double>());
      std::string res = "-";
      if (r["residual"].is_number()) {
        const double v = r["residual"].get<double>();
        char b[32];
        if (r["residual_kind"] == "points") std::snprintf(b, sizeof b, "%+.1f pts", 100 * v);
        else std::snprintf(b, sizeof b, "%+.1f%%", 100 * v);
        res = b;
      }
      o << "| " << r["id"].get<std::string>() << " | " << r["model"].get<std::string>() << " | " << pub << " | "
        << (r["ours"].is_number() ? fmt(r["ours"].get<double>()) : "-") << " | " << res << " | "
        << (r["within"].get<bool>() ? "yes" : "**no**") << " | " << (r["fit"].get<bool>() ? "yes" : "no") << " | "
        << r["confidence"].get<std::string>() << " | "
        << (r["ours_analytic"].is_number() ? fmt(r["ours_analytic"].get<double>()) : "-") << " |\n";
    }
    o << "\n";
    for (const auto& [role, p] : doc["presets"].items())
      o << "- " << role << " preset `" << p["name"].get<std::string>() << "`: " << p["resources"].dump() << "\n";
    if (doc.contains("knobs")) o << "\nChosen physical parameters: `" << doc["knobs"].dump() << "`\n";
    return o.str();
  }

  const CalibrateOptions& opt_;
  CalibrationSpace sp_;
  PublishedSet pub_;
  WorkMap work_;
  std::map<std::string, Base> base_;
  std::vector<const CalKnob*> dims_;
  int nh_ = 0, nb_ = 0, ns_ = 0;
  std::mutex mu_;
  std::map<std::string, PresetResult> cache_;
  std::map<std::vector<int>, double> seen_;
  std::vector<std::pair<std::vector<int>, double>> log_;
  std::int64_t evaluated_ = 0;
  json confirmed_ = json::array();
  std::map<std::vector<int>, std::pair<PresetResult, PresetResult>> systemc_;  // heatvit, baseline
};

}  // namespace

PresetResult time_preset(const sim::HwConfig& hw, const std::vector<std::string>& models,
                         const std::map<std::string, std::string>& schedules, bool pruned, bool systemc,
                         int threads) {
  return time_on(hw, build_work(models, schedules), models, pruned, systemc, threads);
}

json run_calibrate(const CalibrateOptions& opt) {
  g_calibrate_interrupted = false;
  if (opt.out_dir.empty()) throw InputError("--out", "", "is required");
  namespace fs = std::filesystem;
  for (const std::string& d : {opt.out_dir, opt.presets_dir})
    if (std::error_code ec; !d.empty() && fs::exists(d, ec) && !fs::is_directory(d, ec))
      throw InputError(d, "", "exists and is not a directory");
  Calibration c(opt);
  return c.run();
}

}  // namespace heatvit::dse
