// Calibration against published figures: residual arithmetic, the published-figures and
// space readers, and a toy calibration whose published set comes from a known point of
// its space (the search must recover that point).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/dse/calibrate.hpp"
#include "heatvit/sim/hw_config.hpp"
#include "heatvit/sim/resources.hpp"

using namespace heatvit;
using namespace heatvit::dse;

namespace {

namespace fs = std::filesystem;

std::string tmp_dir(const std::string& name) {
  const std::string d = (fs::temp_directory_path() / ("heatvit-calibrate-" + name)).string();
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const std::string& path, const json& j) { std::ofstream(path) << j.dump(2); }

json figure(const std::string& id, const std::string& metric, json models, double value) {
  json f = {{"id", id}, {"metric", metric}, {"value", value}, {"design", "toy"}, {"measures", "toy"},
            {"source", "test"}, {"confidence", "high"}};
  if (!models.is_null()) f["models"] = models;
  return f;
}

std::string field_of(const json& doc) {
  const std::string d = tmp_dir("bad");
  write(d + "/p.json", doc);
  try {
    load_published(d + "/p.json");
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("p.json"), std::string::npos) << e.what();
    return e.field();
  }
  return "<accepted>";
}

PresetResult preset(double dense_ms, double sched_ms, std::int64_t dsp, std::int64_t lut) {
  PresetResult p;
  p.ok = true;
  p.res.dsp = dsp;
  p.res.lut = lut;
  p.dense_ms["deit-small"] = dense_ms;
  p.sched_ms["deit-small"] = sched_ms;
  p.dense_macs["deit-small"] = 4.6e9;
  p.sched_macs["deit-small"] = 2.3e9;
  return p;
}

}  // namespace

TEST(Calibrate, ResidualArithmetic) {
  const std::string d = tmp_dir("arith");
  json fs_ = json::array();
  fs_.push_back(figure("gops", "gops_per_dsp", {"deit-small"}, 0.2));
  json sp = figure("speedup", "speedup", {"deit-small"}, 0);
  sp.erase("value");
  sp["range"] = {3.0, 4.0};
  fs_.push_back(sp);
  json dsp = figure("dsp", "dsp_overhead", nullptr, 0);
  dsp.erase("value");
  dsp["range"] = {0.08, 0.11};
  fs_.push_back(dsp);
  json cut = figure("cut", "computation_cut", {"deit-small"}, 0.5);
  cut["fit"] = false;
  fs_.push_back(cut);
  write(d + "/p.json", {{"figures", fs_}});
  const PublishedSet pub = load_published(d + "/p.json");
  // heatvit: 10 ms dense, 5 ms pruned on 2000 DSPs; baseline 20 ms on 1900 DSPs.
  const PresetResult h = preset(10, 5, 2000, 1000), b = preset(20, 20, 1900, 1000);
  const auto rs = residuals(pub, h, b);
  ASSERT_EQ(rs.size(), 4u);
  // 2 x 2.3e9 ops in 5 ms on 2000 DSPs = 0.46 GOPS/DSP.
  EXPECT_NEAR(rs[0].ours, 0.46, 1e-12);
  EXPECT_NEAR(rs[0].residual, 0.46 / 0.2 - 1, 1e-12);
  EXPECT_FALSE(rs[0].within);
  EXPECT_NEAR(rs[1].ours, 4.0, 1e-12);  // 20 / 5: at the top of the range
  EXPECT_EQ(rs[1].residual, 0.0);
  EXPECT_TRUE(rs[1].within);
  EXPECT_NEAR(rs[2].ours, 2000.0 / 1900 - 1, 1e-12);  // +5.3%: 2.7 points below the range
  EXPECT_NEAR(rs[2].residual, 2000.0 / 1900 - 1 - 0.08, 1e-12);
  EXPECT_FALSE(rs[2].within);
  EXPECT_NEAR(rs[3].ours, 0.5, 1e-12);
  // The objective counts fitted rows only: (residual / tolerance)^2.
  const double z0 = (0.46 / 0.2 - 1) / 0.10, z2 = (2000.0 / 1900 - 1 - 0.08) / 0.02;
  EXPECT_NEAR(objective(rs), z0 * z0 + z2 * z2, 1e-9);
  // A preset that does not fit makes every row it feeds infinite.
  PresetResult bad = h;
  bad.ok = false;
  EXPECT_TRUE(std::isinf(objective(residuals(pub, bad, b))));
}

