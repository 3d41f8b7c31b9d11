#include "heatvit/dse/space.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"

namespace heatvit::dse {

namespace {

std::string keep_text(int milli) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%g", milli / 1000.0);
  return buf;
}

using Fail = std::function<void(const std::string& field, const std::string& what)>;

/// A list of numbers, or a range {"min", "max", "step"} (both ends included).
std::vector<double> number_list(const json& v, const std::string& key, const Fail& fail) {
  std::vector<double> out;
  if (v.is_array()) {
    if (v.empty()) fail(key, "must not be empty");
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_number()) fail(key + "[" + std::to_string(i) + "]", "must be a number");
      out.push_back(v[i].get<double>());
    }
    return out;
  }
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it)
      if (it.key() != "min" && it.key() != "max" && it.key() != "step")
        fail(key + "." + it.key(), "unknown key (a range has min, max and step)");
    for (const char* k : {"min", "max", "step"})
      if (!v.contains(k) || !v[k].is_number()) fail(key + "." + k, "a range needs a number here");
    const double lo = v["min"].get<double>(), hi = v["max"].get<double>(), st = v["step"].get<double>();
    if (!(st > 0) || !std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(st) || hi < lo)
      fail(key, "a range needs min <= max and step > 0");
    const double n = std::floor((hi - lo) / st + 1e-9) + 1;
    if (!(n <= 10000)) fail(key, "the range has more than 10000 values");
    for (int i = 0; i < static_cast<int>(n); ++i) out.push_back(lo + i * st);
    return out;
  }
  fail(key, "must be a list of values or a range {\"min\", \"max\", \"step\"}");
  return out;
}

std::vector<int> keep_grid(const json& v, const std::string& key, const Fail& fail) {
  std::vector<int> out;
  for (double k : number_list(v, key, fail)) {
    if (!(k > 0.0) || k > 1.0) fail(key, "keep rates must be in (0, 1], got " + std::to_string(k));
    const int m = static_cast<int>(std::lround(k * 1000.0));
    if (m < 1) fail(key, "keep rates are resolved to thousandths; " + std::to_string(k) + " rounds to 0");
    out.push_back(m);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) fail(key, "keep rates repeat");
  return out;
}

}  // namespace

std::string SchedulePoint::key() const {
  std::string s;
  for (const auto& [b, k] : selectors) {
    if (!s.empty()) s += ",";
    s += std::to_string(b) + ":" + keep_text(k);
  }
  return s;
}

Schedule SchedulePoint::to_schedule() const {
  Schedule s;
  s.name = selectors.empty() ? "dense" : key();
  for (const auto& [b, k] : selectors) s.selectors.push_back({b, k / 1000.0});
  return s;
}

SchedulePoint parse_schedule_key(const std::string& key, const std::string& origin) {
  SchedulePoint p;
  if (key.empty() || key == "dense") return p;
  std::stringstream ss(key);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto colon = item.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument("no colon");
      std::size_t used = 0;
      const int b = std::stoi(item.substr(0, colon), &used);
      if (used != colon) throw std::invalid_argument("block");
      const std::string ks = item.substr(colon + 1);
      const double k = std::stod(ks, &used);
      if (used != ks.size() || !(k > 0) || k > 1) throw std::invalid_argument("keep");
      if (!p.selectors.empty() && b <= p.selectors.back().first) throw std::invalid_argument("order");
      p.selectors.push_back({b, static_cast<int>(std::lround(k * 1000))});
    } catch (const std::exception&) {
      throw InputError(origin, "schedule", "'" + key + "' is not a schedule of the form block:keep,... "
                                           "(ascending blocks, keep in (0, 1])");
    }
  }
  return p;
}

const std::vector<std::string>& objective_names() {
  static const std::vector<std::string> n = {"accuracy", "latency_ms_mean", "latency_ms_p99", "macs_per_image",
                                             "dsp",      "bram36",          "lut",            "ff"};
  return n;
}

const char* objective_name(Objective o) { return objective_names()[static_cast<std::size_t>(o)].c_str(); }

namespace {
constexpr std::uint64_t kSaturated = std::uint64_t(1) << 62;
std::uint64_t sat_mul(std::uint64_t a, std::uint64_t b) { return (b != 0 && a > kSaturated / b) ? kSaturated : a * b; }
std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) { return a > kSaturated - b ? kSaturated : a + b; }
}  // namespace

