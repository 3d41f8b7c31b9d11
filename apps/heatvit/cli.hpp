// Shared pieces of the `heatvit` subcommands: option parsing, the composed run
// configuration (model, hw, schedule with --set overrides) and report writing.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/models/model.hpp"
#include "heatvit/models/schedule.hpp"

namespace heatvit::cli {

namespace po = boost::program_options;

struct Subcommand {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>& args)> run;
};

/// Every subcommand, in the order `heatvit --help` lists them.
const std::vector<Subcommand>& subcommands();

/// Parses `args` against `desc`; prints help and returns false for --help.
/// Throws InputError for unknown or malformed options.
bool parse_args(const std::string& cmd, const std::vector<std::string>& args,
                const po::options_description& desc, po::variables_map& vm,
                const std::string& usage);

/// The options every configurable subcommand shares: --config and --set.
void add_config_options(po::options_description& desc);

/// The composed input document {"model": ..., "hw": ..., "schedule": ...} with the
/// origin of every part, --config values and --set overrides applied.
class RunConfig {
 public:
  /// Reads --config (when given) and remembers the --set overrides.
  explicit RunConfig(const po::variables_map& vm);

  /// A string option from the command line, else from the --config file, else "".
  std::string option(const po::variables_map& vm, const std::string& key) const;
  /// An integer option (command line, else --config) in [lo, hi]; `def` when absent.
  /// InputError naming the option otherwise.
  int int_option(const po::variables_map& vm, const std::string& key, int def, int lo, int hi) const;
  bool has_option(const po::variables_map& vm, const std::string& key) const { return !option(vm, key).empty(); }

  /// The value option() returns for a model, hw or schedule given inline by a
  /// --config file in the resolved form a run writes next to its report.
  static constexpr const char* kInline = "@config";
  /// That inline section ("model", "hw" or "schedule"); null when absent.
  const json& inline_section(const std::string& key) const;
  const std::string& config_path() const { return config_path_; }

  ModelShape load_model(const std::string& name_or_path);
  /// `path` may be "" (none). Must come after load_model().
  Schedule load_schedule(const std::string& path, const ModelShape& model);
  /// Adds a JSON section (e.g. the composed hw config) under `key`.
  void add_section(const std::string& key, json section, const std::string& origin,
                   const Provenance& inner = Provenance());
  /// A reader over section `key` with overrides applied.
  ConfigReader& reader(const std::string& key);
  /// " with --set a=1, --set b=2" for the --set options under section `key`, "" when
  /// none: appended to the names reports give a preset that was changed.
  std::string overrides_note(const std::string& key) const;
  /// Checks that every --set names a section that was loaded.
  void check_overrides_used() const;

  /// The resolved config: every section as read, defaults filled in.
  json resolved() const;
  json& extra() { return extra_; }

 private:
  void apply_overrides_to(const std::string& key);

  json config_;  // --config file content (run options)
  json inline_ = json::object();  // sections of a resolved config given as --config
  std::string config_path_;
  std::vector<Override> sets_;
  json doc_ = json::object();
  std::shared_ptr<Provenance> prov_ = std::make_shared<Provenance>();
  std::vector<std::pair<std::string, std::unique_ptr<ConfigReader>>> readers_;
  json extra_ = json::object();
};

/// Parses "197,197,..." (the --tokens option).
std::vector<int> parse_int_list(const std::string& text, const std::string& option);

/// Checks, before any work, that `path` and its resolved-config sibling can be
/// written (check_output_path); InputError otherwise.
void check_report_paths(const std::string& path);

/// Writes `report` to `path` and the resolved config next to it
/// (`<path without .json>.config.json`), both atomically.
void write_report(const std::string& path, const json& report, const json& resolved_config);

}  // namespace heatvit::cli
