#include "heatvit/sim/simulator.hpp"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "heatvit/core/error.hpp"
#include "heatvit/core/progress.hpp"
#include "heatvit/ddr/axi_hp_port.hpp"
#include "heatvit/ddr/controller.hpp"
#include "heatvit/ddr/ddr_target.hpp"

namespace heatvit::sim {

namespace {

/// The elaborated system: DDR, the AXI HP ports in use and the accelerator.
struct System {
  ddr::DdrTarget ddr;
  std::vector<std::unique_ptr<ddr::AxiHpPort>> ports;
  std::vector<int> port_ids;
  Accelerator acc;

  explicit System(const HwConfig& hw) : ddr("ddr", hw.ddr), acc("accelerator", hw) {
    ddr::AxiPortConfig pc;
    pc.width_bits = static_cast<unsigned>(hw.axi.width_bits);
    pc.clock_period = sc_core::sc_time(1e6 / hw.frequency_mhz, sc_core::SC_PS);
    pc.max_outstanding = static_cast<unsigned>(hw.axi.max_outstanding);
    pc.latency_cycles = static_cast<unsigned>(hw.axi.latency_cycles);
    pc.max_burst_beats = static_cast<unsigned>(hw.axi.max_burst_bytes / (hw.axi.width_bits / 8));
    auto make = [&](int id) -> ddr::AxiHpPort& {
      ports.push_back(std::make_unique<ddr::AxiHpPort>(("hp" + std::to_string(id)).c_str(), pc));
      port_ids.push_back(id);
      ports.back()->initiator.bind(ddr.socket);
      return *ports.back();
    };
    for (int id : hw.axi.read_ports) acc.load_dma.socket.bind(make(id).target);
    for (int id : hw.axi.write_ports) acc.store_dma.socket.bind(make(id).target);
  }

  json stats(const HwConfig& hw) const {
    json s;
    s["ddr"] = ddr::to_json(ddr.stats(), hw.ddr);
    json ports_j = json::array();
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const auto& st = ports[i]->stats();
      ports_j.push_back({{"port", port_ids[i]},
                         {"read_bytes", st.read.bytes},
                         {"write_bytes", st.write.bytes},
                         {"bursts", st.read.bursts + st.write.bursts},
                         {"busy_cycles", st.read.busy_cycles + st.write.busy_cycles}});
    }
    s["axi_ports"] = ports_j;
    s["pe_busy_cycles"] = acc.pe_busy_cycles();
    s["units"] = {{"layernorm_busy_cycles", acc.layernorm.busy_cycles()},
                  {"post_busy_cycles", acc.post.busy_cycles()},
                  {"selector_ctrl_busy_cycles", acc.selector_ctrl.busy_cycles()}};
    s["dma"] = {{"load_bytes", acc.load_dma.bytes_read()},
                {"store_read_bytes", acc.store_dma.bytes_read()},
                {"store_write_bytes", acc.store_dma.bytes_written()}};
    return s;
  }
};

json run_child(const HwConfig& hw, const std::vector<const Plan*>& plans, const SimOptions& opt,
               const std::string& vcd_tmp) {
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  if (opt.quiet) sc_core::sc_report_handler::set_actions(sc_core::SC_WARNING, sc_core::SC_DO_NOTHING);
  System sys(hw);
  sys.acc.run(plans, opt.trace_events);
  // Runs of many token vectors (sim --masks, demo) take tens of seconds: the child
  // reports on the stderr it shares with its parent.
  Progress progress("simulating", "token vectors", static_cast<std::int64_t>(plans.size()),
                    opt.quiet || !opt.progress);
  sys.acc.on_plan_done([&](std::size_t) { progress.advance(); });
  sc_core::sc_trace_file* tf = nullptr;
  if (!vcd_tmp.empty()) {
    tf = sc_core::sc_create_vcd_trace_file(vcd_tmp.c_str());
    // The clock period is not a whole number of nanoseconds (3.33 ns at 300 MHz): a
    // VCD time unit of the kernel's resolution represents every event time exactly
    // (a coarser one makes SystemC warn, W713, at every unrepresentable time).
    tf->set_time_unit(sc_core::sc_get_time_resolution().to_seconds(), sc_core::SC_SEC);
    sc_core::sc_trace(tf, sys.acc.load_busy, "load_busy");
    sc_core::sc_trace(tf, sys.acc.pe_busy, "pe_busy");
    sc_core::sc_trace(tf, sys.acc.store_busy, "store_busy");
    sc_core::sc_trace(tf, sys.acc.loaded_tiles, "loaded_tiles");
    sc_core::sc_trace(tf, sys.acc.pending_stores, "pending_stores");
    sc_core::sc_trace(tf, sys.acc.pass_index, "pass_index");
    sc_core::sc_trace(tf, sys.acc.layernorm.busy_signal, "layernorm_busy");
    sc_core::sc_trace(tf, sys.acc.post.busy_signal, "post_busy");
    sc_core::sc_trace(tf, sys.acc.selector_ctrl.busy_signal, "selector_ctrl_busy");
  }
  sc_core::sc_start();
  progress.finish();
  if (tf) sc_core::sc_close_vcd_trace_file(tf);
  json out;
  json plans_j = json::array();
  for (const auto& pt : sys.acc.results()) {
    json passes = json::array();
    for (const auto& t : pt.passes)
      passes.push_back({t.cycles, t.compute_cycles, t.stall_cycles, t.ddr_read_bytes, t.ddr_write_bytes});
    plans_j.push_back(passes);
  }
  out["plans"] = plans_j;
  out["stats"] = sys.stats(hw);
  json trace = json::array();
  for (const auto& e : sys.acc.trace()) trace.push_back({e.name, e.lane, e.start_ps, e.end_ps});
  out["trace"] = trace;
  return out;
}

}  // namespace

