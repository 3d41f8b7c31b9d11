// The functional model's CPU path (func/cpu_ops.hpp) against the kernels it stands
// for: the same integers for random and extreme operands of every shape the model
// uses. Compiled like func_model.cpp (-march=native by default), so that the vector
// path under test is the one the model runs.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "heatvit/func/cpu_ops.hpp"
#include "heatvit/kernels/all.hpp"

namespace {

using namespace heatvit;
using func::CpuOps;
namespace k = heatvit::kernels;

std::mt19937_64& rng() {
  static std::mt19937_64 g(20261207);
  return g;
}
int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng()); }

/// Activations: int8 values, uint8 values (attention probabilities, GELU inputs are
/// int8 too) or one of the extremes everywhere.
std::int16_t act(int mode) {
  switch (mode) {
    case 0: return static_cast<std::int16_t>(uniform(-128, 127));
    case 1: return static_cast<std::int16_t>(uniform(0, 255));
    case 2: return -128;
    case 3: return 255;
    default: return static_cast<std::int16_t>(uniform(0, 1) ? -128 : 127);
  }
}
std::int16_t weight(int mode) {
  switch (mode) {
    case 2: case 3: return -128;
    case 4: return static_cast<std::int16_t>(uniform(0, 1) ? -128 : 127);
    default: return static_cast<std::int16_t>(uniform(-128, 127));
  }
}
int shift_of(int round) {
  // mostly the model's range, sometimes the loader's whole range [-30, 62]
  return round % 5 == 0 ? uniform(-30, 62) : uniform(-4, 24);
}

template <int MAX_M, int N, int K, int BITS>
void check_linear(int rounds) {
  auto l = std::make_unique<func::Linear<N, K>>();
  auto a = std::make_unique<std::int16_t[][K]>(MAX_M);
  auto want = std::make_unique<std::int16_t[][N]>(MAX_M);
  auto got = std::make_unique<std::int16_t[][N]>(MAX_M);
  int epilogues[2] = {0, 0};  // rounds on the 64-bit and on the 32-bit requantisation
  for (int round = 0; round < rounds; ++round) {
    const int mode = round % 5;
    l->shift = shift_of(round);
    // Every 7th round sits on the 32-bit requantisation's limit: |acc| at the kernel's
    // bound (255 x -128 in every product, mode 3) and |bias| as large as still allowed.
    const bool edge = round % 7 == 3 && l->shift >= 1 && l->shift <= 31;
    const std::int64_t edge_bias =
        (std::int64_t(1) << 31) - 1 - std::int64_t(K) * 255 * 128 - (std::int64_t(1) << (edge ? l->shift - 1 : 0));
    for (int n = 0; n < N; ++n) {
      for (int kk = 0; kk < K; ++kk) l->w[n][kk] = weight(edge ? 3 : mode);
      l->b[n] = edge ? static_cast<std::int32_t>(-edge_bias)
                     : (round % 3 == 0 ? static_cast<std::int32_t>(rng()()) : uniform(-100000, 100000));
    }
    ++epilogues[func::cpu::int32_epilogue(l->b, N, K, l->shift) ? 1 : 0];
    if (edge) {
      EXPECT_TRUE(func::cpu::int32_epilogue(l->b, N, K, l->shift));
      l->b[0] -= 1;  // one past the limit: back to 64 bits
      EXPECT_FALSE(func::cpu::int32_epilogue(l->b, N, K, l->shift));
      l->b[0] += 1;
    }
    CpuOps ops;
    ops.add(*l);
    if (func::cpu::kVector) {
      ASSERT_EQ(ops.layers(), N % 16 == 0 ? 1u : 0u);  // a layer the vector path does not take stays the kernel
    }
    const int m = round < 8 ? round % MAX_M + 1 : uniform(1, MAX_M);
    for (int i = 0; i < MAX_M; ++i)
      for (int kk = 0; kk < K; ++kk) a[i][kk] = act(edge ? 3 : mode);
    k::linear<MAX_M, N, K, BITS>(a.get(), m, l->w, l->b, l->shift, want.get());
    ops.linear<MAX_M, BITS>(a.get(), m, *l, got.get());
    for (int i = 0; i < m; ++i)
      for (int n = 0; n < N; ++n)
        ASSERT_EQ(got[i][n], want[i][n]) << "N=" << N << " K=" << K << " bits=" << BITS << " m=" << m << " row " << i
                                         << " col " << n << " shift " << l->shift << " round " << round;
  }
  if (rounds >= 40 && N % 16 == 0) {  // both requantisations were exercised
    EXPECT_GT(epilogues[0], 0);
    EXPECT_GT(epilogues[1], 0);
  }
}

