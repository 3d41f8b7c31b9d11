#include "heatvit/sim/masks.hpp"

#include <algorithm>

#include "heatvit/core/error.hpp"
#include "heatvit/models/hvt_file.hpp"

namespace heatvit::sim {

TokenMasks load_token_masks(const std::string& path, const ModelShape& model) {
  const HvtFile f = HvtFile::read(path, "token-masks");
  TokenMasks m;
  m.path = path;
  m.patches = model.patch_tokens();
  for (const auto& [name, t] : f.tensors()) {
    if (name.rfind("mask.b", 0) != 0) continue;
    int block = -1;
    try {
      std::size_t pos = 0;
      block = std::stoi(name.substr(6), &pos);
      if (pos != name.size() - 6) block = -1;
    } catch (const std::exception&) {
      block = -1;
    }
    if (block < 0 || block >= model.depth)
      f.fail("tensors." + name, "names block " + name.substr(6) + ", outside 0.." +
                                    std::to_string(model.depth - 1) + " of " + model.name);
    if (t.shape.size() != 2 || t.shape[1] != m.patches)
      f.fail("tensors." + name, "shape " + t.shape_string() + " is not [images, " +
                                    std::to_string(m.patches) + "] for " + model.name);
    if (m.images == 0) m.images = static_cast<int>(t.shape[0]);
    if (t.shape[0] != m.images)
      f.fail("tensors." + name, "has " + std::to_string(t.shape[0]) + " images, other masks " +
                                    std::to_string(m.images));
    m.selector_blocks.push_back(block);
  }
  if (m.selector_blocks.empty()) f.fail("tensors", "no mask.bB tensor");
  if (m.images == 0) f.fail("tensors", "masks hold no image");
  std::sort(m.selector_blocks.begin(), m.selector_blocks.end());
  for (std::size_t s = 0; s < m.selector_blocks.size(); ++s) {
    const std::string name = "mask.b" + std::to_string(m.selector_blocks[s]);
    const HvtTensor& t = f.tensor(name);
    std::vector<std::uint8_t> keep(t.values.size());
    for (std::size_t k = 0; k < keep.size(); ++k) {
      if (t.values[k] != 0 && t.values[k] != 1)
        f.fail("tensors." + name, "value " + std::to_string(t.values[k]) + " at element " +
                                      std::to_string(k) + " is not 0 or 1");
      keep[k] = static_cast<std::uint8_t>(t.values[k]);
      if (s > 0 && keep[k] && !m.keep[s - 1][k])
        f.fail("tensors." + name, "image " + std::to_string(k / static_cast<std::size_t>(m.patches)) +
                                      " keeps patch " + std::to_string(k % static_cast<std::size_t>(m.patches)) +
                                      " that an earlier selector pruned (masks must be progressive)");
    }
    m.keep.push_back(std::move(keep));
  }
  // A file that also records the tokens per block must agree with the masks.
  if (f.has("tokens")) {
    const HvtTensor& t = f.tensor("tokens");
    if (t.shape.size() != 2 || t.shape[0] != m.images || t.shape[1] != model.depth)
      f.fail("tensors.tokens", "shape " + t.shape_string() + " is not [images, depth]");
    for (int i = 0; i < m.images; ++i) {
      const auto tok = tokens_for_image(model, m, i);
      for (int b = 0; b < model.depth; ++b)
        if (t.values[static_cast<std::size_t>(i * model.depth + b)] != tok[static_cast<std::size_t>(b)])
          f.fail("tensors.tokens", "image " + std::to_string(i) + " block " + std::to_string(b) + ": records " +
                                       std::to_string(t.values[static_cast<std::size_t>(i * model.depth + b)]) +
                                       " tokens, the masks give " + std::to_string(tok[static_cast<std::size_t>(b)]));
    }
  }
  if (f.has("pred")) {
    const HvtTensor& p = f.tensor("pred");
    if (p.numel() != m.images) f.fail("tensors.pred", "needs one prediction per image");
    for (auto v : p.values) m.predictions.push_back(static_cast<int>(v));
  }
  return m;
}

std::vector<int> tokens_for_image(const ModelShape& model, const TokenMasks& m, int i) {
  std::vector<int> tokens(static_cast<std::size_t>(model.depth));
  int kept = model.patch_tokens();
  bool package = false;
  std::size_t s = 0;
  for (int b = 0; b < model.depth; ++b) {
    if (s < m.selector_blocks.size() && m.selector_blocks[s] == b) {
      const auto* row = m.keep[s].data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(m.patches);
      const int now = static_cast<int>(std::count(row, row + m.patches, std::uint8_t{1}));
      if (now < kept) package = true;
      kept = now;
      ++s;
    }
    tokens[static_cast<std::size_t>(b)] = std::max(2, 1 + kept + (package ? 1 : 0));
  }
  return tokens;
}

}  // namespace heatvit::sim
