// Testbench: runs the top function on the golden images and compares, image by image,
// every result word (logits, prediction, tokens per block, keep masks) with the
// functional model's outputs in tb_data/golden.dat; then compares the compute cycles
// the engine's loop nests took in each pass with the simulator's (tb_data/plan_cycles.dat).
//
// Exit status: 0 when every compared value is equal, every pass is within the latency
// tolerance and every data file is present and complete; 1 otherwise. A missing,
// empty, short or malformed file is a failure, never a skipped check.
//
// Usage: heatvit_tb [TB_DATA_DIR] (default: tb_data, then ../tb_data)
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../firmware/heatvit_top.h"
#include "../firmware/parameters.h"

namespace {

const double kLatencyTolerance = 0.05;  // relative, per pass

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "FAIL: %s: missing\n", path.c_str());
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  if (out.empty()) {
    std::fprintf(stderr, "FAIL: %s: empty\n", path.c_str());
    return false;
  }
  return true;
}

/// A little-endian file of `count` values of type R, converted element by element to
/// T (the storage types may be ap_int classes under the synthesis tool).
template <typename R, typename T>
bool read_binary(const std::string& path, std::vector<T>& v, std::size_t count) {
  std::string raw;
  if (!read_file(path, raw)) return false;
  if (raw.size() != count * sizeof(R)) {
    std::fprintf(stderr, "FAIL: %s: %zu bytes, expected %zu\n", path.c_str(), raw.size(), count * sizeof(R));
    return false;
  }
  v.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    R x;
    std::memcpy(&x, raw.data() + i * sizeof(R), sizeof(R));
    v[i] = T(x);
  }
  return true;
}

