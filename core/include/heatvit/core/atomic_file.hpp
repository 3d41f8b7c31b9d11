// Output files appear complete or not at all: content goes to a temporary file in
// the same directory, which is renamed over the target once fully written.
#pragma once

#include <string>
#include <vector>

namespace heatvit {

/// Writes `content` to `path` atomically. Throws InputError naming `path` when the
/// directory does not exist or is not writable (nothing is left behind).
void write_file_atomic(const std::string& path, const std::string& content);

/// The path of a sibling file: `sibling_path("out/r.json", ".config.json")` is
/// "out/r.config.json" (the extension of `path` is replaced by `suffix`).
std::string sibling_path(const std::string& path, const std::string& suffix);

/// Accumulates several output files and commits them all at the end, so a run that
/// fails half-way leaves none of them behind.
class OutputSet {
 public:
  void add(const std::string& path, std::string content);
  /// Writes every file (each atomically). Files already renamed are removed again
  /// if a later one fails.
  void commit();

 private:
  struct Item {
    std::string path;
    std::string content;
  };
  std::vector<Item> items_;
};

}  // namespace heatvit
