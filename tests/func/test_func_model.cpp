// The functional model: loading and validation of exported weights, schedule ->
// threshold mapping, per-image invariants, thread-count independence, and (when the
// trained export is present) bit-exactness on reference-outputs.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <bitset>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/func/evaluate.hpp"
#include "heatvit/func/func_model.hpp"
#include "synth.hpp"

using namespace heatvit;
using heatvit::func::FuncModel;
using heatvit::testing::make_synth_model;
using heatvit::testing::temp_dir;

namespace {

ModelShape micro() { return load_model("deit-micro"); }

Schedule sched(std::vector<std::pair<int, double>> pts) {
  Schedule s;
  s.name = "test-schedule.json";
  for (auto [b, k] : pts) s.selectors.push_back({b, k});
  return s;
}

class FuncModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = temp_dir("model");
    path = dir + "/m.hvt";
    make_synth_model().write(path);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  /// The InputError message of loading a modified synthetic model.
  std::string load_error(const std::function<void(heatvit::testing::SynthModel&)>& edit, std::size_t cut = 0) {
    auto m = make_synth_model();
    edit(m);
    std::string bytes = m.encode();
    bytes.resize(bytes.size() - cut);
    const std::string p = dir + "/bad.hvt";
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    try {
      FuncModel::load(p, micro());
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }

  std::string dir, path;
};

}  // namespace

TEST_F(FuncModelTest, LoadsBankAndResolvesThresholds) {
  const FuncModel m = FuncModel::load(path, micro());
  EXPECT_EQ(m.selector_blocks(), (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  auto th = m.resolve(sched({{6, 0.7}, {3, 0.7}}), "s.json");
  ASSERT_EQ(th.size(), 2u);
  EXPECT_EQ(th[0].block, 3);
  EXPECT_EQ(th[0].cum_keep_milli, 700);
  EXPECT_EQ(th[0].table_index, 13);  // round(0.7 * 20) - 1
  EXPECT_EQ(th[0].threshold, 300 - 30 * 13);
  EXPECT_EQ(th[1].cum_keep_milli, 490);
  EXPECT_EQ(th[1].table_index, 9);
  EXPECT_EQ(m.resolve(sched({{1, 1.0}}), "s")[0].threshold, INT32_MIN);
  // Python's round() rounds half to even: 333.5 -> 334, 666.5 -> 666, 0.5 -> 0
  EXPECT_EQ(m.resolve(sched({{1, 0.3335}}), "s")[0].cum_keep_milli, 334);
  EXPECT_EQ(m.resolve(sched({{1, 0.6665}}), "s")[0].cum_keep_milli, 666);
  EXPECT_EQ(m.resolve(sched({{1, 0.0005}}), "s")[0].cum_keep_milli, 0);
  EXPECT_EQ(m.resolve(sched({{1, 0.0005}}), "s")[0].table_index, 0);
}

TEST_F(FuncModelTest, ScheduleBlockWithoutSelectorIsInputError) {
  const FuncModel m = FuncModel::load(path, micro());
  try {
    m.resolve(sched({{3, 0.5}, {11, 0.5}}), "my-schedule.json");
    FAIL();
  } catch (const InputError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("my-schedule.json"), std::string::npos) << w;
    EXPECT_NE(w.find("selectors[1].block"), std::string::npos) << w;
    EXPECT_NE(w.find("no selector before block 11"), std::string::npos) << w;
  }
}

TEST_F(FuncModelTest, RejectsWeightsThatDoNotMatch) {
  EXPECT_EQ(load_error([](auto&) {}), "");
  EXPECT_NE(load_error([](auto& m) { m.erase("b3.fc1.w"); }).find("tensors.b3.fc1.w"), std::string::npos);
  EXPECT_NE(load_error([](auto& m) { m.find("b3.fc1.w")->shape = {128, 128}; }).find("tensors.b3.fc1.w.shape"),
            std::string::npos);
  EXPECT_NE(load_error([](auto& m) { m.find("pos")->dtype = HvtDtype::Int32; }).find("tensors.pos.dtype"),
            std::string::npos);
  EXPECT_NE(load_error([](auto& m) { m.meta["shape"]["dim"] = 32; }).find("meta.shape.dim"), std::string::npos);
  EXPECT_NE(load_error([](auto& m) { m.meta["consts"]["F_H"] = 11; }).find("meta.consts.F_H"), std::string::npos);
  EXPECT_NE(load_error([](auto& m) { m.meta["gemm"]["b0.q"]["out_bits"] = 16; }).find("meta.gemm.b0.q.out_bits"),
            std::string::npos);
  EXPECT_NE(load_error([](auto& m) { m.meta["gemm"]["b0.q"]["fo"] = 90; }).find("meta.gemm.b0.q"),
            std::string::npos);
  EXPECT_NE(load_error([](auto& m) { m.meta["fracs"].erase("b5.ao"); }).find("meta.fracs.b5.ao"), std::string::npos);
  EXPECT_NE(load_error([](auto& m) { m.erase("s7.thr"); }).find("tensors.s7.thr"), std::string::npos);
  EXPECT_NE(load_error([](auto& m) { m.meta["candidate_blocks"] = {1, 12}; }).find("meta.candidate_blocks"),
            std::string::npos);
  EXPECT_NE(load_error([](auto&) {}, 1000).find("truncated file"), std::string::npos);
  EXPECT_NE(load_error([](auto&) {}, 1000).find("bad.hvt"), std::string::npos);
}

TEST_F(FuncModelTest, RejectsOtherModelShapes) {
  ModelShape s = micro();
  s.depth = 6;
  EXPECT_THROW(FuncModel::load(path, s), InputError);
  EXPECT_THROW(FuncModel::load(path, load_model("deit-tiny")), InputError);
  write_hvt(dir + "/masks.hvt", "token-masks", json::object(), {});
  try {
    FuncModel::load(dir + "/masks.hvt", micro());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("expected 'deit-micro-int8'"), std::string::npos);
  }
}

