// ViT model shapes (the workload side of the simulator's three inputs:
// architecture, model, pruning schedule).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"

namespace heatvit {

/// One convolution of a convolutional stem (LV-ViT), square kernels.
struct StemConv {
  int kernel = 0;
  int stride = 1;
  int padding = 0;
  int out_channels = 0;
};

/// Shape of a DeiT / LV-ViT style vision transformer.
struct ModelShape {
  std::string name;
  std::string source;          ///< where the shape comes from
  int image_size = 0;          ///< input height = width, pixels
  int in_channels = 0;
  int patch_size = 0;          ///< overall stride of stem + patch projection
  int embed_dim = 0;           ///< D
  int depth = 0;               ///< number of transformer blocks
  int heads = 0;               ///< h; head dim d = D / h
  int mlp_ratio = 0;           ///< r; MLP hidden = r * D
  int num_classes = 0;
  std::vector<StemConv> stem;  ///< empty: a plain patch-embedding projection
  bool aux_head = false;       ///< LV-ViT token-labeling head on every patch token
  double published_gmacs = 0;  ///< 0 when none is published

  int head_dim() const { return embed_dim / heads; }
  int mlp_hidden() const { return mlp_ratio * embed_dim; }
  int grid() const { return image_size / patch_size; }
  int patch_tokens() const { return grid() * grid(); }
  /// Tokens entering block 0: patch tokens + CLS.
  int dense_tokens() const { return patch_tokens() + 1; }
};

/// Parses and validates a model description. `origin` names it in errors.
ModelShape parse_model(ConfigReader& r);

/// The JSON file of a model given by preset name or path. Throws InputError for
/// unknown names.
std::string model_path(const std::string& name_or_path);

/// Loads a model by name (a preset under models/presets/) or by path to a JSON file.
/// Throws InputError for unknown names or invalid files.
ModelShape load_model(const std::string& name_or_path);

/// Names of the built-in model presets.
std::vector<std::string> builtin_model_names();

}  // namespace heatvit
