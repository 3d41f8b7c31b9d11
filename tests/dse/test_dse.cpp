// Unit tests of the DSE library: plain C++, no search unless a strategy is under test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/dse/evaluator.hpp"
#include "heatvit/dse/oracle.hpp"
#include "heatvit/dse/pareto.hpp"
#include "heatvit/dse/space.hpp"
#include "heatvit/dse/store.hpp"
#include "heatvit/dse/strategy.hpp"
#include "heatvit/func/evaluate.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/models/workload.hpp"

using namespace heatvit;
using namespace heatvit::dse;

namespace {

std::vector<int> bank10() { return {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; }

std::string field_of(const json& doc) {
  try {
    parse_space(doc, "s.json", bank10(), 12);
  } catch (const InputError& e) {
    return e.field();
  }
  return "<accepted>";
}

}  // namespace

TEST(Space, CountsTheIssueSpace) {
  // blocks 1-10, up to 3 selectors, keep {0.5..0.9}: 16,175 schedules + dense
  const Space sp = parse_space(json{{"schedule", json::object()}}, "s.json", bank10(), 12);
  EXPECT_EQ(sp.schedule_count(), 16176u);
  const auto all = sp.schedules();
  ASSERT_EQ(all.size(), 16176u);
  EXPECT_EQ(all[0].key(), "");
  EXPECT_EQ(all[1].key(), "1:0.5");
  EXPECT_EQ(all.back().key(), "8:0.9,9:0.9,10:0.9");
  EXPECT_EQ(sp.hw_count(), 1u);
  EXPECT_EQ(sp.objectives.size(), 2u);
}

TEST(Space, KnobsRangesAndPerSelectorGrids) {
  const json doc = {{"schedule", {{"blocks", {2, 5}}, {"max_selectors", 2}, {"keep_per_selector", {{0.7}, {0.5, 0.6}}}}},
                    {"hw", {{"accelerator.pe.to", {32, 64}}, {"frequency_mhz", {{"min", 200}, {"max", 300}, {"step", 50}}}}}};
  const Space sp = parse_space(doc, "s.json", bank10(), 12);
  // dense, 2 singles (keep 0.7), 1 pair x 2 keeps for the second selector
  EXPECT_EQ(sp.schedule_count(), 5u);
  EXPECT_EQ(sp.schedules()[3].key(), "2:0.7,5:0.5");
  EXPECT_EQ(sp.hw_count(), 6u);
  EXPECT_EQ(sp.hw_values(0), (std::vector<json>{32, 200}));
  EXPECT_EQ(sp.hw_values(5), (std::vector<json>{64, 300}));
}

TEST(Space, BadFieldsNameTheField) {
  EXPECT_EQ(field_of({{"schedule", {{"blocks", {0}}}}}), "schedule.blocks");
  EXPECT_EQ(field_of({{"schedule", {{"keep", {0.5, 1.2}}}}}), "schedule.keep");
  EXPECT_EQ(field_of({{"schedule", {{"keep", {0.5, 0.5}}}}}), "schedule.keep");
  EXPECT_EQ(field_of({{"schedule", {{"max_selectors", 11}}}}), "schedule.max_selectors");
  EXPECT_EQ(field_of({{"schedule", {{"kep", 1}}}}), "schedule.kep");
  EXPECT_EQ(field_of(json::object()), "schedule");
  EXPECT_EQ(field_of({{"schedule", json::object()}, {"objectives", {"accuracy", "accuracy"}}}), "objectives[1]");
  EXPECT_EQ(field_of({{"schedule", json::object()}, {"hw", {{"hw.frequency_mhz", {200}}}}}), "hw.hw.frequency_mhz");
  EXPECT_EQ(field_of({{"schedule", json::object()}, {"hw", {{"frequency_mhz", {{"min", 1}, {"max", 2}}}}}}),
            "hw.frequency_mhz.step");
  EXPECT_EQ(field_of({{"schedule", json::object()}, {"evaluation", {{"rungs", {100, 50}}}}}), "evaluation.rungs");
  EXPECT_EQ(field_of({{"schedule", json::object()}, {"constraints", {{"max_dsp", -1}}}}), "constraints.max_dsp");
  // bounded: 120 x 1000^3 schedules, 10^4 x 10^4 hw points
  EXPECT_EQ(field_of({{"schedule", {{"keep", {{"min", 0.001}, {"max", 1}, {"step", 0.001}}}}}}), "schedule.max_selectors");
  EXPECT_EQ(field_of({{"schedule", json::object()},
                      {"hw", {{"frequency_mhz", {{"min", 1}, {"max", 10000}, {"step", 1}}},
                              {"axi.latency_cycles", {{"min", 1}, {"max", 10000}, {"step", 1}}}}}}),
            "hw");
}

TEST(Space, ScheduleKeysRoundTrip) {
  const SchedulePoint p = parse_schedule_key("2:0.7,5:0.6,7:0.6", "x");
  EXPECT_EQ(p.key(), "2:0.7,5:0.6,7:0.6");
  EXPECT_EQ(p.selectors[1], (std::pair<int, int>{5, 600}));
  EXPECT_THROW(parse_schedule_key("5:0.6,2:0.7", "x"), InputError);
  EXPECT_THROW(parse_schedule_key("2:1.5", "x"), InputError);
  EXPECT_THROW(parse_schedule_key("2-0.5", "x"), InputError);
}

TEST(Pareto, DominanceAndFront) {
  EXPECT_TRUE(dominates({1, 1}, {1, 2}));
  EXPECT_FALSE(dominates({1, 2}, {1, 2}));
  EXPECT_FALSE(dominates({0, 3}, {1, 2}));
  const std::vector<std::vector<double>> pts = {{3, 1}, {1, 3}, {2, 2}, {2, 3}, {4, 4}, {1, 3}};
  EXPECT_EQ(nondominated(pts), (std::vector<std::size_t>{0, 1, 2, 5}));
}

TEST(Pareto, HypervolumeHandComputed) {
  // staircase (1,3), (2,2), (3,1) under reference (4,4): 1x1 + 1x2 + 1x3 = 6
  EXPECT_DOUBLE_EQ(hypervolume({{1, 3}, {2, 2}, {3, 1}}, {4, 4}), 6.0);
  // a dominated point and one outside the reference add nothing
  EXPECT_DOUBLE_EQ(hypervolume({{1, 3}, {2, 2}, {3, 1}, {3, 3}, {5, 0}}, {4, 4}), 6.0);
  // 3 objectives: one box 2x2x2
  EXPECT_DOUBLE_EQ(hypervolume({{0, 0, 0}}, {2, 2, 2}), 8.0);
  EXPECT_DOUBLE_EQ(hypervolume({}, {1, 1}), 0.0);
}

TEST(Pareto, NearestToIdeal) {
  EXPECT_EQ(nearest_to_ideal({{0, 10}, {4, 4}, {10, 0}}), 1u);
  EXPECT_EQ(nearest_to_ideal({{0, 10}, {10, 0}}), 0u);
}

TEST(MacTable, EqualsTheWorkloadModel) {
  const ModelShape m = load_model("deit-small");
  const MacTable t(m);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<int> tokens;
    std::vector<int> blocks;
    int n = m.dense_tokens();
    bool pkg = false;
    for (int b = 0; b < m.depth; ++b) {
      if (b > 0 && rng() % 4 == 0) {
        const int patches = patch_tokens_of(n, pkg);
        const int kept = 1 + static_cast<int>(rng() % static_cast<unsigned>(patches));
        blocks.push_back(b);
        pkg = pkg || kept < patches;
        n = 1 + kept + (pkg ? 1 : 0);
      }
      tokens.push_back(n);
    }
    const auto has = [&](int b) { return std::find(blocks.begin(), blocks.end(), b) != blocks.end(); };
    EXPECT_EQ(t.macs_of(tokens.data(), has), build_workload(m, tokens, blocks).total_macs());
  }
}

