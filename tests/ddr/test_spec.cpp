#include <gtest/gtest.h>

#include <string>

#include "heatvit/core/error.hpp"
#include "heatvit/ddr/spec.hpp"

using namespace heatvit;
using namespace heatvit::ddr;

namespace {

const std::string kDir = HEATVIT_DDR_CONFIG_DIR;

json preset_json() { return load_json_file(kDir + "/ddr4-2400-x64.json"); }

// Parses `j` as if it came from file "test.json"; returns the error message or "".
std::string parse_error(const json& j) {
  try {
    ConfigReader r(j, "test.json");
    parse_ddr_spec(r);
    r.finish();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(DdrSpec, LoadsDdr4_2400Preset) {
  const DdrSpec s = load_ddr_spec(kDir + "/ddr4-2400-x64.json");
  EXPECT_EQ(s.org.data_bus_bits, 64);
  EXPECT_EQ(s.org.banks(), 16);
  EXPECT_EQ(s.org.bytes_per_burst(), 64);
  EXPECT_EQ(s.org.bursts_per_row(), 128);
  EXPECT_EQ(s.org.row_bytes(), 8192);
  EXPECT_EQ(s.org.capacity_bytes(), std::int64_t(8) << 30);
  EXPECT_EQ(s.timing.tCK_ps, 833);
  EXPECT_EQ(s.timing.CL, 16);
  EXPECT_EQ(s.timing.tRCD, 16);
  EXPECT_EQ(s.timing.tRP, 16);
  EXPECT_EQ(s.timing.tRC, s.timing.tRAS + s.timing.tRP);
  EXPECT_EQ(s.burst_cycles(), 4);
  EXPECT_EQ(s.read_to_write(), 16 + 4 + 2 - 12);
  EXPECT_NEAR(s.peak_bytes_per_second(), 19.2e9, 0.05e9);
  EXPECT_FALSE(s.source.empty());
  EXPECT_EQ(s.ctrl.scheduler, SchedulerKind::FrFcfs);
  EXPECT_EQ(s.ctrl.page_policy, PagePolicy::Open);
}

TEST(DdrSpec, LoadsZcu102Preset) {
  const DdrSpec s = load_ddr_spec(kDir + "/ddr4-2133-zcu102.json");
  EXPECT_EQ(s.org.rows, 32768);
  EXPECT_EQ(s.timing.CL, 15);
  EXPECT_NEAR(s.peak_bytes_per_second(), 17.06e9, 0.05e9);
}

TEST(DdrSpec, RoundTripsThroughJson) {
  const DdrSpec s = load_ddr_spec(kDir + "/ddr4-2400-x64.json");
  const json j = to_json(s);
  ConfigReader r(j, "roundtrip");
  const DdrSpec t = parse_ddr_spec(r);
  r.finish();
  EXPECT_EQ(to_json(t), j);
}

TEST(DdrSpec, RejectsTrasNotBelowTrc) {
  json j = preset_json();
  j["timing"]["tRAS"] = 55;
  const std::string e = parse_error(j);
  EXPECT_NE(e.find("test.json"), std::string::npos) << e;
  EXPECT_NE(e.find("timing.tRC"), std::string::npos) << e;
}

TEST(DdrSpec, RejectsZeroAndNegativeTimings) {
  for (const char* key : {"CL", "tRCD", "tRP", "tFAW", "tRFC", "tCK_ps"}) {
    for (int v : {0, -3}) {
      json j = preset_json();
      j["timing"][key] = v;
      const std::string e = parse_error(j);
      EXPECT_NE(e.find(std::string("timing.") + key), std::string::npos) << key << ": " << e;
    }
  }
}

TEST(DdrSpec, RejectsInconsistentTimings) {
  const std::pair<const char*, int> cases[] = {{"tRRD_L", 3}, {"tCCD_L", 3}, {"tWTR_L", 2}, {"tCCD_S", 3}, {"tREFI", 400},
                                              {"tRAS", 10} /* below tRCD */, {"tRC", 50} /* below tRAS + tRP */,
                                              {"CWL", 20} /* above CL */};
  for (const auto& [key, v] : cases) {
    json j = preset_json();
    j["timing"][key] = v;
    const std::string e = parse_error(j);
    EXPECT_NE(e.find(std::string("timing.") + key), std::string::npos) << key << ": " << e;
  }
}

TEST(DdrSpec, RejectsBadGeometryAndOptions) {
  {
    json j = preset_json();
    j["organization"]["rows"] = 60000;
    EXPECT_NE(parse_error(j).find("organization.rows"), std::string::npos);
  }
  {
    json j = preset_json();
    j["controller"]["scheduler"] = "random";
    EXPECT_NE(parse_error(j).find("controller.scheduler"), std::string::npos);
  }
  {
    json j = preset_json();
    j["controller"]["address_mapping"] = "RoBaCo";  // bank group missing
    const std::string e = parse_error(j);
    EXPECT_NE(e.find("controller.address_mapping"), std::string::npos) << e;
    EXPECT_NE(e.find("Bg"), std::string::npos) << e;
  }
  {
    json j = preset_json();
    j["timing"]["tRCDD"] = 3;  // typo: unknown key
    EXPECT_NE(parse_error(j).find("tRCDD"), std::string::npos);
  }
}

TEST(DdrSpec, PresetNamesResolveToConfigs) {
  EXPECT_EQ(ddr_preset_path("some/dir/x.json"), "some/dir/x.json");
  EXPECT_EQ(ddr_preset_path("x.json"), "x.json");
  const DdrSpec s = load_ddr_spec(ddr_preset_path("ddr4-2133-zcu102"));
  EXPECT_EQ(s.timing.tCK_ps, 938);
}
