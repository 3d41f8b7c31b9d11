#include "heatvit/sim/masks.hpp"

#include <algorithm>

#include "heatvit/core/error.hpp"
#include "heatvit/models/hvt_file.hpp"

namespace heatvit::sim {

namespace {
// More images than the Fashion-MNIST test set ten times over is not a masks file.
constexpr std::int64_t kMaxMaskImages = 1000000;
}  // namespace

TokenMasks load_token_masks(const std::string& path, const ModelShape& model) {
  return token_masks_from(HvtFile::read(path, "token-masks"), model);
}

TokenMasks token_masks_from(const HvtFile& f, const ModelShape& model) {
  if (f.kind() != "token-masks") f.fail("kind", "is '" + f.kind() + "', expected 'token-masks'");
  TokenMasks m;
  m.path = f.path();
  m.patches = model.patch_tokens();
  bool first = true;
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
    // One spelling per block: mask.b01 or mask.b+1 would name block 1 a second time.
    if (name != "mask.b" + std::to_string(block))
      f.fail("tensors." + name, "must be spelled mask.b" + std::to_string(block) +
                                    " (block numbers in decimal without sign or leading zeros)");
    if (t.dtype != HvtDtype::Uint8)
      f.fail("tensors." + name + ".dtype", std::string("is ") + to_string(t.dtype) + ", the format says uint8");
    if (t.shape.size() != 2 || t.shape[1] != m.patches)
      f.fail("tensors." + name, "shape " + t.shape_string() + " is not [images, " +
                                    std::to_string(m.patches) + "] for " + model.name);
    if (t.shape[0] > kMaxMaskImages)
      f.fail("tensors." + name, "has " + std::to_string(t.shape[0]) + " images, at most " +
                                    std::to_string(kMaxMaskImages));
    // The first mask tensor sets the image count, whatever it is (zero included):
    // every other one must agree with it.
    if (first) m.images = static_cast<int>(t.shape[0]);
    first = false;
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
    if (t.dtype != HvtDtype::Int16)
      f.fail("tensors.tokens.dtype", std::string("is ") + to_string(t.dtype) + ", the format says int16");
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
    if (p.dtype != HvtDtype::Int32)
      f.fail("tensors.pred.dtype", std::string("is ") + to_string(p.dtype) + ", the format says int32");
    if (p.shape.size() != 1 || p.numel() != m.images)
      f.fail("tensors.pred", "shape " + p.shape_string() + " is not [images] = [" + std::to_string(m.images) + "]");
    for (std::size_t i = 0; i < p.values.size(); ++i) {
      const auto v = p.values[i];
      if (v < 0 || v >= model.num_classes)
        f.fail("tensors.pred", "image " + std::to_string(i) + " predicts class " + std::to_string(v) +
                                   ", outside 0.." + std::to_string(model.num_classes - 1) + " of " + model.name);
      m.predictions.push_back(static_cast<int>(v));
    }
  }
  return m;
}

std::vector<int> kept_for_image(const TokenMasks& m, int i) {
  std::vector<int> kept;
  for (std::size_t s = 0; s < m.selector_blocks.size(); ++s) {
    const auto* row = m.keep[s].data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(m.patches);
    kept.push_back(static_cast<int>(std::count(row, row + m.patches, std::uint8_t{1})));
  }
  return kept;
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