TEST(Distribution, NearestRank) {
  const Distribution d = distribution_of({5, 1, 4, 2, 3});
  EXPECT_DOUBLE_EQ(d.mean, 3);
  EXPECT_DOUBLE_EQ(d.p50, 3);
  EXPECT_DOUBLE_EQ(d.p99, 5);
  EXPECT_DOUBLE_EQ(d.min, 1);
}

// The prefix-sharing oracle gives exactly what heatvit eval gives, schedule by schedule.
TEST(MicroOracle, BitExactWithTheFunctionalModel) {
  const std::string weights = project_root() + "/models/deit-micro/export/deit-micro-int8.hvt";
  const std::string data = default_fashion_mnist_dir();
  if (!std::filesystem::exists(weights) || !std::filesystem::exists(data)) GTEST_SKIP() << "no export or dataset";
  const ModelShape shape = load_model("deit-micro");
  const func::FuncModel fm = func::FuncModel::load(weights, shape);
  MicroOracle oracle(fm, data, 1000, 2);
  // dense, a schedule and one of its prefixes (shared trie path), one sharing nothing
  const std::vector<SchedulePoint> scheds = {parse_schedule_key("", "t"), parse_schedule_key("2:0.7,5:0.6,7:0.6", "t"),
                                             parse_schedule_key("2:0.7,5:0.6", "t"),
                                             parse_schedule_key("3:0.5,6:0.9,9:0.7", "t")};
  constexpr int kImages = 32;
  const auto outs = oracle.run(scheds, Split::Test, kImages);
  const ImageSet test = load_fashion_mnist(data, "t10k", 28, 28, 10);
  const ImageSet train = load_fashion_mnist(data, "train", 28, 28, 10);
  for (std::size_t s = 0; s < scheds.size(); ++s) {
    const Schedule sch = scheds[s].to_schedule();
    const auto th = func::calibrate_sequential(fm, sch, "t", train, 2);
    ASSERT_EQ(th.size(), outs[s]->thresholds.size());
    for (std::size_t j = 0; j < th.size(); ++j) EXPECT_EQ(th[j].threshold, outs[s]->thresholds[j]) << scheds[s].key();
    const func::EvalResult r = func::evaluate(fm, th, test, kImages, 2);
    for (int i = 0; i < kImages; ++i) {
      const auto ii = static_cast<std::size_t>(i);
      EXPECT_EQ(outs[s]->correct[ii], r.predictions[ii] == r.labels[ii] ? 1 : 0) << scheds[s].key() << " image " << i;
      for (int b = 0; b < 12; ++b)
        EXPECT_EQ(outs[s]->tokens[ii * 12 + static_cast<std::size_t>(b)], r.tokens_per_block[ii][static_cast<std::size_t>(b)]);
    }
  }
  // Extending to more images keeps the first ones and adds the rest.
  const auto more = oracle.run({scheds[1]}, Split::Test, kImages + 16);
  EXPECT_GE(more[0]->images, kImages + 16);
  // Calibration (unlabelled: score quantiles only) may share images with the
  // validation split; the overlap is counted and reported, not hidden.
  int overlap = 0;
  for (int i : fm.calibration_indices()) overlap += i >= train.count - 1000;
  EXPECT_EQ(oracle.calibration_overlap(), overlap);
}