SimRun simulate(const HwConfig& hw, const std::vector<const Plan*>& plans, const SimOptions& opt) {
  std::string vcd_tmp;
  if (!opt.vcd_path.empty()) {
    namespace fs = std::filesystem;
    const fs::path target(opt.vcd_path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw InputError(opt.vcd_path, "", "directory " + dir.string() + " does not exist");
    vcd_tmp = (dir / ("." + target.stem().string() + ".tmp" + std::to_string(::getpid()))).string();
  }
  int fds[2];
  if (::pipe(fds) != 0) throw InternalError(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw InternalError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The simulation ends with the program that asked for it: killed parent, killed
    // child (the check after prctl covers a parent that died before it took effect).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::close(fds[0]);
    ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
    std::string text;
    int status = 0;
    try {
      text = run_child(hw, plans, opt, vcd_tmp).dump();
    } catch (const InputError& e) {
      // Bad input found only while elaborating stays bad input (exit 2) for the parent.
      text = json{{"error", e.what()}, {"input_error", true}}.dump(-1, ' ', false, json::error_handler_t::replace);
      status = 1;
    } catch (const std::exception& e) {
      text = json{{"error", e.what()}}.dump(-1, ' ', false, json::error_handler_t::replace);
      status = 1;
    }
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
      const ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::close(fds[1]);
    std::fflush(nullptr);
    ::_exit(status);
  }
  ::close(fds[1]);
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  json out;
  try {
    out = json::parse(text);
  } catch (const std::exception&) {
    throw InternalError("SystemC simulation ended abnormally (status " + std::to_string(status) + ")");
  }
  if (out.contains("error")) {
    if (out.value("input_error", false)) throw InputError(out["error"].get<std::string>());
    throw InternalError("SystemC simulation: " + out["error"].get<std::string>());
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw InternalError("SystemC simulation exited with status " + std::to_string(status));
  SimRun run;
  for (const auto& pj : out["plans"]) {
    PlanTiming pt;
    for (const auto& t : pj)
      pt.passes.push_back({t[0].get<std::int64_t>(), t[1].get<std::int64_t>(), t[2].get<std::int64_t>(),
                           t[3].get<std::int64_t>(), t[4].get<std::int64_t>()});
    run.plans.push_back(std::move(pt));
  }
  run.stats = out["stats"];
  for (const auto& e : out["trace"])
    run.trace.push_back({e[0].get<std::string>(), e[1].get<std::string>(), e[2].get<std::uint64_t>(),
                         e[3].get<std::uint64_t>()});
  if (!vcd_tmp.empty()) run.vcd_file = vcd_tmp + ".vcd";
  return run;
}

}  // namespace heatvit::sim