TEST(Calibrate, PublishedFileErrorsNameTheField) {
  const json good = figure("a", "gops_per_dsp", {"deit-small"}, 0.2);
  EXPECT_EQ(field_of({{"figures", {good}}}), "<accepted>");
  json f = good;
  f.erase("source");
  EXPECT_EQ(field_of({{"figures", {f}}}), "figures[0].source");
  f = good;
  f["source"] = "";
  EXPECT_EQ(field_of({{"figures", {f}}}), "figures[0].source");
  f = good;
  f["metric"] = "joules";
  EXPECT_EQ(field_of({{"figures", {f}}}), "figures[0].metric");
  f = good;
  f["models"] = {"resnet-50"};
  EXPECT_EQ(field_of({{"figures", {f}}}), "figures[0].models");
  f = good;
  f["range"] = {1.0, 2.0};
  EXPECT_EQ(field_of({{"figures", {f}}}), "figures[0].range");
  f = good;
  f.erase("value");
  f["range"] = {2.0, 1.0};
  EXPECT_EQ(field_of({{"figures", {f}}}), "figures[0].range");
  EXPECT_EQ(field_of({{"figures", {good, good}}}), "figures[1].id");
  f = good;
  f["preset"] = "baseline";
  EXPECT_EQ(field_of({{"figures", {f}}}), "figures[0].schedule");
  f = good;
  f["colour"] = "red";
  EXPECT_EQ(field_of({{"figures", {f}}}), "figures[0].colour");
  EXPECT_EQ(field_of({{"figures", json::array()}}), "figures");
}

TEST(Calibrate, ShippedPublishedFileAndSpaceLoad) {
  const PublishedSet pub = load_published(project_root() + "/configs/published/heatvit.json");
  EXPECT_GE(pub.figures.size(), 10u);
  for (const auto& f : pub.figures) {
    EXPECT_FALSE(f.source.empty()) << f.id;
    EXPECT_FALSE(f.measures.empty()) << f.id;
  }
  const CalibrationSpace sp = load_calibration_space(project_root() + "/configs/calibrate/zcu102.json");
  EXPECT_EQ(sp.models.size(), 5u);
  EXPECT_FALSE(sp.shared.empty());
}

// Every preset in configs/hw loads and fits the XCZU9EG.
TEST(Calibrate, EveryShippedPresetLoadsAndFits) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(project_root() + "/configs/hw")) {
    if (e.path().extension() != ".json") continue;
    const sim::HwConfig hw = sim::load_hw_config(e.path().string());
    const sim::ResourceReport rr = sim::estimate_resources(hw);
    EXPECT_NO_THROW(sim::check_fits(hw, rr)) << e.path();
    ++n;
  }
  EXPECT_GE(n, 4);
}

