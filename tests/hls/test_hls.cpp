// The HLS generator: the lint on code that breaks each rule, the layer program against
// the simulator's plan, the resource cross-check, buffer checks and determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/func/evaluate.hpp"
#include "heatvit/hls/hls.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/models/workload.hpp"
#include "heatvit/sim/hw_config.hpp"

namespace hh = heatvit::hls;
using heatvit::InputError;

namespace {

const std::string kDefines = "#define HV_N 16\n#define HV_BUNDLE_A gmem0\n";

std::vector<hh::LintIssue> lint_one(const std::string& code) {
  return hh::lint_firmware({{"firmware/x.cpp", code}}, kDefines, "firmware/top.cpp", "top");
}

std::set<std::string> rules(const std::vector<hh::LintIssue>& v) {
  std::set<std::string> r;
  for (const auto& i : v) r.insert(i.rule);
  return r;
}

}  // namespace

TEST(HlsLint, CleanCodePasses) {
  const std::string ok = R"(
#include <cstdint>
template <int N, typename T>
void f(const T a[N], T out[N], int m) {
  T buf[N];
  loop: for (int i = 0; i < N; ++i) { buf[i] = a[i]; }
  dyn: for (int i = 0; i < m; ++i) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=N)
    HEATVIT_HLS(PIPELINE II=1)
    out[i] = buf[i];
  }
}
constexpr int lg(int c) { int l = 0; while (c > 1) { c /= 2; ++l; } return l; }
#ifndef __SYNTHESIS__
#include <vector>
static std::vector<int> debug_only;
#endif
)";
  const auto v = lint_one(ok);
  for (const auto& i : v) ADD_FAILURE() << i.file << ":" << i.line << " " << i.rule << ": " << i.message;
}

TEST(HlsLint, EachRuleFires) {
  EXPECT_EQ(rules(lint_one("void f() { int* p = new int[4]; delete[] p; }")), std::set<std::string>{"heap"});
  EXPECT_EQ(rules(lint_one("void f() { void* p = malloc(4); }")), std::set<std::string>{"heap"});
  EXPECT_EQ(rules(lint_one("#include <vector>\nstd::vector<int> v;")), std::set<std::string>{"stl"});
  EXPECT_EQ(rules(lint_one("void f(int x) { if (x) throw 1; }")), std::set<std::string>{"exceptions"});
  EXPECT_EQ(rules(lint_one("struct A { virtual void g(); };")), std::set<std::string>{"virtual"});
  EXPECT_EQ(rules(lint_one("int f(int n) { return n ? f(n - 1) : 0; }")), std::set<std::string>{"recursion"});
  EXPECT_EQ(rules(lint_one("void f(int m, int* a) { for (int i = 0; i < m; ++i) { a[i] = 0; } }")),
            std::set<std::string>{"loop-bound"});
  // a TRIPCOUNT inside a nested loop does not bound the outer one
  EXPECT_EQ(rules(lint_one("void f(int m, int* a) { for (int i = 0; i < m; ++i) { for (int j = 0; j < m; ++j) {\n"
                           "HEATVIT_HLS(LOOP_TRIPCOUNT max=HV_N)\n a[j] = i; } } }")),
            std::set<std::string>{"loop-bound"});
  EXPECT_EQ(rules(lint_one("void f(int m) { while (m > 0) --m; }")), std::set<std::string>{"loop-bound"});
  EXPECT_EQ(rules(lint_one("void f(int m) { int a[m]; a[0] = 1; }")), std::set<std::string>{"array"});
  // a runtime value in capitals is not a template parameter; every declarator counts
  EXPECT_EQ(rules(lint_one("void f(int n) { const int D3 = n; int t[D3]; t[0] = 0; }")), std::set<std::string>{"array"});
  EXPECT_EQ(rules(lint_one("void f(int n) { int ok[HV_N], bad[n]; ok[0] = bad[0]; }")), std::set<std::string>{"array"});
  EXPECT_EQ(rules(lint_one("void f(int n) { int b2[n] {}; (void)b2; }")), std::set<std::string>{"array"});
  EXPECT_EQ(rules(lint_one("void f(int n) { for (int i = 0; i < D3; ++i) {} }")), std::set<std::string>{"loop-bound"});
  // only the exact C-simulation guards hide code; #if 0 is dead code
  EXPECT_EQ(rules(lint_one("#if !defined(__SYNTHESIS__) || defined(FOO)\nint* p = new int;\n#endif")),
            std::set<std::string>{"heap"});
  EXPECT_EQ(rules(lint_one("void f(int* a) { for (int i = 0; i < HV_N; ++i) {\nHEATVIT_HLS(UNROLL factor=m)\n a[i] = 0; } }")),
            std::set<std::string>{"pragma"});
  EXPECT_EQ(rules(lint_one("void f(int* a) {\nHEATVIT_HLS(INTERFACE m_axi port=a bundle=gmem7)\n}")),
            std::set<std::string>{"pragma"});
  // the top function: every argument and the return need an INTERFACE pragma
  const auto top = hh::lint_firmware(
      {{"firmware/top.cpp", "void top(int* a, int n) {\nHEATVIT_HLS(INTERFACE m_axi port=a bundle=HV_BUNDLE_A)\n"
                            "HEATVIT_HLS(INTERFACE s_axilite port=return)\n}"}},
      kDefines, "firmware/top.cpp", "top");
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].rule, "interface");
  const auto dead = hh::lint_firmware(
      {{"firmware/top.cpp", "void top(int* a) {\nHEATVIT_HLS(INTERFACE s_axilite port=return)\n#if 0\n"
                            "HEATVIT_HLS(INTERFACE m_axi port=a bundle=HV_BUNDLE_A)\n#endif\n}"}},
      kDefines, "firmware/top.cpp", "top");
  EXPECT_EQ(rules(dead), std::set<std::string>{"interface"});
  EXPECT_NE(top[0].message.find("'n'"), std::string::npos);
  // the issue names file and line
  const auto v = lint_one("\n\nvoid f() { int* p = new int; }");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].file, "firmware/x.cpp");
  EXPECT_EQ(v[0].line, 3);
}

