// A simulation fed while it runs (StreamingSim, SimJob::stream) against the same plans
// given up front: identical timing and statistics; failures on either side end cleanly.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <memory>
#include <stdexcept>

#include "heatvit/core/error.hpp"
#include "heatvit/models/model.hpp"
#include "heatvit/sim/job.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/simulator.hpp"

using namespace heatvit;
using namespace heatvit::sim;

namespace {

HwConfig hw() { return load_hw_config(std::string(HEATVIT_TEST_CONFIGS) + "/hw/zcu102-heatvit.json"); }
ModelShape micro() { return load_model("deit-micro"); }

// Token vectors of deit-micro (depth 12, selectors before blocks 2, 5 and 7) with their
// kept counts; some repeat, as images do.
struct Img {
  std::vector<int> tokens, kept;
};
std::vector<Img> images() {
  auto tok = [](int a, int b, int c) {
    std::vector<int> t(12, 50);
    for (int i = 2; i < 12; ++i) t[static_cast<std::size_t>(i)] = i < 5 ? a : i < 7 ? b : c;
    return t;
  };
  return {{tok(44, 18, 11), {42, 16, 9}}, {tok(40, 20, 12), {38, 18, 10}}, {tok(44, 18, 11), {42, 16, 9}},
          {tok(50, 30, 20), {49, 28, 18}}, {tok(40, 20, 12), {38, 18, 10}}, {tok(36, 16, 8), {34, 14, 6}}};
}

bool no_children_left() {
  int status = 0;
  return ::waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD;
}

}  // namespace

TEST(Streaming, SameResultsAsPlansGivenUpFront) {
  const HwConfig h = hw();
  const ModelShape m = micro();
  const std::vector<int> blocks = {2, 5, 7};
  std::vector<Plan> plans;
  for (const Img& im : images()) plans.push_back(make_plan(build_workload(m, im.tokens, blocks, im.kept), h));
  std::vector<const Plan*> ptrs;
  for (const auto& p : plans) ptrs.push_back(&p);
  const SimRun ref = simulate(h, ptrs);

  StreamingSim s(h, {}, [&](const std::vector<int>& t, const std::vector<int>& k) {
    return make_plan(build_workload(m, t, blocks, k), h);
  });
  for (const Img& im : images()) s.add(im.tokens, im.kept);
  const SimRun got = s.finish();
  ASSERT_EQ(got.plans.size(), ref.plans.size());
  for (std::size_t i = 0; i < ref.plans.size(); ++i) {
    ASSERT_EQ(got.plans[i].passes.size(), ref.plans[i].passes.size());
    for (std::size_t j = 0; j < ref.plans[i].passes.size(); ++j) {
      EXPECT_EQ(got.plans[i].passes[j].cycles, ref.plans[i].passes[j].cycles) << i << "/" << j;
      EXPECT_EQ(got.plans[i].passes[j].stall_cycles, ref.plans[i].passes[j].stall_cycles) << i << "/" << j;
    }
  }
  EXPECT_EQ(got.stats.dump(), ref.stats.dump());
  EXPECT_TRUE(no_children_left());
}

TEST(Streaming, JobReportEqualsTheUpFrontJob) {
  SimJob a;
  a.model = micro();
  a.hw = hw();
  a.hw_name = "zcu102-heatvit";
  a.selector_blocks = {2, 5, 7};
  SimJob b = a;
  int cls = 0;
  for (const Img& im : images()) {
    a.images.push_back(im.tokens);
    a.kept.push_back(im.kept);
    a.predicted_class.push_back(cls++ % 3);
  }
  b.stream = [](const SimJob::Emit& emit) {
    int c = 0;
    for (const Img& im : images()) emit(im.tokens, im.kept, c++ % 3);
  };
  const json ra = run_job(a).report, rb = run_job(b).report;
  EXPECT_EQ(ra.dump(), rb.dump());
  EXPECT_EQ(rb["distinct_token_vectors"], 4);
  EXPECT_TRUE(no_children_left());
}

TEST(Streaming, ProducerFailureEndsTheChild) {
  SimJob j;
  j.model = micro();
  j.hw = hw();
  j.selector_blocks = {2, 5, 7};
  j.stream = [](const SimJob::Emit& emit) {
    const Img im = images()[0];
    emit(im.tokens, im.kept, -1);
    throw std::runtime_error("producer failed");
  };
  EXPECT_THROW(run_job(j), std::runtime_error);
  EXPECT_TRUE(no_children_left());
  // Bad token vectors are refused in the parent (before the child sees them).
  j.stream = [](const SimJob::Emit& emit) { emit(std::vector<int>(12, 0), {}, -1); };
  EXPECT_THROW(run_job(j), InputError);
  EXPECT_TRUE(no_children_left());
}

TEST(Streaming, ChildFailureIsReportedAsItsError) {
  const HwConfig h = hw();
  StreamingSim s(h, {}, [](const std::vector<int>&, const std::vector<int>&) -> Plan {
    throw InputError("feed", "tokens", "refused in the child");
  });
  // More than a pipe holds: the child's end of the feed closes, the parent gets EPIPE
  // (not a SIGPIPE death) and add() throws the child's error.
  EXPECT_THROW(
      {
        for (int i = 0; i < 2000; ++i) s.add(std::vector<int>(64, i), {});
        s.finish();
      },
      InputError);
  EXPECT_TRUE(no_children_left());
}

TEST(Streaming, AnyExceptionInTheChildStaysInTheChild) {
  const HwConfig h = hw();
  StreamingSim s(h, {}, [](const std::vector<int>&, const std::vector<int>&) -> Plan { throw 42; });
  s.add({1}, {});
  EXPECT_THROW(s.finish(), InternalError);
  EXPECT_TRUE(no_children_left());
}

namespace {
void (*sigpipe_handler())(int) {
  struct sigaction now {};
  ::sigaction(SIGPIPE, nullptr, &now);
  return now.sa_handler;
}
}  // namespace

TEST(Streaming, SigpipeIgnoredWhileAnyLivesAndRestoredAfterTheLast) {
  const HwConfig h = hw();
  auto build = [](const std::vector<int>&, const std::vector<int>&) -> Plan { return Plan{}; };
  ASSERT_EQ(sigpipe_handler(), SIG_DFL);
  auto a = std::make_unique<StreamingSim>(h, SimOptions{}, build);
  auto b = std::make_unique<StreamingSim>(h, SimOptions{}, build);
  EXPECT_EQ(sigpipe_handler(), SIG_IGN);
  a.reset();  // not in reverse order of construction
  EXPECT_EQ(sigpipe_handler(), SIG_IGN);
  b.reset();
  EXPECT_EQ(sigpipe_handler(), SIG_DFL);
  EXPECT_TRUE(no_children_left());
}