// ---- strategies on a toy search with a known front ----
namespace {

/// Accuracy falls and latency falls with every selector and lower keep: the toy front
/// is known in closed form.
class ToySearch : public Search {
 public:
  explicit ToySearch(const Space& sp) : sp_(sp), sched_(sp.schedules()) {
    for (std::size_t i = 0; i < sched_.size(); ++i) idx_[sched_[i].key()] = static_cast<std::int64_t>(i);
  }
  const Space& space() const override { return sp_; }
  const std::vector<SchedulePoint>& schedules() const override { return sched_; }
  std::int64_t schedule_index(const std::string& k) const override {
    auto it = idx_.find(k);
    return it == idx_.end() ? -1 : it->second;
  }
  std::int64_t hw_count() const override { return static_cast<std::int64_t>(sp_.hw_count()); }
  bool hw_fits(std::int64_t) override { return true; }
  Metrics metric(const Candidate& c) const {
    Metrics m;
    m.cand = c;
    m.schedule = sched_[static_cast<std::size_t>(c.schedule)].key();
    double keep = 1, acc = 0.9;
    for (const auto& [b, k] : sched_[static_cast<std::size_t>(c.schedule)].selectors) {
      keep *= k / 1000.0;
      acc -= (1 - k / 1000.0) * 0.05 / b;  // early pruning hurts more
    }
    m.has_accuracy = true;
    m.accuracy = acc;
    m.images = 100;
    m.latency_ms.mean = m.latency_ms.p99 = (0.2 + 0.8 * keep) / (1 + c.hw);
    return m;
  }
  std::vector<Metrics> evaluate(const std::vector<Candidate>& b) override {
    std::vector<Metrics> out;
    for (const auto& c : b) {
      seen_.insert(c);
      out.push_back(metric(c));
    }
    return out;
  }
  std::vector<Metrics> evaluate_halving(const std::vector<Candidate>& b) override { return evaluate(b); }
  std::vector<double> fitness(const Metrics& m) const override { return {-m.accuracy, m.latency_ms.mean}; }
  std::int64_t evaluated() const override { return static_cast<std::int64_t>(seen_.size()); }
  std::uint64_t seed() const override { return 5; }
  std::int64_t budget() const override { return budget_; }
  void note(const std::string& k, json v) override { notes[k] = v; }
  double hv_of_seen() const {
    std::vector<std::vector<double>> f;
    for (const auto& c : seen_) f.push_back(fitness(metric(c)));
    return hypervolume(f, {0.0, 1.1});
  }
  std::int64_t budget_ = 0;
  json notes;