TEST(CpuOps, LinearEqualsTheKernelOnEveryShapeOfTheModel) {
  check_linear<51, 64, 64, 8>(60);     // q, k, v
  check_linear<51, 64, 64, 16>(60);    // proj
  check_linear<51, 256, 64, 16>(40);   // fc1
  check_linear<51, 64, 256, 16>(40);   // fc2
  check_linear<49, 64, 16, 16>(40);    // patch embedding
  check_linear<49, 32, 32, 16>(60);    // selector l1
  check_linear<49, 16, 32, 16>(60);    // selector l2
  check_linear<49, 8, 16, 16>(20);     // selector l3: the kernel itself (N not a multiple of 16)
  check_linear<5, 48, 10, 8>(40);      // 48 = 3 vectors of 16, K = 10
}

template <int MAX_T, int D, int HD>
void check_attention(int t, int mode, int score_shift, int out_shift) {
  auto q = std::make_unique<std::int16_t[][D]>(MAX_T);
  auto kk = std::make_unique<std::int16_t[][D]>(MAX_T);
  auto v = std::make_unique<std::int16_t[][D]>(MAX_T);
  auto want = std::make_unique<std::int16_t[][D]>(MAX_T);
  auto got = std::make_unique<std::int16_t[][D]>(MAX_T);
  // q, k, v are int8 in the model; mode 5: queries of uint8 values, outside the byte
  // path's int8 domain (the 16-bit path takes them)
  const int am = mode == 1 || mode == 5 ? 0 : mode;
  for (int i = 0; i < MAX_T; ++i)
    for (int c = 0; c < D; ++c) {
      q[i][c] = static_cast<std::int16_t>(mode == 5 ? uniform(0, 255) : std::max(-128, std::min<int>(127, act(am))));
      kk[i][c] = static_cast<std::int16_t>(std::max(-128, std::min<int>(127, act(am))));
      v[i][c] = static_cast<std::int16_t>(std::max(-128, std::min<int>(127, act(am))));
    }
  k::attention<MAX_T, D, HD>(q.get(), kk.get(), v.get(), t, score_shift, out_shift, want.get());
  CpuOps().attention<MAX_T, D, HD>(q.get(), kk.get(), v.get(), t, score_shift, out_shift, got.get());
  for (int i = 0; i < t; ++i)
    for (int c = 0; c < D; ++c)
      ASSERT_EQ(got[i][c], want[i][c]) << "t=" << t << " row " << i << " col " << c << " mode " << mode
                                       << " shifts " << score_shift << " " << out_shift;
}

TEST(CpuOps, AttentionEqualsTheKernel) {
  for (int t : {1, 2, 3, 4, 5, 8, 16, 17, 31, 33, 49, 50, 51})
    for (int mode = 0; mode < 6; ++mode) {
      check_attention<51, 64, 32>(t, mode, uniform(-3, 20), uniform(-4, 20));
      check_attention<51, 64, 32>(t, mode, 6, 10);
    }
  for (int t : {1, 7, 20})  // another shape: 3 heads of 32, rows padded to 32
    check_attention<20, 96, 32>(t, 0, uniform(0, 12), uniform(0, 12));
}

