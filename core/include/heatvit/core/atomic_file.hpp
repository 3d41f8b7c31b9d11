// Output files appear complete or not at all, and a failed run leaves the files it
// would have replaced untouched: every output of a run is first written to a
// temporary file next to its target, and only when all are complete are they renamed
// over the old ones.
#pragma once

#include <string>
#include <vector>

namespace heatvit {

/// Throws InputError naming `path` unless it can be written as an output: absent or a
/// regular file (never a directory, device, FIFO or socket: /dev/null is not
/// replaced), in an existing directory this process may write. Call it for every
/// output before the work starts, so that a bad path costs no minutes of simulation.
void check_output_path(const std::string& path);

/// Writes `content` to `path` atomically (an OutputSet of one file).
void write_file_atomic(const std::string& path, const std::string& content);

/// The path of a sibling file: `sibling_path("out/r.json", ".config.json")` is
/// "out/r.config.json" (the extension of `path` is replaced by `suffix`).
std::string sibling_path(const std::string& path, const std::string& suffix);

/// The outputs of one run, committed together.
class OutputSet {
 public:
  OutputSet() = default;
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  /// Removes the files handed over by add_file() that were never committed.
  ~OutputSet();
  void add(const std::string& path, std::string content);
  /// A file already written completely under a temporary name in `path`'s directory
  /// (e.g. a VCD trace the simulation wrote): renamed into place with the others, or
  /// removed when the set is not committed.
  void add_file(const std::string& path, const std::string& ready_file);
  /// check_output_path() on every file added, and no path twice.
  void check() const;
  /// Writes every file to a temporary name in its directory; when all are written,
  /// renames them over their targets. On any failure nothing is replaced (a rename
  /// that fails half-way puts back the files already replaced) and the InputError
  /// names the file and the operating system's reason.
  void commit();

 private:
  struct Item {
    std::string path;
    std::string content;
    std::string ready;  ///< add_file(): the finished file to rename
  };
  std::vector<Item> items_;
};

}  // namespace heatvit
