#include "heatvit/dse/farm.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "heatvit/dse/run.hpp"
#include "heatvit/func/parallel.hpp"

namespace heatvit::dse {

void FarmBatch::add_group(const std::vector<Candidate>& g) {
  cands.insert(cands.end(), g.begin(), g.end());
  group_begin.push_back(cands.size());
}

std::vector<Candidate> FarmBatch::candidates_of(const std::vector<std::size_t>& groups) const {
  std::vector<Candidate> c;
  for (std::size_t g : groups)
    c.insert(c.end(), cands.begin() + static_cast<std::ptrdiff_t>(group_begin[g]),
             cands.begin() + static_cast<std::ptrdiff_t>(group_begin[g + 1]));
  return c;
}

void LocalFarm::run(const FarmBatch& batch, const UnitDone& done) {
  const std::size_t G = batch.groups();
  for (std::size_t first = 0; first < G;) {
    if (g_interrupted) throw Interrupted();
    const std::size_t end = std::min(G, first + std::max<std::size_t>(chunk_, 1));
    std::vector<std::size_t> groups;
    for (std::size_t g = first; g < end; ++g) groups.push_back(g);
    done(groups, eval_(batch.candidates_of(groups), batch.split, batch.images));
    first = end;
  }
}

void LocalFarm::simulate(const SimBatch& batch, const SimDone& done, const SimTick& tick) {
  const std::size_t n = batch.cands.size();
  if (n == 0) return;
  if (!sim_) throw std::logic_error("LocalFarm: no SystemC runner");
  std::vector<std::function<json()>> work;
  for (const Candidate& c : batch.cands) {
    if (g_interrupted) throw Interrupted();
    work.push_back(sim_(c, batch.images));
  }
  std::vector<json> res(n);
  std::vector<char> finished(n, 0);
  std::exception_ptr failed;
  try {
    func::parallel_for(
        static_cast<int>(n), sim_threads_,  // <= 0: every core
        [&](int i, int) {
          if (g_interrupted) throw Interrupted();
          res[static_cast<std::size_t>(i)] = work[static_cast<std::size_t>(i)]();
          finished[static_cast<std::size_t>(i)] = 1;
          if (tick) tick();
        },
        1);
  } catch (...) {
    failed = std::current_exception();  // what finished is reported first
  }
  for (std::size_t i = 0; i < n; ++i)
    if (finished[i]) done(i, std::move(res[i]));
  if (failed) std::rethrow_exception(failed);
  if (g_interrupted) throw Interrupted();
}

std::size_t UnitSizer::groups(std::size_t remaining_groups, std::size_t batch_groups, double cands_per_group,
                              int ranks) const {
  if (remaining_groups == 0) return 0;
  const double r = std::max(ranks, 1);
  const double cpg = std::max(cands_per_group, 1.0);
  const double guided = std::floor(static_cast<double>(remaining_groups) / (2.0 * r));
  const double floor_g = std::floor(static_cast<double>(batch_groups) / (8.0 * r));
  const double by_size = std::floor(static_cast<double>(max_cands_) / cpg);
  // Until a unit has come back the cost is unknown: the floor alone (a small share).
  const double by_time =
      per_cand_ > 0 ? std::floor(target_s_ / std::max(per_cand_ * cpg, 1e-12)) : std::max(floor_g, 1.0);
  const double g = std::min({std::max(guided, floor_g), by_time, by_size});
  return static_cast<std::size_t>(std::clamp(g, 1.0, static_cast<double>(remaining_groups)));
}

void UnitSizer::observe(std::size_t cands, double seconds) {
  if (cands == 0 || !(seconds >= 0)) return;
  const double x = seconds / static_cast<double>(cands);
  per_cand_ = per_cand_ <= 0 ? x : 0.7 * per_cand_ + 0.3 * x;  // follows changes (rungs, cheap schedules)
}

std::string bits_to_hex(const std::vector<std::uint8_t>& bits) {
  static const char* d = "0123456789abcdef";
  std::string s(bits.size() * 2, '0');
  for (std::size_t i = 0; i < bits.size(); ++i) {
    s[2 * i] = d[bits[i] >> 4];
    s[2 * i + 1] = d[bits[i] & 15];
  }
  return s;
}

std::vector<std::uint8_t> bits_from_hex(const std::string& hex) {
  if (hex.size() % 2) throw std::runtime_error("correct_bits: odd length");
  auto nib = [](char c) -> unsigned {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
    throw std::runtime_error("correct_bits: not hexadecimal");
  };
  std::vector<std::uint8_t> b(hex.size() / 2);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(nib(hex[2 * i]) << 4 | nib(hex[2 * i + 1]));
  return b;
}

std::string encode_unit(std::int64_t id, Split split, int images, const std::vector<Candidate>& cands,
                        std::int64_t added_base, const std::vector<std::string>& added) {
  json c = json::array();
  for (const Candidate& x : cands) {
    c.push_back(x.schedule);
    c.push_back(x.hw);
  }
  json u = {{"u", id}, {"s", split == Split::Test ? 1 : 0}, {"n", images}, {"c", c}};
  if (!added.empty()) u["x"] = {{"base", added_base}, {"keys", added}};
  return u.dump();
}

WireUnit decode_unit(const std::string& text) {
  const json j = json::parse(text);
  WireUnit u;
  u.id = int_of(j.at("u"), "unit id");
  u.split = int_of(j.at("s"), "unit split") == 1 ? Split::Test : Split::Validation;
  const std::int64_t n = int_of(j.at("n"), "unit images");
  if (n < 1 || n > (1 << 30)) throw std::runtime_error("unit: images out of range");
  u.images = static_cast<int>(n);
  const json& c = j.at("c");
  if (!c.is_array() || c.size() % 2) throw std::runtime_error("unit: not a list of (schedule, hw) pairs");
  for (std::size_t i = 0; i < c.size(); i += 2) u.cands.push_back({int_of(c[i], "schedule"), int_of(c[i + 1], "hw")});
  if (j.contains("x")) {
    const json& x = j.at("x");
    u.added_base = int_of(x.at("base"), "added schedules' base");
    if (u.added_base < 0) throw std::runtime_error("unit: added schedules' base is negative");
    const json& keys = x.at("keys");
    if (!keys.is_array()) throw std::runtime_error("unit: added schedules not a list");
    for (const json& k : keys) {
      if (!k.is_string()) throw std::runtime_error("unit: an added schedule is not a key");
      u.added.push_back(k.get<std::string>());
    }
    if (u.added.empty()) u.added_base = 0;  // as encoded: nothing added
  }
  return u;
}

std::string encode_result(const WireResult& r) {
  json m = json::array(), b = json::array();
  for (const Metrics& x : r.metrics) {
    m.push_back(metrics_to_json(x));
    b.push_back(bits_to_hex(x.correct_bits));
  }
  return json{{"u", r.id}, {"t", r.seconds}, {"r", r.image_runs}, {"st", r.state}, {"m", m}, {"b", b}}.dump();
}

WireResult decode_result(const std::string& text) {
  const json j = json::parse(text);
  WireResult r;
  r.id = int_of(j.at("u"), "unit id");
  if (!j.at("t").is_number()) throw std::runtime_error("result: seconds not a number");
  r.seconds = j.at("t").get<double>();
  r.image_runs = int_of(j.at("r"), "image runs");
  r.state = j.at("st");
  const json& m = j.at("m");
  const json& b = j.at("b");
  if (!m.is_array() || !b.is_array() || m.size() != b.size()) throw std::runtime_error("result: metrics and correctness bits differ in count");
  for (std::size_t i = 0; i < m.size(); ++i) {
    r.metrics.push_back(metrics_from_json(m[i]));
    Metrics& x = r.metrics.back();
    x.correct_bits = bits_from_hex(b[i].get<std::string>());
    if (x.images < 0 || (!x.correct_bits.empty() && x.correct_bits.size() != (static_cast<std::size_t>(x.images) + 7) / 8))
      throw std::runtime_error("result: " + std::to_string(x.correct_bits.size()) + " bytes of correctness bits for " +
                               std::to_string(x.images) + " images");
  }
  return r;
}

std::string encode_sim_result(std::int64_t id, const json& result, std::int64_t image_runs) {
  return json{{"u", id}, {"r", image_runs}, {"sc", result}}.dump();
}

namespace {
void need_number(const json& o, const char* key, const char* where) {
  if (!o.is_object() || !o.contains(key) || !o.at(key).is_number())
    throw std::runtime_error(std::string("SystemC result: ") + where + "." + key + " is not a number");
}
void need_distribution(const json& sc, const char* key) {
  if (!sc.contains(key) || !sc.at(key).is_object())
    throw std::runtime_error(std::string("SystemC result: ") + key + " is not an object");
  for (const char* f : {"mean", "p50", "p99"}) need_number(sc.at(key), f, key);
}
}  // namespace

SimWireResult decode_sim_result(const std::string& text) {
  const json j = json::parse(text);
  if (!j.is_object()) throw std::runtime_error("SystemC result: not an object");
  SimWireResult r;
  r.id = int_of(j.at("u"), "unit id");
  r.image_runs = int_of(j.at("r"), "image runs");
  r.result = j.at("sc");
  // What rank 0 reads of it (run.cpp), checked here: a malformed result is an error.
  const json& sc = r.result;
  if (!sc.is_object()) throw std::runtime_error("SystemC result: not an object");
  const std::int64_t images = sc.contains("images") ? int_of(sc.at("images"), "SystemC images") : 0;
  if (images < 1) throw std::runtime_error("SystemC result: images must be a positive integer");
  need_distribution(sc, "latency_ms");
  need_distribution(sc, "analytic_same_images");
  need_number(sc, "disagreement", "result");
  return r;
}

}  // namespace heatvit::dse
