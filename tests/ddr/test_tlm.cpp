// SystemC-level tests of DdrTarget and AxiHpPort.
// SystemC elaborates once per process: each test builds its own top and calls
// sc_start(); ctest runs every discovered test in its own process. When the binary
// is run directly, only the first selected test runs and the others are skipped
// (use --gtest_filter to pick one).
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "heatvit/core/error.hpp"
#include "heatvit/ddr/ddr.hpp"

using namespace heatvit::ddr;
using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_PS;

namespace {

bool g_elaborated = false;

#define REQUIRE_FRESH_KERNEL()                                                              \
  do {                                                                                      \
    if (g_elaborated) GTEST_SKIP() << "SystemC elaborates once per process; run via ctest"; \
    g_elaborated = true;                                                                    \
  } while (0)

DdrSpec preset() { return load_ddr_spec(std::string(HEATVIT_DDR_CONFIG_DIR) + "/ddr4-2400-x64.json"); }

/// A test master: runs each script in its own thread, all sharing one socket.
class Driver : public sc_core::sc_module {
 public:
  using Script = std::function<void(Driver&)>;
  tlm_utils::simple_initiator_socket<Driver> socket;

  Driver(sc_core::sc_module_name n, std::vector<Script> scripts) : sc_module(n), socket("socket") {
    for (auto& s : scripts) sc_core::sc_spawn([this, s] { s(*this); });
  }

  /// Blocking transfer; returns when done (the target's delay is honoured).
  void xfer(bool write, std::uint64_t addr, std::uint32_t len) {
    tlm::tlm_generic_payload gp;
    gp.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    gp.set_address(addr);
    gp.set_data_ptr(nullptr);  // timing only
    gp.set_data_length(len);
    gp.set_streaming_width(len);
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    sc_time delay = sc_core::SC_ZERO_TIME;
    socket->b_transport(gp, delay);
    if (delay > sc_core::SC_ZERO_TIME) wait(delay);
    EXPECT_TRUE(gp.is_response_ok());
  }
};

double gbps(std::uint64_t bytes, const sc_time& t) { return double(bytes) / t.to_seconds() / 1e9; }

}  // namespace

TEST(DdrTarget, SingleReadLatency) {
  REQUIRE_FRESH_KERNEL();
  const DdrSpec s = preset();
  DdrTarget ddr("ddr", s);
  sc_time done;
  Driver d("drv", {[&](Driver& m) {
             m.xfer(false, 0x4000, 64);
             done = sc_core::sc_time_stamp();
           }});
  d.socket.bind(ddr.socket);
  sc_core::sc_start();
  EXPECT_EQ(done, sc_time(double((s.timing.tRCD + s.timing.CL + 4) * 833), SC_PS));
  EXPECT_EQ(ddr.transactions(), 1u);
  EXPECT_EQ(ddr.stats().read_bursts, 1u);
  EXPECT_EQ(ddr.stats_json()["transactions"], 1);
  EXPECT_EQ(ddr.stats_json()["row_misses"], 1);
}

TEST(DdrTarget, SeveralInitiatorsShareTheController) {
  REQUIRE_FRESH_KERNEL();
  const DdrSpec s = preset();
  DdrTarget ddr("ddr", s);
  std::vector<std::unique_ptr<Driver>> drv;
  const std::uint32_t chunk = 4096, per_thread = 1 << 20;
  for (int i = 0; i < 2; ++i) {
    std::vector<Driver::Script> scripts;
    for (int k = 0; k < 4; ++k)
      scripts.push_back([=](Driver& m) {
        const std::uint64_t base = (std::uint64_t(i * 4 + k) << 24);
        for (std::uint32_t off = 0; off < per_thread; off += chunk) m.xfer(k == 3, base + off, chunk);
      });
    drv.push_back(std::make_unique<Driver>(("drv" + std::to_string(i)).c_str(), scripts));
    drv.back()->socket.bind(ddr.socket);
  }
  sc_core::sc_start();
  const sc_time end = sc_core::sc_time_stamp();
  EXPECT_EQ(ddr.transactions(), 8u * per_thread / chunk);
  EXPECT_EQ(ddr.stats().read_bytes, 6u * per_thread);
  EXPECT_EQ(ddr.stats().write_bytes, 2u * per_thread);
  const double bw = gbps(8u * per_thread, end);
  std::printf("8 blocking initiators (4 KB each): %.2f GB/s\n", bw);
  EXPECT_GT(bw, 8.0);
  EXPECT_LT(bw, 19.2);
}

