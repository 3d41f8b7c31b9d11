// The integer kernels against values computed by training/intref/reference.py, and the
// control-logic kernels on small hand-checked cases.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

#include "heatvit/kernels/all.hpp"

namespace k = heatvit::kernels;
using k::i64;

TEST(Arith, RshiftRoundHalfUp) {
  const i64 in[] = {-13, -12, -11, -4, -3, 4, 11, 12, 13};
  const i64 want[] = {-2, -1, -1, 0, 0, 1, 1, 2, 2};  // reference.rshift_round(x, 3)
  for (int i = 0; i < 9; ++i) EXPECT_EQ(k::rshift_round(in[i], 3), want[i]) << in[i];
  EXPECT_EQ(k::rshift_round(-5, -2), -20);
  EXPECT_EQ(k::rshift_round(7, 0), 7);
}

TEST(Arith, SaturateAndRequant) {
  EXPECT_EQ(k::saturate<8>(200), 127);
  EXPECT_EQ(k::saturate<8>(-200), -128);
  EXPECT_EQ(k::saturate<16>(-40000), -32768);
  EXPECT_EQ(k::requant<8>(1000, 2), 127);
  EXPECT_EQ(k::requant<8>(-6, 2), -1);  // (-6 + 2) >> 2 = -1
  EXPECT_EQ(k::requant<0>(i64(1) << 40, 7), i64(1) << 40);
  EXPECT_EQ(k::div_trunc(-7, 4), -1);
  EXPECT_EQ(k::div_trunc(7, 4), 1);
}

TEST(Arith, IsqrtIsFloorSqrt) {
  for (std::uint64_t n = 0; n < 70000; ++n) {
    const std::uint64_t r = k::isqrt(n);
    ASSERT_LE(r * r, n);
    ASSERT_GT((r + 1) * (r + 1), n);
  }
  const std::uint64_t big[] = {std::uint64_t(1) << 46, (std::uint64_t(1) << 46) + 12345, 99999999999ull,
                               0xFFFFFFFFFFFFFFFFull, 4294967295ull * 4294967295ull, 4294967295ull * 4294967295ull - 1};
  for (std::uint64_t n : big) {
    const std::uint64_t r = k::isqrt(n);
    ASSERT_LE(r, 0xFFFFFFFFull);
    EXPECT_LE(r * r, n) << n;  // r < 2^32: no overflow
    if (r < 0xFFFFFFFFull) {
      EXPECT_GT((r + 1) * (r + 1), n) << n;
    }
  }
  EXPECT_EQ(k::isqrt(0xFFFFFFFFFFFFFFFFull), 0xFFFFFFFFull);
}

TEST(Nonlinear, GeluMatchesReference) {
  const i64 x[] = {-32768, -5000, -2562, -1000, -1, 0, 1, 7, 1000, 2562, 5000, 32767};
  const i64 want[] = {0, 0, 0, -168, 0, 0, 1, 4, 832, 2562, 5000, 32767};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(k::gelu_q10(x[i]), want[i]) << x[i];
  for (i64 v = -32768; v < 32768; ++v) ASSERT_LE(std::abs(k::gelu_q10(v)), 32768);
}

TEST(Nonlinear, ExpMatchesReference) {
  const i64 x[] = {-4096, -4000, -1000, -177, -176, -100, -1, 0};
  const i64 want[] = {0, 0, 651, 16362, 16451, 22116, 32601, 32725};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(k::exp_q8(x[i]), want[i]) << x[i];
  for (i64 v = -4096; v < 0; ++v) ASSERT_LE(k::exp_q8(v), k::exp_q8(v + 1));
}

TEST(Nonlinear, SigmoidMatchesReference) {
  const i64 x[] = {-2000, -1024, -512, -100, -1, 0, 1, 100, 512, 1024, 2000};
  const i64 want[] = {0, 0, 512, 1668, 2044, 2048, 2052, 2428, 3584, 4096, 4096};
  for (int i = 0; i < 11; ++i) EXPECT_EQ(k::sigmoid_q8(x[i]), want[i]) << x[i];
}

