// Locating the project's data files (model presets, configs) from an installed or
// in-tree binary.
#pragma once

#include <string>

namespace heatvit {

/// The project root holding models/, configs/: $HEATVIT_HOME when set, else the
/// source tree the binary was built from.
std::string project_root();

/// Resolves `p` relative to `base_dir` unless it is absolute.
std::string resolve_relative(const std::string& base_dir, const std::string& p);

/// The directory part of a file path ("." when there is none).
std::string dir_of(const std::string& file);

}  // namespace heatvit
