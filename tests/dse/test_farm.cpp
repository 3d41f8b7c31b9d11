// The farm's plain C++ parts: unit sizes, the wire form of units and results, the
// local farm's chunks, and the store's added / rewritten counters. The MPI farm itself
// runs under mpirun in tests/dse/mpi.sh.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "heatvit/dse/farm.hpp"
#include "heatvit/dse/mpi_farm.hpp"
#include "heatvit/dse/run.hpp"
#include "heatvit/dse/store.hpp"

using namespace heatvit;
using namespace heatvit::dse;

namespace {

Metrics sample(std::int64_t s, std::int64_t h, int images) {
  Metrics m;
  m.cand = {s, h};
  m.schedule = "2:0.5,7:0.6";
  m.split = Split::Test;
  m.images = images;
  m.fits = true;
  m.feasible = false;
  m.why = "accuracy drop 3.1 > 3";
  m.violation = 0.0333333333333333;
  m.has_accuracy = true;
  m.correct = images - 3;
  m.accuracy = double(m.correct) / images;
  m.latency_ms = {0.1575123456789, 0.1583, 0.1778, 0.12, 0.19};
  m.macs = 14012345.5;
  m.res = {2320, 458, 95856, 120001};
  m.correct_bits.assign(static_cast<std::size_t>((images + 7) / 8), 0);
  for (int i = 0; i < images; i += 3) m.correct_bits[static_cast<std::size_t>(i / 8)] |= std::uint8_t(1u << (i % 8));
  return m;
}

}  // namespace

TEST(UnitSizer, FloorFirstThenGuidedWithinBounds) {
  UnitSizer u(8.0, 16384);
  EXPECT_EQ(u.groups(1000, 1000, 2.0, 2), 62u);  // cost unknown: the floor, 1000 / (8 x 2)
  EXPECT_EQ(u.groups(1000, 10, 2.0, 2), 1u);     // at least one group
  EXPECT_EQ(u.groups(0, 1000, 2.0, 2), 0u);
  u.observe(4, 0.04);  // 0.01 s a candidate
  EXPECT_DOUBLE_EQ(u.per_candidate(), 0.01);
  // guided: 1000 / (2 x 2) = 250 (8 s would allow 400)
  EXPECT_EQ(u.groups(1000, 1000, 2.0, 2), 250u);
  // towards the end: remaining / 4, but not below 1000 / (8 x 2) = 62
  EXPECT_EQ(u.groups(400, 1000, 2.0, 2), 100u);
  EXPECT_EQ(u.groups(100, 1000, 2.0, 2), 62u);
  EXPECT_EQ(u.groups(30, 1000, 2.0, 2), 30u);  // never more than what is left
  EXPECT_EQ(u.groups(3, 10, 2.0, 2), 1u);
  // the time bound: 0.064 s a candidate, 2 a group: 8 s = 62 groups
  u.observe(10, 1.9);  // 0.7 x 0.01 + 0.3 x 0.19 = 0.064
  EXPECT_NEAR(u.per_candidate(), 0.064, 1e-12);
  EXPECT_EQ(u.groups(1000, 1000, 2.0, 2), 62u);
  // a group slower than the target still goes out whole
  u.observe(1, 1000.0);
  EXPECT_EQ(u.groups(1000, 1000, 2.0, 2), 1u);
  // cheap evaluations: bounded by the candidates a message may carry
  UnitSizer cheap(8.0, 16384);
  EXPECT_EQ(cheap.groups(1000000, 1000000, 4.0, 2), 4096u);  // unknown cost: floor 62,500, size 4,096
  cheap.observe(1000, 0.004);
  EXPECT_EQ(cheap.groups(1000000, 1000000, 4.0, 2), 4096u);
  cheap.observe(0, 1.0);  // ignored
  cheap.observe(5, std::nan(""));
  EXPECT_DOUBLE_EQ(cheap.per_candidate(), 4e-6);
}