 private:
  const Space& sp_;
  std::vector<SchedulePoint> sched_;
  std::map<std::string, std::int64_t> idx_;
  std::set<Candidate> seen_;
};

}  // namespace

TEST(Strategies, ExhaustiveRandomNsga2Greedy) {
  const Space sp = parse_space({{"schedule", {{"max_selectors", 3}}}, {"hw", {{"frequency_mhz", {200, 300}}}}},
                               "toy.json", bank10(), 12);
  ToySearch ex(sp);
  make_strategy("exhaustive")->run(ex);
  EXPECT_EQ(ex.evaluated(), 16176 * 2);
  const double hv_all = ex.hv_of_seen();

  ToySearch rnd(sp);
  rnd.budget_ = 500;
  make_strategy("random")->run(rnd);
  EXPECT_EQ(rnd.evaluated(), 500);

  ToySearch ga(sp);
  ga.budget_ = 3000;  // under 10 % of the space
  make_strategy("nsga2")->run(ga);
  EXPECT_LE(ga.evaluated(), 3300);
  EXPECT_GE(ga.hv_of_seen(), 0.95 * hv_all) << "nsga2 " << ga.hv_of_seen() << " vs exhaustive " << hv_all;
  EXPECT_GT(ga.hv_of_seen(), rnd.hv_of_seen());

  ToySearch gr(sp);
  make_strategy("greedy")->run(gr);
  ASSERT_TRUE(gr.notes.contains("greedy"));
  EXPECT_EQ(gr.notes["greedy"].size(), 2u);
  EXPECT_FALSE(gr.notes["greedy"][0]["answer"].get<std::string>().empty());
  EXPECT_THROW(make_strategy("anneal"), InputError);
}

TEST(Store, ResumesAndRefusesAnotherSpace) {
  const std::string path = ::testing::TempDir() + "/dse-store-test.sqlite";
  std::filesystem::remove(path);
  Metrics m;
  m.cand = {3, 1};
  m.schedule = "2:0.5";
  m.images = 64;
  m.has_accuracy = true;
  m.accuracy = 0.75;
  m.correct = 48;
  m.correct_bits = {0xff, 0x0f};
  m.latency_ms = {1.5, 1.25, 2.0, 1.0, 2.5};
  m.res = {10, 20, 30, 40};
  {
    Store s(path, "aaaa", json{{"x", 1}});
    EXPECT_EQ(s.resumed(), 0u);
    s.put({m});
    s.put_extra("k", json{{"v", 2}});
  }
  Store s(path, "aaaa", json{{"x", 1}});
  EXPECT_EQ(s.resumed(), 1u);
  const Metrics* r = s.find({3, 1}, Split::Validation, 64);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(metrics_to_json(*r), metrics_to_json(m));
  EXPECT_EQ(r->correct_bits, m.correct_bits);
  EXPECT_EQ(s.find({3, 1}, Split::Validation, 32), nullptr);
  json v;
  EXPECT_TRUE(s.get_extra("k", v));
  EXPECT_EQ(v["v"], 2);
  try {
    Store other(path, "bbbb", json{{"x", 2}});
    FAIL() << "another space accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("another space"), std::string::npos);
  }
}
