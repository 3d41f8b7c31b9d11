#include "heatvit/core/paths.hpp"

#include <cstdlib>
#include <filesystem>

namespace heatvit {

namespace fs = std::filesystem;

std::string project_root() {
  if (const char* h = std::getenv("HEATVIT_HOME"); h && *h) return h;
  return HEATVIT_SOURCE_DIR;
}

std::string resolve_relative(const std::string& base_dir, const std::string& p) {
  fs::path path(p);
  if (path.is_absolute()) return path.string();
  return (fs::path(base_dir) / path).lexically_normal().string();
}

std::string dir_of(const std::string& file) {
  fs::path p(file);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

}  // namespace heatvit