TEST(LayerNorm, MatchesReferenceRow) {
  const std::int16_t x[64] = {2994, -1312, 321, -1333, -2032, -2211, 69, -293, 2834, -77, -1295, 2239, -472, 2780, -1553, 576, 610, 1433, -1502, -290, -2166, -694, 388, 1737, 1019, -2142, 1718, 2729, -1358, 1926, -433, 243, 2455, 1272, 2925, -391, 2525, -2617, 2838, 2660, 2686, -1976, -2296, -2726, -1604, -768, 1039, -787, -1211, -2455, -839, 73, 1213, 1983, 44, 683, -221, 984, 1944, 744, -40, 2106, -678, -769};
  const std::int16_t g[64] = {-6944, -8609, 4621, 1829, 1822, -12368, -1731, 3745, 15028, -5263, 13180, 1138, -13950, -10724, 6564, 13530, 2152, 1068, -1488, 14523, 5450, -7626, -14480, 868, 12251, 9073, -3435, 5105, 2232, -8216, -7513, -9571, 7712, -14288, 9609, 7585, -6289, 15223, -13508, 13400, 11959, -11637, -12716, -4854, -11536, -6064, -5684, -11068, 3756, 10668, -14981, 13971, -752, 10744, 5218, 12327, -6606, -9919, 10659, 7725, 8818, 12724, -12671, 10386};
  const std::int32_t b[64] = {-83681, -75721, -58557, -90636, -40546, 55601, 38262, 82748, -82613, -25625, 17177, 36107, 24156, -24644, -11108, -95109, -68971, -34101, -76952, -95116, -54168, -94216, 44334, -47245, 49604, 6377, -9198, 49564, -50715, 43863, 30911, -17591, -2711, 5613, -162, 69543, -17220, -20860, -34595, -9974, -64984, 19292, 83322, -18956, -74338, -11764, -63490, -22144, -12267, 25526, 41863, 21660, -46913, -34432, 14135, -48895, 71388, 66229, -6509, 56762, -85457, -85316, 57451, -81834};
  const int want[64] = {-23, 15, 1, -3, -5, 35, 0, -2, 46, 2, -23, 3, 11, -32, -14, 6, 1, 2, 3, -9, -15, 8, -3, 2, 12, -25, -6, 15, -4, -17, 6, 0, 20, -18, 31, -5, -17, -50, -42, 39, 35, 30, 37, 17, 24, 7, -6, 13, -6, -33, 18, -2, -1, 22, -1, 7, 3, -9, 22, 5, -3, 28, 13, -12};
  std::int8_t y[64];
  k::layernorm_row<64>(x, g, b, 14 + 12 - 5, y);  // fg 14, fo 5
  for (int c = 0; c < 64; ++c) EXPECT_EQ(y[c], want[c]) << c;
}

TEST(LayerNorm, ConstantRowHasZeroDeviation) {
  std::int16_t x[32], g[32];
  std::int32_t b[32];
  std::int8_t y[32];
  for (int c = 0; c < 32; ++c) {
    x[c] = 5;
    g[c] = 4096;
    b[c] = 777;
  }
  k::layernorm_row<32>(x, g, b, 20, y);
  for (int c = 0; c < 32; ++c) EXPECT_EQ(y[c], 0);
}

TEST(Softmax, MatchesReferenceRow) {
  const std::int32_t s[7] = {12233, -11373, -13843, 1087, -18977, -13793, 3849};
  const int want[7] = {88, 21, 18, 45, 13, 18, 53};
  std::uint8_t p[8];
  k::softmax_row<8>(s, 7, 6, p);
  for (int j = 0; j < 7; ++j) EXPECT_EQ(p[j], want[j]) << j;
}

TEST(Softmax, RowsAtOnceEqualRowByRow) {
  // softmax_rows over a head group's rows equals softmax_row on each row
  constexpr int MT = 37, R = 3;
  std::int32_t s[R * MT];
  std::uint64_t z = 12345;
  for (auto& v : s) {
    z = z * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<std::int32_t>((z >> 33) % 40001) - 20000;
  }
  for (int t : {1, 2, 17, 37}) {
    std::int32_t all[R * MT] = {}, one[MT] = {};
    k::softmax_rows<MT, R, 8>(s, R, t, 5, all);
    for (int r = 0; r < R; ++r) {
      k::softmax_row<MT>(&s[r * MT], t, 5, one);
      for (int j = 0; j < t; ++j) EXPECT_EQ(all[r * MT + j], one[j]) << "t " << t << " row " << r << " j " << j;
    }
  }
}