std::uint64_t Space::hw_count() const {
  std::uint64_t n = 1;
  for (const auto& k : knobs) n = sat_mul(n, k.values.size());
  return n;
}

std::vector<json> Space::hw_values(std::uint64_t i) const {
  std::vector<json> v(knobs.size());
  for (std::size_t k = knobs.size(); k-- > 0;) {
    const auto n = knobs[k].values.size();
    v[k] = knobs[k].values[i % n];
    i /= n;
  }
  return v;
}

std::uint64_t Space::schedule_count() const {
  // count[j][s]: schedules over blocks j.. with s selectors still to place (position = placed)
  std::uint64_t total = 0;
  const int nb = static_cast<int>(blocks.size());
  // ways[j][p]: schedules over blocks j.. with p selectors placed (saturating; memoized)
  std::vector<std::vector<std::uint64_t>> ways(static_cast<std::size_t>(nb + 1),
                                               std::vector<std::uint64_t>(static_cast<std::size_t>(max_selectors + 1), 0));
  for (int j = nb; j >= 0; --j)
    for (int placed = max_selectors; placed >= 0; --placed) {
      std::uint64_t c = placed >= min_selectors ? 1 : 0;
      if (placed < max_selectors)
        for (int k = j; k < nb; ++k)
          c = sat_add(c, sat_mul(keep[static_cast<std::size_t>(placed)].size(),
                                 ways[static_cast<std::size_t>(k + 1)][static_cast<std::size_t>(placed + 1)]));
      ways[static_cast<std::size_t>(j)][static_cast<std::size_t>(placed)] = c;
    }
  total = ways[0][0];
  return total;
}

std::vector<SchedulePoint> Space::schedules() const {
  std::vector<SchedulePoint> out;
  const int nb = static_cast<int>(blocks.size());
  for (int n = min_selectors; n <= max_selectors; ++n) {
    SchedulePoint cur;
    std::function<void(int)> rec = [&](int from) {
      const int placed = static_cast<int>(cur.selectors.size());
      if (placed == n) {
        out.push_back(cur);
        return;
      }
      for (int j = from; j <= nb - (n - placed); ++j)
        for (int k : keep[static_cast<std::size_t>(placed)]) {
          cur.selectors.push_back({blocks[static_cast<std::size_t>(j)], k});
          rec(j + 1);
          cur.selectors.pop_back();
        }
    };
    rec(0);
  }
  return out;
}