TEST(AxiHpPort, SplitsAtFourKilobyteBoundaries) {
  REQUIRE_FRESH_KERNEL();
  DdrTarget ddr("ddr", preset());
  AxiHpPort port("hp0", AxiPortConfig{});
  port.initiator.bind(ddr.socket);
  Driver d("drv", {[](Driver& m) { m.xfer(false, 4096 - 100, 10000); }});
  d.socket.bind(port.target);
  sc_core::sc_start();
  EXPECT_EQ(port.stats().read.transactions, 1u);
  EXPECT_EQ(port.stats().read.bursts, 4u);  // 100 + 4096 + 4096 + 1708
  EXPECT_EQ(port.stats().read.bytes, 10000u);
  EXPECT_EQ(ddr.transactions(), 4u);
  EXPECT_EQ(port.stats().write.bursts, 0u);
}

TEST(AxiHpPort, NarrowPortMakesShorterBursts) {
  REQUIRE_FRESH_KERNEL();
  DdrTarget ddr("ddr", preset());
  AxiPortConfig cfg;
  cfg.width_bits = 64;
  cfg.max_burst_beats = 16;  // 128 B bursts
  AxiHpPort port("hp0", cfg);
  port.initiator.bind(ddr.socket);
  Driver d("drv", {[](Driver& m) { m.xfer(true, 0, 4096); }});
  d.socket.bind(port.target);
  sc_core::sc_start();
  EXPECT_EQ(port.stats().write.bursts, 32u);
  EXPECT_EQ(port.stats().write.busy_cycles, 512u);
}

TEST(AxiHpPort, SingleReadLatency) {
  REQUIRE_FRESH_KERNEL();
  const DdrSpec s = preset();
  DdrTarget ddr("ddr", s);
  AxiPortConfig cfg;  // 30 cycles of 3333 ps
  AxiHpPort port("hp0", cfg);
  port.initiator.bind(ddr.socket);
  sc_time done;
  Driver d("drv", {[&](Driver& m) {
             m.xfer(false, 0, 64);
             done = sc_core::sc_time_stamp();
           }});
  d.socket.bind(port.target);
  sc_core::sc_start();
  // Arrives at the DDR after 30 x 3333 ps = 99990 ps -> DRAM cycle 121; then
  // ACT + tRCD + CL + BL/2.
  const std::uint64_t arrival_cycle = (99990 + 832) / 833;
  EXPECT_EQ(done, sc_time(double((arrival_cycle + s.timing.tRCD + s.timing.CL + 4) * 833), SC_PS));
}

TEST(AxiHpPort, OutstandingLimitHoldsBackBursts) {
  REQUIRE_FRESH_KERNEL();
  DdrTarget ddr("ddr", preset());
  AxiPortConfig cfg;
  cfg.max_outstanding = 1;
  AxiHpPort port("hp0", cfg);
  port.initiator.bind(ddr.socket);
  // Two writers share the port's write channel: 8 bursts of 4 KB, at most one in flight,
  // so each burst waits for a free slot (both writers at times).
  sc_time done_a, done_b;
  Driver d("drv", {[&](Driver& m) {
                     m.xfer(true, 0, 16384);
                     done_a = sc_core::sc_time_stamp();
                   },
                   [&](Driver& m) {
                     m.xfer(true, 1 << 20, 16384);
                     done_b = sc_core::sc_time_stamp();
                   }});
  d.socket.bind(port.target);
  sc_core::sc_start();
  EXPECT_GT(done_a, sc_core::SC_ZERO_TIME);  // both transactions completed
  EXPECT_GT(done_b, sc_core::SC_ZERO_TIME);
  EXPECT_EQ(port.stats().write.bursts, 8u);
  EXPECT_EQ(ddr.transactions(), 8u);
  // A write's request leaves after its 256 data beats plus the 30-cycle latency, and the
  // next burst's data slot starts only once it is done: at least (256 + 30) cycles of
  // 3333 ps a burst. With bursts in flight together the slots run back to back and the
  // latency is paid about once.
  EXPECT_GE(std::max(done_a, done_b), sc_time(3333, SC_PS) * double(8 * (256 + 30)));
}