/// Lines of integers (comment lines start with '#'); each must have `width` values.
bool read_table(const std::string& path, std::vector<std::vector<long long>>& rows, std::size_t width,
                std::size_t expect_rows) {
  std::string raw;
  if (!read_file(path, raw)) return false;
  std::istringstream in(raw);
  std::string line;
  int ln = 0;
  while (std::getline(in, line)) {
    ++ln;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::vector<long long> r;
    long long x;
    while (ls >> x) r.push_back(x);
    if (!ls.eof() || r.size() != width) {
      std::fprintf(stderr, "FAIL: %s:%d: expected %zu integers\n", path.c_str(), ln, width);
      return false;
    }
    rows.push_back(r);
  }
  if (rows.size() != expect_rows) {
    std::fprintf(stderr, "FAIL: %s: %zu images, expected %zu\n", path.c_str(), rows.size(), expect_rows);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "tb_data";
  {
    std::ifstream probe(dir + "/golden.dat");
    if (argc <= 1 && !probe) dir = "../tb_data";
  }
  const std::size_t N = HV_TB_IMAGES;
  const std::size_t gw = 1 + HV_CLASSES + 1 + HV_DEPTH + HV_SELECTORS * HV_MASK_WORDS;
  std::vector<hv_w8_t> wmem;
  std::vector<hv_c32_t> cmem;
  std::vector<hv_px_t> images;
  std::vector<std::vector<long long>> golden, plan;
  bool ok = read_binary<std::int8_t>(dir + "/wmem.bin", wmem, HV_W_ELEMS);
  ok = read_binary<std::int32_t>(dir + "/cmem.bin", cmem, HV_C_WORDS) && ok;
  ok = read_binary<std::uint8_t>(dir + "/images.bin", images, N * HV_IMG_PIXELS) && ok;
  ok = read_table(dir + "/golden.dat", golden, gw, N) && ok;
  ok = read_table(dir + "/plan_cycles.dat", plan, 1 + HV_PASSES, N) && ok;
  if (!ok) return 1;

  std::vector<hv_a8_t> act8(HV_A8_ELEMS);
  std::vector<hv_a16_t> act16(HV_A16_ELEMS);
  std::vector<hv_r32_t> results(HV_RESULT_WORDS);
  std::vector<double> sum_sim(HV_PASSES, 0.0), sum_hls(HV_PASSES, 0.0), worst(HV_PASSES, 0.0);
  std::vector<int> seen(HV_PASSES, 0);
  long long mismatches = 0, latency_fail = 0, correct = 0;
  for (std::size_t i = 0; i < N; ++i) {
    heatvit_top(wmem.data(), cmem.data(), images.data() + i * HV_IMG_PIXELS, act8.data(), act16.data(),
                results.data(), 1);
    const std::vector<long long>& g = golden[i];
    if (g[0] != static_cast<long long>(i)) {
      std::fprintf(stderr, "FAIL: golden.dat: line of image %zu is numbered %lld\n", i, g[0]);
      return 1;
    }
    // result words: logits, prediction, tokens, masks (the golden line without its index)
    const std::size_t words = gw - 1;
    for (std::size_t w = 0; w < words; ++w) {
      long long got = static_cast<long long>(results[w]);
      if (w >= static_cast<std::size_t>(HV_RES_MASKS)) got = static_cast<long long>(static_cast<unsigned>(results[w]));
      if (got != g[1 + w]) {
        if (mismatches < 20) {
          const char* what = w < HV_CLASSES ? "logit" : w == HV_CLASSES ? "prediction" : w < HV_RES_MASKS ? "tokens" : "mask";
          std::fprintf(stderr, "MISMATCH image %zu word %zu (%s): got %lld, golden %lld\n", i, w, what, got, g[1 + w]);
        }
        ++mismatches;
      }
    }
    correct += results[HV_CLASSES] == g[1 + HV_CLASSES];
    for (int p = 0; p < HV_PASSES; ++p) {
      const long long sim = plan[i][static_cast<std::size_t>(1 + p)], hls = hv_pass_cycles[p];
      if (sim < 0) {
        if (hls != 0) {
          std::fprintf(stderr, "LATENCY image %zu pass %s: %lld cycles, the simulator's plan has no such pass\n", i,
                       kHvPassNames[p], hls);
          ++latency_fail;
        }
        continue;
      }
      const double rel = std::fabs(double(hls) - double(sim)) / (sim > 0 ? double(sim) : 1.0);
      sum_sim[static_cast<std::size_t>(p)] += double(sim);
      sum_hls[static_cast<std::size_t>(p)] += double(hls);
      if (rel > worst[static_cast<std::size_t>(p)]) worst[static_cast<std::size_t>(p)] = rel;
      ++seen[static_cast<std::size_t>(p)];
      if (rel > kLatencyTolerance) {
        if (latency_fail < 20)
          std::fprintf(stderr, "LATENCY image %zu pass %s: engine %lld cycles, simulator %lld (%.1f%%)\n", i,
                       kHvPassNames[p], hls, sim, 100.0 * rel);
        ++latency_fail;
      }
    }
  }
  // Per-pass latency table (mean over the images that ran the pass).
  std::FILE* csv = std::fopen("csim_latency.csv", "w");
  if (csv) std::fprintf(csv, "pass,images,sim_compute_cycles_mean,engine_cycles_mean,worst_rel_diff\n");
  double tot_sim = 0, tot_hls = 0;
  for (int p = 0; p < HV_PASSES; ++p) {
    const std::size_t q = static_cast<std::size_t>(p);
    tot_sim += sum_sim[q];
    tot_hls += sum_hls[q];
    if (csv && seen[q])
      std::fprintf(csv, "%s,%d,%.2f,%.2f,%.5f\n", kHvPassNames[p], seen[q], sum_sim[q] / seen[q], sum_hls[q] / seen[q],
                   worst[q]);
  }
  if (csv) std::fclose(csv);
  std::printf("heatvit csim: %zu images, %lld mismatching values, %lld/%zu predictions equal the golden ones\n", N,
              mismatches, correct, N);
  std::printf("heatvit csim: compute cycles per image, engine %.0f vs simulator %.0f (%+.3f%%); %lld pass-images "
              "outside %.0f%% (csim_latency.csv)\n",
              tot_hls / N, tot_sim / N, tot_sim > 0 ? 100.0 * (tot_hls - tot_sim) / tot_sim : 0.0, latency_fail,
              100 * kLatencyTolerance);
  const bool pass = mismatches == 0 && latency_fail == 0;
  std::printf("heatvit csim: %s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