// A toy published set made from a known point of a small space: the search recovers it.
TEST(Calibrate, RecoversAKnownAnswer) {
  const std::string d = tmp_dir("toy");
  const std::string root = project_root();
  const json space = {
      {"models", {"deit-tiny"}},
      {"schedules", {{"deit-tiny", root + "/configs/schedules/published/deit-tiny.json"}}},
      {"published", d + "/pub.json"},
      {"presets",
       {{"heatvit", {{"name", "toy-heatvit"}, {"base", root + "/configs/hw/zcu102-heatvit.json"},
                     {"knobs", {{"accelerator.pe.to", {64, 32, 16}}}}}},
        {"baseline", {{"name", "toy-baseline"}, {"base", root + "/configs/hw/zcu102-baseline.json"},
                      {"knobs", {{"accelerator.pe.to", {32, 16, 64}}}}}}}},
      {"shared",
       {{"accelerator.buffer_slots", {2, 1}},
        {"accelerator.ps.layernorm", {false, true}},
        {"accelerator.ps.frequency_mhz", {1200}},
        {"accelerator.ps.cycles_per_element", {2, 8}},
        {"accelerator.ps.cores", {1}},
        {"accelerator.ps.handoff_us", {5}}}},
      {"search", {{"budget", 400}, {"restarts", 8}, {"seed", 3}, {"systemc_checks", 1}}}};
  write(d + "/space.json", space);

  // The truth: heatvit to = 32, baseline to = 16, single buffering, LayerNorm on the PS
  // at 8 cycles per element.
  const std::vector<std::string> models = {"deit-tiny"};
  const std::map<std::string, std::string> scheds = {{"deit-tiny", root + "/configs/schedules/published/deit-tiny.json"}};
  auto truth_hw = [&](const std::string& base, int to) {
    Provenance prov;
    const json composed = sim::compose_hw_config(base, prov);
    const CalKnob k1{"accelerator.pe.to", {}}, k2{"accelerator.buffer_slots", {}}, k3{"accelerator.ps", {}};
    return apply_knobs(composed, prov, {&k1, &k2, &k3},
                       {to, 1,
                        {{"layernorm", true}, {"frequency_mhz", 1200}, {"cycles_per_element", 8}, {"cores", 1},
                         {"handoff_us", 5}}},
                       d + "/space.json", nullptr);
  };
  const PresetResult h = time_preset(truth_hw(root + "/configs/hw/zcu102-heatvit.json", 32), models, scheds, true,
                                     false, 1);
  const PresetResult b = time_preset(truth_hw(root + "/configs/hw/zcu102-baseline.json", 16), models, scheds,
                                     false, false, 1);
  ASSERT_TRUE(h.ok) << h.why;
  ASSERT_TRUE(b.ok) << b.why;
  const double t = h.dense_ms.at("deit-tiny"), tp = h.sched_ms.at("deit-tiny"), tb = b.dense_ms.at("deit-tiny");
  json figs = json::array();
  figs.push_back(figure("gops", "gops_per_dsp", {"deit-tiny"},
                        2 * h.sched_macs.at("deit-tiny") / (tp * 1e-3) / 1e9 / double(h.res.dsp)));
  figs.push_back(figure("speedup", "speedup", {"deit-tiny"}, tb / tp));
  figs.push_back(figure("pruning", "pruning_speedup", {"deit-tiny"}, t / tp));
  figs.push_back(figure("dsp", "dsp_overhead", nullptr, double(h.res.dsp) / double(b.res.dsp) - 1));
  write(d + "/pub.json", {{"figures", figs}});

  CalibrateOptions opt;
  opt.space_path = d + "/space.json";
  opt.out_dir = d + "/out";
  opt.threads = 2;
#if defined(__SANITIZE_ADDRESS__)
  opt.systemc = false;  // the SystemC check under the sanitizers is slow; Release covers it
#endif
  opt.quiet = true;
  opt.plot = false;
  const json doc = run_calibrate(opt);
  EXPECT_LT(doc["objective_analytic"].get<double>(), 1e-12);
  // The thread count changes nothing: the same points in the same order.
  opt.threads = 1;
  opt.out_dir = d + "/one-thread";
  const json one = run_calibrate(opt);
  EXPECT_EQ(one["knobs"], doc["knobs"]);
  EXPECT_EQ(one["figures"], doc["figures"]);
  std::ifstream fa(d + "/out/search.csv"), fb(d + "/one-thread/search.csv");
  const std::string sa((std::istreambuf_iterator<char>(fa)), {}), sb((std::istreambuf_iterator<char>(fb)), {});
  EXPECT_FALSE(sa.empty());
  EXPECT_EQ(sa, sb);
  opt.threads = 2;
  opt.out_dir = d + "/out";
  EXPECT_EQ(doc["knobs"]["heatvit"]["accelerator.pe.to"], 32);
  EXPECT_EQ(doc["knobs"]["baseline"]["accelerator.pe.to"], 16);
  EXPECT_EQ(doc["knobs"]["heatvit"]["accelerator.buffer_slots"], 1);
  EXPECT_EQ(doc["knobs"]["heatvit"]["accelerator.ps.layernorm"], true);
  EXPECT_EQ(doc["knobs"]["heatvit"]["accelerator.ps.cycles_per_element"], 8);
  // The presets are written, load, and the evaluate-only mode reproduces the table of record.
  const sim::HwConfig hp = sim::load_hw_config(d + "/out/toy-heatvit.json");
  EXPECT_EQ(hp.pe.to, 32);
  EXPECT_TRUE(hp.ps.layernorm);
  EXPECT_EQ(hp.default_schedules.count("deit-tiny"), 1u);
  opt.evaluate_only = true;
  opt.out_dir = d + "/again";
  opt.presets_dir = d + "/out";
  const json again = run_calibrate(opt);
  ASSERT_EQ(again["figures"].size(), doc["figures"].size());
  for (std::size_t i = 0; i < doc["figures"].size(); ++i)
    EXPECT_EQ(again["figures"][i]["ours"], doc["figures"][i]["ours"]) << i;
}

