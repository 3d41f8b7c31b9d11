// heatvit demo: the main job on embedded defaults, with a readable summary.
// Every ImageNet model is simulated (SystemC, one image) on the 16-bit baseline
// without pruning and on the HeatViT configuration with its default schedule.
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "heatvit/core/atomic_file.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/models/workload.hpp"
#include "heatvit/sim/job.hpp"
#include "heatvit/sim/resources.hpp"

namespace heatvit::cli {

namespace {

constexpr int kTestImages = 10000;  // Fashion-MNIST t10k

json simulate_model(const ModelShape& m, const sim::HwConfig& hw, const Schedule& s) {
  sim::SimJob job;
  job.model = m;
  job.hw = hw;
  job.hw_name = hw.name;
  job.options.progress = true;
  for (const auto& p : s.selectors) job.selector_blocks.push_back(p.block);
  job.images = {expected_tokens(m, s)};
  return sim::run_job(job).report;
}

/// The whole chain on the model trained here: the integer model decides each test
/// image's tokens with the default schedule, each image is simulated with its own
/// token counts on the HeatViT config, against the dense model on the baseline.
json demo_deit_micro(const sim::HwConfig& base, const sim::HwConfig& hv, int images) {
  const ModelShape m = load_model("deit-micro");
  const Schedule sched = load_schedule(hv.default_schedules.at(m.name), m);
  const func::EvalResult r = trained_model_tokens(m, sched, images);
  sim::SimJob job;
  job.model = m;
  job.hw = hv;
  job.hw_name = hv.name;
  job.options.progress = true;
  for (const auto& p : sched.selectors) job.selector_blocks.push_back(p.block);
  job.images = r.tokens_per_block;
  job.predicted_class = r.predictions;
  const json rh = sim::run_job(job).report;
  const json rb = simulate_model(m, base, Schedule{});
  const double lb = rb["latency_ms"]["mean"], lh = rh["latency_ms"]["mean"];
  std::string blocks;
  for (const auto& p : sched.selectors)
    blocks += (blocks.empty() ? "" : ", ") + std::to_string(p.block) + ":" + std::to_string(p.keep).substr(0, 4);
  std::printf("\n== deit-micro (trained here, Fashion-MNIST), INT8 integer model, default schedule {%s}\n",
              blocks.c_str());
  std::printf("first %d test images: accuracy %.2f%%, %.2f MMACs/image (dense %.2f), %zu distinct token vectors\n",
              r.images, 100 * r.accuracy(), r.macs_mean() / 1e6, build_dense_workload(m).total_macs() / 1e6,
              rh["distinct_token_vectors"].get<std::size_t>());
  std::printf("HeatViT latency mean %.4f ms, p50 %.4f, p99 %.4f = %.0f FPS | baseline (16-bit dense) %.4f ms "
              "| speedup %.2fx\n",
              lh, rh["latency_ms"]["p50"].get<double>(), rh["latency_ms"]["p99"].get<double>(),
              rh["fps"].get<double>(), lb, lb / lh);
  return {{"images", r.images}, {"accuracy", r.accuracy()}, {"macs_per_image", r.macs_mean()},
          {"latency_ms", rh["latency_ms"]}, {"fps", rh["fps"]}, {"baseline_ms", lb}, {"speedup", lb / lh},
          {"schedule", schedule_to_json(sched)}};
}

}  // namespace

int run_demo(const std::vector<std::string>& args) {
  po::options_description desc("demo options");
  desc.add_options()("out", po::value<std::string>()->default_value("build/demo"),
                     "directory for the JSON summary and its resolved config")
                    ("images", po::value<int>()->default_value(1000),
                     "deit-micro: test images to evaluate and simulate one by one")
                    ("no-dse", "skip the closing design-space exploration run");
  po::variables_map vm;
  if (!parse_args("demo", args, desc, vm, "[--out DIR]")) return 0;
  const int images = vm["images"].as<int>();
  if (images < 1 || images > kTestImages)
    throw InputError("--images", "", "must be in [1, " + std::to_string(kTestImages) + "] (the Fashion-MNIST test set), got " +
                                         std::to_string(images));
  // The output directory is made and checked before the minutes of simulation.
  const std::string out = vm["out"].as<std::string>();
  {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) throw InputError("--out", "", out + ": cannot create the directory: " + ec.message());
    check_report_paths(out + "/summary.json");
  }
  const std::string root = project_root();
  const auto base = sim::load_hw_config(root + "/configs/hw/zcu102-baseline.json");
  const auto hv = sim::load_hw_config(root + "/configs/hw/zcu102-heatvit.json");