Space parse_space(const json& doc, const std::string& path, const std::vector<int>& bank_blocks, int depth) {
  if (!doc.is_object()) throw InputError(path, "", "a space file is a JSON object");
  ConfigReader r(doc, path);
  Space sp;
  sp.path = path;

  ConfigReader& s = r.child("schedule");
  if (s.has("blocks")) {
    for (auto b : s.integer_list("blocks", 0, depth - 1)) {
      if (std::find(bank_blocks.begin(), bank_blocks.end(), b) == bank_blocks.end()) {
        std::string list;
        for (int x : bank_blocks) list += (list.empty() ? "" : ",") + std::to_string(x);
        s.fail("blocks", "block " + std::to_string(b) + " has no selector in the model (selectors can run before blocks " +
                             (list.empty() ? std::string("none") : list) + ")");
      }
      sp.blocks.push_back(static_cast<int>(b));
    }
    std::sort(sp.blocks.begin(), sp.blocks.end());
    if (std::adjacent_find(sp.blocks.begin(), sp.blocks.end()) != sp.blocks.end()) s.fail("blocks", "blocks repeat");
    if (sp.blocks.empty()) s.fail("blocks", "must not be empty");
  } else {
    sp.blocks = bank_blocks;
  }
  sp.max_selectors = static_cast<int>(s.integer("max_selectors", 3, 0, static_cast<std::int64_t>(sp.blocks.size())));
  sp.min_selectors = static_cast<int>(s.integer("min_selectors", 0, 0, sp.max_selectors));
  std::vector<int> grid = {500, 600, 700, 800, 900};
  const Fail sfail = [&](const std::string& f, const std::string& w) { s.fail(f, w); };
  if (s.has("keep")) grid = keep_grid(s.raw("keep"), "keep", sfail);
  sp.keep.assign(static_cast<std::size_t>(sp.max_selectors), grid);
  if (s.has("keep_per_selector")) {
    const json& kp = s.raw("keep_per_selector");
    if (!kp.is_array() || kp.size() != static_cast<std::size_t>(sp.max_selectors))
      s.fail("keep_per_selector", "must be a list of max_selectors (" + std::to_string(sp.max_selectors) +
                                      ") keep grids, one per selector position");
    for (std::size_t i = 0; i < kp.size(); ++i)
      sp.keep[i] = keep_grid(kp[i], "keep_per_selector[" + std::to_string(i) + "]", sfail);
  }
  if (sp.blocks.empty() && sp.max_selectors > 0) s.fail("blocks", "the model has no selector blocks");

  if (r.has("hw")) {
    const json& hw = r.raw("hw");
    if (!hw.is_object()) r.fail("hw", "must be an object of hw-config paths to value lists");
    const Fail rfail = [&](const std::string& f, const std::string& w) { r.fail(f, w); };
    for (auto it = hw.begin(); it != hw.end(); ++it) {
      const std::string key = it.key();
      if (key.empty() || key.rfind("hw.", 0) == 0)
        r.fail("hw." + key, "name the hw-config path without the hw. prefix (as in --set hw.<path>)");
      Knob k;
      k.path = key;
      if (it->is_array()) {
        if (it->empty()) r.fail("hw." + key, "must not be empty");
        for (const auto& v : *it) {
          if (v.is_object() || v.is_array() || v.is_null())
            r.fail("hw." + key, "values must be numbers, strings or booleans");
          k.values.push_back(v);
        }
      } else {
        for (double v : number_list(*it, "hw." + key, rfail)) {
          if (std::abs(v - std::round(v)) < 1e-9 && std::abs(v) < 9e15)
            k.values.push_back(static_cast<std::int64_t>(std::llround(v)));
          else
            k.values.push_back(v);
        }
      }
      for (std::size_t i = 0; i < k.values.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
          if (k.values[i] == k.values[j]) r.fail("hw." + key, "values repeat");
      sp.knobs.push_back(std::move(k));
    }
  }

  if (r.has("constraints")) {
    ConfigReader& c = r.child("constraints");
    auto num = [&](const char* k, std::optional<double>& out) {
      if (c.has(k)) out = c.number(k, 0.0, 1e12);
    };
    auto integer = [&](const char* k, std::optional<std::int64_t>& out) {
      if (c.has(k)) out = c.integer(k, 0, std::int64_t(1) << 50);
    };
    num("max_accuracy_drop", sp.constraints.max_accuracy_drop);
    num("max_latency_ms_mean", sp.constraints.max_latency_ms_mean);
    num("max_latency_ms_p99", sp.constraints.max_latency_ms_p99);
    integer("max_dsp", sp.constraints.max_dsp);
    integer("max_bram36", sp.constraints.max_bram36);
    integer("max_lut", sp.constraints.max_lut);
    integer("max_ff", sp.constraints.max_ff);
  }

  if (r.has("objectives")) {
    const json& o = r.raw("objectives");
    if (!o.is_array() || o.empty()) r.fail("objectives", "must be a non-empty list of objective names");
    for (std::size_t i = 0; i < o.size(); ++i) {
      const auto& names = objective_names();
      const auto it = o[i].is_string() ? std::find(names.begin(), names.end(), o[i].get<std::string>()) : names.end();
      if (it == names.end()) {
        std::string all;
        for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
        r.fail("objectives[" + std::to_string(i) + "]", "unknown objective (one of " + all + ")");
      }
      const auto obj = static_cast<Objective>(it - names.begin());
      if (std::find(sp.objectives.begin(), sp.objectives.end(), obj) != sp.objectives.end())
        r.fail("objectives[" + std::to_string(i) + "]", "objective repeats");
      sp.objectives.push_back(obj);
    }
  } else {
    sp.objectives = {Objective::Accuracy, Objective::LatencyMean};
  }

  if (r.has("evaluation")) {
    ConfigReader& e = r.child("evaluation");
    EvalSettings& ev = sp.eval;
    ev.validation_images = static_cast<int>(e.integer("validation_images", ev.validation_images, 1, 30000));
    ev.test_images = static_cast<int>(e.integer("test_images", ev.test_images, 1, 10000));
    ev.systemc_images = static_cast<int>(e.integer("systemc_images", ev.systemc_images, 1, 10000));
    if (e.has("rungs")) {
      for (auto v : e.integer_list("rungs", 1, 30000)) ev.rungs.push_back(static_cast<int>(v));
      if (!std::is_sorted(ev.rungs.begin(), ev.rungs.end()) ||
          std::adjacent_find(ev.rungs.begin(), ev.rungs.end()) != ev.rungs.end())
        e.fail("rungs", "must be strictly ascending");
      if (ev.rungs.back() != ev.validation_images) e.fail("rungs", "the last rung must equal validation_images");
    }
    ev.halving_z = e.number("halving_z", ev.halving_z, 0.0, 100.0);
    ev.greedy_target = e.number("greedy_target", ev.greedy_target, 0.0, 1.0, true);
    if (e.has("accuracy_csv")) ev.accuracy_csv = resolve_relative(dir_of(path), e.string("accuracy_csv"));
  }
  if (sp.eval.rungs.empty()) {
    // Successive halving by default: an eighth, a quarter, half, all of the split.
    for (int d : {8, 4, 2})
      if (sp.eval.validation_images / d >= 50) sp.eval.rungs.push_back(sp.eval.validation_images / d);
    sp.eval.rungs.push_back(sp.eval.validation_images);
  }
  if (sp.eval.systemc_images > sp.eval.test_images) sp.eval.systemc_images = sp.eval.test_images;
  r.finish();
  // Every strategy enumerates the schedules (and indexes hw points): keep both bounded.
  if (sp.schedule_count() > kMaxSchedules)
    s.fail("max_selectors", "the space has more than " + std::to_string(kMaxSchedules) +
                                " schedules: fewer blocks, selectors or keep rates");
  if (sp.hw_count() > kMaxHwPoints)
    r.fail("hw", "the knobs make more than " + std::to_string(kMaxHwPoints) + " hw points");

  // The resolved space: every value, defaults included, in one canonical form.
  json keeps = json::array();
  for (const auto& g : sp.keep) {
    json a = json::array();
    for (int k : g) a.push_back(k / 1000.0);
    keeps.push_back(a);
  }
  json knobs = json::object();
  for (const auto& k : sp.knobs) knobs[k.path] = k.values;
  json objs = json::array();
  for (auto o : sp.objectives) objs.push_back(objective_name(o));
  json cons = json::object();
  const auto& c = sp.constraints;
  if (c.max_accuracy_drop) cons["max_accuracy_drop"] = *c.max_accuracy_drop;
  if (c.max_latency_ms_mean) cons["max_latency_ms_mean"] = *c.max_latency_ms_mean;
  if (c.max_latency_ms_p99) cons["max_latency_ms_p99"] = *c.max_latency_ms_p99;
  if (c.max_dsp) cons["max_dsp"] = *c.max_dsp;
  if (c.max_bram36) cons["max_bram36"] = *c.max_bram36;
  if (c.max_lut) cons["max_lut"] = *c.max_lut;
  if (c.max_ff) cons["max_ff"] = *c.max_ff;
  sp.resolved = {
      {"schedule", {{"blocks", sp.blocks}, {"max_selectors", sp.max_selectors}, {"min_selectors", sp.min_selectors},
                    {"keep_per_selector", keeps}}},
      {"hw", knobs},
      {"constraints", cons},
      {"objectives", objs},
      {"evaluation",
       {{"validation_images", sp.eval.validation_images}, {"test_images", sp.eval.test_images},
        {"systemc_images", sp.eval.systemc_images}, {"rungs", sp.eval.rungs}, {"halving_z", sp.eval.halving_z},
        {"greedy_target", sp.eval.greedy_target}, {"accuracy_csv", sp.eval.accuracy_csv}}}};
  return sp;
}

Space load_space(const std::string& path, const std::vector<int>& bank_blocks, int depth) {
  return parse_space(load_json_file(path), path, bank_blocks, depth);
}

std::string fnv1a_hex(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace heatvit::dse
