// DDR4 device + controller description, parsed once from a JSON preset
// (configs/ddr/*.json) and handed to the models as const.
//
// Units: every timing is in DRAM clock cycles (nCK) of period tCK_ps picoseconds,
// the way datasheets and JEDEC speed-bin tables give them after rounding up.
#pragma once

#include <cstdint>
#include <string>

#include "heatvit/core/json_config.hpp"

namespace heatvit::ddr {

/// Geometry of one rank of DDR4 devices that together form the data bus.
struct DdrOrganization {
  int data_bus_bits = 64;   ///< width of the channel (DQ pins), bits
  int device_bits = 8;      ///< DQ width of one device (x4/x8/x16)
  int bank_groups = 4;      ///< bank groups per device (4 for x4/x8, 2 for x16)
  int banks_per_group = 4;  ///< banks in one bank group
  int rows = 65536;         ///< rows per bank
  int columns = 1024;       ///< columns per row (one column = device_bits per device)
  int burst_length = 8;     ///< BL8: 8 transfers per column command

  int banks() const { return bank_groups * banks_per_group; }
  /// Bytes moved by one column command (RD/WR): bus width x burst length (64 for x64 BL8).
  int bytes_per_burst() const { return data_bus_bits / 8 * burst_length; }
  /// Column commands (bursts) per row.
  int bursts_per_row() const { return columns / burst_length; }
  /// Row (page) size across the whole rank, bytes.
  std::int64_t row_bytes() const { return std::int64_t(columns) * data_bus_bits / 8; }
  /// Capacity of the rank, bytes.
  std::int64_t capacity_bytes() const { return row_bytes() * rows * banks(); }
};

/// DDR4 timing parameters, nCK unless the name says otherwise.
struct DdrTiming {
  std::int64_t tCK_ps = 833;  ///< clock period, ps (DDR4-2400: 1200 MHz)
  int CL = 16;       ///< read latency: RD to first data
  int CWL = 12;      ///< write latency: WR to first data
  int tRCD = 16;     ///< ACT to RD/WR, same bank
  int tRP = 16;      ///< PRE to ACT, same bank (also PRE to REF)
  int tRAS = 39;     ///< ACT to PRE, same bank
  int tRC = 55;      ///< ACT to ACT, same bank
  int tRRD_S = 4;    ///< ACT to ACT, different bank group
  int tRRD_L = 6;    ///< ACT to ACT, same bank group
  int tFAW = 26;     ///< window holding at most four ACTs
  int tCCD_S = 4;    ///< RD to RD / WR to WR, different bank group
  int tCCD_L = 6;    ///< RD to RD / WR to WR, same bank group
  int tWR = 18;      ///< write recovery: end of write data to PRE
  int tRTP = 9;      ///< RD to PRE
  int tWTR_S = 3;    ///< end of write data to RD, different bank group
  int tWTR_L = 9;    ///< end of write data to RD, same bank group
  int tRFC = 420;    ///< REF to next valid command (ACT)
  int tREFI = 9360;  ///< average interval between REF commands
};

enum class PagePolicy { Open, Closed };
enum class SchedulerKind { FrFcfs, Fcfs };

/// Memory-controller options.
struct DdrControllerConfig {
  int queue_depth = 32;             ///< bursts the scheduler can see (and reorder) at once
  PagePolicy page_policy = PagePolicy::Open;
  SchedulerKind scheduler = SchedulerKind::FrFcfs;
  std::string address_mapping = "RoBaCoBg";  ///< see address_mapper.hpp for the grammar
  bool refresh = true;              ///< issue all-bank REF every tREFI
  int rw_switch_bursts = 32;        ///< bursts in one bus direction before the other
                                    ///< direction, if waiting, gets the bus
};

struct DdrSpec {
  std::string name;    ///< e.g. "DDR4-2400R x64"
  std::string source;  ///< where the numbers come from (free text)
  DdrOrganization org;
  DdrTiming timing;
  DdrControllerConfig ctrl;

  /// Cycles the data bus is busy for one burst (BL/2: double data rate).
  int burst_cycles() const { return org.burst_length / 2; }
  /// RD to WR command spacing (any bank): RL + BL/2 + 2 - WL (JESD79-4, 1 nCK preambles).
  int read_to_write() const { return timing.CL + burst_cycles() + 2 - timing.CWL; }
  /// WR to RD command spacing, same / different bank group: WL + BL/2 + tWTR_L/S.
  int write_to_read_same_bg() const { return timing.CWL + burst_cycles() + timing.tWTR_L; }
  int write_to_read_diff_bg() const { return timing.CWL + burst_cycles() + timing.tWTR_S; }
  /// WR to PRE, same bank: WL + BL/2 + tWR.
  int write_to_precharge() const { return timing.CWL + burst_cycles() + timing.tWR; }
  /// Peak data rate of the channel, bytes per second.
  double peak_bytes_per_second() const {
    return double(org.data_bus_bits) / 8.0 * 2.0 / (double(timing.tCK_ps) * 1e-12);
  }
};

/// Reads a DDR preset from `r` (the object holding "organization", "timing",
/// "controller", and optional "name"/"source"/"notes"). Validates every field and
/// cross-field constraint (e.g. tRAS < tRC, power-of-two geometry, a valid address
/// mapping); errors are InputError naming the file and field. Does not call finish().
DdrSpec parse_ddr_spec(ConfigReader& r);

/// Loads and parses a preset file, rejecting unknown keys.
DdrSpec load_ddr_spec(const std::string& path);

/// A preset name ("ddr4-2400-x64") -> <project root>/configs/ddr/<name>.json; a
/// string containing '/' or ending in ".json" is returned unchanged.
std::string ddr_preset_path(const std::string& name_or_path);

/// The preset as JSON (same layout parse_ddr_spec reads), for resolved-config dumps.
json to_json(const DdrSpec& spec);

}  // namespace heatvit::ddr
