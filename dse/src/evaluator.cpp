#include "heatvit/dse/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/models/workload.hpp"
#include "heatvit/sim/resources.hpp"

namespace heatvit::dse {

Distribution distribution_of(std::vector<double> v) {
  Distribution d;
  if (v.empty()) return d;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  auto pct = [&](double p) {  // nearest rank, as the sim report
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * double(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  d.mean = sum / double(v.size());
  d.p50 = pct(50);
  d.p99 = pct(99);
  d.min = v.front();
  d.max = v.back();
  return d;
}

json metrics_to_json(const Metrics& m) {
  json j = {{"schedule_index", m.cand.schedule}, {"hw_index", m.cand.hw}, {"schedule", m.schedule}, {"split", split_name(m.split)},
            {"images", m.images}, {"fits", m.fits}, {"feasible", m.feasible}, {"why", m.why},
            {"violation", m.violation}, {"has_accuracy", m.has_accuracy}, {"correct", m.correct},
            {"latency_ms", {{"mean", m.latency_ms.mean}, {"p50", m.latency_ms.p50}, {"p99", m.latency_ms.p99},
                            {"min", m.latency_ms.min}, {"max", m.latency_ms.max}}},
            {"macs_per_image", m.macs}, {"resources", sim::to_json(m.res)}};
  j["accuracy"] = m.has_accuracy ? json(m.accuracy) : json(nullptr);
  return j;
}

std::int64_t int_of(const json& v, const char* what) {
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > (1ull << 62)))
    throw std::runtime_error(std::string(what) + ": not an integer in range");
  return v.get<std::int64_t>();
}

namespace {
int int32_of(const json& v, const char* what) {
  const std::int64_t x = int_of(v, what);
  if (x < -(1ll << 31) || x >= (1ll << 31)) throw std::runtime_error(std::string(what) + ": out of range");
  return static_cast<int>(x);
}
double double_of(const json& v, const char* what) {
  if (!v.is_number()) throw std::runtime_error(std::string(what) + ": not a number");
  return v.get<double>();
}
}  // namespace

Metrics metrics_from_json(const json& j) {
  Metrics m;
  m.cand = {int_of(j.at("schedule_index"), "schedule_index"), int_of(j.at("hw_index"), "hw_index")};
  m.schedule = j.at("schedule").get<std::string>();
  m.split = j.at("split").get<std::string>() == "test" ? Split::Test : Split::Validation;
  m.images = int32_of(j.at("images"), "images");
  m.fits = j.at("fits").get<bool>();
  m.feasible = j.at("feasible").get<bool>();
  m.why = j.at("why").get<std::string>();
  m.violation = double_of(j.at("violation"), "violation");
  m.has_accuracy = j.at("has_accuracy").get<bool>();
  if (m.has_accuracy) m.accuracy = double_of(j.at("accuracy"), "accuracy");
  m.correct = int32_of(j.at("correct"), "correct");
  const json& l = j.at("latency_ms");
  m.latency_ms = {double_of(l.at("mean"), "latency_ms.mean"), double_of(l.at("p50"), "latency_ms.p50"),
                  double_of(l.at("p99"), "latency_ms.p99"), double_of(l.at("min"), "latency_ms.min"),
                  double_of(l.at("max"), "latency_ms.max")};
  m.macs = double_of(j.at("macs_per_image"), "macs_per_image");
  const json& r = j.at("resources");
  m.res = {int_of(r.at("dsp"), "resources.dsp"), int_of(r.at("bram36"), "resources.bram36"),
           int_of(r.at("lut"), "resources.lut"), int_of(r.at("ff"), "resources.ff")};
  return m;
}

// ---- MACs ----

MacTable::MacTable(const ModelShape& model) : model_(model) {
  const int dense = model.dense_tokens();
  t_.resize(model, true);
  for (int n = 2; n <= dense; ++n) {
    const Workload w = build_workload(model, std::vector<int>(static_cast<std::size_t>(model.depth), n), {});
    for (const Op& o : w.ops) {
      if (o.block == 0) t_.block[static_cast<std::size_t>(n)] += o.macs();
      if (o.block == model.depth) t_.head[static_cast<std::size_t>(n)] += o.macs();
      if (o.block < 0 && n == dense) t_.stem += o.macs();
    }
  }
  const int patches = model.patch_tokens();
  for (int in = 1; in <= patches; ++in)
    for (int out = 0; out <= in; ++out)
      for (const Op& o : selector_ops(model, 0, in, in - out))
        t_.selector[static_cast<std::size_t>(in)][static_cast<std::size_t>(out)] += o.macs();
}

// ---- hardware points ----

HwPoints::HwPoints(const Space& space, const ModelShape& model, json base_composed, Provenance base_prov,
                   std::string base_name)
    : space_(space), model_(model), base_(std::move(base_composed)), prov_(std::move(base_prov)),
      base_name_(std::move(base_name)) {}

json HwPoints::knob_values(std::int64_t i) const {
  json j = json::object();
  const auto v = space_.hw_values(static_cast<std::uint64_t>(i));
  for (std::size_t k = 0; k < v.size(); ++k) j[space_.knobs[k].path] = v[k];
  return j;
}

json hw_knob_value(const std::string& path, const json& value, const std::string& space_path) {
  // A section preset by name or path ("ddr": ["ddr4-2400-x64", ...]) is inlined as
  // the hw config's own preset files are.
  if (!((path == "device" || path == "ddr" || path == "accelerator") && value.is_string())) return value;
  std::string file = value.get<std::string>();
  if (file.find('/') == std::string::npos && file.find(".json") == std::string::npos) {
    const char* dir = path == "accelerator" ? "accel" : path.c_str();
    file = project_root() + "/configs/" + dir + "/" + file + ".json";
  } else {
    file = resolve_relative(dir_of(space_path), file);
  }
  return load_json_file(file);
}

HwPoints::Entry& HwPoints::at(std::int64_t i) {
  auto& slot = cache_[i];
  if (slot) return *slot;
  auto e = std::make_unique<Entry>();
  json doc = base_;
  auto prov = std::make_shared<Provenance>(prov_);
  const auto values = space_.hw_values(static_cast<std::uint64_t>(i));
  std::vector<Override> ovs;
  for (std::size_t k = 0; k < values.size(); ++k) {
    const Knob& knob = space_.knobs[k];
    const std::string origin = space_.path + " (hw." + knob.path + " = " + values[k].dump() + ")";
    ovs.push_back({knob.path, hw_knob_value(knob.path, values[k], space_.path), origin});
  }
  apply_overrides(doc, ovs, *prov);
  ConfigReader r(doc, prov);
  e->hw = sim::parse_hw_config(r);
  r.finish();
  e->resolved = r.resolved();
  if (!values.empty()) e->hw.name = base_name_ + "+" + knob_values(i).dump();
  const sim::ResourceReport rr = sim::estimate_resources(e->hw);
  e->res = rr.total();
  const auto& cap = e->hw.device.capacity;
  auto over = [&](const char* what, std::int64_t use, std::int64_t c) {
    if (e->fits && use > c) {
      e->fits = false;
      e->why = std::string(what) + " " + std::to_string(use) + " > device " + std::to_string(c);
    }
  };
  over("dsp", e->res.dsp, cap.dsp);
  over("bram36", e->res.bram36, cap.bram36);
  over("lut", e->res.lut, cap.lut);
  over("ff", e->res.ff, cap.ff);
  if (e->fits) {
    try {
      e->latency = std::make_unique<sim::ScheduleEvaluator>(model_, e->hw);
    } catch (const InputError& err) {
      // e.g. a layer whose smallest tile does not fit a buffer: this point cannot run
      e->fits = false;
      e->why = std::string("cannot be planned: ") + err.what();
    }
  }
  slot = std::move(e);
  return *slot;
}

// ---- evaluator ----

Evaluator::Evaluator(const Space& space, const ModelShape& model, HwPoints& hw, ScheduleOracle& oracle)
    : space_(space), model_(model), hw_(hw), oracle_(oracle), schedules_(space.schedules()), macs_(model) {}

std::vector<double> Evaluator::latencies(const SchedulePoint& s, const ScheduleOutcome& o, int images,
                                         std::int64_t hw) {
  HwPoints::Entry& e = hw_.at(hw);
  std::vector<double> out;
  if (!e.latency) return out;
  std::vector<char> sel(static_cast<std::size_t>(model_.depth), 0);
  for (const auto& p : s.selectors) sel[static_cast<std::size_t>(p.first)] = 1;
  const auto has = [&](int b) { return sel[static_cast<std::size_t>(b)] != 0; };
  const double ms_per_cycle = 1.0 / (e.hw.frequency_mhz * 1000.0);
  const auto depth = static_cast<std::size_t>(model_.depth);
  out.reserve(static_cast<std::size_t>(images));
  for (int i = 0; i < images; ++i)
    out.push_back(static_cast<double>(e.latency->cycles_of(&o.tokens[static_cast<std::size_t>(i) * depth], has)) *
                  ms_per_cycle);
  return out;
}

Metrics Evaluator::metrics(const Candidate& c, const ScheduleOutcome& o, Split split, int images,
                           const ScheduleOutcome* dense) {
  Metrics m;
  m.cand = c;
  m.split = split;
  m.images = std::min(images, o.images);
  const SchedulePoint& s = schedules_.at(static_cast<std::size_t>(c.schedule));
  m.schedule = s.key();
  HwPoints::Entry& e = hw_.at(c.hw);
  m.res = e.res;
  m.fits = e.fits;
  m.has_accuracy = o.has_accuracy;
  if (o.has_accuracy) {
    if (o.correct.empty()) {
      m.accuracy = o.accuracy;
    } else {
      m.correct = o.correct_count(m.images);
      m.accuracy = static_cast<double>(m.correct) / m.images;
      m.correct_bits.assign(static_cast<std::size_t>((m.images + 7) / 8), 0);
      for (int i = 0; i < m.images; ++i)
        if (o.correct[static_cast<std::size_t>(i)]) m.correct_bits[static_cast<std::size_t>(i / 8)] |= std::uint8_t(1u << (i % 8));
    }
  }
  std::vector<char> sel(static_cast<std::size_t>(model_.depth), 0);
  for (const auto& p : s.selectors) sel[static_cast<std::size_t>(p.first)] = 1;
  const auto has = [&](int b) { return sel[static_cast<std::size_t>(b)] != 0; };
  double macs = 0;
  const auto depth = static_cast<std::size_t>(model_.depth);
  for (int i = 0; i < m.images; ++i)
    macs += static_cast<double>(macs_.macs_of(&o.tokens[static_cast<std::size_t>(i) * depth], has));
  m.macs = macs / m.images;
  if (m.fits) {
    m.latency_ms = distribution_of(latencies(s, o, m.images, c.hw));
  } else {
    m.feasible = false;
    m.why = "over the device: " + e.why;
  }
  double dense_acc = std::numeric_limits<double>::quiet_NaN();
  if (dense && dense->has_accuracy)
    dense_acc = dense->correct.empty() ? dense->accuracy
                                       : static_cast<double>(dense->correct_count(m.images)) / m.images;
  apply_constraints(m, dense_acc);
  ++evaluations_;
  return m;
}

void Evaluator::apply_constraints(Metrics& m, double dense_accuracy) const {
  if (!m.fits) {
    m.feasible = false;
    m.violation = 1e9;  // never simulated, never on a front
    return;
  }
  m.feasible = true;
  m.violation = 0;
  m.why.clear();
  const Constraints& c = space_.constraints;
  auto check = [&](bool bad, double excess, const std::string& what) {
    if (!bad) return;
    m.violation += excess;
    if (m.feasible) m.why = what;
    m.feasible = false;
  };
  if (c.max_accuracy_drop) {
    if (!m.has_accuracy || std::isnan(dense_accuracy)) {
      check(true, 1.0, "accuracy not measured (max_accuracy_drop needs it)");
    } else {
      const double drop = 100.0 * (dense_accuracy - m.accuracy);
      check(drop > *c.max_accuracy_drop, (drop - *c.max_accuracy_drop) / 100.0,
            "accuracy drop " + std::to_string(drop) + " points > " + std::to_string(*c.max_accuracy_drop));
    }
  }
  if (c.max_latency_ms_mean)
    check(m.latency_ms.mean > *c.max_latency_ms_mean, m.latency_ms.mean / *c.max_latency_ms_mean - 1,
          "mean latency over max_latency_ms_mean");
  if (c.max_latency_ms_p99)
    check(m.latency_ms.p99 > *c.max_latency_ms_p99, m.latency_ms.p99 / *c.max_latency_ms_p99 - 1,
          "p99 latency over max_latency_ms_p99");
  auto res = [&](const std::optional<std::int64_t>& lim, std::int64_t use, const char* what) {
    if (lim) check(use > *lim, double(use - *lim) / double(std::max<std::int64_t>(*lim, 1)), std::string(what) + " over the limit");
  };
  res(c.max_dsp, m.res.dsp, "dsp");
  res(c.max_bram36, m.res.bram36, "bram36");
  res(c.max_lut, m.res.lut, "lut");
  res(c.max_ff, m.res.ff, "ff");
}

std::vector<double> Evaluator::objectives(const Metrics& m) const {
  std::vector<double> f;
  for (Objective o : space_.objectives) {
    switch (o) {
      case Objective::Accuracy: f.push_back(m.has_accuracy ? -m.accuracy : 0.0); break;
      case Objective::LatencyMean: f.push_back(m.latency_ms.mean); break;
      case Objective::LatencyP99: f.push_back(m.latency_ms.p99); break;
      case Objective::Macs: f.push_back(m.macs); break;
      case Objective::Dsp: f.push_back(static_cast<double>(m.res.dsp)); break;
      case Objective::Bram36: f.push_back(static_cast<double>(m.res.bram36)); break;
      case Objective::Lut: f.push_back(static_cast<double>(m.res.lut)); break;
      case Objective::Ff: f.push_back(static_cast<double>(m.res.ff)); break;
    }
  }
  return f;
}

std::int64_t Evaluator::add_schedule(const SchedulePoint& s) {
  for (std::size_t i = 0; i < schedules_.size(); ++i)
    if (schedules_[i].selectors == s.selectors) return static_cast<std::int64_t>(i);
  schedules_.push_back(s);
  return static_cast<std::int64_t>(schedules_.size()) - 1;
}

OutcomePtr Evaluator::dense_outcome(Split split, int images) {
  return oracle_.run({SchedulePoint{}}, split, images).at(0);
}

std::vector<Metrics> Evaluator::evaluate(const std::vector<Candidate>& cands, Split split, int images) {
  std::vector<SchedulePoint> need;
  std::map<std::int64_t, std::size_t> pos;
  for (const auto& c : cands)
    if (pos.emplace(c.schedule, need.size()).second) need.push_back(schedules_.at(static_cast<std::size_t>(c.schedule)));
  const std::vector<OutcomePtr> outs = oracle_.run(need, split, images);
  const OutcomePtr dense = dense_outcome(split, images);
  std::vector<Metrics> res;
  res.reserve(cands.size());
  for (const auto& c : cands) res.push_back(metrics(c, *outs[pos.at(c.schedule)], split, images, dense.get()));
  return res;
}

}  // namespace heatvit::dse