TEST(Calibrate, SpaceErrorsNameTheField) {
  const std::string d = tmp_dir("badspace");
  const std::string root = project_root();
  json space = {{"models", {"deit-tiny"}},
                {"schedules", {{"deit-tiny", root + "/configs/schedules/published/deit-tiny.json"}}},
                {"published", d + "/pub.json"},
                {"presets",
                 {{"heatvit", {{"name", "h"}, {"base", root + "/configs/hw/zcu102-heatvit.json"}}},
                  {"baseline", {{"name", "b"}, {"base", root + "/configs/hw/zcu102-baseline.json"}}}}}};
  write(d + "/pub.json", {{"figures", {figure("g", "gops_per_dsp", {"deit-tiny"}, 0.2)}}});
  auto field = [&](const json& s) {
    write(d + "/s.json", s);
    try {
      load_calibration_space(d + "/s.json");
    } catch (const InputError& e) {
      return e.field();
    }
    return std::string("<accepted>");
  };
  EXPECT_EQ(field(space), "<accepted>");
  json s = space;
  s["models"] = {"deit-tiny", "deit-tiny"};
  EXPECT_EQ(field(s), "models");
  s = space;
  s["presets"]["heatvit"]["knobs"] = {{"hw.accelerator.pe.to", {32}}};
  EXPECT_EQ(field(s), "presets.heatvit.knobs.hw.accelerator.pe.to");
  s = space;
  s["shared"] = {{"accelerator.pe.to", json::array()}};
  EXPECT_EQ(field(s), "shared.accelerator.pe.to");
  s = space;
  s["presets"]["baseline"]["name"] = "../x";
  EXPECT_EQ(field(s), "presets.baseline.name");
  s = space;
  s["schedules"] = json::object();
  EXPECT_EQ(field(s), "schedules.deit-tiny");
  // Checked when the run starts, before any work: a knob both per preset and shared,
  // a preset named like an output in the same directory, a bad value anywhere in a list.
  auto run_field = [&](const json& sp) {
    write(d + "/s.json", sp);
    CalibrateOptions o;
    o.space_path = d + "/s.json";
    o.out_dir = d + "/run";
    o.quiet = true;
    o.plot = false;
    try {
      run_calibrate(o);
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("s.json"), std::string::npos) << e.what();
      return e.field();
    }
    return std::string("<accepted>");
  };
  s = space;
  s["presets"]["heatvit"]["knobs"] = {{"accelerator.buffer_slots", {2, 1}}};
  s["shared"] = {{"accelerator.buffer_slots", {2}}};
  EXPECT_EQ(run_field(s), "shared.accelerator.buffer_slots");
  // A space without knobs times its two base presets (and restarts end at once).
  s = space;
  s["search"] = {{"restarts", 5}};
  write(d + "/s.json", s);
  {
    CalibrateOptions o;
    o.space_path = d + "/s.json";
    o.out_dir = d + "/noknobs";
    o.quiet = true;
    o.plot = false;
    o.systemc = false;
    const json doc = run_calibrate(o);
    EXPECT_EQ(doc["evaluated"], 1);
    EXPECT_TRUE(doc["knobs"]["heatvit"].empty());
  }
  s = space;
  s["presets"]["baseline"]["name"] = "residuals";
  EXPECT_EQ(run_field(s), "presets.baseline.name");
  s = space;
  s["shared"] = {{"accelerator.buffer_slots", {2, 1, 3}}};
  EXPECT_NE(run_field(s).find("buffer_slots"), std::string::npos);
  EXPECT_FALSE(fs::exists(d + "/run"));
  // A knob value the hw config rejects fails the run naming the space file and knob.
  s = space;
  s["presets"]["heatvit"]["knobs"] = {{"accelerator.pe.to", {100000}}};
  write(d + "/s.json", s);
  CalibrateOptions opt;
  opt.space_path = d + "/s.json";
  opt.out_dir = d + "/out";
  opt.quiet = true;
  opt.plot = false;
  try {
    run_calibrate(opt);
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("pe.to"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(d + "/out"));
}
