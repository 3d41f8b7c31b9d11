#include "cli.hpp"

#include <algorithm>
#include <iostream>
#include <sstream>

#include "heatvit/core/atomic_file.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"

namespace heatvit::cli {

bool parse_args(const std::string& cmd, const std::vector<std::string>& args,
                const po::options_description& desc, po::variables_map& vm,
                const std::string& usage) {
  po::options_description all(desc);
  all.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(all).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    // main() prefixes "heatvit <cmd>: error:" already.
    throw InputError(std::string(e.what()) + " (see heatvit " + cmd + " --help)");
  }
  // An empty value is never meant: `--schedule ""` would otherwise read as "not given"
  // and silently select the default.
  for (const auto& [name, value] : vm) {
    const auto* opt = all.find_nothrow(name, false);
    if (!opt || opt->semantic()->max_tokens() == 0) continue;  // a flag
    const auto* s = boost::any_cast<std::string>(&value.value());
    if (s && s->empty() && !value.defaulted())
      throw InputError("--" + name, "", "is empty (see heatvit " + cmd + " --help)");
  }
  if (vm.count("help")) {
    std::cout << "Usage: heatvit " << cmd << " " << usage << "\n\n" << all << "\n";
    return false;
  }
  return true;
}

void add_config_options(po::options_description& desc) {
  desc.add_options()
      ("config", po::value<std::string>(),
       "run config JSON whose keys mirror the options (model, hw, schedule, tokens, ...); "
       "options given on the command line win")
      ("set", po::value<std::vector<std::string>>()->composing(),
       "override a config value before validation, repeatable: section.path.key=value, "
       "e.g. --set hw.accelerator.pe.ti=8 or --set model.depth=6");
}

namespace {
const std::vector<std::string> kRunKeys = {"model", "hw",     "schedule", "tokens",      "images", "masks",
                                           "limit", "report", "bits",     "threads",     "weights", "data",
                                           "calibration"};
}

RunConfig::RunConfig(const po::variables_map& vm) {
  if (vm.count("config")) {
    config_path_ = vm["config"].as<std::string>();
    config_ = load_json_file(config_path_);
    if (!config_.is_object()) throw InputError(config_path_, "", "must be a JSON object");
    // The resolved form a run writes next to its report (<report>.config.json):
    // model, hw and schedule inline, the run options under "options". It becomes the
    // same run again.
    if (config_.contains("options") || (config_.contains("model") && config_["model"].is_object())) {
      json flat = json::object();
      for (auto it = config_.begin(); it != config_.end(); ++it) {
        const std::string& k = it.key();
        if (k == "model" || k == "hw" || k == "schedule") {
          if (!it->is_object()) throw InputError(config_path_, k, "must be an object in a resolved config");
          inline_[k] = *it;
        } else if (k != "options") {
          throw InputError(config_path_, k, "unknown field of a resolved config (model, hw, schedule, options)");
        }
      }
      if (config_.contains("options")) {
        const json& o = config_["options"];
        if (!o.is_object()) throw InputError(config_path_, "options", "must be an object");
        for (auto it = o.begin(); it != o.end(); ++it) {
          const std::string& k = it.key();
          const std::string field = "options." + k;
          if (k == "schedule" && it->is_object()) {
            // the schedule the run used (dense when it has no selectors)
            if (!inline_.contains("schedule")) inline_["schedule"] = *it;  // the section as read wins
          } else if (k == "tokens_option") {
            if (!it->is_string()) throw InputError(config_path_, field, "must be a string");
            if (!it->get<std::string>().empty()) flat["tokens"] = *it;
          } else if (k != "tokens" && std::find(kRunKeys.begin(), kRunKeys.end(), k) != kRunKeys.end()) {
            if (!it->is_string() && !it->is_number_integer())
              throw InputError(config_path_, field, "must be a string or an integer");
            if (!(it->is_string() && it->get<std::string>().empty())) flat[k] = *it;
          } else if (k != "tokens") {  // tokens: what the run derived, not an input
            throw InputError(config_path_, field, "unknown field");
          }
        }
      }
      for (const char* k : {"model", "hw", "schedule"})
        if (inline_.contains(k) && !flat.contains("masks") && !flat.contains(k)) flat[k] = kInline;
      if (flat.contains("masks")) flat.erase("schedule");
      config_ = flat;
    }
    for (auto it = config_.begin(); it != config_.end(); ++it) {
      bool ok = false;
      for (const auto& k : kRunKeys) ok = ok || k == it.key();
      if (!ok) throw InputError(config_path_, it.key(), "unknown field");
      // Names and paths are strings ({"model": 5} is not a model); counts may be
      // integers or strings.
      const bool count = it.key() == "images" || it.key() == "limit" || it.key() == "threads" ||
                         it.key() == "bits" || it.key() == "tokens";
      if (!it.value().is_string() && !(count && it.value().is_number_integer()))
        throw InputError(config_path_, it.key(), count ? "must be an integer or a string" : "must be a string");
      if (it.value().is_string() && it.value().get<std::string>().empty())
        throw InputError(config_path_, it.key(), "is empty");
    }
  }
  if (vm.count("set"))
    for (const auto& s : vm["set"].as<std::vector<std::string>>()) sets_.push_back(parse_override(s));
}

