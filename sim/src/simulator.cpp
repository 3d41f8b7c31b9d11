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
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <condition_variable>

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

/// What the child sends back: statistics and the trace as JSON, the plans' timings as
/// integers (for each plan its pass count, then 5 numbers a pass: a run of thousands of
/// token vectors has millions of them, which as JSON values cost the child and the
/// parent a noticeable part of the run to build, print, parse and free).
struct ChildOut {
  json meta;
  std::vector<std::int64_t> timings;
};
constexpr int kTimingFields = 5;

/// The child's work: elaborate, run the plans `next` yields (`total` of them, 0 when
/// not known in advance), return timing and statistics. Runs only in the simulation
/// child, which ends with _exit: the elaborated system is left to the process's end
/// rather than torn down (tearing down thousands of plans' worth of objects only delays
/// the result).
ChildOut run_child(const HwConfig& hw, std::function<const Plan*()> next, std::int64_t total, const SimOptions& opt,
                   const std::string& vcd_tmp) {
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  if (opt.quiet) sc_core::sc_report_handler::set_actions(sc_core::SC_WARNING, sc_core::SC_DO_NOTHING);
  System& sys = *new System(hw);  // not deleted: see above
  sys.acc.run(std::move(next), opt.trace_events);
  // Runs of many token vectors (sim --masks, demo) take tens of seconds: the child
  // reports on the stderr it shares with its parent.
  Progress progress("simulating", "token vectors", total, opt.quiet || !opt.progress);
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
  ChildOut out;
  for (const auto& pt : sys.acc.results()) {
    out.timings.push_back(static_cast<std::int64_t>(pt.passes.size()));
    for (const auto& t : pt.passes)
      out.timings.insert(out.timings.end(), {t.cycles, t.compute_cycles, t.stall_cycles, t.ddr_read_bytes,
                                             t.ddr_write_bytes});
  }
  out.meta["plans"] = sys.acc.results().size();
  out.meta["stats"] = sys.stats(hw);
  json trace = json::array();
  for (const auto& e : sys.acc.trace()) trace.push_back({e.name, e.lane, e.start_ps, e.end_ps});
  out.meta["trace"] = trace;
  return out;
}