TEST(Wire, UnitRoundTrip) {
  const std::vector<Candidate> c = {{0, 0}, {5, 3}, {1LL << 40, 7}};
  const WireUnit u = decode_unit(encode_unit(42, Split::Test, 250, c));
  EXPECT_EQ(u.id, 42);
  EXPECT_EQ(u.split, Split::Test);
  EXPECT_EQ(u.images, 250);
  EXPECT_EQ(u.cands, c);
  EXPECT_THROW(decode_unit(R"({"u":1,"s":0,"n":5,"c":[1,2,3]})"), std::runtime_error);
  EXPECT_ANY_THROW(decode_unit("{"));
  EXPECT_TRUE(u.added.empty());
  // Schedules outside the space (baselines) travel with their numbering.
  const WireUnit a = decode_unit(encode_unit(7, Split::Validation, 100, {{61, 1}}, 60, {"3:0.5,6:0.5,9:0.5", "3:0.7,6:0.7,9:0.7"}));
  EXPECT_EQ(a.added_base, 60);
  EXPECT_EQ(a.added, (std::vector<std::string>{"3:0.5,6:0.5,9:0.5", "3:0.7,6:0.7,9:0.7"}));
  EXPECT_THROW(decode_unit(R"({"u":1,"s":0,"n":5,"c":[1,2],"x":{"base":-1,"keys":["3:0.5"]}})"), std::runtime_error);
  EXPECT_THROW(decode_unit(R"({"u":1,"s":0,"n":5,"c":[1,2],"x":{"base":4,"keys":[3]}})"), std::runtime_error);
  EXPECT_THROW(decode_unit(R"({"u":1,"s":0,"n":5,"c":[1,2],"x":{"base":4,"keys":"3:0.5"}})"), std::runtime_error);
}

TEST(Wire, ResultRoundTripIsExact) {
  WireResult r;
  r.id = 7;
  r.seconds = 1.25;
  r.image_runs = 12345;
  r.state = json{{"thresholds", {{"2:500", -12}}}};
  r.metrics = {sample(3, 1, 200), sample(4, 0, 13)};
  r.metrics[1].has_accuracy = false;
  r.metrics[1].accuracy = std::nan("");
  r.metrics[1].correct_bits.clear();
  r.metrics[1].split = Split::Validation;
  const WireResult b = decode_result(encode_result(r));
  EXPECT_EQ(b.id, 7);
  EXPECT_EQ(b.seconds, 1.25);
  EXPECT_EQ(b.image_runs, 12345);
  EXPECT_EQ(b.state, r.state);
  ASSERT_EQ(b.metrics.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(metrics_to_json(b.metrics[i]), metrics_to_json(r.metrics[i]));  // doubles bit for bit
    EXPECT_EQ(b.metrics[i].correct_bits, r.metrics[i].correct_bits);
    EXPECT_EQ(b.metrics[i].split, r.metrics[i].split);
  }
  EXPECT_EQ(b.metrics[0].latency_ms.mean, 0.1575123456789);
  EXPECT_TRUE(std::isnan(b.metrics[1].accuracy));
}

TEST(Wire, BitsHex) {
  const std::vector<std::uint8_t> v = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(bits_to_hex(v), "000fa5ff");
  EXPECT_EQ(bits_from_hex("000fa5ff"), v);
  EXPECT_TRUE(bits_from_hex("").empty());
  EXPECT_THROW(bits_from_hex("abc"), std::runtime_error);
  EXPECT_THROW(bits_from_hex("zz"), std::runtime_error);
  EXPECT_THROW(bits_from_hex("AB"), std::runtime_error);  // the encoder writes lower case only
}

TEST(LocalFarm, ChunksOfWholeGroupsInOrder) {
  FarmBatch b;
  b.split = Split::Validation;
  b.images = 9;
  b.add_group({{0, 0}, {0, 1}});
  b.add_group({{1, 0}});
  b.add_group({{2, 0}, {2, 1}, {2, 2}});
  ASSERT_EQ(b.groups(), 3u);
  EXPECT_EQ(b.candidates_of({0, 2}), (std::vector<Candidate>{{0, 0}, {0, 1}, {2, 0}, {2, 1}, {2, 2}}));
  std::vector<std::vector<Candidate>> calls;
  LocalFarm f(
      [&](const std::vector<Candidate>& c, Split, int images) {
        EXPECT_EQ(images, 9);
        calls.push_back(c);
        std::vector<Metrics> ms;
        for (const Candidate& x : c) ms.push_back(sample(x.schedule, x.hw, images));
        return ms;
      },
      2);
  std::vector<std::vector<std::size_t>> units;
  std::size_t got = 0;
  f.run(b, [&](const std::vector<std::size_t>& groups, std::vector<Metrics>&& ms) {
    units.push_back(groups);
    got += ms.size();
  });
  EXPECT_EQ(units, (std::vector<std::vector<std::size_t>>{{0, 1}, {2}}));
  EXPECT_EQ(calls.size(), 2u);
  EXPECT_EQ(got, 6u);
  g_interrupted = true;
  EXPECT_THROW(f.run(b, [](const std::vector<std::size_t>&, std::vector<Metrics>&&) {}), Interrupted);
  g_interrupted = false;
}

TEST(Store, CountsAddedAndRewrittenRows) {
  const std::string path = ::testing::TempDir() + "/dse-store-counts.sqlite";
  std::filesystem::remove(path);
  Store s(path, "h", json{{"x", 1}});
  s.put({sample(1, 0, 8), sample(2, 0, 8)});
  s.put({sample(2, 0, 8), sample(3, 0, 8)});
  EXPECT_EQ(s.added(), 3u);
  EXPECT_EQ(s.rewritten(), 1u);
}