// Sequential reads of `bytes` per port through `ports` HP ports at 300 MHz/128 bit.
static double axi_sequential_read_gbps(int ports, std::uint64_t bytes, AxiPortStats* first_stats = nullptr) {
  DdrTarget ddr("ddr", preset());
  std::vector<std::unique_ptr<AxiHpPort>> hp;
  std::vector<std::unique_ptr<Driver>> drv;
  for (int i = 0; i < ports; ++i) {
    hp.push_back(std::make_unique<AxiHpPort>(("hp" + std::to_string(i)).c_str(), AxiPortConfig{}));
    hp.back()->initiator.bind(ddr.socket);
    const std::uint64_t base = std::uint64_t(i) << 28;
    drv.push_back(std::make_unique<Driver>(("dma" + std::to_string(i)).c_str(),
                                           std::vector<Driver::Script>{[=](Driver& m) {
                                             for (std::uint64_t off = 0; off < bytes; off += 65536)
                                               m.xfer(false, base + off, 65536);
                                           }}));
    drv.back()->socket.bind(hp.back()->target);
  }
  sc_core::sc_start();
  if (first_stats) *first_stats = hp[0]->stats();
  const double bw = gbps(bytes * std::uint64_t(ports), sc_core::sc_time_stamp());
  std::printf("%d port(s) x 128 bit @ 300 MHz, sequential read: %.2f GB/s (DDR row hits %lu, refreshes %lu)\n", ports,
              bw, static_cast<unsigned long>(ddr.stats().row_hits), static_cast<unsigned long>(ddr.stats().refreshes));
  return bw;
}

TEST(AxiHpPort, OnePortSequentialReadBandwidth) {
  REQUIRE_FRESH_KERNEL();
  AxiPortStats st;
  const double bw = axi_sequential_read_gbps(1, 8 << 20, &st);
  const double port_peak = AxiPortConfig{}.peak_bytes_per_second() / 1e9;  // 4.8 GB/s
  EXPECT_LE(bw, port_peak * 1.0001);
  EXPECT_GT(bw, 0.95 * port_peak);
  EXPECT_EQ(st.read.bytes, std::uint64_t(8) << 20);
  EXPECT_EQ(st.read.busy_cycles, (std::uint64_t(8) << 20) / 16);
}

TEST(AxiHpPort, FourPortsSequentialReadBandwidth) {
  REQUIRE_FRESH_KERNEL();
  const double bw = axi_sequential_read_gbps(4, 4 << 20);
  // 4 x 4.8 = 19.2 GB/s offered; the DDR (19.2 GB/s peak, refresh and row switches) limits.
  EXPECT_GT(bw, 15.0);
  EXPECT_LT(bw, 19.2 * 0.96);
}

TEST(AxiHpPort, ReadAndWriteChannelsAreIndependent) {
  REQUIRE_FRESH_KERNEL();
  DdrTarget ddr("ddr", preset());
  AxiHpPort port("hp0", AxiPortConfig{});
  port.initiator.bind(ddr.socket);
  const std::uint64_t bytes = 2 << 20;
  sc_time rd_end, wr_end;
  Driver d("drv", {[&](Driver& m) {
                     m.xfer(false, 0, std::uint32_t(bytes));
                     rd_end = sc_core::sc_time_stamp();
                   },
                   [&](Driver& m) {
                     m.xfer(true, std::uint64_t(1) << 30, std::uint32_t(bytes));
                     wr_end = sc_core::sc_time_stamp();
                   }});
  d.socket.bind(port.target);
  sc_core::sc_start();
  const double rd = gbps(bytes, rd_end), wr = gbps(bytes, wr_end);
  std::printf("one port, concurrent read %.2f GB/s and write %.2f GB/s\n", rd, wr);
  EXPECT_GT(rd, 0.9 * 4.8);
  EXPECT_GT(wr, 0.9 * 4.8);
  EXPECT_EQ(port.stats().read.bytes, bytes);
  EXPECT_EQ(port.stats().write.bytes, bytes);
}

