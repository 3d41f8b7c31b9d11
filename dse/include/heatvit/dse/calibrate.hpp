// Calibration against published hardware figures: a search over the physical
// parameters of two hardware configs (the HeatViT design and its 16-bit baseline) that
// minimizes the error of every published latency- and resource-derived figure, then
// a residual table of record timed by the SystemC model. No scalar fudge factor: every
// knob is a parameter of the hardware (array sizes, DSP packing, buffering, ports,
// where LayerNorm runs), so a figure no physical setting reaches stays a residual.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/sim/hw_config.hpp"

namespace heatvit::dse {

/// One public figure (configs/published/*.json).
struct Figure {
  std::string id;
  std::string metric;   ///< gops_per_dsp, fps_per_dsp, latency_ms, speedup, pruning_speedup,
                        ///< int8_speedup, dsp_overhead, lut_overhead, computation_cut
  std::vector<std::string> models;  ///< one residual per model
  std::string design;   ///< who published it (HeatViT, Auto-ViT-Acc, ...)
  std::string preset = "heatvit";   ///< the preset it is compared with: heatvit | baseline
  std::string schedule = "default"; ///< default (the published schedules) | dense
  std::string ops = "executed";     ///< GOPS basis: executed MACs or the dense model's
  bool is_range = false;
  double value = 0, lo = 0, hi = 0;
  bool absolute = false;  ///< residual in points (overheads) instead of relative
  double tolerance = 0.10;
  bool fit = true;        ///< part of the calibration objective (else reported only)
  std::string measures, source, confidence, note;
};
struct PublishedSet {
  std::string path;
  std::vector<Figure> figures;
  json raw;
};
/// Reads and validates a published-figures file (InputError naming file and field).
PublishedSet load_published(const std::string& path);

/// A knob: a hw config path (as `--set` names it, without "hw.") and its values.
struct CalKnob {
  std::string path;
  std::vector<json> values;
};
struct CalPreset {
  std::string role;   ///< heatvit | baseline
  std::string name;   ///< name of the calibrated preset (file <name>.json)
  std::string base;   ///< resolved path of the base hw config
  std::vector<CalKnob> knobs;
};
struct CalibrationSpace {
  std::string path;
  std::vector<std::string> models;
  std::map<std::string, std::string> schedules;  ///< model -> resolved schedule path
  CalPreset heatvit, baseline;
  std::vector<CalKnob> shared;  ///< applied to both presets (the same PS, board, ...)
  std::int64_t budget = 400;
  int restarts = 3;
  std::uint64_t seed = 1;
  int confirm = 4;  ///< best analytic points re-timed by SystemC; the best of those is chosen
  json raw;
};
CalibrationSpace load_calibration_space(const std::string& path);

/// Timing and resources of one preset on every model of the space.
struct PresetResult {
  bool ok = false;
  std::string why;  ///< when not ok: the device or buffer limit it breaks
  sim::Resources res;
  std::map<std::string, double> dense_ms, sched_ms;      ///< per model
  std::map<std::string, double> dense_macs, sched_macs;  ///< per model
};

struct Residual {
  const Figure* fig = nullptr;
  std::string model;
  double ours = 0;
  double residual = 0;  ///< 0 inside a range; relative (or absolute) distance otherwise
  bool within = false;  ///< |residual| <= tolerance
};

/// Times `hw` on each model, dense and (when `pruned`) with its schedule (paths per
/// model), by the analytic or the SystemC model; not ok (with why) when it does not fit
/// the device or a layer's tile does not fit a buffer.
PresetResult time_preset(const sim::HwConfig& hw, const std::vector<std::string>& models,
                         const std::map<std::string, std::string>& schedules, bool pruned, bool systemc,
                         int threads);

/// Evaluates figures from the two presets' results.
std::vector<Residual> residuals(const PublishedSet& pub, const PresetResult& heatvit, const PresetResult& baseline);
/// Sum over fitted residuals of (residual / tolerance)^2.
double objective(const std::vector<Residual>& r);

struct CalibrateOptions {
  std::string space_path;
  std::string published_path;  ///< empty: the space's "published"
  std::string out_dir;
  std::string presets_dir;     ///< where the calibrated presets go (empty: out_dir)
  std::int64_t budget = 0;     ///< 0: the space's
  std::uint64_t seed = 0;      ///< 0: the space's
  int restarts = 0;            ///< 0: the space's
  int threads = 0;
  bool evaluate_only = false;  ///< no search: the presets already in presets_dir
  bool systemc = true;         ///< false: no SystemC check, the table timed by the analytic model
  bool quiet = false;
  bool plot = true;
};

/// Set by SIGINT: the search stops and the best point so far is reported.
extern std::atomic<bool> g_calibrate_interrupted;

/// Runs the calibration (or evaluate_only); writes every output together; returns the
/// summary (residual rows and chosen knob values).
json run_calibrate(const CalibrateOptions& opt);

/// Applies knob values to a composed hw config and parses it (InputError naming the
/// space file and knob when a value is invalid). `values[i]` goes to `knobs[i]`.
sim::HwConfig apply_knobs(const json& base, const Provenance& prov, const std::vector<const CalKnob*>& knobs,
                          const std::vector<json>& values, const std::string& origin, json* resolved);

}  // namespace heatvit::dse