TEST_F(FuncModelTest, InvariantsAndThreadIndependence) {
  const FuncModel m = FuncModel::load(path, micro());
  heatvit::testing::write_fake_fmnist(dir + "/data", 24);
  const ImageSet data = load_fashion_mnist(dir + "/data", "t10k");
  const auto s = sched({{2, 0.8}, {5, 0.5}, {9, 0.3}});
  const auto a = func::evaluate(m, s, data, 0, 1);
  const auto b = func::evaluate(m, s, data, 0, 3);
  EXPECT_EQ(a.images, 24);
  EXPECT_EQ(a.logits, b.logits);
  EXPECT_EQ(a.tokens_per_block, b.tokens_per_block);
  EXPECT_EQ(a.kept_masks, b.kept_masks);
  EXPECT_EQ(a.scores, b.scores);
  bool pruned_some = false;
  for (int i = 0; i < a.images; ++i) {
    const auto& t = a.tokens_per_block[static_cast<std::size_t>(i)];
    for (int blk = 1; blk < 12; ++blk) EXPECT_LE(t[static_cast<std::size_t>(blk)], t[static_cast<std::size_t>(blk - 1)]);
    EXPECT_EQ(t[0], 50);
    std::uint64_t prev = (std::uint64_t(1) << 49) - 1;
    for (std::size_t si = 0; si < 3; ++si) {
      const std::uint64_t mask = a.kept_masks[static_cast<std::size_t>(i)][si];
      EXPECT_EQ(mask & ~prev, 0u) << "keep masks must be progressive";
      EXPECT_EQ(a.reached[static_cast<std::size_t>(i)][si], static_cast<int>(std::bitset<64>(prev).count()));
      const int kept = static_cast<int>(std::bitset<64>(mask).count());
      const bool package = kept < 49;
      EXPECT_EQ(t[static_cast<std::size_t>(a.selectors[si].block)], 1 + kept + (package ? 1 : 0));
      pruned_some = pruned_some || kept < a.reached[static_cast<std::size_t>(i)][si];
      for (int p = 0; p < 49; ++p)
        if (!((prev >> p) & 1u)) {
          EXPECT_EQ(a.scores[static_cast<std::size_t>(i)][si * 49 + static_cast<std::size_t>(p)], INT32_MIN);
        }
      prev = mask;
    }
    EXPECT_GE(a.predictions[static_cast<std::size_t>(i)], 0);
    EXPECT_LT(a.predictions[static_cast<std::size_t>(i)], 10);
  }
  EXPECT_TRUE(pruned_some);
  EXPECT_LT(a.macs_mean(), func::evaluate(m, sched({}), data, 4, 2).macs_mean());
  EXPECT_EQ(func::evaluate(m, s, data, 5, 2).images, 5);
}