std::string vcd_temp_path(const SimOptions& opt) {
  if (opt.vcd_path.empty()) return {};
  namespace fs = std::filesystem;
  const fs::path target(opt.vcd_path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(opt.vcd_path, "", "directory " + dir.string() + " does not exist");
  return (dir / ("." + target.stem().string() + ".tmp" + std::to_string(::getpid()))).string();
}

/// Forks the simulation child. It runs `body` (given the read end of the feed pipe, or
/// -1) and writes its JSON to the result pipe; the parent keeps the result's read end
/// and, with `feed`, the feed's write end.
/// Held from pipe() to the parent closing the child's ends: a fork on another thread in
/// between would give its child a copy of this child's result write end, and the
/// parent would then wait for that unrelated child's exit to see end-of-file.
std::mutex g_spawn_mu;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kForkUnsafeWithThreads = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kForkUnsafeWithThreads = true;
#else
constexpr bool kForkUnsafeWithThreads = false;
#endif
#else
constexpr bool kForkUnsafeWithThreads = false;
#endif

/// The child's result on the pipe: the JSON text's length (8 bytes), the text, the
/// number of timing integers (8 bytes) and the integers (8 bytes each, this machine's
/// byte order: parent and child are one program).
ChildProc spawn(bool feed, const std::function<ChildOut(int)>& body) {
  std::lock_guard<std::mutex> lock(g_spawn_mu);
  int fds[2];
  if (::pipe(fds) != 0) throw InternalError(std::string("pipe: ") + std::strerror(errno));
  int feed_fds[2] = {-1, -1};
  if (feed && ::pipe(feed_fds) != 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw InternalError(std::string("pipe: ") + std::strerror(errno));
  }
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
    if (feed) ::close(feed_fds[1]);
    ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
    std::string text;
    const std::vector<std::int64_t>* timings = nullptr;
    int status = 0;
    try {
      const ChildOut* out = new ChildOut(body(feed_fds[0]));  // not deleted: the child ends with _exit
      text = out->meta.dump();
      timings = &out->timings;
    } catch (const InputError& e) {
      // Bad input found only while elaborating stays bad input (exit 2) for the parent.
      text = json{{"error", e.what()}, {"input_error", true}}.dump(-1, ' ', false, json::error_handler_t::replace);
      status = 1;
    } catch (const std::exception& e) {
      text = json{{"error", e.what()}}.dump(-1, ' ', false, json::error_handler_t::replace);
      status = 1;
    } catch (...) {
      // Never let anything unwind out of the child into the parent's code.
      text = json{{"error", "unknown exception"}}.dump();
      status = 1;
    }
    auto put = [&](const void* data, std::size_t bytes) {
      const char* p = static_cast<const char*>(data);
      while (bytes > 0) {
        const ssize_t n = ::write(fds[1], p, bytes);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        bytes -= static_cast<std::size_t>(n);
      }
      return true;
    };
    const std::uint64_t text_bytes = text.size();
    const std::uint64_t count = timings ? timings->size() : 0;
    if (put(&text_bytes, sizeof text_bytes) && put(text.data(), text.size()) && put(&count, sizeof count) && count > 0)
      put(timings->data(), count * sizeof(std::int64_t));
    ::close(fds[1]);
    std::fflush(nullptr);
    ::_exit(status);
  }
  ::close(fds[1]);
  if (feed) ::close(feed_fds[0]);
  return {pid, fds[0], feed_fds[1]};
}