  std::printf("heatvit demo: ViT inference on the ZCU102 at %.0f MHz, cycle-level (SystemC + DDR4 model)\n",
              hv.frequency_mhz);
  std::printf("baseline: 16-bit, %d MACs/cycle, no pruning | HeatViT: INT8 (2 MACs/DSP), %d MACs/cycle, "
              "token selectors\n\n", base.pe.macs(), hv.pe.macs());
  std::printf("%-10s %7s %8s | %10s %10s | %10s %9s %8s | %7s\n", "model", "GMACs", "pub.", "base ms",
              "base util", "HeatViT ms", "GMACs", "sel.blk", "speedup");
  json rows = json::array();
  for (const char* name : {"deit-tiny", "deit-small", "deit-base", "lvvit-s", "lvvit-m"}) {
    const ModelShape m = load_model(name);
    const Schedule dense;
    const Schedule sched = load_schedule(hv.default_schedules.at(m.name), m);
    const json rb = simulate_model(m, base, dense);
    const json rh = simulate_model(m, hv, sched);
    const double lb = rb["latency_ms"]["mean"], lh = rh["latency_ms"]["mean"];
    std::string blocks;
    for (const auto& p : sched.selectors) blocks += (blocks.empty() ? "" : ",") + std::to_string(p.block);
    std::printf("%-10s %7.3f %8.1f | %10.3f %9.1f%% | %10.3f %9.3f %8s | %6.2fx\n", name,
                rb["macs_per_image"].get<double>() / 1e9, m.published_gmacs, lb,
                100 * rb["pe_utilization"].get<double>(), lh, rh["macs_per_image"].get<double>() / 1e9,
                blocks.c_str(), lb / lh);
    rows.push_back({{"model", name}, {"baseline_ms", lb}, {"heatvit_ms", lh}, {"speedup", lb / lh},
                    {"baseline_macs", rb["macs_per_image"]}, {"heatvit_macs", rh["macs_per_image"]},
                    {"schedule", schedule_to_json(sched)},
                    {"baseline_resources", rb["resources"]}, {"heatvit_resources", rh["resources"]}});
  }
  const auto rb = sim::estimate_resources(base).total();
  const auto rh = sim::estimate_resources(hv).total();
  std::printf("\nresources (of XCZU9EG): baseline DSP %lld, LUT %lld | HeatViT DSP %lld (%+.1f%%), LUT %lld (%+.1f%%)\n",
              (long long)rb.dsp, (long long)rb.lut, (long long)rh.dsp, 100.0 * (rh.dsp - rb.dsp) / rb.dsp,
              (long long)rh.lut, 100.0 * (rh.lut - rb.lut) / rb.lut);
  std::printf("published (HeatViT, HPCA 2023): 3.46x-4.89x speedup for +8-11%% DSP, +5-8%% LUT "
              "(docs/validation.md explains the differences)\n");

  json micro;
  if (std::filesystem::exists(trained_model_path())) micro = demo_deit_micro(base, hv, images);
  else
    std::printf("\n(deit-micro: %s not found; `make train` trains it)\n", trained_model_path().c_str());

  json summary = {{"rows", rows}, {"deit_micro", micro}};
#ifdef HEATVIT_HAVE_DSE
  if (!micro.is_null() && !vm.count("no-dse")) {
    std::printf("\ndesign-space exploration (heatvit dse, configs/dse/demo.json): selectors x keep rates x PE width\n");
    const json d = demo_dse(out + "/dse");
    summary["dse"] = {{"out", out + "/dse"}, {"winner", d["winner"]}, {"front_points", d["front_points"]}};
#ifdef HEATVIT_HAVE_HLS
    summary["hls"] = demo_hls(out + "/dse/winner.json", out + "/hls");
#endif
  }
#endif
  json cfg = {{"baseline", base.name}, {"heatvit", hv.name}, {"frequency_mhz", hv.frequency_mhz}};
  write_report(out + "/summary.json", summary, cfg);
  std::printf("wrote %s/summary.json\n", out.c_str());
  return 0;
}

}  // namespace heatvit::cli