TEST(AxiHpPort, RejectsBadConfig) {
  REQUIRE_FRESH_KERNEL();
  AxiPortConfig cfg;
  cfg.width_bits = 96;
  EXPECT_THROW(AxiHpPort("bad", cfg), heatvit::InputError);
  cfg = AxiPortConfig{};
  cfg.max_outstanding = 0;
  EXPECT_THROW(AxiHpPort("bad2", cfg), heatvit::InputError);
}

TEST(AxiHpPort, InferenceScaleTrafficSimulatesQuickly) {
  // About what one DeiT-S image moves: ~48 MB of reads and ~6 MB of writes over four
  // ports in 64 KB DMA transactions. Prints the simulated and the wall time.
  REQUIRE_FRESH_KERNEL();
  DdrTarget ddr("ddr", preset());
  std::vector<std::unique_ptr<AxiHpPort>> hp;
  std::vector<std::unique_ptr<Driver>> drv;
  const std::uint64_t rd_bytes = 12 << 20, wr_bytes = 3 << 19, chunk = 65536;
  for (int i = 0; i < 4; ++i) {
    hp.push_back(std::make_unique<AxiHpPort>(("hp" + std::to_string(i)).c_str(), AxiPortConfig{}));
    hp.back()->initiator.bind(ddr.socket);
    const std::uint64_t base = std::uint64_t(i) << 28;
    drv.push_back(std::make_unique<Driver>(
        ("dma" + std::to_string(i)).c_str(),
        std::vector<Driver::Script>{[=](Driver& m) {
                                      for (std::uint64_t off = 0; off < rd_bytes; off += chunk)
                                        m.xfer(false, base + off, chunk);
                                    },
                                    [=](Driver& m) {
                                      for (std::uint64_t off = 0; off < wr_bytes; off += chunk)
                                        m.xfer(true, base + (std::uint64_t(1) << 27) + off, chunk);
                                    }}));
    drv.back()->socket.bind(hp.back()->target);
  }
  const auto t0 = std::chrono::steady_clock::now();
  sc_core::sc_start();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::uint64_t total = 4 * (rd_bytes + wr_bytes);
  std::printf("%.1f MB through 4 ports: simulated %.3f ms (%.2f GB/s), wall %.3f s, %lu DDR requests\n",
              double(total) / 1e6, sc_core::sc_time_stamp().to_seconds() * 1e3,
              gbps(total, sc_core::sc_time_stamp()), wall, static_cast<unsigned long>(ddr.transactions()));
  EXPECT_EQ(ddr.stats().read_bytes + ddr.stats().write_bytes, total);
  EXPECT_GT(gbps(total, sc_core::sc_time_stamp()), 12.0);
}

TEST(AxiPortConfig, ParsesAndValidates) {
  // No modules: needs no fresh kernel.
  const heatvit::json j = {{"width_bits", 64}, {"frequency_mhz", 250}, {"max_outstanding", 8}, {"latency_cycles", 12}};
  heatvit::ConfigReader r(j, "port.json");
  const AxiPortConfig c = parse_axi_port_config(r);
  r.finish();
  EXPECT_EQ(c.width_bits, 64u);
  EXPECT_EQ(c.clock_period, sc_time(4000, SC_PS));
  EXPECT_EQ(c.max_outstanding, 8u);
  EXPECT_EQ(c.latency_cycles, 12u);
  EXPECT_EQ(c.max_burst_beats, 256u);
  EXPECT_NEAR(c.peak_bytes_per_second(), 2.0e9, 1e6);
  const heatvit::json bad = {{"width_bits", 96}};
  heatvit::ConfigReader rb(bad, "port.json");
  try {
    parse_axi_port_config(rb);
    FAIL() << "accepted width 96";
  } catch (const heatvit::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("width_bits"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("port.json"), std::string::npos);
  }
  AxiPortStats st;
  st.read.bytes = 5;
  EXPECT_EQ(to_json(st)["read"]["bytes"], 5);
}

int sc_main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
