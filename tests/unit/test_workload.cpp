#include <gtest/gtest.h>

#include <cmath>

#include "heatvit/core/error.hpp"
#include "heatvit/models/workload.hpp"

using namespace heatvit;

namespace {

double gmacs(const std::string& name) {
  return build_dense_workload(load_model(name)).total_macs() / 1e9;
}

// Published figures have two or three significant digits; a count matches when it is
// within 2% or rounds to the published figure (see docs/workload.md).
void expect_published(const std::string& name, double published) {
  const double g = gmacs(name);
  const double tol = std::max(0.02 * published, 0.05);
  EXPECT_NEAR(g, published, tol) << name;
}

}  // namespace

TEST(Workload, DenseMacsMatchPublished) {
  expect_published("deit-tiny", 1.3);
  expect_published("deit-small", 4.6);
  expect_published("deit-base", 17.6);
  expect_published("lvvit-s", 6.6);
  expect_published("lvvit-m", 12.7);
}

TEST(Workload, DenseMacsWithinTwoPercentWhereTheFigureHasThreeDigits) {
  EXPECT_NEAR(gmacs("deit-small"), 4.6, 0.02 * 4.6);
  EXPECT_NEAR(gmacs("deit-base"), 17.6, 0.02 * 17.6);
  EXPECT_NEAR(gmacs("lvvit-s"), 6.6, 0.02 * 6.6);
  EXPECT_NEAR(gmacs("lvvit-m"), 12.7, 0.02 * 12.7);
}

TEST(Workload, BlockMacsFollowClosedForm) {
  const ModelShape m = load_model("deit-small");
  const Workload w = build_dense_workload(m);
  const std::int64_t N = 197, D = 384, r = 4;
  std::int64_t block0 = 0;
  for (const auto& o : w.ops)
    if (o.block == 0) block0 += o.macs();
  EXPECT_EQ(block0, 4 * N * D * D + 2 * N * N * D + 2 * r * N * D * D);
  // Patch embedding: 196 x 768 x 384; head: 384 x 1000.
  EXPECT_EQ(w.ops[0].name, "patch_embed");
  EXPECT_EQ(w.ops[0].macs(), 196 * 768 * 384);
  EXPECT_EQ(w.selector_macs(), 0);
}

TEST(Workload, LvvitStemIsLoweredToGemms) {
  const Workload w = build_dense_workload(load_model("lvvit-s"));
  ASSERT_EQ(w.ops[0].name, "stem.conv0");
  EXPECT_EQ(w.ops[0].m, 112 * 112);
  EXPECT_EQ(w.ops[0].k, 3 * 49);
  EXPECT_EQ(w.ops[1].k, 64 * 9);
  EXPECT_EQ(w.ops[3].name, "patch_embed");
  EXPECT_EQ(w.ops[3].k, 64 * 8 * 8);  // 8x8 stride-8 projection after the stride-2 stem
  EXPECT_EQ(w.ops[3].m, 196);
}

TEST(Workload, ScheduleAddsSelectorsAndPackageToken) {
  const ModelShape m = load_model("deit-small");
  Schedule s;
  s.selectors = {{3, 0.7}, {6, 0.7}, {9, 0.7}};
  const auto tokens = expected_tokens(m, s);
  EXPECT_EQ(tokens[0], 197);
  EXPECT_EQ(tokens[3], 1 + 137 + 1);  // round(0.7 * 196) = 137 kept + CLS + package
  EXPECT_EQ(tokens[6], 1 + 96 + 1);   // round(0.7 * 137) = 96
  EXPECT_EQ(tokens[9], 1 + 67 + 1);   // round(0.7 * 96) = 67
  const Workload w = build_schedule_workload(m, s);
  EXPECT_GT(w.selector_macs(), 0);
  // Selector FC MACs per head: N*(d*d + d*d/2 + d/2*d/4 + d/4*2), d = 64, plus head weights.
  const std::int64_t n = 196, d = 64, h = 6;
  const std::int64_t per_sel0 = h * n * (d * d + d * d / 2 + d / 2 * d / 4 + d / 4 * 2) + n * (3 * 6 + 6 * 3);
  std::int64_t sel3 = 0;
  for (const auto& o : w.ops)
    if (o.phase == Phase::Selector && o.block == 3) sel3 += o.macs();
  EXPECT_EQ(sel3, per_sel0);
  EXPECT_LT(w.total_macs(), build_dense_workload(m).total_macs());
}

TEST(Workload, TokensValidation) {
  const ModelShape m = load_model("deit-tiny");
  std::vector<int> t(12, 197);
  EXPECT_NO_THROW(validate_tokens(m, t, "--tokens"));
  t[5] = 198;
  EXPECT_THROW(validate_tokens(m, t, "--tokens"), InputError);
  t[5] = 100;
  t[6] = 150;
  EXPECT_THROW(validate_tokens(m, t, "--tokens"), InputError);
  EXPECT_THROW(validate_tokens(m, std::vector<int>(11, 197), "--tokens"), InputError);
  EXPECT_THROW(validate_tokens(m, std::vector<int>(12, 1), "--tokens"), InputError);
}

TEST(Workload, UnknownModelIsInputError) {
  try {
    load_model("deit-huge");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("deit-huge"), std::string::npos);
  }
}

TEST(Workload, ModelNameTheOsRejectsIsUnknownModel) {
  // a name longer than a file name may be (ENAMETOOLONG) is an unknown model, not a
  // filesystem exception
  try {
    load_model(std::string(300, 'm'));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model"), std::string::npos) << e.what();
  }
}
