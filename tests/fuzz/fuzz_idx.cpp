// The IDX reader (Fashion-MNIST files) three ways, which must agree: on content in
// memory (parse_idx), streamed from a plain file and from a gzip file (read_idx);
// and, for a 3-dimensional array, a split's selected images (load_fashion_mnist_images)
// against the whole load. Input: IDX bytes.
#include <zlib.h>

#include "fuzz_common.hpp"
#include "heatvit/models/idx.hpp"

using namespace heatvit;

namespace {

struct Outcome {
  bool ok = false;
  IdxArray a;
};

template <class F>
Outcome attempt(F&& f) {
  Outcome o;
  try {
    o.a = f();
    o.ok = true;
  } catch (const InputError&) {
  }
  return o;
}

void write_gzip(const std::string& path, const std::string& raw) {
  gzFile g = gzopen(path.c_str(), "wb1");
  if (!g) __builtin_trap();
  if (!raw.empty() && gzwrite(g, raw.data(), static_cast<unsigned>(raw.size())) != static_cast<int>(raw.size()))
    __builtin_trap();
  gzclose(g);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string raw = fuzz::as_string(data, size);
  const Outcome mem = attempt([&] { return parse_idx(raw, "fuzz-idx", 0); });
  if (mem.ok) {
    std::uint64_t n = 1;
    for (auto d : mem.a.dims) n *= d;
    if (n != mem.a.data.size()) __builtin_trap();  // the reader promises product(dims) bytes
  }
  const std::filesystem::path dir = fuzz::scratch_dir();
  const std::string plain = fuzz::write_file(dir / "a", raw);
  const Outcome file = attempt([&] { return read_idx(plain, 0); });
  const std::string gz = (dir / "a.gz").string();
  write_gzip(gz, raw);
  const Outcome zipped = attempt([&] { return read_idx(gz, 0); });
  for (const Outcome* o : {&file, &zipped})
    if (o->ok != mem.ok || (o->ok && (o->a.dims != mem.a.dims || o->a.data != mem.a.data))) __builtin_trap();

  // A split of these images (labels all 0), for any input with a 3-dimensional header:
  // the selected images load exactly when the whole split does, and equal its images.
  if (raw.size() >= 16 && raw[0] == 0 && raw[1] == 0 && raw[2] == 8 && raw[3] == 3) {
    const std::uint32_t count = (std::uint32_t(std::uint8_t(raw[4])) << 24) | (std::uint32_t(std::uint8_t(raw[5])) << 16) |
                                (std::uint32_t(std::uint8_t(raw[6])) << 8) | std::uint32_t(std::uint8_t(raw[7]));
    if (count > 4096) return 0;  // labels written below: keep them small
    write_gzip((dir / "s-images-idx3-ubyte.gz").string(), raw);
    std::string labels = {'\0', '\0', '\x08', '\x01'};
    for (int s = 24; s >= 0; s -= 8) labels.push_back(static_cast<char>((count >> s) & 0xff));
    labels.append(count, '\0');
    write_gzip((dir / "s-labels-idx1-ubyte.gz").string(), labels);
    bool whole_ok = false;
    ImageSet all;
    try {
      all = load_fashion_mnist(dir.string(), "s", 0, 0, 0);
      whole_ok = true;
    } catch (const InputError&) {
    }
    const std::vector<int> pick = count ? std::vector<int>{static_cast<int>(count - 1), 0, static_cast<int>(count / 2), 0}
                                        : std::vector<int>{};
    bool sel_ok = false;
    ImageSet sel;
    try {
      sel = load_fashion_mnist_images(
          dir.string(), "s", pick,
          [](int, int, const std::string& path) { throw InputError(path, "index", "outside"); }, 0, 0, 0);
      sel_ok = true;
    } catch (const InputError&) {
    }
    if (sel_ok != whole_ok) __builtin_trap();
    if (whole_ok) {
      const std::size_t px = static_cast<std::size_t>(all.rows) * static_cast<std::size_t>(all.cols);
      if (sel.count != static_cast<int>(pick.size())) __builtin_trap();
      for (std::size_t i = 0; i < pick.size(); ++i)
        if (px && !std::equal(all.image(pick[i]), all.image(pick[i]) + px, sel.image(static_cast<int>(i))))
          __builtin_trap();
    }
  }
  return 0;
}
