// The HVT container reader and its two consumers: token masks (against deit-micro)
// and the integer model's weights. Input: the bytes of a .hvt file.
#include "fuzz_common.hpp"
#include "heatvit/func/func_model.hpp"
#include "heatvit/models/hvt_file.hpp"
#include "heatvit/sim/masks.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const HvtFile f = HvtFile::decode(fuzz::as_string(data, size), "fuzz.hvt");
    const ModelShape& m = fuzz::preset("deit-micro");
    if (f.kind() == "token-masks") {
      const sim::TokenMasks masks = sim::token_masks_from(f, m);
      for (int i = 0; i < masks.images; ++i) validate_tokens(m, sim::tokens_for_image(m, masks, i), "fuzz");
    } else if (f.kind() == "deit-micro-int8") {
      (void)func::FuncModel::from_file(f, m);
    }
  } catch (const InputError&) {
  }
  return 0;
}