TEST(HlsLint, CommentsAndStringsAreIgnored) {
  EXPECT_TRUE(lint_one("// new delete throw virtual std::vector\nconst char* s = \"throw new\";").empty());
}

namespace {

struct Micro {
  heatvit::ModelShape model = heatvit::load_model("deit-micro");
  heatvit::sim::HwConfig hw =
      heatvit::sim::load_hw_config(heatvit::project_root() + "/configs/hw/zcu102-heatvit.json");
};

}  // namespace

TEST(HlsProgram, CoversEveryPassOfThePlan) {
  Micro m;
  const auto plan = hh::program_plan(m.model, m.hw, {2, 5, 7});
  // every selector: fc1-4, hw_fc1-2, decision, compaction (+ the package pass added by
  // the generator); every block: qkv, attention, proj, fc1, fc2; stem and head.
  EXPECT_EQ(plan.passes.size(), 1u + 12u * 5u + 3u * 8u + 1u);
  // the same model with more tokens needs no other tiling class: the tiles are those of
  // the largest counts, so every image fits the buffers
  for (const auto& p : plan.passes)
    if (p.kind == heatvit::sim::PassKind::Linear && p.phase != heatvit::Phase::Selector) {
      EXPECT_GT(p.tiling.tm, 0) << p.name;
      EXPECT_EQ(p.tiling.tm % m.hw.pe.th, 0) << p.name;
    }
}

class HlsEmit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string w = heatvit::project_root() + "/models/deit-micro/export/deit-micro-int8.hvt";
    model_ = new heatvit::func::FuncModel(heatvit::func::FuncModel::load(w, heatvit::load_model("deit-micro")));
    data_ = new heatvit::ImageSet(heatvit::load_fashion_mnist(heatvit::default_fashion_mnist_dir(), "t10k"));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete data_;
  }
  static hh::DesignPoint point() {
    Micro m;
    hh::DesignPoint dp;
    dp.model = m.model;
    dp.hw = m.hw;
    dp.hw_json = {{"name", "test"}};
    dp.schedule.selectors = {{2, 0.7}, {5, 0.6}, {7, 0.6}};
    dp.thresholds = model_->resolve(dp.schedule, "test");
    dp.calibration = "table";
    return dp;
  }
  static heatvit::func::FuncModel* model_;
  static heatvit::ImageSet* data_;
};
heatvit::func::FuncModel* HlsEmit::model_ = nullptr;
heatvit::ImageSet* HlsEmit::data_ = nullptr;

