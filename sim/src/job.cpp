#include "heatvit/sim/job.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "heatvit/core/error.hpp"
#include "heatvit/sim/energy.hpp"
#include "heatvit/sim/plan.hpp"
#include "heatvit/sim/resources.hpp"
#include "heatvit/sim/simulator.hpp"
#include "heatvit/sim/timing.hpp"

namespace heatvit::sim {

namespace {

json distribution(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  // Nearest-rank percentiles.
  auto pct = [&](double p) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * double(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  return {{"mean", sum / double(v.size())}, {"p50", pct(50)}, {"p99", pct(99)}, {"min", v.front()},
          {"max", v.back()}};
}

}  // namespace

JobResult run_job(const SimJob& job) {
  const HwConfig& hw = job.hw;
  if (job.images.empty() && !job.stream) throw InputError("--images", "", "no images to simulate");
  const ResourceReport res = estimate_resources(hw);
  check_fits(hw, res);
  if (!job.selector_blocks.empty() && !hw.selector.enabled)
    throw InputError(hw.accelerator_origin, "selector.enabled",
                     "the schedule inserts token selectors but this hardware has no selector support");

  // Distinct token vectors (with their kept counts, when given) are simulated once, in
  // the order they first appear.
  HEATVIT_CHECK(job.kept.empty() || job.kept.size() == job.images.size(), "SimJob: kept counts per image");
  using Key = std::pair<std::vector<int>, std::vector<int>>;
  std::map<Key, std::size_t> index;
  std::vector<std::size_t> image_plan;
  // Of each distinct vector's workload and plan the report needs only its MACs and
  // energy activity, computed as the vector first appears (a run of thousands of vectors
  // need not hold their plans until the simulation ends), and the whole plan of the
  // first image's vector (its layer table).
  Plan first_plan;
  std::size_t plan_count = 0;
  std::vector<double> plan_macs;
  std::vector<PlanActivity> plan_act;
  Planner planner(hw);
  auto add_image = [&](const std::vector<int>& tokens, const std::vector<int>& kept) -> bool {
    Key k{tokens, kept};
    auto it = index.find(k);
    const bool fresh = it == index.end();
    if (fresh) {
      it = index.emplace(std::move(k), plan_count++).first;
      const Workload w = build_workload(job.model, tokens, job.selector_blocks, kept);
      const Plan p = planner(w);
      plan_macs.push_back(double(w.total_macs()));
      if (hw.power.modelled) plan_act.push_back(plan_activity(w, p, hw));
      if (plan_count == 1) first_plan = p;
    }
    image_plan.push_back(it->second);
    return fresh;
  };
  SimOptions opt = job.options;
  std::int64_t expected = 0;  // distinct vectors, when the images are given up front
  if (job.stream) {
    // The producer shows its own progress; a second progress line from the simulation
    // child would fight it for the terminal line.
    opt.progress = false;
  } else {
    std::set<Key> distinct;
    for (std::size_t i = 0; i < job.images.size(); ++i)
      distinct.insert({job.images[i], job.kept.empty() ? std::vector<int>{} : job.kept[i]});
    expected = static_cast<std::int64_t>(distinct.size());
  }
  // Images given up front are fed to the simulation child as images streamed are: the
  // child builds each distinct vector's plan as it arrives, while this process builds
  // its summary.
  StreamingSim sim(
      hw, opt,
      [&job, child_planner = Planner(hw)](const std::vector<int>& tokens, const std::vector<int>& kept) mutable {
        return child_planner(build_workload(job.model, tokens, job.selector_blocks, kept));
      },
      expected);
  std::vector<std::vector<int>> streamed_images;
  std::vector<int> streamed_classes;
  if (job.stream) {
    bool any_class = false;
    job.stream([&](std::vector<int> tokens, std::vector<int> kept, int cls) {
      if (add_image(tokens, kept)) sim.add(tokens, kept);
      streamed_images.push_back(std::move(tokens));
      streamed_classes.push_back(cls);
      any_class = any_class || cls >= 0;
    });
    if (streamed_images.empty()) throw InputError("--images", "", "no images to simulate");
    if (!any_class) streamed_classes.clear();
  } else {
    for (std::size_t i = 0; i < job.images.size(); ++i) {
      const std::vector<int> kept = job.kept.empty() ? std::vector<int>{} : job.kept[i];
      if (add_image(job.images[i], kept)) sim.add(job.images[i], kept);
    }
  }
  const SimRun run = sim.finish();
  const std::vector<std::vector<int>>& images = job.stream ? streamed_images : job.images;
  const std::vector<int>& predicted_class = job.stream ? streamed_classes : job.predicted_class;
  const AnalyticModel analytic(hw);

  const double f_hz = hw.frequency_mhz * 1e6;
  std::vector<double> cycles, lat_ms, macs;
  HEATVIT_CHECK(run.plans.size() == plan_count, "simulation returned " + std::to_string(run.plans.size()) +
                                                     " plan timings for " + std::to_string(plan_count) + " plans");
  // Once per distinct token vector, not once per image.
  std::vector<double> plan_cycles;
  std::vector<std::int64_t> plan_ddr_bytes;
  for (std::size_t k = 0; k < plan_count; ++k) {
    plan_cycles.push_back(double(run.plans[k].cycles()));
    plan_ddr_bytes.push_back(run.plans[k].ddr_bytes());
  }
  for (std::size_t i = 0; i < images.size(); ++i) {
    const double c = plan_cycles[image_plan[i]];
    cycles.push_back(c);
    lat_ms.push_back(c / f_hz * 1e3);
    macs.push_back(plan_macs[image_plan[i]]);
  }

  // Layer table of the first image, with the analytic model's view of each pass.
  HEATVIT_CHECK(image_plan[0] == 0, "the first image's plan is the first plan");
  const Plan& p0 = first_plan;
  const PlanTiming& t0 = run.plans[image_plan[0]];
  const PlanTiming a0 = analytic.time_plan(p0);
  json layers = json::array();
  double worst = 0;
  std::string worst_name;
  for (std::size_t i = 0; i < p0.passes.size(); ++i) {
    const Pass& p = p0.passes[i];
    const PassTiming& t = t0.passes[i];
    const PassTiming& a = a0.passes[i];
    const double dis = t.cycles > 0 ? (double(a.cycles) - double(t.cycles)) / double(t.cycles) : 0.0;
    if (std::fabs(dis) > std::fabs(worst)) {
      worst = dis;
      worst_name = p.name;
    }
    layers.push_back({{"name", p.name}, {"block", p.block}, {"phase", to_string(p.phase)},
                      {"kind", to_string(p.kind)}, {"ops", p.ops}, {"cycles", t.cycles},
                      {"compute_cycles", t.compute_cycles}, {"stall_cycles", t.stall_cycles},
                      {"ddr_bytes", t.ddr_read_bytes + t.ddr_write_bytes},
                      {"ddr_read_bytes", t.ddr_read_bytes}, {"ddr_write_bytes", t.ddr_write_bytes},
                      {"macs", p.macs()}, {"tiles", p.steps.size()},
                      {"tiling", {{"tm", p.tiling.tm}, {"tn", p.tiling.tn}, {"tk", p.tiling.tk},
                                  {"order", p.tiling.n_outer ? "n-m-k" : "m-n-k"}}},
                      {"analytic_cycles", a.cycles}, {"analytic_disagreement", dis}});
  }

  const double total_cycles = double(t0.cycles());
  const double peak_macs = double(hw.pe.macs());
  std::int64_t ddr_bytes = 0;
  double cyc_sum = 0, mac_sum = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    ddr_bytes += plan_ddr_bytes[image_plan[i]];
    cyc_sum += cycles[i];
    mac_sum += macs[i];
  }
  const double ddr_peak_per_cycle = hw.ddr.peak_bytes_per_second() / f_hz;