TEST(Launcher, WorldSizeFromTheEnvironment) {
  // Whatever this test runs under, the answer follows the variables it reads.
  const char* keep = std::getenv("OMPI_COMM_WORLD_SIZE");
  const std::string saved = keep ? keep : "";
  setenv("OMPI_COMM_WORLD_SIZE", "6", 1);
  EXPECT_EQ(launcher_world_size(), 6);
  setenv("OMPI_COMM_WORLD_SIZE", "x6", 1);  // not a number: not a launcher of ours
  unsetenv("PMIX_RANK");
  unsetenv("PMI_SIZE");
  EXPECT_EQ(launcher_world_size(), 0);
  // srun with PMIx: the task count is the world
  unsetenv("OMPI_COMM_WORLD_SIZE");
  setenv("SLURM_NTASKS", "4", 1);
  EXPECT_EQ(launcher_world_size(), 0);  // Slurm alone does not make an MPI job
  setenv("PMIX_RANK", "2", 1);
  EXPECT_EQ(launcher_world_size(), 4);
  unsetenv("PMIX_RANK");
  unsetenv("SLURM_NTASKS");
  if (keep) setenv("OMPI_COMM_WORLD_SIZE", saved.c_str(), 1);
}

TEST(LocalFarm, SystemcRunsPreparedInOrderReportedAllOrFinishedBeforeAnError) {
  SimBatch b;
  b.images = 5;
  b.cands = {{3, 0}, {4, 1}, {5, 0}, {6, 1}};
  std::vector<Candidate> prepared;
  std::atomic<int> ticks{0};
  LocalFarm f([](const std::vector<Candidate>&, Split, int) { return std::vector<Metrics>(); }, 1,
              [&](const Candidate& c, int images) -> std::function<json()> {
                prepared.push_back(c);  // on the calling thread, in order
                return [c, images] {
                  if (c.schedule == 5) throw std::runtime_error("SystemC child failed");
                  return json{{"schedule", c.schedule}, {"images", images}};
                };
              },
              2);
  std::map<std::size_t, json> got;
  EXPECT_THROW(f.simulate(b, [&](std::size_t k, json&& r) { got[k] = std::move(r); }, [&] { ++ticks; }),
               std::runtime_error);
  EXPECT_EQ(prepared, b.cands);
  // Every run but the failed one finished (two threads, one run each at a time) and
  // was reported before the error.
  EXPECT_FALSE(got.count(2));
  for (const auto& [k, r] : got) {
    EXPECT_EQ(r["schedule"].get<std::int64_t>(), b.cands[k].schedule);
    EXPECT_EQ(r["images"].get<int>(), 5);
  }
  EXPECT_EQ(ticks.load(), static_cast<int>(got.size()));
  b.cands = {{3, 0}, {4, 1}};
  got.clear();
  f.simulate(b, [&](std::size_t k, json&& r) { got[k] = std::move(r); }, {});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1]["schedule"].get<std::int64_t>(), 4);
}

TEST(Wire, SimResultRoundTripAndShape) {
  const json r = {{"images", 50},
                  {"latency_ms", {{"mean", 0.1575123456789}, {"p50", 0.158}, {"p99", 0.1778}}},
                  {"analytic_same_images", {{"mean", 0.16}, {"p50", 0.16}, {"p99", 0.18}}},
                  {"disagreement", -0.012}};
  const SimWireResult back = decode_sim_result(encode_sim_result(9, r, 1234));
  EXPECT_EQ(back.id, 9);
  EXPECT_EQ(back.image_runs, 1234);
  EXPECT_EQ(back.result, r);
  EXPECT_EQ(back.result["latency_ms"]["mean"].get<double>(), 0.1575123456789);
  // What rank 0 reads of a result must be there: anything else is an error.
  EXPECT_THROW(decode_sim_result(R"({"u":1,"r":0,"sc":3})"), std::runtime_error);
  EXPECT_THROW(decode_sim_result(R"({"u":1,"r":0,"sc":{}})"), std::runtime_error);
  EXPECT_THROW(decode_sim_result(R"([1])"), std::runtime_error);
  EXPECT_ANY_THROW(decode_sim_result(R"({"u":1.5,"r":0,"sc":{}})"));
  json bad = r;
  bad["latency_ms"].erase("p99");
  EXPECT_THROW(decode_sim_result(encode_sim_result(1, bad, 0)), std::runtime_error);
  bad = r;
  bad["images"] = 0;
  EXPECT_THROW(decode_sim_result(encode_sim_result(1, bad, 0)), std::runtime_error);
  bad = r;
  bad["disagreement"] = "small";
  EXPECT_THROW(decode_sim_result(encode_sim_result(1, bad, 0)), std::runtime_error);
}