TEST_F(HlsEmit, DeterministicLintCleanResourcesMatch) {
  hh::EmitOptions opt;
  opt.tb_images = 8;
  const auto a = hh::emit_project(point(), *model_, *data_, opt);
  const auto b = hh::emit_project(point(), *model_, *data_, opt);
  ASSERT_EQ(a.files.size(), b.files.size());
  for (const auto& [path, content] : a.files) {
    ASSERT_TRUE(b.files.count(path)) << path;
    EXPECT_TRUE(b.files.at(path) == content) << path << " differs between two runs";
  }
  for (const char* f : {"firmware/heatvit_top.cpp", "firmware/defines.h", "firmware/parameters.h",
                        "firmware/heatvit/kernels/gemm.hpp", "tb/heatvit_tb.cpp", "tb_data/wmem.bin",
                        "tb_data/cmem.bin", "tb_data/images.bin", "tb_data/golden.dat", "tb_data/plan_cycles.dat",
                        "hls_config.cfg", "run_hls.tcl", "Makefile", "README.md", "design.json", "hls_report.json",
                        "host/heatvit_host.cpp"})
    EXPECT_TRUE(a.files.count(f)) << f;
  EXPECT_TRUE(a.report["lint"]["pass"].get<bool>()) << a.report["lint"].dump(1);
  EXPECT_TRUE(a.report["resources"]["pass"].get<bool>()) << a.report["resources"]["items"].dump(1);
  EXPECT_EQ(a.files.at("tb_data/images.bin").size(), 8u * 784u);
  // the kernels are copied unchanged
  EXPECT_NE(a.files.at("firmware/heatvit/kernels/gemm.hpp").find("void linear("), std::string::npos);
  // hls_config.cfg: part and the 300 MHz clock of the config
  const std::string& cfg = a.files.at("hls_config.cfg");
  EXPECT_NE(cfg.find("part=xczu9eg-ffvb1156-2-e"), std::string::npos);
  EXPECT_NE(cfg.find("clock=3.333ns"), std::string::npos);
  // defines.h carries the engine sizes of the config
  const std::string& d = a.files.at("firmware/defines.h");
  for (const char* s : {"#define HV_TH                    4", "#define HV_TI                    16",
                        "#define HV_TO                    64", "#define HV_SM_LANES              32",
                        "#define HV_IN_BUF_ELEMS          131072"})
    EXPECT_NE(d.find(s), std::string::npos) << s;
}

TEST_F(HlsEmit, TheTilesOfTheSimulatorChangeTheProgram) {
  hh::EmitOptions opt;
  opt.tb_images = 2;
  hh::DesignPoint dp = point();
  const auto a = hh::emit_project(dp, *model_, *data_, opt);
  dp.hw.buffers.input_bytes = 8 * 1024;  // smaller A tiles: other tm in the plan and the program
  const auto b = hh::emit_project(dp, *model_, *data_, opt);
  EXPECT_NE(a.files.at("firmware/parameters.h"), b.files.at("firmware/parameters.h"));
  EXPECT_NE(a.files.at("firmware/defines.h"), b.files.at("firmware/defines.h"));
}

TEST_F(HlsEmit, BuffersTooSmallForTheAttentionEngineName) {
  hh::EmitOptions opt;
  opt.tb_images = 1;
  hh::DesignPoint dp = point();
  dp.hw.accelerator_origin = "acc.json";
  dp.hw.buffers.attention_bytes = 256;
  try {
    (void)hh::emit_project(dp, *model_, *data_, opt);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "acc.json");
    EXPECT_EQ(e.field(), "buffers_kib.attention");
  }
}

TEST_F(HlsEmit, ResourcesComeFromTheEmittedSource) {
  hh::EmitOptions opt;
  opt.tb_images = 1;
  const auto a = hh::emit_project(point(), *model_, *data_, opt);
  const std::string& top = a.files.at("firmware/heatvit_top.cpp");
  const std::string& defs = a.files.at("firmware/defines.h");
  const auto r = hh::emitted_resources(top, defs, 2);
  EXPECT_EQ(r.dsp, 4 * 16 * 64 / 2);
  ASSERT_EQ(r.buffers.size(), 4u);
  EXPECT_EQ(r.buffers[1].item, "buffer.weight");
  EXPECT_EQ(r.buffers[1].bram36, 256);  // 2 x max(256 KiB / 4 KiB, 1024 banks x 8 bits / 64)
  // a weight buffer partitioned for Ti operands only would need fewer ports: another figure
  std::string narrow = top;
  const std::string from = "variable=w_buf dim=2 cyclic factor=HV_W_PARTITION";
  narrow.replace(narrow.find(from), from.size(), "variable=w_buf dim=2 cyclic factor=HV_TI");
  EXPECT_EQ(hh::emitted_resources(narrow, defs, 2).buffers[1].bram36, 128);
  // without the ALLOCATION limit, every call site of pe_array is an array of its own
  std::string unshared = top;
  const std::string alloc = "ALLOCATION function instances=pe_array limit=1";
  unshared.replace(unshared.find(alloc), alloc.size(), "INLINE");
  EXPECT_EQ(hh::emitted_resources(unshared, defs, 2).dsp, 4 * 2048);
  // a source without the MAC loops is not silently counted
  std::string broken = top;
  broken.replace(broken.find("pe_ti:"), 6, "pe_xx:");
  EXPECT_THROW(hh::emitted_resources(broken, defs, 2), std::logic_error);
}
