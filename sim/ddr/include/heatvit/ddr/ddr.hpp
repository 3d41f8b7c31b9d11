// heatvit DDR4 memory subsystem: one include for the whole public API.
//
//   DdrSpec / parse_ddr_spec / load_ddr_spec / ddr_preset_path   typed preset (spec.hpp)
//   AddressMapper                              byte address -> bank group/bank/row/column
//   TimingState                                per-bank/group/rank DDR4 timing rules
//   Controller                                 FR-FCFS controller, plain C++ (controller.hpp)
//   DdrTarget                                  the controller as a TLM-2.0 target (SystemC)
//   AxiHpPort / AxiPortConfig                  a Zynq S_AXI_HP port in front of it (SystemC)
// See docs/ddr.md for the model, its sources and measured figures.
//
// Usage (SystemC): four 128-bit HP ports at 300 MHz in front of the PS DDR4.
//
//   #include "heatvit/ddr/ddr.hpp"
//   using namespace heatvit::ddr;
//
//   DdrSpec spec = load_ddr_spec(ddr_preset_path("ddr4-2400-x64"));  // or parse_ddr_spec(reader)
//   DdrTarget ddr("ddr", spec);
//   AxiPortConfig pc;                        // 128 bit, 3.333 ns, 16 outstanding, 30 cycles
//   std::vector<std::unique_ptr<AxiHpPort>> hp;
//   for (int i = 0; i < 4; ++i) {
//     hp.push_back(std::make_unique<AxiHpPort>(("hp" + std::to_string(i)).c_str(), pc));
//     hp.back()->initiator.bind(ddr.socket);  // several ports bind to one DdrTarget
//   }
//   // The DMA binds its initiator socket to hp[i]->target and calls b_transport with
//   // TLM_READ_COMMAND / TLM_WRITE_COMMAND, any address and length (data pointer may
//   // be null: timing only). The call returns when the data have moved.
//   ...
//   sc_start();
//   nlohmann::json j = to_json(ddr.stats(), ddr.spec());   // row hits, refreshes, ...
//
// Usage (plain C++, e.g. an analytical estimate or a unit test):
//
//   Controller c(spec);
//   c.enqueue({/*id*/ 0, /*address*/ 0, /*bytes*/ 1 << 20, /*is_write*/ false, /*arrival_ps*/ 0});
//   std::uint64_t done_ps = c.run_until_idle();
#pragma once

#include "heatvit/ddr/address_mapper.hpp"
#include "heatvit/ddr/axi_hp_port.hpp"
#include "heatvit/ddr/controller.hpp"
#include "heatvit/ddr/ddr_target.hpp"
#include "heatvit/ddr/spec.hpp"
#include "heatvit/ddr/timing.hpp"
