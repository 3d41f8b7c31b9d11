#include <gtest/gtest.h>

#include "heatvit/core/error.hpp"
#include "heatvit/models/model.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/resources.hpp"

using namespace heatvit;
using namespace heatvit::sim;

namespace {
HwConfig hw(const std::string& name) {
  return load_hw_config(std::string(HEATVIT_SOURCE_DIR_FOR_TESTS) + "/configs/hw/" + name + ".json");
}
}  // namespace

TEST(Plan, TileCyclesFollowThePeArray) {
  PeArray pe;
  pe.th = 4;
  pe.ti = 16;
  pe.to = 64;
  EXPECT_EQ(gemm_tile_cycles(pe, 197, 64, 384, false), 50 * 1 * 24);
  EXPECT_EQ(gemm_tile_cycles(pe, 13, 197, 64, true), 13 * 4 * 4);
  EXPECT_EQ(pe.adder_tree_depth(), 4);
}

TEST(Plan, TilingFitsTheBuffers) {
  const HwConfig h = hw("zcu102-heatvit");
  for (auto [m, n, k] : {std::tuple<int, int, int>{197, 1536, 384}, {197, 384, 1536}, {12544, 64, 576}}) {
    const Tiling t = choose_tiling(m, n, k, false, h, "x");
    EXPECT_LE(t.tm * t.tk * h.element_bytes(), h.buffers.input_bytes);
    EXPECT_LE(t.tk * t.tn * h.element_bytes(), h.buffers.weight_bytes);
    EXPECT_LE(t.tm * t.tn * h.accumulator_bits / 8, h.buffers.output_bytes);
    EXPECT_EQ(t.tm % h.pe.th, 0);
    EXPECT_EQ(t.tn % h.pe.to, 0);
  }
  // A fused LayerNorm needs whole rows on chip.
  EXPECT_EQ(choose_tiling(197, 1152, 384, true, h, "x").tk, 384);
}

TEST(Plan, TilesThatCannotFitAreAnInputErrorNamingTheBuffer) {
  HwConfig h = hw("zcu102-heatvit");
  h.buffers.input_bytes = 1024;  // not even th rows of a 384-wide LayerNorm'd input
  try {
    choose_tiling(197, 1152, 384, true, h, "block0.qkv");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("buffers_kib.input"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("block0.qkv"), std::string::npos);
  }
}

TEST(Plan, FusionAndTrafficOfADenseBlock) {
  const HwConfig h = hw("zcu102-heatvit");
  const ModelShape m = load_model("deit-small");
  const Plan p = make_plan(build_dense_workload(m), h);
  const Pass* qkv = nullptr;
  const Pass* fc1 = nullptr;
  const Pass* att = nullptr;
  for (const auto& x : p.passes) {
    if (x.name == "block0.qkv") qkv = &x;
    if (x.name == "block0.fc1") fc1 = &x;
    if (x.name == "block0.qk") att = &x;
  }
  ASSERT_TRUE(qkv && fc1 && att);
  EXPECT_EQ(qkv->ops.front(), "block0.ln1");
  EXPECT_EQ(fc1->ops.back(), "block0.gelu");
  EXPECT_EQ(att->kind, PassKind::Attention);
  EXPECT_EQ(att->ops.size(), 3u);
  // Every weight byte is read at least once; the input once when K is resident.
  std::int64_t wbytes = 0;
  for (const auto& s : qkv->steps) wbytes += s.load_b_bytes;
  EXPECT_GE(wbytes, 384 * 1152);
  EXPECT_EQ(p.macs(), build_dense_workload(m).total_macs());
}

TEST(Plan, SelectorControlRunsOnItsOwnUnits) {
  const HwConfig h = hw("zcu102-heatvit");
  const ModelShape m = load_model("deit-small");
  Schedule s;
  s.selectors = {{3, 0.5}};
  const Plan p = make_plan(build_schedule_workload(m, s), h);
  int units = 0;
  for (const auto& x : p.passes)
    if (x.block == 3 && x.phase == Phase::Selector && x.kind == PassKind::Unit) ++units;
  EXPECT_EQ(units, 3);  // decision, compaction, package
}

#include "heatvit/sim/masks.hpp"

TEST(Masks, TokensFollowTheMasksWithOnePackageToken) {
  const ModelShape m = load_model("deit-micro");
  const TokenMasks k = load_token_masks(std::string(HEATVIT_SOURCE_DIR_FOR_TESTS) + "/tests/cli/data/masks-ok.hvt", m);
  ASSERT_EQ(k.selector_blocks, (std::vector<int>{3, 6}));
  // Image 0 prunes nothing: dense everywhere, no package token.
  EXPECT_EQ(tokens_for_image(m, k, 0), std::vector<int>(12, 50));
  // Image 1 keeps 23 at block 3 and all of those at block 6.
  const auto t1 = tokens_for_image(m, k, 1);
  EXPECT_EQ(t1[2], 50);
  EXPECT_EQ(t1[3], 1 + 23 + 1);
  EXPECT_EQ(t1[11], 1 + 23 + 1);
  // Image 2 keeps 26 then 12.
  const auto t2 = tokens_for_image(m, k, 2);
  EXPECT_EQ(t2[3], 28);
  EXPECT_EQ(t2[6], 14);
}

