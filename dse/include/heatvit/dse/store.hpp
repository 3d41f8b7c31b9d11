// The results store of a DSE run: one SQLite database (WAL journal) per output
// directory, one row per evaluated candidate and image subset, committed as each
// batch of evaluations finishes. A run killed at any moment resumes from it; a store
// written for another space is refused.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "heatvit/dse/evaluator.hpp"

struct sqlite3;

namespace heatvit::dse {

class Store {
 public:
  /// Opens (creating when absent) the database at `path`. `identity` describes the
  /// space (hash, model, hw); a store holding another identity throws InputError.
  Store(const std::string& path, const std::string& space_hash, const json& identity);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  /// A stored evaluation of `c` on the first `images` of `split`, or nullptr.
  const Metrics* find(const Candidate& c, Split split, int images) const;
  /// Stores a batch in one transaction.
  void put(const std::vector<Metrics>& batch);
  /// Every stored row, in (schedule, hw, split, images) order.
  std::vector<const Metrics*> all() const;
  std::size_t size() const { return rows_.size(); }
  /// Small named results beside the rows (e.g. SystemC runs of front points).
  bool get_extra(const std::string& key, json& out) const;
  void put_extra(const std::string& key, const json& value);
  /// Rows found in the store when it was opened.
  std::size_t resumed() const { return resumed_; }
  /// Rows this process added, and rows it wrote again (a candidate evaluated twice).
  std::size_t added() const { return added_; }
  std::size_t rewritten() const { return rewritten_; }
  const std::string& path() const { return path_; }

 private:
  using Key = std::tuple<std::int64_t, std::int64_t, int, int>;
  void exec(const std::string& sql);
  sqlite3* db_ = nullptr;
  std::string path_;
  std::map<Key, Metrics> rows_;
  std::size_t resumed_ = 0;
  std::size_t added_ = 0, rewritten_ = 0;
};

}  // namespace heatvit::dse