TEST(QuantileThreshold, MatchesTheExportRule) {
  using func::quantile_threshold;
  const std::vector<std::int32_t> s = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(quantile_threshold(s, 700), 3);  // keeps the 7 scores above 3
  EXPECT_EQ(quantile_threshold(s, 1000), INT32_MIN);
  EXPECT_EQ(quantile_threshold(s, 0), 10);   // keeps none
  EXPECT_EQ(quantile_threshold(s, 349), 7);  // round(10 * 0.349) = 3 kept
  // ties: whichever of "drop the tied group" / "keep it" is closer; the smaller on a draw
  const std::vector<std::int32_t> t = {1, 1, 1, 5, 5, 5, 5, 9, 9, 9};
  EXPECT_EQ(quantile_threshold(t, 500), 5);  // 3 or 7 kept for 5 asked: draw -> 3
  EXPECT_EQ(quantile_threshold(t, 600), 4);  // 7 is closer to 6 than 3
  EXPECT_EQ(quantile_threshold(t, 300), 5);
}

TEST_F(FuncModelTest, SequentialCalibration) {
  const FuncModel m = FuncModel::load(path, micro());
  ASSERT_EQ(m.calibration_indices().size(), 16u);
  heatvit::testing::write_fake_fmnist(dir + "/data", 4);
  const ImageSet train = load_fashion_mnist(dir + "/data", "train");
  const auto s = sched({{9, 0.5}, {2, 0.8}, {5, 0.5}});
  const auto th = func::calibrate_sequential(m, s, "s.json", train, 2);
  ASSERT_EQ(th.size(), 3u);
  EXPECT_EQ(th[0].block, 2);
  EXPECT_EQ(th[2].block, 9);
  EXPECT_EQ(th[1].table_index, -1);
  const auto th1 = func::calibrate_sequential(m, s, "s.json", train, 1);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(th[i].threshold, th1[i].threshold) << "thread count";

  // the calibration images themselves
  ImageSet cal = train;
  cal.count = 16;
  cal.pixels.clear();
  cal.labels.clear();
  for (int i : m.calibration_indices()) {
    cal.pixels.insert(cal.pixels.end(), train.image(i), train.image(i) + 784);
    cal.labels.push_back(train.labels[static_cast<std::size_t>(i)]);
  }
  // selector 0: the quantile of the dense-pass scores of all patches
  {
    const std::vector<func::SelectorThreshold> keep_all = {{2, 1.0, 1000, 19, INT32_MIN}};
    const auto probe = func::evaluate(m, keep_all, cal, 0, 1);
    std::vector<std::int32_t> all;
    for (const auto& v : probe.scores) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(th[0].threshold, func::quantile_threshold(all, 800));
  }
  // Each threshold is the quantile rule applied to the scores of the tokens that reach
  // the selector when the whole calibrated schedule runs (an independent pass: earlier
  // selectors at their final thresholds, this one pruning too). The synthetic scores tie
  // in large groups, so the achieved keep is only near the target where ties allow.
  const auto r = func::evaluate(m, th, cal, 0, 2);
  for (int si = 0; si < 3; ++si) {
    std::vector<std::int32_t> live;
    int reached = 0, kept = 0;
    for (int i = 0; i < r.images; ++i) {
      const auto ii = static_cast<std::size_t>(i);
      reached += r.reached[ii][static_cast<std::size_t>(si)];
      kept += static_cast<int>(r.kept_patches(i, si).size());
      for (int p = 0; p < 49; ++p) {
        const auto v = r.scores[ii][static_cast<std::size_t>(si) * 49 + static_cast<std::size_t>(p)];
        if (v != INT32_MIN) live.push_back(v);
      }
    }
    ASSERT_EQ(static_cast<int>(live.size()), reached);
    std::sort(live.begin(), live.end());
    const double keep = si == 0 ? 0.8 : 0.5;
    EXPECT_EQ(th[static_cast<std::size_t>(si)].threshold,
              func::quantile_threshold(live, static_cast<int>(keep * 1000)))
        << "selector " << si;
    EXPECT_GT(kept, 0);
    EXPECT_LT(kept, reached);
  }
  EXPECT_NEAR(r.achieved_keep(0), 0.8, 0.03);  // selector 0 has no large ties

  // errors: too few training images for calib.index, an export without calib.index
  heatvit::testing::write_fake_fmnist(dir + "/small", 4, 5, 20);
  try {
    func::calibrate_sequential(m, s, "s.json", load_fashion_mnist(dir + "/small", "train"), 1);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("calib.index"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("outside the training split"), std::string::npos) << e.what();
  }
  auto nocal = heatvit::testing::make_synth_model();
  nocal.tensors.erase(std::remove_if(nocal.tensors.begin(), nocal.tensors.end(),
                                     [](const auto& t) { return t.first == "calib.index"; }),
                      nocal.tensors.end());
  nocal.write(dir + "/nocal.hvt");
  const FuncModel mn = FuncModel::load(dir + "/nocal.hvt", micro());
  EXPECT_TRUE(mn.calibration_indices().empty());
  try {
    func::calibrate_sequential(mn, s, "s.json", train, 1);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("nocal.hvt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("calib.index"), std::string::npos) << e.what();
  }
  EXPECT_EQ(func::calibrate_sequential(mn, sched({}), "s.json", train, 1).size(), 0u);
  // a bad calib.index tensor is rejected at load
  EXPECT_NE(load_error([](auto& sm) {
              for (auto& t : sm.tensors)
                if (t.first == "calib.index") t.second.values[3] = -4;
            }).find("tensors.calib.index"),
            std::string::npos);
}

TEST_F(FuncModelTest, ThresholdCacheRemembersAndChecksItsEntries) {
  using func::Calibration;
  const FuncModel m = FuncModel::load(path, micro());
  heatvit::testing::write_fake_fmnist(dir + "/data", 4);
  const std::string data = dir + "/data", cache = dir + "/cache";
  const auto s = sched({{9, 0.5}, {2, 0.8}, {5, 0.5}});
  const auto plain = func::schedule_thresholds(m, s, "s.json", Calibration::Sequential, data, 1);
  ASSERT_EQ(plain.size(), 3u);
  auto expect_same = [&](const std::vector<func::SelectorThreshold>& a, int shift, const char* what) {
    ASSERT_EQ(a.size(), plain.size()) << what;
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].block, plain[i].block) << what;
      EXPECT_EQ(a[i].keep, plain[i].keep) << what;
      EXPECT_EQ(a[i].cum_keep_milli, plain[i].cum_keep_milli) << what;
      EXPECT_EQ(a[i].table_index, plain[i].table_index) << what;
      EXPECT_EQ(a[i].threshold, plain[i].threshold + shift) << what;
    }
  };
  auto cached = [&] { return func::schedule_thresholds(m, s, "s.json", Calibration::Sequential, data, 1, cache); };
  const std::string key = func::threshold_cache_key(m, m.resolve(s, "s.json"), data);
  ASSERT_EQ(key.size(), 32u);
  const std::string entry = cache + "/thresholds-" + key + ".json";

  // A miss computes the thresholds and writes the entry.
  expect_same(cached(), 0, "miss");
  ASSERT_TRUE(std::filesystem::exists(entry));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(cache), std::filesystem::directory_iterator()), 1);
  // A hit returns what the entry holds (edited here, so that reading it shows).
  json j = load_json_file(entry);
  for (auto& t : j["thresholds"]) t["threshold"] = t["threshold"].get<int>() + 7;
  std::ofstream(entry) << j.dump();
  expect_same(cached(), 7, "hit");
  // An entry that does not match the selectors, or does not parse, is computed anew and
  // replaced.
  j["thresholds"][1]["block"] = 3;
  std::ofstream(entry) << j.dump();
  expect_same(cached(), 0, "mismatched entry");
  EXPECT_EQ(load_json_file(entry)["thresholds"][1]["threshold"].get<int>(), plain[1].threshold);
  j = load_json_file(entry);
  j["thresholds"].erase(2);
  std::ofstream(entry) << j.dump();
  expect_same(cached(), 0, "entry with a selector missing");
  std::ofstream(entry) << "{\"format\": ";
  expect_same(cached(), 0, "entry that does not parse");
  EXPECT_TRUE(load_json_file(entry).contains("thresholds"));

  // The key follows the keep rates, the blocks, the weights and the training files.
  EXPECT_NE(func::threshold_cache_key(m, m.resolve(sched({{9, 0.5}, {2, 0.7}, {5, 0.5}}), "s.json"), data), key);
  EXPECT_NE(func::threshold_cache_key(m, m.resolve(sched({{9, 0.5}, {3, 0.8}, {5, 0.5}}), "s.json"), data), key);
  auto other = heatvit::testing::make_synth_model(7);
  other.write(dir + "/other.hvt");
  const FuncModel mo = FuncModel::load(dir + "/other.hvt", micro());
  EXPECT_NE(func::threshold_cache_key(mo, m.resolve(s, "s.json"), data), key);
  heatvit::testing::write_fake_fmnist(dir + "/data2", 4, 6);
  EXPECT_NE(func::threshold_cache_key(m, m.resolve(s, "s.json"), dir + "/data2"), key);
  EXPECT_EQ(func::threshold_cache_key(m, m.resolve(s, "s.json"), dir + "/nowhere"), "");

  // A cache that cannot be written is skipped; the schedule's and the export's errors
  // come as without a cache.
  std::ofstream(dir + "/not-a-dir") << "x";
  expect_same(func::schedule_thresholds(m, s, "s.json", Calibration::Sequential, data, 1, dir + "/not-a-dir"), 0,
              "unwritable cache");
  EXPECT_THROW(func::schedule_thresholds(m, sched({{12, 0.5}}), "s.json", Calibration::Sequential, data, 1, cache),
               InputError);
  auto nocal = heatvit::testing::make_synth_model();
  nocal.tensors.erase(std::remove_if(nocal.tensors.begin(), nocal.tensors.end(),
                                     [](const auto& t) { return t.first == "calib.index"; }),
                      nocal.tensors.end());
  nocal.write(dir + "/nocal.hvt");
  try {
    func::schedule_thresholds(FuncModel::load(dir + "/nocal.hvt", micro()), s, "s.json", Calibration::Sequential, data,
                              1, cache);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("calib.index"), std::string::npos) << e.what();
  }
}

