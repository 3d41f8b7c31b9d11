#include "heatvit/ddr/spec.hpp"

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/ddr/address_mapper.hpp"

namespace heatvit::ddr {

namespace {

bool is_pow2(std::int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

void require_pow2(ConfigReader& r, const std::string& key, std::int64_t v) {
  if (!is_pow2(v)) r.fail(key, "must be a power of two, got " + std::to_string(v));
}

}  // namespace

DdrSpec parse_ddr_spec(ConfigReader& r) {
  DdrSpec s;
  s.name = r.string("name", "DDR4");
  s.source = r.string("source", "");
  if (r.has("notes")) r.raw("notes");  // free text or list of strings, for humans

  {
    ConfigReader& o = r.child("organization");
    DdrOrganization& g = s.org;
    g.data_bus_bits = int(o.integer("data_bus_bits", 64, 8, 1024));
    g.device_bits = int(o.integer("device_bits", 8, 4, 32));
    g.bank_groups = int(o.integer("bank_groups", 4, 1, 8));
    g.banks_per_group = int(o.integer("banks_per_group", 4, 1, 16));
    g.rows = int(o.integer("rows", 1, 1 << 20));
    g.columns = int(o.integer("columns", 1024, 8, 1 << 14));
    g.burst_length = int(o.integer("burst_length", 8, 2, 16));
    if (g.data_bus_bits % 8 != 0) o.fail("data_bus_bits", "must be a multiple of 8");
    if (g.data_bus_bits % g.device_bits != 0)
      o.fail("device_bits", "must divide data_bus_bits (" + std::to_string(g.data_bus_bits) + ")");
    require_pow2(o, "bank_groups", g.bank_groups);
    require_pow2(o, "banks_per_group", g.banks_per_group);
    require_pow2(o, "rows", g.rows);
    require_pow2(o, "columns", g.columns);
    require_pow2(o, "burst_length", g.burst_length);
    require_pow2(o, "data_bus_bits", g.data_bus_bits);
    if (g.columns < g.burst_length) o.fail("columns", "must be at least burst_length");
    if (g.banks() > 64)
      o.fail("banks_per_group", "bank_groups x banks_per_group must be at most 64, got " + std::to_string(g.banks()));
  }

  {
    ConfigReader& t = r.child("timing");
    DdrTiming& d = s.timing;
    const std::int64_t big = 1 << 20;
    // DDR3-800 (2500 ps) down to DDR5-8000 (250 ps), with margin: a clock outside
    // this range is not a DRAM the model describes.
    d.tCK_ps = t.integer("tCK_ps", 250, 5000);
    auto cyc = [&](const char* key) { return int(t.integer(key, 1, big)); };
    d.CL = cyc("CL");
    d.CWL = cyc("CWL");
    d.tRCD = cyc("tRCD");
    d.tRP = cyc("tRP");
    d.tRAS = cyc("tRAS");
    d.tRC = cyc("tRC");
    d.tRRD_S = cyc("tRRD_S");
    d.tRRD_L = cyc("tRRD_L");
    d.tFAW = cyc("tFAW");
    d.tCCD_S = cyc("tCCD_S");
    d.tCCD_L = cyc("tCCD_L");
    d.tWR = cyc("tWR");
    d.tRTP = cyc("tRTP");
    d.tWTR_S = cyc("tWTR_S");
    d.tWTR_L = cyc("tWTR_L");
    d.tRFC = cyc("tRFC");
    d.tREFI = cyc("tREFI");
    // JESD79-4 relations between the row timings: a row is open at least until its
    // column can be addressed (tRAS >= tRCD) and a row cycle is activate-to-precharge
    // plus precharge (tRC >= tRAS + tRP).
    if (d.tRAS < d.tRCD)
      t.fail("tRAS", "must be at least tRCD (" + std::to_string(d.tRCD) + "), got " + std::to_string(d.tRAS));
    if (d.tRC < d.tRAS + d.tRP)
      t.fail("tRC", "must be at least tRAS + tRP (" + std::to_string(d.tRAS + d.tRP) + "), got " +
                        std::to_string(d.tRC));
    if (d.CWL > d.CL) t.fail("CWL", "must be at most CL (" + std::to_string(d.CL) + "), got " + std::to_string(d.CWL));
    if (d.tRRD_L < d.tRRD_S) t.fail("tRRD_L", "must be at least tRRD_S (" + std::to_string(d.tRRD_S) + ")");
    if (d.tCCD_L < d.tCCD_S) t.fail("tCCD_L", "must be at least tCCD_S (" + std::to_string(d.tCCD_S) + ")");
    if (d.tWTR_L < d.tWTR_S) t.fail("tWTR_L", "must be at least tWTR_S (" + std::to_string(d.tWTR_S) + ")");
    if (d.tCCD_S < s.org.burst_length / 2)
      t.fail("tCCD_S", "must be at least burst_length/2 = " + std::to_string(s.org.burst_length / 2) +
                           " (bursts would overlap on the data bus)");
    if (d.tFAW < d.tRRD_S) t.fail("tFAW", "must be at least tRRD_S (" + std::to_string(d.tRRD_S) + ")");
    if (d.tREFI <= d.tRFC) t.fail("tREFI", "must be greater than tRFC (" + std::to_string(d.tRFC) + ")");
    if (s.read_to_write() < 1) t.fail("CWL", "too large for CL: CL + BL/2 + 2 - CWL must be positive");
  }

  {
    ConfigReader& c = r.child("controller");
    DdrControllerConfig& k = s.ctrl;
    k.queue_depth = int(c.integer("queue_depth", 32, 1, 4096));
    k.page_policy = c.one_of("page_policy", "open", {"open", "closed"}) == "open" ? PagePolicy::Open : PagePolicy::Closed;
    k.scheduler = c.one_of("scheduler", "fr-fcfs", {"fr-fcfs", "fcfs"}) == "fr-fcfs" ? SchedulerKind::FrFcfs
                                                                                    : SchedulerKind::Fcfs;
    k.address_mapping = c.string("address_mapping", "RoBaCoBg");
    k.refresh = c.boolean("refresh", true);
    k.rw_switch_bursts = int(c.integer("rw_switch_bursts", 32, 1, 1 << 20));
    try {
      AddressMapper check(s.org, k.address_mapping);
    } catch (const InputError& e) {
      c.fail("address_mapping", e.what());
    }
  }
  return s;
}

DdrSpec load_ddr_spec(const std::string& path) {
  const json j = load_json_file(path);
  ConfigReader r(j, path);
  DdrSpec s = parse_ddr_spec(r);
  r.finish();
  return s;
}

std::string ddr_preset_path(const std::string& name_or_path) {
  const std::string& s = name_or_path;
  const bool is_path = s.find('/') != std::string::npos || (s.size() >= 5 && s.compare(s.size() - 5, 5, ".json") == 0);
  return is_path ? s : project_root() + "/configs/ddr/" + s + ".json";
}

json to_json(const DdrSpec& s) {
  json j;
  j["name"] = s.name;
  j["source"] = s.source;
  j["organization"] = {{"data_bus_bits", s.org.data_bus_bits}, {"device_bits", s.org.device_bits},
                       {"bank_groups", s.org.bank_groups},     {"banks_per_group", s.org.banks_per_group},
                       {"rows", s.org.rows},                   {"columns", s.org.columns},
                       {"burst_length", s.org.burst_length}};
  const DdrTiming& t = s.timing;
  j["timing"] = {{"tCK_ps", t.tCK_ps}, {"CL", t.CL},         {"CWL", t.CWL},       {"tRCD", t.tRCD},
                 {"tRP", t.tRP},       {"tRAS", t.tRAS},     {"tRC", t.tRC},       {"tRRD_S", t.tRRD_S},
                 {"tRRD_L", t.tRRD_L}, {"tFAW", t.tFAW},     {"tCCD_S", t.tCCD_S}, {"tCCD_L", t.tCCD_L},
                 {"tWR", t.tWR},       {"tRTP", t.tRTP},     {"tWTR_S", t.tWTR_S}, {"tWTR_L", t.tWTR_L},
                 {"tRFC", t.tRFC},     {"tREFI", t.tREFI}};
  j["controller"] = {{"queue_depth", s.ctrl.queue_depth},
                     {"page_policy", s.ctrl.page_policy == PagePolicy::Open ? "open" : "closed"},
                     {"scheduler", s.ctrl.scheduler == SchedulerKind::FrFcfs ? "fr-fcfs" : "fcfs"},
                     {"address_mapping", s.ctrl.address_mapping},
                     {"refresh", s.ctrl.refresh},
                     {"rw_switch_bursts", s.ctrl.rw_switch_bursts}};
  return j;
}

}  // namespace heatvit::ddr
