// The HLS generator: one design point (model, resolved hw config, pruning schedule with
// its calibrated thresholds) becomes a Vitis HLS project: the layer-programmable
// engine (rtl_hls/engine), the integer kernels, the layer program of the simulator's
// plan, the packed weights, golden vectors from the functional model, the build files
// and a report of the checks that run without Vitis (lint, latency, resources).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/func/func_model.hpp"
#include "heatvit/models/idx.hpp"
#include "heatvit/models/model.hpp"
#include "heatvit/models/schedule.hpp"
#include "heatvit/sim/hw_config.hpp"
#include "heatvit/sim/plan.hpp"

namespace heatvit::hls {

struct DesignPoint {
  ModelShape model;
  sim::HwConfig hw;
  json hw_json;          ///< the resolved hw config (written to design.json)
  Schedule schedule;
  std::vector<func::SelectorThreshold> thresholds;  ///< active selectors, ascending block
  std::string calibration;  ///< how the thresholds were obtained ("sequential", "table")
  json origin;              ///< where the point came from (files, options)
};

struct EmitOptions {
  int tb_images = 100;  ///< golden test images (first N of the Fashion-MNIST test split)
};

/// A generated project: relative path -> content (binary files included).
struct Project {
  std::map<std::string, std::string> files;
  json report;  ///< also written as hls_report.json
};

/// Emits the project for deit-micro (the trained model `fm`, test images `data`).
/// Throws InputError naming the hw config's field when a layer or the attention rows
/// do not fit the configured buffers.
Project emit_project(const DesignPoint& dp, const func::FuncModel& fm, const ImageSet& data,
                     const EmitOptions& opt);

/// Emits the project for a DeiT shape (deit-tiny, deit-small, deit-base) with seeded
/// synthetic INT8 weights and images: the thresholds are calibrated from the schedule's
/// keep rates on seeded images (filled into `dp`), and the golden outputs come from the
/// shape-generic integer reference (func::IntVit). Other shapes: InputError on --model.
Project emit_project_synthetic(DesignPoint& dp, const EmitOptions& opt);

/// What the engine cannot build: selectors on hardware without selector support, a
/// precision other than INT8, partial sums other than 32 bits. InputError naming the hw
/// config's accelerator section and the field. Cheap: call it before any calibration.
void check_engine_support(const sim::HwConfig& hw, const Schedule& schedule);

/// One pass of the layer program (exposed for tests).
struct ProgramPass {
  std::string name;  ///< the plan pass it executes
  std::vector<int> fields;  ///< HvPass fields in declaration order
};

/// The layer program of a design: the plan of the largest token counts (every patch
/// kept at every selector), so every buffer fits whatever an image keeps, plus one
/// package pass after each compaction.
sim::Plan program_plan(const ModelShape& model, const sim::HwConfig& hw, const std::vector<int>& selector_blocks);

// ---- checks over the emitted code (also run by emit_project into the report) ----

struct LintIssue {
  std::string file;
  int line = 0;
  std::string rule;
  std::string message;
};

/// Synthesizability lint of the firmware sources: no heap, recursion, STL containers,
/// exceptions or virtual calls; every loop bounded by a compile-time constant or
/// carrying LOOP_TRIPCOUNT; array sizes compile-time constants; pragma arguments are
/// literals, template parameters or macros of `defines`; an INTERFACE pragma on every
/// argument of `top` in `top_file`.
std::vector<LintIssue> lint_firmware(const std::map<std::string, std::string>& sources, const std::string& defines,
                                     const std::string& top_file, const std::string& top);

/// DSP and BRAM of an emitted engine, derived from its source: the unrolled MAC loops
/// of pe_tile (pe_th x pe_to x pe_ti bounds) and each buffer array `static T name[2][N]`
/// with its `ARRAY_PARTITION ... dim=2 cyclic factor=F`, evaluated with `defines`. A
/// BRAM36 holds 4 KiB of data and gives a 64-bit data port: per buffer half
/// max(ceil(bytes / 4096), ceil(F x bits / 64)). Throws std::logic_error when the source
/// lacks an expected loop or array.
struct EmittedBuffer {
  std::string item, from;  ///< the resource model's item name; how the figure was derived
  std::int64_t bram36 = 0;
};
struct EmittedResources {
  std::int64_t dsp = 0;
  std::string dsp_from;
  std::vector<EmittedBuffer> buffers;
};
EmittedResources emitted_resources(const std::string& top, const std::string& defines, int macs_per_dsp);

}  // namespace heatvit::hls
