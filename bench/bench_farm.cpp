// Rank 0's throughput in a distributed `heatvit dse` (docs/scale-out.md): an evaluator
// that does nothing, so what is measured is dispatching units, receiving and decoding
// results and committing them to the SQLite results store, per candidate.
//   mpirun -np N ./build/bin/bench_farm [candidates] [hw_points] [images]
// Prints one JSON object: ranks, candidates, seconds, candidates_per_s, units, and the
// per-candidate costs of the pieces measured in one process (encode+decode of a
// result, store commit).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "heatvit/dse/farm.hpp"
#include "heatvit/dse/mpi_farm.hpp"
#include "heatvit/dse/store.hpp"

using namespace heatvit;
using namespace heatvit::dse;
using Clock = std::chrono::steady_clock;

namespace {

/// Metrics as a real deit-micro evaluation fills them (`images` correctness bits).
std::vector<Metrics> null_eval(const std::vector<Candidate>& c, Split split, int images) {
  std::vector<Metrics> out(c.size());
  for (std::size_t i = 0; i < c.size(); ++i) {
    Metrics& m = out[i];
    m.cand = c[i];
    m.schedule = "2:0.7,5:0.6,7:0.6";
    m.split = split;
    m.images = images;
    m.has_accuracy = true;
    m.correct = images * 7 / 8;
    m.accuracy = 0.875;
    m.latency_ms = {0.18, 0.179, 0.21, 0.15, 0.22};
    m.macs = 1.4e7;
    m.res = {2320, 458, 95000, 120000};
    m.correct_bits.assign(static_cast<std::size_t>((images + 7) / 8), 0xb7);
  }
  return out;
}

double secs(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 200000;
  const long hw = argc > 2 ? std::atol(argv[2]) : 4;
  const int images = argc > 3 ? std::atoi(argv[3]) : 1000;
  if (n < 1 || hw < 1 || images < 1) {
    std::fprintf(stderr, "usage: bench_farm [candidates >= 1] [hw_points >= 1] [images >= 1]\n");
    return 2;
  }
  MpiSession session;
  MpiFarm::Hooks hooks;
  hooks.evaluate = null_eval;
  MpiFarm farm(session, hooks);
  if (!farm.master()) {
    farm.serve("bench", "");
    return 0;
  }
  farm.meet_workers("bench");
  farm.set_master_evaluates(session.size() == 1);
  const std::string dir = "/tmp/heatvit-bench-farm-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  json out;
  {
    Store store(dir + "/dse.sqlite", "bench", json{{"bench", true}});
    FarmBatch batch;
    batch.images = images;
    for (long s = 0; s * hw < n; ++s) {
      std::vector<Candidate> g;
      for (long h = 0; h < hw && s * hw + h < n; ++h) g.push_back({s, h});
      batch.add_group(g);
    }
    std::int64_t recorded = 0;
    const auto t0 = Clock::now();
    farm.run(batch, [&](const std::vector<std::size_t>&, std::vector<Metrics>&& ms) {
      store.put(ms);
      recorded += static_cast<std::int64_t>(ms.size());
    });
    const double s = secs(t0);
    farm.stop_workers();
    // The pieces, in this process: a result's encode + decode, a store commit.
    const std::vector<Candidate> probe(batch.cands.begin(), batch.cands.begin() + std::min<long>(n, 4096));
    WireResult r;
    r.metrics = null_eval(probe, Split::Validation, images);
    auto t1 = Clock::now();
    const WireResult back = decode_result(encode_result(r));
    const double codec = secs(t1) / static_cast<double>(probe.size());
    Store scratch(dir + "/scratch.sqlite", "bench", json{{"bench", true}});
    t1 = Clock::now();
    scratch.put(back.metrics);
    const double put = secs(t1) / static_cast<double>(probe.size());
    out = {{"ranks", session.size()},
           {"candidates", recorded},
           {"hw_points_per_schedule", hw},
           {"images", images},
           {"seconds", s},
           {"candidates_per_s", static_cast<double>(recorded) / s},
           {"result_codec_s_per_candidate", codec},
           {"store_put_s_per_candidate", put},
           {"farm", farm.stats()}};
  }
  std::filesystem::remove_all(dir);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
