// Token-pruning schedules: where token selectors run and how many tokens they keep.
#pragma once

#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"
#include "heatvit/models/model.hpp"

namespace heatvit {

struct SelectorPoint {
  int block = 0;      ///< the selector runs before this 0-indexed block
  double keep = 1.0;  ///< target fraction of the patch tokens entering it that it keeps
};

/// A schedule: selectors sorted by block, no block repeated.
struct Schedule {
  std::string name;  ///< file name or "dense"
  std::vector<SelectorPoint> selectors;
  bool empty() const { return selectors.empty(); }
  bool has_selector(int block) const;
  double keep_at(int block) const;  ///< 1.0 where there is no selector
};

/// Parses `{"selectors": [{"block": b, "keep": k}, ...]}` and checks it against the
/// model: blocks in [0, depth), not repeated, keep in (0, 1].
Schedule parse_schedule(ConfigReader& r, const ModelShape& model);
Schedule load_schedule(const std::string& path, const ModelShape& model);
json schedule_to_json(const Schedule& s);

/// Tokens entering each block (CLS and package token included) when every selector
/// keeps round(keep * patch tokens entering it) (at least one). After the first
/// selector that prunes anything, one package token is carried.
std::vector<int> expected_tokens(const ModelShape& model, const Schedule& s);

/// Validates a tokens-per-block list: one per block, integers in [2, dense], never
/// growing. `origin` names the option or file in errors.
void validate_tokens(const ModelShape& model, const std::vector<int>& tokens, const std::string& origin);

/// Number of patch tokens (CLS and package excluded) in `tokens_in_block` tokens
/// given whether a package token is present.
inline int patch_tokens_of(int tokens_in_block, bool has_package) {
  return tokens_in_block - 1 - (has_package ? 1 : 0);
}

}  // namespace heatvit