TEST(CpuOps, SoftmaxRowEqualsTheKernelOverTheInt32Range) {
  std::vector<std::int32_t> s(51), want(51), got(51);
  for (int round = 0; round < 4000; ++round) {
    const int t = uniform(1, 51);
    const int spread = round % 4 == 0 ? 0 : uniform(0, 31);
    for (int j = 0; j < t; ++j) {
      const std::int64_t x = static_cast<std::int64_t>(rng()() >> 1) % ((std::int64_t(1) << spread) + 1);
      const std::int64_t v = round % 7 == 0 ? static_cast<std::int32_t>(rng()()) : (uniform(0, 1) ? x : -x);
      s[static_cast<std::size_t>(j)] = static_cast<std::int32_t>(v);
    }
    const int shift = round % 6 == 0 ? uniform(-30, 40) : uniform(-2, 16);
    k::softmax_row<51>(s.data(), t, shift, want.data());
    func::cpu::softmax_row<51>(s.data(), t, shift, got.data());
    for (std::size_t j = 0; j < static_cast<std::size_t>(t); ++j)
      ASSERT_EQ(got[j], want[j]) << "round " << round << " j " << j;
  }
}

TEST(CpuOps, SoftmaxDivisionEqualsTheKernel) {
  // the normalisation's division for every exponential of small row sums (exact
  // quotients, where the reciprocal's estimate can fall one short, are common there)
  // and random ones up to a row of 1024 elements of 2^15
  auto check = [](std::uint32_t e, std::uint32_t tot) {
    const std::uint64_t den = 2 * std::uint64_t(tot), inv = (std::uint64_t(1) << 27) / den;
    ASSERT_EQ(func::cpu::softmax_div(e, tot, std::uint32_t(den), inv),
              k::div_floor_by_reciprocal<27>(std::uint64_t(e) * 512u + tot, den, inv))
        << "e " << e << " tot " << tot;
  };
  for (std::uint32_t tot = 1; tot <= 4000; ++tot)
    for (std::uint32_t e = 0; e <= tot; ++e) check(e, tot);
  // exact quotients with a divisor that is not a power of two: tot = 512 m (m odd),
  // e = m (2j + 1) gives (512 e + tot) / (2 tot) = j + 1 (the first is tot = 1536, e = 3)
  for (std::uint32_t m = 3; m < 1024; m += 2)
    for (std::uint32_t e = m; e <= std::min(512 * m, 32767u); e += 2 * m) check(e, 512 * m);
  for (int i = 0; i < 200000; ++i) {
    const auto tot = static_cast<std::uint32_t>(uniform(1, 1 << 25));
    check(static_cast<std::uint32_t>(uniform(0, std::min(tot, 32767u))), tot);
  }
}

#if HEATVIT_CPU_OPS_AVX512
TEST(CpuOps, SoftmaxVectorDivisionEqualsTheKernel) {
  // The 16-lane division softmax_row uses, on 16 consecutive exponentials a vector
  // (odd and even lanes take different multiplies): the same domain as above.
  auto check = [](std::uint32_t e0, std::uint32_t tot) {
    const std::uint64_t den = 2 * std::uint64_t(tot), inv = (std::uint64_t(1) << 27) / den;
    alignas(64) std::uint32_t e[16], q[16];
    for (int l = 0; l < 16; ++l) e[l] = e0 + std::uint32_t(l);
    _mm512_store_si512(q, func::cpu::softmax_div_x16(_mm512_load_si512(e), tot, std::uint32_t(den), inv));
    for (int l = 0; l < 16; ++l)
      ASSERT_EQ(std::uint64_t(q[l]), std::uint64_t(k::div_floor_by_reciprocal<27>(std::uint64_t(e[l]) * 512u + tot, den, inv)))
          << "e " << e[l] << " tot " << tot;
  };
  for (std::uint32_t tot = 1; tot <= 4000; ++tot)
    for (std::uint32_t e = 0; e <= tot; e += 16) check(e, tot);
  for (std::uint32_t m = 3; m < 1024; m += 2)
    for (std::uint32_t e = m; e <= std::min(512 * m, 32767u); e += 2 * m) check(e - std::min(e, 7u), 512 * m);
  for (int i = 0; i < 20000; ++i) {
    const auto tot = static_cast<std::uint32_t>(uniform(1, 1 << 25));
    check(static_cast<std::uint32_t>(uniform(0, std::min(tot, 32767u))), tot);
  }
}
#endif