TEST(Plan, SelectorWithNothingLeftToScoreIsSkipped) {
  // All patch tokens pruned at block 3: the selector at block 6 scores none.
  const HwConfig h = hw("zcu102-heatvit");
  const ModelShape m = load_model("deit-micro");
  std::vector<int> tokens(12, 50);
  for (int b = 3; b < 12; ++b) tokens[static_cast<std::size_t>(b)] = 2;  // CLS + package
  const Workload w = build_workload(m, tokens, {3, 6});
  const Plan p = make_plan(w, h);
  EXPECT_EQ(p.macs(), w.total_macs());
  for (const auto& x : p.passes) {
    EXPECT_NE(x.block == 6 && x.phase == Phase::Selector, true) << x.name;
    EXPECT_FALSE(x.steps.empty()) << x.name;
  }
}

// LayerNorm on the PS: every LayerNorm becomes a pass of its own (the PS's DDR read,
// its time, its write), no GEMM carries a fused LayerNorm, and the PL unit is not built.
TEST(Plan, LayerNormOnThePs) {
  HwConfig h = hw("zcu102-heatvit");
  const ModelShape m = load_model("deit-small");
  const Workload w = build_dense_workload(m);
  const Plan pl = make_plan(w, h);
  h.ps.layernorm = true;
  h.ps.frequency_mhz = 1200;
  h.ps.cycles_per_element = 4;
  h.ps.cores = 2;
  h.ps.handoff_us = 5;
  const Plan ps = make_plan(w, h);
  int ln_ops = 0, ln_passes = 0;
  for (const auto& o : w.ops)
    if (o.kind == OpKind::LayerNorm) ++ln_ops;
  for (const auto& p : ps.passes) {
    for (const auto& s : p.steps) EXPECT_EQ(s.load_cycles, 0) << p.name;
    if (p.kind != PassKind::Unit || p.ops.size() != 1) continue;
    const Op* op = nullptr;
    for (const auto& o : w.ops)
      if (o.name == p.ops[0]) op = &o;
    ASSERT_NE(op, nullptr);
    if (op->kind != OpKind::LayerNorm) continue;
    ++ln_passes;
    ASSERT_EQ(p.steps.size(), 1u);
    const std::int64_t e = op->rows * op->cols;
    // ceil(e * 4 / 2) APU cycles at 1200 MHz = e / 4 PL cycles at 300 MHz, + 5 us = 1500.
    EXPECT_EQ(p.steps[0].compute_cycles, (e * 2 + 3) / 4 + 1500) << p.name;
    EXPECT_EQ(p.steps[0].load_a_bytes, e);
    EXPECT_EQ(p.steps[0].store_bytes, e);
  }
  EXPECT_EQ(ln_passes, ln_ops);
  EXPECT_EQ(pl.macs(), ps.macs());
  bool pl_unit = false;
  for (const auto& i : estimate_resources(h).items) pl_unit |= i.name == "nonlinear.layernorm";
  EXPECT_FALSE(pl_unit);
}

// DSP packing per GEMM kind: an unpacked kind runs on half the output lanes, the other
// kind is unchanged, and the array keeps its DSPs.
TEST(Plan, PackingPerGemmKind) {
  HwConfig h = hw("zcu102-heatvit");
  ASSERT_EQ(h.macs_per_dsp, 2);
  const Workload w = build_dense_workload(load_model("deit-tiny"));
  const Plan both = make_plan(w, h);
  h.packing.attention = false;
  const Plan no_att = make_plan(w, h);
  EXPECT_EQ(h.pe_for(true).to, h.pe.to / 2);
  EXPECT_EQ(h.pe_for(false).to, h.pe.to);
  ASSERT_EQ(both.passes.size(), no_att.passes.size());
  int attention = 0;
  for (std::size_t i = 0; i < both.passes.size(); ++i) {
    const Pass &a = both.passes[i], &b = no_att.passes[i];
    if (a.kind == PassKind::Attention) {
      ++attention;
      EXPECT_GT(b.compute_cycles(), a.compute_cycles()) << a.name;
    } else {
      EXPECT_EQ(b.compute_cycles(), a.compute_cycles()) << a.name;
    }
  }
  EXPECT_EQ(attention, 12);
  // On a 16-bit array (one MAC per DSP) packing does not apply.
  HwConfig b16 = hw("zcu102-baseline");
  b16.packing.linear = false;
  EXPECT_EQ(b16.pe_for(false).to, b16.pe.to);
  EXPECT_EQ(estimate_resources(h).total().dsp, estimate_resources(hw("zcu102-heatvit")).total().dsp);
}

