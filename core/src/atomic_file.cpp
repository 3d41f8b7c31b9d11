#include "heatvit/core/atomic_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "heatvit/core/error.hpp"

namespace heatvit {

namespace fs = std::filesystem;

void write_file_atomic(const std::string& path, const std::string& content) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(path, "", "directory " + dir.string() + " does not exist");
  const fs::path tmp = dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path, "", std::string("cannot write: ") + std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      fs::remove(tmp, ec);
      throw InputError(path, "", "write failed");
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw InputError(path, "", "cannot rename into place: " + ec.message());
  }
}

std::string sibling_path(const std::string& path, const std::string& suffix) {
  fs::path p(path);
  p.replace_extension();
  return p.string() + suffix;
}

void OutputSet::add(const std::string& path, std::string content) {
  items_.push_back({path, std::move(content)});
}

void OutputSet::commit() {
  // Check every directory first so the common failure leaves nothing behind.
  for (const auto& it : items_) {
    const fs::path target(it.path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      throw InputError(it.path, "", "directory " + dir.string() + " does not exist");
  }
  std::vector<std::string> done;
  try {
    for (const auto& it : items_) {
      write_file_atomic(it.path, it.content);
      done.push_back(it.path);
    }
  } catch (...) {
    std::error_code ec;
    for (const auto& p : done) fs::remove(p, ec);
    throw;
  }
  items_.clear();
}

}  // namespace heatvit