template <int C>
void check_layernorm(int rounds) {
  std::int16_t x[C], g[C], want[C], got[C];
  std::int32_t b[C];
  for (int round = 0; round < rounds; ++round) {
    const int kind = round % 5;
    const int base = uniform(-32768, 32767);
    for (int c = 0; c < C; ++c) {
      if (kind == 0) x[c] = static_cast<std::int16_t>(uniform(-32768, 32767));       // the whole int16 range
      else if (kind == 1) x[c] = static_cast<std::int16_t>(base);                      // constant: variance 0
      else if (kind == 2) x[c] = static_cast<std::int16_t>(uniform(0, 1) ? -32768 : 32767);  // largest variance
      else if (kind == 3) x[c] = static_cast<std::int16_t>(std::max(-32768, std::min(32767, base + uniform(-3, 3))));
      else  // a few channels off a constant: small standard deviations (1 .. 10), where the
            // reciprocal's estimate falls one short of an exact quotient
        x[c] = static_cast<std::int16_t>(
            std::max(-32768, std::min(32767, base + (uniform(0, 15) == 0 ? uniform(-2, 2) : 0))));
      g[c] = static_cast<std::int16_t>(uniform(-32768, 32767));
      b[c] = uniform(-(1 << 30), 1 << 30);
    }
    const int shift = round % 5 == 0 ? uniform(-8, 40) : uniform(8, 24);
    k::layernorm_row<C>(x, g, b, shift, want);
    func::cpu::layernorm_row<C>(x, g, b, shift, got);
    for (int c = 0; c < C; ++c) ASSERT_EQ(got[c], want[c]) << "C=" << C << " round " << round << " channel " << c;
  }
}

TEST(CpuOps, LayerNormEqualsTheKernel) {
  check_layernorm<64>(3000);
  check_layernorm<32>(3000);
  check_layernorm<48>(2000);  // not a power of two: the mean by division
}

TEST(CpuOps, LayerNormRowsEqualTheKernel) {
  // Whole token matrices (statistics 8 rows at a time, then the rows): counts around
  // the chunk of 8, rows of every kind check_layernorm draws.
  constexpr int C = 64, T = 51;
  static std::int16_t x[T][C], want[T][C], got[T][C], g[C];
  static std::int32_t b[C];
  for (int round = 0; round < 300; ++round) {
    const int rows = std::vector<int>{1, 7, 8, 9, 16, 17, 51}[static_cast<std::size_t>(round % 7)];
    for (int r = 0; r < rows; ++r) {
      const int base = uniform(-32768, 32767), kind = uniform(0, 3);
      for (int c = 0; c < C; ++c)
        x[r][c] = static_cast<std::int16_t>(
            kind == 0   ? uniform(-32768, 32767)
            : kind == 1 ? base
            : kind == 2 ? std::max(-32768, std::min(32767, base + uniform(-3, 3)))
                        : std::max(-32768, std::min(32767, base + (uniform(0, 15) == 0 ? uniform(-2, 2) : 0))));
    }
    for (int c = 0; c < C; ++c) {
      g[c] = static_cast<std::int16_t>(uniform(-32768, 32767));
      b[c] = uniform(-(1 << 30), 1 << 30);
    }
    const int shift = uniform(8, 24);
    k::layernorm<T, C>(x, rows, g, b, shift, want);
    func::cpu::layernorm_rows<C>(x, rows, g, b, shift, got);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < C; ++c) ASSERT_EQ(got[r][c], want[r][c]) << "rows " << rows << " row " << r << " channel " << c;
  }
}

TEST(CpuOps, LayerNormDivisionEqualsTheKernel) {
  // every |d| of an int16 row against the small standard deviations, where the
  // reciprocal's estimate falls one short of exact quotients (sd = 3, |d| = 3: the
  // estimate is 65535, the quotient 65536), and random larger ones
  auto check = [](std::int64_t sd) {
    const std::uint64_t inv = (std::uint64_t(1) << 33) / std::uint64_t(sd);
    for (std::int64_t ad = 0; ad < (std::int64_t(1) << 17); ++ad)
      ASSERT_EQ(std::int64_t(func::cpu::div_row(std::uint64_t(ad), std::uint64_t(sd), inv)),
                k::div_by_row_reciprocal(ad, sd, inv))
          << "|d| " << ad << " sd " << sd;
  };
  for (std::int64_t sd = 1; sd <= 40; ++sd) check(sd);
  for (int i = 0; i < 20; ++i) check(uniform(41, 1 << 30));
}

