// Shared pieces of the libFuzzer harnesses: each harness feeds one reader of outside
// input and accepts exactly two outcomes, a result or an InputError (exit 2 in the
// CLI). Anything else, an InternalError, another exception, a sanitizer report, a
// crash or a hang, is a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "heatvit/core/error.hpp"
#include "heatvit/core/json_config.hpp"
#include "heatvit/core/paths.hpp"
#include "heatvit/models/model.hpp"

namespace heatvit::fuzz {

inline std::string as_string(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

/// Splits at NUL bytes (JSON text holds none, so NUL separates the parts of one input).
inline std::vector<std::string> split_nul(const std::string& s) {
  std::vector<std::string> parts(1);
  for (char c : s) {
    if (c == '\0') parts.emplace_back();
    else parts.back() += c;
  }
  return parts;
}

/// Non-empty lines of `s`, each a --set option text.
inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '\n') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

/// A scratch directory of this process (created on first use, removed at exit), for the
/// readers that take a path: the harness writes its input there and loads it.
inline const std::filesystem::path& scratch_dir() {
  // Never destroyed: the exit handler that removes it runs after static destructors.
  static const std::filesystem::path* dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "heatvit-fuzz-XXXXXX").string();
    if (!::mkdtemp(t.data())) __builtin_trap();
    auto* p = new std::filesystem::path(t);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return p;
  }();
  return *dir;
}

/// Writes `text` to `path` (replacing it) and returns the path as a string.
inline std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) __builtin_trap();
  return path.string();
}

/// A preset model shape read once from models/presets.
inline const ModelShape& preset(const char* name) {
  static std::vector<std::pair<std::string, ModelShape>> cache;
  for (const auto& [n, m] : cache)
    if (n == name) return m;
  cache.emplace_back(name, load_model(name));
  return cache.back().second;
}

}  // namespace heatvit::fuzz
