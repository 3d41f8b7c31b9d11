// Typed, validated reading of JSON configuration.
//
// Every parameter is read through one accessor that knows its name, default, unit and
// allowed range, so that validation messages name the file and the field, unknown
// keys are rejected, and the fully resolved config (defaults filled in) can be
// written next to each result.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace heatvit {

using json = nlohmann::json;

/// Deepest nesting of arrays and objects accepted in any JSON input.
inline constexpr int kMaxJsonDepth = 512;

/// Reads and parses a JSON file (a regular file of at most kMaxJsonFileBytes, see
/// input_file.hpp). Throws InputError naming the file (and line for parse errors)
/// when it cannot be read or parsed.
json load_json_file(const std::string& path);

/// Parses JSON text from `origin` (a file name or option used in error messages).
/// Beyond the grammar it refuses, with InputError naming `origin` and the dotted path
/// of the value: nesting deeper than kMaxJsonDepth, a number a double cannot hold
/// (1e309), an integer literal wider than 64 bits, and a key repeated in one object.
json parse_json_text(const std::string& text, const std::string& origin);

/// True when `text` is JSON by the grammar alone (limits not checked).
bool is_json_syntax(const std::string& text);

/// A `--set path.to.key=value` override. The value is parsed as JSON when it parses
/// (numbers, true/false, arrays, quoted strings), else taken as a plain string.
struct Override {
  std::string path;   ///< dotted path, e.g. "accelerator.pe.ti"
  json value;
  std::string origin; ///< e.g. "--set accelerator.pe.ti=8"
};

/// Parses "a.b.c=value". Throws InputError naming the option when malformed.
Override parse_override(const std::string& text);

/// Where each part of a composed config came from, for error messages.
class Provenance {
 public:
  /// Records that the subtree at dotted `path` came from `origin` (a file or option).
  void set(const std::string& path, const std::string& origin) { origins_[path] = origin; }
  /// Records every origin of `other` under `prefix` (a dotted path).
  void merge(const std::string& prefix, const Provenance& other) {
    for (const auto& [p, o] : other.origins_) origins_[p.empty() ? prefix : prefix + "." + p] = o;
  }
  /// The origin of the deepest recorded prefix of `path`.
  std::string origin_of(const std::string& path) const;
  /// How to name `path` in a message from its origin: relative to the file it came
  /// from (a file's own field names), or in full for command-line overrides.
  std::string field_in_origin(const std::string& path) const;
  /// The `--set` options recorded at or below dotted `prefix` ("" = everywhere), in
  /// path order: {path, origin}.
  std::vector<std::pair<std::string, std::string>> overrides_under(const std::string& prefix) const;

 private:
  std::map<std::string, std::string> origins_;
};

/// Applies overrides to `root` (creating intermediate objects) and records their
/// origins. Unknown keys are not detected here but by ConfigReader::finish().
void apply_overrides(json& root, const std::vector<Override>& overrides, Provenance& prov);

/// Reader over one JSON object. Accessors validate type and range and record the
/// value they return (default included) in resolved(); finish() rejects keys that
/// no accessor asked for.
class ConfigReader {
 public:
  ConfigReader(const json& node, std::shared_ptr<const Provenance> prov, std::string path = "");
  /// Convenience: a reader over a whole file's content.
  ConfigReader(const json& node, const std::string& file);

  bool has(const std::string& key) const;

  std::int64_t integer(const std::string& key, std::int64_t min, std::int64_t max);
  std::int64_t integer(const std::string& key, std::int64_t def, std::int64_t min, std::int64_t max);
  /// A number in [min, max]; with `min_exclusive`, in (min, max].
  double number(const std::string& key, double min, double max, bool min_exclusive = false);
  double number(const std::string& key, double def, double min, double max, bool min_exclusive = false);
  bool boolean(const std::string& key);
  bool boolean(const std::string& key, bool def);
  std::string string(const std::string& key);
  std::string string(const std::string& key, const std::string& def);
  std::string one_of(const std::string& key, const std::vector<std::string>& allowed);
  std::string one_of(const std::string& key, const std::string& def, const std::vector<std::string>& allowed);
  std::vector<std::int64_t> integer_list(const std::string& key, std::int64_t min, std::int64_t max);

  /// A reader over the object at `key` (required). Owned by this reader; finish()
  /// and resolved() include it.
  ConfigReader& child(const std::string& key);
  /// Readers over the objects of the array at `key` (required; may be empty).
  std::vector<ConfigReader*> children(const std::string& key);
  /// Raw access for free-form members (recorded as read).
  const json& raw(const std::string& key);

  /// Throws InputError for the first key present in the node (or in a child) that
  /// was never read.
  void finish() const;

  /// The values read so far, defaults included (children merged in by finish()).
  json resolved() const;

  /// Throws InputError naming this reader's origin and `key`.
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

  const std::string& path() const { return path_; }
  std::string origin() const;

 private:
  const json& get(const std::string& key) const;
  std::string field(const std::string& key) const;

  const json* node_;
  std::shared_ptr<const Provenance> prov_;
  std::string path_;
  mutable std::set<std::string> read_;
  json resolved_ = json::object();
  std::vector<std::pair<std::string, std::shared_ptr<ConfigReader>>> kids_;
  std::vector<std::pair<std::string, std::vector<std::shared_ptr<ConfigReader>>>> kid_lists_;
};

}  // namespace heatvit