TEST(LayerNorm, AnyChannelCountFollowsTheDefinition) {
  // C = 48 (not a power of two): mu = floor((sum + 24) / 48), var = floor((sum d^2 << 8) / 48)
  constexpr int C = 48;
  std::int16_t x[C], g[C], y[C];
  std::int32_t b[C];
  for (int c = 0; c < C; ++c) {
    x[c] = static_cast<std::int16_t>((c * 7919) % 601 - 300);
    g[c] = static_cast<std::int16_t>(200 + c);
    b[c] = c * 100 - 2000;
  }
  k::layernorm_row<C>(x, g, b, 15, y);
  std::int64_t sum = 0;
  for (int c = 0; c < C; ++c) sum += x[c];
  std::int64_t num = sum + C / 2;
  const std::int64_t mu = num >= 0 ? num / C : -((-num + C - 1) / C);
  std::int64_t v = 0;
  for (int c = 0; c < C; ++c) v += (x[c] - mu) * (x[c] - mu);
  std::int64_t sd = static_cast<std::int64_t>(std::sqrt(static_cast<long double>((v << 8) / C)));
  while (sd * sd > (v << 8) / C) --sd;
  while ((sd + 1) * (sd + 1) <= (v << 8) / C) ++sd;
  if (sd < 1) sd = 1;
  for (int c = 0; c < C; ++c) {
    const std::int64_t d = x[c] - mu;
    const std::int64_t zq = (d * 65536) / sd;  // C division truncates toward zero
    const std::int64_t want = k::requant<8>(g[c] * zq + b[c], 15);
    EXPECT_EQ(y[c], want) << c;
  }
  // a power of two: the shift path equals the division path's definition
  std::int16_t x2[64], g2[64], y2[64];
  std::int32_t b2[64];
  for (int c = 0; c < 64; ++c) {
    x2[c] = static_cast<std::int16_t>(-(c * 131) % 997);
    g2[c] = 256;
    b2[c] = 0;
  }
  k::layernorm_row<64>(x2, g2, b2, 15, y2);
  std::int64_t s2 = 0;
  for (int c = 0; c < 64; ++c) s2 += x2[c];
  EXPECT_EQ(k::rshift_round(s2, 6), k::div_floor(s2 + 32, 64));
}

TEST(Gemm, Int8LinearWithRequant) {
  const std::int8_t a[2][3] = {{1, -2, 3}, {127, 127, 127}};
  const std::int8_t w[2][3] = {{4, 5, 6}, {-128, -128, -128}};
  const std::int32_t bias[2] = {10, 0};
  std::int8_t out[2][2];
  k::linear<2, 2, 3, 8>(a, 2, w, bias, 1, out);
  EXPECT_EQ(out[0][0], 11);  // (4 - 10 + 18) + 10 = 22, (22 + 1) >> 1
  std::int64_t raw[2][2];
  k::linear<2, 2, 3, 0>(a, 2, w, bias, 0, raw);
  EXPECT_EQ(raw[0][0], 22);
  EXPECT_EQ(raw[1][1], -3 * 127 * 128);
  EXPECT_EQ(out[1][1], -128);
}

TEST(Selector, KeepDecisionAndCompaction) {
  std::int32_t score[5] = {10, -3, 7, 7, 100};
  std::uint8_t keep[5];
  EXPECT_EQ(k::keep_decision<5>(score, 5, 7, keep), 2);
  EXPECT_EQ(keep[0], 1);
  EXPECT_EQ(keep[2], 0);  // strictly greater
  EXPECT_EQ(k::keep_decision<5>(score, 5, INT32_MIN, keep), 5);
  std::int16_t x[6][2] = {{99, 99}, {0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}};
  std::int16_t idx[5] = {0, 5, 9, 12, 40};
  const std::uint8_t kp[5] = {0, 1, 0, 1, 1};
  EXPECT_EQ((k::compact_tokens<6, 2>(x, 1, 5, kp, idx)), 3);
  EXPECT_EQ(x[0][0], 99);
  EXPECT_EQ(x[1][0], 1);
  EXPECT_EQ(x[2][0], 3);
  EXPECT_EQ(x[3][1], 4);
  EXPECT_EQ(idx[0], 5);
  EXPECT_EQ(idx[1], 12);
  EXPECT_EQ(idx[2], 40);
}