TEST(ThresholdCache, DirectoryFromTheEnvironment) {
  auto get = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  const auto saved_cache = get("HEATVIT_CACHE_DIR"), saved_xdg = get("XDG_CACHE_HOME"), saved_home = get("HOME");
  ::setenv("HEATVIT_CACHE_DIR", "/some/where", 1);
  EXPECT_EQ(func::default_threshold_cache_dir(), "/some/where");
  ::setenv("HEATVIT_CACHE_DIR", "", 1);
  EXPECT_EQ(func::default_threshold_cache_dir(), "");
  ::unsetenv("HEATVIT_CACHE_DIR");
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(func::default_threshold_cache_dir(), "/xdg/heatvit");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(func::default_threshold_cache_dir(), "/home/u/.cache/heatvit");
  ::unsetenv("HOME");
  EXPECT_EQ(func::default_threshold_cache_dir(), "");
  auto restore = [](const char* name, const std::optional<std::string>& v) {
    if (v) ::setenv(name, v->c_str(), 1);
    else ::unsetenv(name);
  };
  restore("HEATVIT_CACHE_DIR", saved_cache);
  restore("XDG_CACHE_HOME", saved_xdg);
  restore("HOME", saved_home);
}

// ---- the trained export (models/deit-micro/export, or $HEATVIT_FUNC_EXPORT_DIR)
namespace {

std::string export_dir() {
  if (const char* e = std::getenv("HEATVIT_FUNC_EXPORT_DIR"); e && *e) return e;
  return project_root() + "/models/deit-micro/export";
}

}  // namespace