/// Reads the child's JSON, reaps it and turns the JSON into a SimRun.
SimRun collect(ChildProc& c, const std::string& vcd_tmp) {
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(c.result_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(c.result_fd);
  c.result_fd = -1;
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  c.pid = -1;
  // The framing of spawn(): text length, text, integer count, integers. Anything short
  // or inconsistent is a child that ended abnormally.
  const auto abnormal = [&] {
    return InternalError("SystemC simulation ended abnormally (status " + std::to_string(status) + ")");
  };
  std::uint64_t text_bytes = 0, count = 0;
  if (text.size() < sizeof text_bytes) throw abnormal();
  std::memcpy(&text_bytes, text.data(), sizeof text_bytes);
  if (text_bytes > text.size() - sizeof text_bytes || text.size() - sizeof text_bytes - text_bytes < sizeof count)
    throw abnormal();
  const std::size_t ints_at = sizeof text_bytes + text_bytes + sizeof count;
  std::memcpy(&count, text.data() + ints_at - sizeof count, sizeof count);
  if (count > (text.size() - ints_at) / sizeof(std::int64_t) || (text.size() - ints_at) != count * sizeof(std::int64_t))
    throw abnormal();
  json out;
  try {
    out = json::parse(text.data() + sizeof text_bytes, text.data() + sizeof text_bytes + text_bytes);
  } catch (const std::exception&) {
    throw abnormal();
  }
  if (out.contains("error")) {
    if (out.value("input_error", false)) throw InputError(out["error"].get<std::string>());
    throw InternalError("SystemC simulation: " + out["error"].get<std::string>());
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw InternalError("SystemC simulation exited with status " + std::to_string(status));
  SimRun run;
  // The integers are read where they lie in the received bytes (memcpy: no alignment
  // is assumed).
  const char* ints = text.data() + ints_at;
  auto int_at = [&](std::size_t i) {
    std::int64_t v;
    std::memcpy(&v, ints + i * sizeof v, sizeof v);
    return v;
  };
  for (std::size_t at = 0; at < count;) {
    const std::int64_t passes = int_at(at++);
    if (passes < 0 || std::uint64_t(passes) > (count - at) / kTimingFields) throw abnormal();
    PlanTiming pt;
    pt.passes.reserve(static_cast<std::size_t>(passes));
    for (std::int64_t k = 0; k < passes; ++k, at += kTimingFields)
      pt.passes.push_back({int_at(at), int_at(at + 1), int_at(at + 2), int_at(at + 3), int_at(at + 4)});
    run.plans.push_back(std::move(pt));
  }
  if (run.plans.size() != out.value("plans", std::size_t{0})) throw abnormal();
  run.stats = out["stats"];
  for (const auto& e : out["trace"])
    run.trace.push_back({e[0].get<std::string>(), e[1].get<std::string>(), e[2].get<std::uint64_t>(),
                         e[3].get<std::uint64_t>()});
  if (!vcd_tmp.empty()) run.vcd_file = vcd_tmp + ".vcd";
  return run;
}

bool read_exact(int fd, void* p, std::size_t n) {
  auto* b = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = ::read(fd, b, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    b += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

/// In the child: reads the next feed record from `fd` and builds its plan into `out`
/// (false at the end of the feed).
bool next_plan(int fd, std::vector<std::int32_t>& buf, const StreamingSim::Builder& build, Plan& out) {
  std::int32_t n[2];
  if (!read_exact(fd, n, sizeof n) || n[0] < 0) return false;
  if (n[1] < 0 || n[0] > 1 << 20 || n[1] > 1 << 20) throw InternalError("simulation feed: bad record");
  buf.resize(static_cast<std::size_t>(n[0]) + static_cast<std::size_t>(n[1]));
  if (!buf.empty() && !read_exact(fd, buf.data(), buf.size() * sizeof(std::int32_t)))
    throw InternalError("simulation feed ended inside a record");
  const std::vector<int> a(buf.begin(), buf.begin() + n[0]), b(buf.begin() + n[0], buf.end());
  out = build(a, b);
  return true;
}

}  // namespace

int simulation_threads(int threads) { return kForkUnsafeWithThreads ? 1 : threads; }

SimRun simulate(const HwConfig& hw, const std::vector<const Plan*>& plans, const SimOptions& opt) {
  const std::string vcd_tmp = vcd_temp_path(opt);
  ChildProc c = spawn(false, [&](int) {
    std::size_t i = 0;
    return run_child(hw, [&]() -> const Plan* { return i < plans.size() ? plans[i++] : nullptr; },
                     static_cast<std::int64_t>(plans.size()), opt, vcd_tmp);
  });
  return collect(c, vcd_tmp);
}

namespace {
std::mutex g_sigpipe_mu;
int g_sigpipe_users = 0;
struct sigaction g_sigpipe_old;
}  // namespace

// A child that died must not kill the parent with SIGPIPE on the next add(): its error
// is read and thrown instead.
StreamingSim::SigpipeIgnored::SigpipeIgnored() {
  std::lock_guard<std::mutex> lock(g_sigpipe_mu);
  if (g_sigpipe_users++ > 0) return;
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ::sigemptyset(&ign.sa_mask);
  ::sigaction(SIGPIPE, &ign, &g_sigpipe_old);
}

StreamingSim::SigpipeIgnored::~SigpipeIgnored() {
  std::lock_guard<std::mutex> lock(g_sigpipe_mu);
  if (--g_sigpipe_users == 0) ::sigaction(SIGPIPE, &g_sigpipe_old, nullptr);
}

// Feed records: int32 count of a, int32 count of b, the values of a then b; a count
// of -1 ends the stream.
//
// In the child, a thread of its own reads the feed and builds the plans, so that
// building the next plans overlaps simulating the current one (the simulation is the
// longer of the two; building takes about 4 % of it for deit-micro). The plans are
// built in feed order by that one thread, and handed over in that order: the same
// plans in the same order as building them on demand.
StreamingSim::StreamingSim(const HwConfig& hw, const SimOptions& opt, Builder build, std::int64_t expected) {
  vcd_tmp_ = vcd_temp_path(opt);
  const std::string vcd_tmp = vcd_tmp_;
  child_ = spawn(true, [&](int fd) {
    // What the builder thread hands over. Left to the child's end with the plans (the
    // child ends with _exit; the thread may still be blocked reading the feed when the
    // simulation failed early).
    struct Handover {
      std::mutex mu;
      std::condition_variable ready;
      std::deque<Plan> plans;  // complete plans; stable addresses while the simulation runs
      bool ended = false;      // the feed ended or building failed
      std::exception_ptr failed;
    };
    Handover& h = *new Handover();
    std::thread([&h, fd, build] {
      std::vector<std::int32_t> buf;
      for (;;) {
        Plan plan;
        bool more = false;
        std::exception_ptr err;
        try {
          more = next_plan(fd, buf, build, plan);
        } catch (...) {
          err = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(h.mu);
        if (more) {
          h.plans.push_back(std::move(plan));
        } else {
          h.failed = err;
          h.ended = true;
        }
        h.ready.notify_one();
        if (!more) return;
      }
    }).detach();
    std::size_t taken = 0;
    // An exception inside the SystemC process would come out as a SystemC error:
    // keep it, end the simulation, and rethrow it as it was.
    std::exception_ptr failed;
    auto next = [&]() -> const Plan* {
      std::unique_lock<std::mutex> lock(h.mu);
      h.ready.wait(lock, [&] { return h.plans.size() > taken || h.ended; });
      if (h.plans.size() > taken) return &h.plans[taken++];
      failed = h.failed;
      return nullptr;
    };
    ChildOut out = run_child(hw, next, expected, opt, vcd_tmp);
    if (failed) std::rethrow_exception(failed);
    return out;
  });
}

void StreamingSim::write_record(const std::vector<std::int32_t>& rec) {
  if (feed_broken_ || child_.feed_fd < 0) return;
  const char* p = reinterpret_cast<const char*>(rec.data());
  std::size_t left = rec.size() * sizeof(std::int32_t);
  while (left > 0) {
    const ssize_t n = ::write(child_.feed_fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      feed_broken_ = true;  // the child ended early; finish() reports why
      return;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void StreamingSim::add(const std::vector<int>& a, const std::vector<int>& b) {
  HEATVIT_CHECK(child_.pid > 0, "StreamingSim::add after finish()");
  std::vector<std::int32_t> rec{static_cast<std::int32_t>(a.size()), static_cast<std::int32_t>(b.size())};
  rec.insert(rec.end(), a.begin(), a.end());
  rec.insert(rec.end(), b.begin(), b.end());
  write_record(rec);
  if (feed_broken_) {
    // The child ended before its input did: report why now, not after the producer
    // has produced everything.
    finish();  // throws the child's error
    throw InternalError("SystemC simulation ended before its input");
  }
}

SimRun StreamingSim::finish() {
  HEATVIT_CHECK(child_.pid > 0, "StreamingSim::finish called twice");
  write_record({-1, 0});
  ::close(child_.feed_fd);
  child_.feed_fd = -1;
  return collect(child_, vcd_tmp_);
}

StreamingSim::~StreamingSim() {
  if (child_.feed_fd >= 0) ::close(child_.feed_fd);
  if (child_.pid > 0) {
    // Not finished (an exception in the caller): end the child and leave nothing behind.
    ::kill(child_.pid, SIGKILL);
    int status = 0;
    ::waitpid(child_.pid, &status, 0);
    if (!vcd_tmp_.empty()) {
      std::error_code ec;
      std::filesystem::remove(vcd_tmp_ + ".vcd", ec);
    }
  }
  if (child_.result_fd >= 0) ::close(child_.result_fd);
}

}  // namespace heatvit::sim