TEST(Selector, PackageAccumulatesWeightedMean) {
  // two pruned tokens, scores 0 -> sigmoid 2048 (+1): equal weights 2049
  const std::int16_t x[4][2] = {{0, 0}, {100, -100}, {300, 50}, {7, 7}};
  const std::int32_t score[3] = {0, 0, 5000};
  const std::uint8_t keep[3] = {0, 0, 1};
  std::int64_t wsum = 0;
  std::int16_t pkg[2] = {1234, 1234};  // ignored while wsum == 0
  k::package_accumulate<4, 2>(x, 1, 3, score, keep, wsum, pkg);
  EXPECT_EQ(wsum, 2 * 2049);
  EXPECT_EQ(pkg[0], 200);
  EXPECT_EQ(pkg[1], -25);
  // a later selector prunes one more token with weight 4097 (score >= 4.0)
  const std::int16_t x2[2][2] = {{0, 0}, {-1000, 1000}};
  const std::int32_t s2[1] = {2000};
  const std::uint8_t k2[1] = {0};
  k::package_accumulate<2, 2>(x2, 1, 1, s2, k2, wsum, pkg);
  EXPECT_EQ(wsum, 2 * 2049 + 4097);
  EXPECT_EQ(pkg[0], (200 * 4098 - 1000 * 4097) / (4098 + 4097));
  EXPECT_EQ(pkg[1], (-25 * 4098 + 1000 * 4097) / (4098 + 4097));
}

TEST(Selector, HeadWeightedScoreAndMeans) {
  const std::int64_t w[2] = {4096, 0}, d[2] = {300, -900};
  EXPECT_EQ((k::head_weighted_score<2>(w, d)), 300);
  const std::int64_t w0[2] = {0, 0};
  EXPECT_EQ((k::head_weighted_score<2>(w0, d)), -300);
  std::int16_t h[3][4] = {{1, 2, 10, 20}, {3, 4, -11, 21}, {5, 6, 0, 0}};
  k::global_token_mean<3, 4, 2>(h, 2);
  EXPECT_EQ(h[0][2], 0);  // trunc(-1 / 2)
  EXPECT_EQ(h[1][3], 20);
  EXPECT_EQ(h[0][0], 1);
  EXPECT_EQ(h[2][2], 0);  // row 2 not among the n = 2 rows
}

TEST(Arith, ReciprocalDivisionIsExact) {
  std::uint64_t state = 12345;
  auto next = [&] {  // xorshift64
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  // softmax: numerators < 2^27, divisors 2 .. 2^26
  for (int it = 0; it < 200000; ++it) {
    const std::uint64_t d = 2 + next() % ((std::uint64_t(1) << (1 + next() % 26)));
    const std::uint64_t num = next() % (std::uint64_t(1) << 27);
    const std::uint64_t inv = (std::uint64_t(1) << 27) / d;
    ASSERT_EQ(k::div_floor_by_reciprocal<27>(num, d, inv), num / d) << num << " / " << d;
  }
  // LayerNorm: |d| < 2^17, sd in 1 .. 2^24, numerator d * 2^16
  for (int it = 0; it < 200000; ++it) {
    const i64 sd = 1 + static_cast<i64>(next() % (std::uint64_t(1) << (next() % 25)));
    const i64 n = static_cast<i64>(next() % (std::uint64_t(1) << 17));
    const std::uint64_t inv = (std::uint64_t(1) << 33) / static_cast<std::uint64_t>(sd);
    ASSERT_EQ(k::div_by_row_reciprocal(n, sd, inv), (n << 16) / sd) << n << " / " << sd;
  }
  for (i64 n : {i64(0), i64(1), i64(65535), i64(131071)})
    for (i64 sd : {i64(1), i64(2), i64(3), i64(65535), i64(65536), i64(1048575)})
      EXPECT_EQ(k::div_by_row_reciprocal(n, sd, (std::uint64_t(1) << 33) / static_cast<std::uint64_t>(sd)),
                (n << 16) / sd);
}