  json r;
  r["model"] = job.model.name;
  r["hw"] = hw.name;
  r["hw_config"] = job.hw_name;
  r["frequency_mhz"] = hw.frequency_mhz;
  r["images"] = images.size();
  r["distinct_token_vectors"] = plan_count;
  r["selector_blocks"] = job.selector_blocks;
  r["tokens"] = images[0];
  r["latency_ms"] = distribution(lat_ms);
  r["cycles"] = distribution(cycles);
  {
    // Per-image latency histogram (30 equal bins from min to max), bounded in size
    // whatever the image count.
    const auto [lo_it, hi_it] = std::minmax_element(lat_ms.begin(), lat_ms.end());
    const double lo = *lo_it, hi = *hi_it;
    constexpr int kBins = 30;
    std::vector<std::int64_t> counts(kBins, 0);
    for (double x : lat_ms) {
      const int b = hi > lo ? std::min(kBins - 1, static_cast<int>((x - lo) / (hi - lo) * kBins)) : 0;
      ++counts[static_cast<std::size_t>(b)];
    }
    json edges = json::array();
    for (int b = 0; b <= kBins; ++b) edges.push_back(lo + (hi - lo) * b / kBins);
    r["latency_histogram_ms"] = {{"edges", edges}, {"counts", counts}};
  }
  double mean_ms = 0;
  for (double x : lat_ms) mean_ms += x;
  mean_ms /= double(lat_ms.size());
  r["fps"] = 1000.0 / mean_ms;
  r["macs_per_image"] = mac_sum / double(images.size());
  r["layers"] = layers;
  r["pe_utilization"] = mac_sum / (cyc_sum * peak_macs);
  r["ddr_bandwidth_utilization"] = double(ddr_bytes) / (cyc_sum * ddr_peak_per_cycle);
  r["ddr_bytes_per_image"] = double(ddr_bytes) / double(images.size());
  r["peak_macs_per_cycle"] = hw.pe.macs();
  const json rj = to_json(res, hw);
  r["resources"] = rj["total"];
  r["resources_detail"] = rj;
  r["device"] = to_json(hw.device.capacity);
  r["analytic"] = {{"cycles", a0.cycles()},
                   {"latency_ms", double(a0.cycles()) / f_hz * 1e3},
                   {"disagreement", (double(a0.cycles()) - total_cycles) / total_cycles},
                   {"worst_layer", worst_name},
                   {"worst_layer_disagreement", worst}};
  r["stats"] = run.stats;
  if (hw.power.modelled) {
    // Energy per distinct token vector (its plan, timing and share of the run's DRAM
    // commands), averaged over the images (docs/energy.md).
    const std::vector<DdrCounts> ddr = split_ddr_counts(run.stats.at("ddr"), run.plans, hw.frequency_mhz);
    std::vector<EnergyBreakdown> per_plan;
    std::vector<double> weights(plan_count, 0.0);
    for (std::size_t i : image_plan) weights[i] += 1;
    const std::int64_t ff = res.total().ff;
    for (std::size_t i = 0; i < plan_count; ++i)
      per_plan.push_back(image_energy(activity(plan_act[i], run.plans[i], ddr[i]), hw, ff));
    r["energy"] = energy_report(hw, per_plan, weights);
  } else {
    r["energy"] = energy_not_modelled();
  }
  if (!predicted_class.empty()) {
    std::map<int, std::pair<double, int>> per;
    for (std::size_t i = 0; i < images.size() && i < predicted_class.size(); ++i) {
      per[predicted_class[i]].first += lat_ms[i];
      per[predicted_class[i]].second += 1;
    }
    json pc = json::array();
    for (const auto& [cls, v] : per)
      pc.push_back({{"class", cls}, {"images", v.second}, {"latency_ms_mean", v.first / v.second}});
    r["latency_by_predicted_class"] = pc;
  }
  return {r, run.trace, run.vcd_file};
}

json latency_table(const ModelShape& model, const HwConfig& hw, bool use_systemc, const SimOptions& opt) {
  std::vector<Plan> plans;
  std::vector<int> counts;
  for (int n = 2; n <= model.dense_tokens(); ++n) {
    const Workload w = build_workload(model, std::vector<int>(static_cast<std::size_t>(model.depth), n), {});
    Plan full = make_plan(w, hw);
    Plan block;
    for (auto& p : full.passes)
      if (p.block == 0 && p.phase != Phase::Selector) block.passes.push_back(std::move(p));
    plans.push_back(std::move(block));
    counts.push_back(n);
  }
  std::vector<std::int64_t> cyc;
  if (use_systemc) {
    std::vector<const Plan*> ptrs;
    for (const auto& p : plans) ptrs.push_back(&p);
    const SimRun run = simulate(hw, ptrs, opt);
    for (const auto& t : run.plans) cyc.push_back(t.cycles());
  } else {
    const AnalyticModel a(hw);
    for (const auto& p : plans) cyc.push_back(a.time_plan(p).cycles());
  }
  json rows = json::array();
  for (std::size_t i = 0; i < counts.size(); ++i) rows.push_back({{"tokens", counts[i]}, {"cycles", cyc[i]}});
  json blocks = json::array();
  // Every block of these models has the same shape, so one table serves all blocks.
  for (int b = 0; b < model.depth; ++b) blocks.push_back({{"block", b}, {"rows", rows}});
  return {{"model", model.name}, {"hw", hw.name}, {"source", use_systemc ? "simulated" : "analytic"},
          {"frequency_mhz", hw.frequency_mhz}, {"blocks", blocks}};
}

json timeline_json(const std::vector<TraceEvent>& trace) {
  static const std::map<std::string, int> lanes = {{"pass", 0}, {"load", 1}, {"compute", 2}, {"store", 3}};
  json ev = json::array();
  for (const auto& [name, tid] : lanes)
    ev.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", tid}, {"args", {{"name", name}}}});
  for (const auto& e : trace) {
    const auto it = lanes.find(e.lane);
    ev.push_back({{"name", e.name}, {"cat", e.lane}, {"ph", "X"}, {"pid", 1},
                  {"tid", it == lanes.end() ? 9 : it->second}, {"ts", double(e.start_ps) / 1e6},
                  {"dur", double(e.end_ps - e.start_ps) / 1e6}});
  }
  return {{"traceEvents", ev}, {"displayTimeUnit", "ns"}};
}

}  // namespace heatvit::sim
