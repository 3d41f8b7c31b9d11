// The IDX reader (Fashion-MNIST files) on decompressed content. Input: IDX bytes.
#include "fuzz_common.hpp"
#include "heatvit/models/idx.hpp"

using namespace heatvit;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const IdxArray a = parse_idx(fuzz::as_string(data, size), "fuzz-idx", 0);
    std::uint64_t n = 1;
    for (auto d : a.dims) n *= d;
    if (n != a.data.size()) __builtin_trap();  // the reader promises product(dims) bytes
  } catch (const InputError&) {
  }
  return 0;
}
