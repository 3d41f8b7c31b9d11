// The threshold cache's entry reader (func::read_threshold_cache_entry): any bytes give
// an entry or a miss, never a crash; an entry it takes holds the selectors' blocks and a
// threshold in the int32 range for each, and a miss leaves the selectors as they were.
// Input: an entry's text.
#include <cstdlib>
#include <vector>

#include "fuzz_common.hpp"
#include "heatvit/func/evaluate.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = fuzz::as_string(data, size);
  const std::string key = "0123456789abcdef0123456789abcdef";
  std::vector<func::SelectorThreshold> sel(3);
  const int blocks[3] = {2, 5, 7};
  for (int i = 0; i < 3; ++i) {
    sel[static_cast<std::size_t>(i)].block = blocks[i];
    sel[static_cast<std::size_t>(i)].threshold = 1000 + i;
    sel[static_cast<std::size_t>(i)].table_index = 19;
  }
  const std::vector<func::SelectorThreshold> before = sel;
  const bool hit = func::read_threshold_cache_entry(text, key, sel);
  for (std::size_t i = 0; i < 3; ++i) {
    if (sel[i].block != before[i].block || sel[i].keep != before[i].keep) std::abort();
    if (!hit && (sel[i].threshold != before[i].threshold || sel[i].table_index != before[i].table_index)) std::abort();
    if (hit && sel[i].table_index != -1) std::abort();
  }
  // Another key never matches the same text.
  std::vector<func::SelectorThreshold> other = before;
  if (func::read_threshold_cache_entry(text, "ffffffffffffffffffffffffffffffff", other) && hit) std::abort();
  return 0;
}
