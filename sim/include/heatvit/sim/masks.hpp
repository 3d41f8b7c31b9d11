// Per-image token masks (the "token-masks" container of docs/deit-micro-format.md,
// written by the trained model's export, `heatvit eval --masks-out`, or
// `python3 -m training import-masks` for masks from other pruning code) turned into the
// tokens entering each block, image by image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "heatvit/models/hvt_file.hpp"
#include "heatvit/models/model.hpp"

namespace heatvit::sim {

struct TokenMasks {
  std::string path;
  int images = 0;
  int patches = 0;
  std::vector<int> selector_blocks;           ///< ascending
  std::vector<std::vector<std::uint8_t>> keep;  ///< per selector: images x patches, 0/1
  std::vector<int> predictions;               ///< per image, empty when absent
};

/// Reads and validates a mask file against the model: selector blocks inside the
/// model, one mask per selector of [images, patch tokens] uint8 0/1, progressive (a
/// pruned token stays pruned). Errors are InputError naming the file and tensor.
TokenMasks load_token_masks(const std::string& path, const ModelShape& model);
/// The same from a container already read.
TokenMasks token_masks_from(const HvtFile& f, const ModelShape& model);

/// Patch tokens kept by each selector for image i (the masks' popcounts).
std::vector<int> kept_for_image(const TokenMasks& m, int i);

/// Tokens entering each block of image `i`: CLS + kept patch tokens + one package
/// token after the first selector that pruned anything.
std::vector<int> tokens_for_image(const ModelShape& model, const TokenMasks& m, int i);

}  // namespace heatvit::sim
