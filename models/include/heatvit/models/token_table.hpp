// A per-image quantity (cycles, MACs) tabulated by token count: the stem, one block
// entered by n tokens, a selector scoring `in` patch tokens and keeping `out`, and the
// head after n tokens. Passes are separated by barriers (or the quantity is additive),
// so a whole image is the sum of its parts: a few table lookups per image.
#pragma once

#include <cstdint>
#include <vector>

#include "heatvit/models/model.hpp"
#include "heatvit/models/schedule.hpp"

namespace heatvit {

struct TokenTable {
  std::int64_t stem = 0;
  std::vector<std::int64_t> block;                  ///< [tokens entering a block]
  std::vector<std::int64_t> head;                   ///< [tokens entering the head]
  std::vector<std::vector<std::int64_t>> selector;  ///< [patch tokens scored][patch tokens kept]

  /// Sized for `model` (zero-filled): block/head up to the dense count, selector up
  /// to the patch count when `with_selectors`.
  void resize(const ModelShape& model, bool with_selectors);

  /// The total for one image: `tokens` entering each block, `has_selector(b)` whether
  /// a selector runs before block b.
  template <class T, class HasSelector>
  std::int64_t total(const ModelShape& model, const T* tokens, HasSelector has_selector) const {
    std::int64_t c = stem;
    int prev = model.dense_tokens();
    bool package = false;
    for (int b = 0; b < model.depth; ++b) {
      const int n = static_cast<int>(tokens[b]);
      if (has_selector(b)) {
        const int scored = patch_tokens_of(prev, package);
        const bool pkg_after = package || n < prev;
        const int kept = patch_tokens_of(n, pkg_after);
        c += selector[static_cast<std::size_t>(scored)][static_cast<std::size_t>(kept)];
        package = pkg_after;
      }
      c += block[static_cast<std::size_t>(n)];
      prev = n;
    }
    return c + head[static_cast<std::size_t>(prev)];
  }
};

inline void TokenTable::resize(const ModelShape& model, bool with_selectors) {
  const auto dense = static_cast<std::size_t>(model.dense_tokens());
  block.assign(dense + 1, 0);
  head.assign(dense + 1, 0);
  const auto patches = static_cast<std::size_t>(model.patch_tokens());
  if (with_selectors) selector.assign(patches + 1, std::vector<std::int64_t>(patches + 1, 0));
}

}  // namespace heatvit