#if HEATVIT_CPU_OPS_AVX512
TEST(CpuOps, LayerNormVectorDivisionEqualsTheKernel) {
  // The 8-lane division LayerNorm uses for sd >= 3: every |d| of an int16 row against
  // the small standard deviations (where the estimate falls one short) and random ones
  // up to the largest sd an int16 row can have (2^20).
  auto check = [](std::int64_t sd) {
    const std::uint64_t inv = (std::uint64_t(1) << 33) / std::uint64_t(sd);
    const __m512i sdv = _mm512_set1_epi64(sd), invv = _mm512_set1_epi64(std::int64_t(inv));
    alignas(64) std::int64_t ad[8], q[8];
    for (std::int64_t a0 = 0; a0 < (std::int64_t(1) << 17); a0 += 8) {
      for (int l = 0; l < 8; ++l) ad[l] = a0 + l;
      _mm512_store_si512(q, func::cpu::div_row_x8(_mm512_load_si512(ad), sdv, invv));
      for (int l = 0; l < 8; ++l)
        ASSERT_EQ(q[l], k::div_by_row_reciprocal(ad[l], sd, inv)) << "|d| " << ad[l] << " sd " << sd;
    }
  };
  for (std::int64_t sd = 3; sd <= 40; ++sd) check(sd);
  for (int i = 0; i < 20; ++i) check(uniform(41, 1 << 20));
  check(1 << 20);
}
#endif

TEST(CpuOps, SquareRootEqualsTheKernel) {
  for (std::uint64_t n = 0; n < 100000; ++n) ASSERT_EQ(func::cpu::isqrt(n), k::isqrt(n)) << n;
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t n = rng()() >> uniform(0, 63);
    ASSERT_EQ(func::cpu::isqrt(n), k::isqrt(n)) << n;
    const std::uint64_t r = k::isqrt(n) & 0x3ffffff;  // squares and their neighbours below 2^52
    for (std::uint64_t m : {r * r - (r ? 1 : 0), r * r, r * r + 1}) ASSERT_EQ(func::cpu::isqrt(m), k::isqrt(m)) << m;
  }
  for (std::uint64_t n : {(std::uint64_t(1) << 52) - 1, std::uint64_t(1) << 52, ~std::uint64_t(0)})
    EXPECT_EQ(func::cpu::isqrt(n), k::isqrt(n)) << n;
}

TEST(CpuOps, GeluEqualsTheKernelOnEveryInput) {
  constexpr int C = 256;
  std::int16_t x[C], want[1][C], got[C];
  for (int frac_out : {-40, -21, -20, -5, 0, 2, 4, 5, 6, 7, 9, 10, 11, 20, 24, 25, 26, 40})
    for (int v0 = -32768; v0 <= 32767; v0 += C) {
      for (int c = 0; c < C; ++c) x[c] = static_cast<std::int16_t>(v0 + c);
      const std::int16_t(*xr)[C] = &x;
      k::gelu_layer<1, C>(xr, 1, frac_out, want);
      func::cpu::gelu_row<C>(x, frac_out, got);
      for (int c = 0; c < C; ++c) ASSERT_EQ(got[c], want[0][c]) << "x " << x[c] << " frac_out " << frac_out;
    }
}

TEST(CpuOps, ResidualAddEqualsTheKernel) {
  constexpr int D = 64;
  std::int16_t x[1][D], y[D], a[1][D];
  for (int round = 0; round < 2000; ++round) {
    for (int c = 0; c < D; ++c) {
      const int v = round % 3 == 0 ? (uniform(0, 1) ? -32768 : 32767) : uniform(-32768, 32767);
      x[0][c] = y[c] = static_cast<std::int16_t>(v);
      a[0][c] = static_cast<std::int16_t>(uniform(-32768, 32767));
    }
    k::add_saturate16<1, D>(x, a, 1);
    func::cpu::add_saturate16_row<D>(y, a[0]);
    for (int c = 0; c < D; ++c) ASSERT_EQ(y[c], x[0][c]);
  }
}

}  // namespace