namespace {
void expect_same_plan(const Plan& a, const Plan& b, const std::string& what) {
  ASSERT_EQ(a.passes.size(), b.passes.size()) << what;
  for (std::size_t i = 0; i < a.passes.size(); ++i) {
    const Pass& x = a.passes[i];
    const Pass& y = b.passes[i];
    const std::string at = what + " pass " + x.name;
    EXPECT_EQ(x.name, y.name) << at;
    EXPECT_EQ(x.block, y.block) << at;
    EXPECT_EQ(x.phase, y.phase) << at;
    EXPECT_EQ(x.kind, y.kind) << at;
    EXPECT_EQ(x.ops, y.ops) << at;
    EXPECT_EQ(x.tiling.tm, y.tiling.tm) << at;
    EXPECT_EQ(x.tiling.tn, y.tiling.tn) << at;
    EXPECT_EQ(x.tiling.tk, y.tiling.tk) << at;
    EXPECT_EQ(x.tiling.n_outer, y.tiling.n_outer) << at;
    EXPECT_EQ(x.fill_cycles, y.fill_cycles) << at;
    EXPECT_EQ(x.post_latency, y.post_latency) << at;
    ASSERT_EQ(x.steps.size(), y.steps.size()) << at;
    for (std::size_t j = 0; j < x.steps.size(); ++j) {
      const Step& s = x.steps[j];
      const Step& t = y.steps[j];
      EXPECT_TRUE(s.load_a_bytes == t.load_a_bytes && s.load_b_bytes == t.load_b_bytes &&
                  s.load_cycles == t.load_cycles && s.compute_cycles == t.compute_cycles && s.macs == t.macs &&
                  s.ends_tile == t.ends_tile && s.store_read_bytes == t.store_read_bytes &&
                  s.post_cycles == t.post_cycles && s.store_bytes == t.store_bytes)
          << at << " step " << j;
    }
  }
}
}  // namespace

TEST(Plan, PlannerRemembersTilingsAndPlansAsMakePlan) {
  for (const char* hw_name : {"zcu102-heatvit", "zcu102-baseline"}) {
    const HwConfig h = hw(hw_name);
    for (const char* model : {"deit-micro", "deit-small"}) {
      const ModelShape m = load_model(model);
      Planner planner(h);
      std::size_t searched_after_first = 0;
      // Keep rates that repeat (cache hits) and change (misses), twice over.
      for (int round = 0; round < 2; ++round) {
        for (double keep : {1.0, 0.7, 0.5, 0.7, 0.31}) {
          Schedule s;
          s.selectors = {{3, keep}, {6, 0.8}, {9, keep}};
          const Workload w = build_schedule_workload(m, s);
          expect_same_plan(planner(w), make_plan(w, h), std::string(hw_name) + " " + model);
        }
        if (round == 0) searched_after_first = planner.tilings_searched();
      }
      EXPECT_GT(searched_after_first, 0u);
      EXPECT_EQ(planner.tilings_searched(), searched_after_first) << "the second round only hits the cache";
    }
  }
}

TEST(Plan, PlannerTellsAFusedLayerNormFromNone) {
  // One GEMM shape twice, the first with a LayerNorm fused into its loads (whole rows
  // on chip) and the second without: on the baseline config their tilings differ.
  const HwConfig h = hw("zcu102-baseline");
  Workload w;
  w.model = load_model("deit-small");
  Op ln;
  ln.name = "ln";
  ln.block = 0;
  ln.kind = OpKind::LayerNorm;
  ln.rows = 197;
  ln.cols = 384;
  Op g;
  g.block = 0;
  g.m = 197;
  g.n = 64;
  g.k = 384;
  g.name = "fused";
  w.ops.push_back(ln);
  w.ops.push_back(g);
  g.name = "plain";
  w.ops.push_back(g);
  Planner planner(h);
  const Plan p = planner(w);
  expect_same_plan(p, make_plan(w, h), "one shape with and without a fused LayerNorm");
  ASSERT_EQ(p.passes.size(), 2u);
  EXPECT_NE(p.passes[0].tiling.tk, p.passes[1].tiling.tk);
  EXPECT_EQ(p.passes[0].tiling.tk, 384);
}

TEST(Plan, PlannerStillNamesTheBufferThatCannotFit) {
  HwConfig h = hw("zcu102-heatvit");
  h.buffers.input_bytes = 1024;
  Planner planner(h);
  for (int i = 0; i < 2; ++i) EXPECT_THROW(planner(build_dense_workload(load_model("deit-small"))), InputError);
}