TEST(ReferenceOutputs, First16ImagesBitExact) {
  const std::string d = export_dir();
  const std::string weights = d + "/deit-micro-int8.hvt", ref_path = d + "/reference-outputs.json";
  if (!std::filesystem::exists(weights) || !std::filesystem::exists(ref_path) ||
      !std::filesystem::is_directory(default_fashion_mnist_dir()))
    GTEST_SKIP() << "no trained export in " << d << " (or no Fashion-MNIST)";
  const FuncModel m = FuncModel::load(weights, micro());
  const json ref = load_json_file(ref_path);
  const ImageSet data = load_fashion_mnist(default_fashion_mnist_dir(), "t10k");
  for (const char* name : {"dense", "default"}) {
    SCOPED_TRACE(name);
    std::vector<func::SelectorThreshold> th;
    for (const auto& t : ref[name]["thresholds"]) {
      func::SelectorThreshold s;
      s.block = t["block"].get<int>();
      s.threshold = t["threshold"].get<std::int32_t>();
      th.push_back(s);
    }
    if (std::string(name) == "default" && std::filesystem::exists(d + "/schedule-default.json")) {
      json sj = load_json_file(d + "/schedule-default.json");
      sj.erase("note");
      sj.erase("stages");
      ConfigReader r(sj, d + "/schedule-default.json");
      const auto resolved = func::schedule_thresholds(m, parse_schedule(r, micro()), "schedule-default.json",
                                                      func::Calibration::Sequential, default_fashion_mnist_dir(), 2);
      ASSERT_EQ(resolved.size(), th.size());
      for (std::size_t i = 0; i < th.size(); ++i) {
        EXPECT_EQ(resolved[i].block, th[i].block);
        EXPECT_EQ(resolved[i].threshold, th[i].threshold) << "keep -> threshold (sequential calibration)";
      }
    }
    const auto r = func::evaluate(m, th, data, 16, 2);
    for (int i = 0; i < 16; ++i) {
      const auto ii = static_cast<std::size_t>(i);
      EXPECT_EQ(r.logits[ii], ref[name]["logits"][ii].get<std::vector<std::int64_t>>()) << "image " << i;
      EXPECT_EQ(r.predictions[ii], ref[name]["pred"][ii].get<int>()) << "image " << i;
      EXPECT_EQ(r.tokens_per_block[ii], ref[name]["tokens"][ii].get<std::vector<int>>()) << "image " << i;
      for (std::size_t s = 0; s < th.size(); ++s)
        EXPECT_EQ(r.kept_patches(i, static_cast<int>(s)),
                  ref[name]["masks"][std::to_string(th[s].block)][ii].get<std::vector<int>>())
            << "image " << i << " selector before block " << th[s].block;
    }
  }
}