std::string RunConfig::option(const po::variables_map& vm, const std::string& key) const {
  if (vm.count(key)) {
    const auto& v = vm[key].value();
    if (const auto* s = boost::any_cast<std::string>(&v)) return *s;
    if (const auto* i = boost::any_cast<int>(&v)) return std::to_string(*i);
  }
  auto it = config_.find(key);
  if (it == config_.end()) return "";
  if (it->is_number_integer()) return std::to_string(it->get<long long>());
  std::string s = it->get<std::string>();
  if (s == kInline && inline_.contains(key)) return s;
  // Paths inside a --config file are relative to that file.
  const bool path_like = s.find('/') != std::string::npos ||
                         (s.size() > 5 && s.compare(s.size() - 5, 5, ".json") == 0);
  if (path_like && key != "tokens") s = resolve_relative(dir_of(config_path_), s);
  return s;
}

int RunConfig::int_option(const po::variables_map& vm, const std::string& key, int def, int lo, int hi) const {
  const std::string s = option(vm, key);
  if (s.empty()) return def;
  std::size_t pos = 0;
  long v = 0;
  try {
    v = std::stol(s, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != s.size()) throw InputError("--" + key, "", "not an integer: '" + s + "'");
  if (v < lo || v > hi)
    throw InputError("--" + key, "", "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + s);
  return static_cast<int>(v);
}

void RunConfig::add_section(const std::string& key, json section, const std::string& origin,
                            const Provenance& inner) {
  doc_[key] = std::move(section);
  prov_->set(key, origin);
  prov_->merge(key, inner);
  apply_overrides_to(key);
}

void RunConfig::apply_overrides_to(const std::string& key) {
  std::vector<Override> mine;
  for (const auto& o : sets_)
    if (o.path.rfind(key + ".", 0) == 0) mine.push_back(o);
  apply_overrides(doc_, mine, *prov_);
}

ConfigReader& RunConfig::reader(const std::string& key) {
  for (auto& r : readers_)
    if (r.first == key) return *r.second;
  readers_.emplace_back(key, std::make_unique<ConfigReader>(doc_.at(key), prov_, key));
  return *readers_.back().second;
}

std::string RunConfig::overrides_note(const std::string& key) const {
  std::string note;
  for (const auto& o : sets_)
    if (o.path.rfind(key + ".", 0) == 0) note += (note.empty() ? " with " : ", ") + o.origin;
  return note;
}

void RunConfig::check_overrides_used() const {
  for (const auto& o : sets_) {
    const std::string section = o.path.substr(0, o.path.find('.'));
    if (!doc_.contains(section) || o.path.find('.') == std::string::npos) {
      std::string have;
      for (auto it = doc_.begin(); it != doc_.end(); ++it) have += (have.empty() ? "" : ", ") + it.key();
      throw InputError(o.origin, o.path,
                       "unknown key: the path must start with a loaded section (" + have + ")");
    }
  }
}

const json& RunConfig::inline_section(const std::string& key) const {
  static const json none;
  const auto it = inline_.find(key);
  return it == inline_.end() ? none : *it;
}

ModelShape RunConfig::load_model(const std::string& name_or_path) {
  if (name_or_path.empty()) throw InputError("--model", "", "is required");
  if (name_or_path == kInline) {
    add_section("model", inline_section("model"), config_path_ + " (model)");
    return parse_model(reader("model"));
  }
  const std::string path = model_path(name_or_path);
  add_section("model", load_json_file(path), path);
  return parse_model(reader("model"));
}

Schedule RunConfig::load_schedule(const std::string& path, const ModelShape& model) {
  if (path.empty()) {
    Schedule s;
    s.name = "dense";
    return s;
  }
  if (path == kInline) {
    add_section("schedule", inline_section("schedule"), config_path_ + " (schedule)");
    Schedule s = parse_schedule(reader("schedule"), model);
    if (s.name.empty()) s.name = s.selectors.empty() ? "dense" : config_path_;
    return s;
  }
  add_section("schedule", load_json_file(path), path);
  Schedule s = parse_schedule(reader("schedule"), model);
  if (s.name.empty()) s.name = path;
  return s;
}

json RunConfig::resolved() const {
  json out = extra_;
  for (const auto& r : readers_) out[r.first] = r.second->resolved();
  return out;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& option) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  int idx = 0;
  while (std::getline(ss, item, ',')) {
    const std::string f = "item " + std::to_string(idx);
    std::size_t pos = 0;
    long v = 0;
    try {
      v = std::stol(item, &pos);
    } catch (const std::exception&) {
      throw InputError(option, f, "not an integer: '" + item + "'");
    }
    if (pos != item.size()) throw InputError(option, f, "not an integer: '" + item + "'");
    if (v < 0) throw InputError(option, f, "must not be negative, got " + item);
    if (v > 1000000) throw InputError(option, f, "too large: " + item);
    out.push_back(static_cast<int>(v));
    ++idx;
  }
  if (out.empty()) throw InputError(option, "", "empty list");
  return out;
}

void check_report_paths(const std::string& path) {
  check_output_path(path);
  check_output_path(sibling_path(path, ".config.json"));
}

void write_report(const std::string& path, const json& report, const json& resolved_config) {
  OutputSet out;
  out.add(path, report.dump(2) + "\n");
  out.add(sibling_path(path, ".config.json"), resolved_config.dump(2) + "\n");
  out.commit();
}

}  // namespace heatvit::cli
