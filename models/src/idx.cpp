#include "heatvit/models/idx.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "heatvit/core/error.hpp"
#include "heatvit/core/input_file.hpp"

namespace heatvit {

namespace {

/// The whole (decompressed) content. gzread passes plain files through unchanged.
std::string read_maybe_gzip(const std::string& path) {
  require_regular_file(path);
  gzFile g = gzopen(path.c_str(), "rb");
  if (!g) throw InputError(path, "", "cannot open file (" + std::string(std::strerror(errno)) + ")");
  std::string out;
  char chunk[1 << 16];
  for (;;) {
    const int n = gzread(g, chunk, sizeof chunk);
    if (n < 0) {
      int code = 0;
      const std::string msg = gzerror(g, &code);
      gzclose(g);
      throw InputError(path, "", "corrupt gzip stream (" + msg + ")");
    }
    if (n == 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
    if (out.size() > kMaxContainerBytes) {
      gzclose(g);
      throw InputError(path, "", "decompresses to more than " + std::to_string(kMaxContainerBytes) + " bytes");
    }
  }
  // A gzip stream cut short reads as end of file with Z_BUF_ERROR pending.
  int code = Z_OK;
  const std::string msg = gzerror(g, &code);
  gzclose(g);
  if (code != Z_OK && code != Z_STREAM_END)
    throw InputError(path, "", "truncated or corrupt gzip stream (" + msg + ")");
  return out;
}

}  // namespace

IdxArray read_idx(const std::string& path, int expect_ndim) { return parse_idx(read_maybe_gzip(path), path, expect_ndim); }

IdxArray parse_idx(const std::string& raw, const std::string& path, int expect_ndim) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(raw[i]); };
  if (raw.size() < 4)
    throw InputError(path, "header", "truncated IDX header (" + std::to_string(raw.size()) + " bytes)");
  if (byte(0) != 0 || byte(1) != 0)
    throw InputError(path, "magic", "not an IDX file (first two bytes must be 0)");
  if (byte(2) != 0x08) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", byte(2));
    throw InputError(path, "magic", std::string("data type ") + buf + " is not uint8 (0x08)");
  }
  const int ndim = byte(3);
  if (ndim == 0) throw InputError(path, "magic", "zero dimensions");
  if (expect_ndim > 0 && ndim != expect_ndim)
    throw InputError(path, "magic", "has " + std::to_string(ndim) + " dimensions, expected " +
                                        std::to_string(expect_ndim));
  const std::size_t hdr = 4 + 4 * static_cast<std::size_t>(ndim);
  if (raw.size() < hdr) throw InputError(path, "header", "truncated IDX header (dimension sizes cut off)");
  IdxArray a;
  std::uint64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    const std::size_t at = 4 + 4 * static_cast<std::size_t>(d);
    const std::uint32_t v = (std::uint32_t(byte(at)) << 24) | (std::uint32_t(byte(at + 1)) << 16) |
                            (std::uint32_t(byte(at + 2)) << 8) | std::uint32_t(byte(at + 3));
    a.dims.push_back(v);
    n *= v;
    if (n > (std::uint64_t(1) << 40)) throw InputError(path, "dims", "sizes are implausibly large");
  }
  const std::uint64_t body = raw.size() - hdr;
  if (body != n) {
    std::string dims;
    for (auto v : a.dims) dims += (dims.empty() ? "" : "x") + std::to_string(v);
    throw InputError(path, "dims", "header dims " + dims + " need " + std::to_string(n) + " data bytes, the file has " +
                                       std::to_string(body) + (body < n ? " (truncated)" : " (trailing bytes)"));
  }
  a.data.assign(raw.begin() + static_cast<std::ptrdiff_t>(hdr), raw.end());
  return a;
}

std::string default_fashion_mnist_dir() {
  if (const char* e = std::getenv("HEATVIT_FMNIST"); e && *e) return e;
  return "/usr/share/datasets/fashion-mnist";
}

ImageSet load_fashion_mnist(const std::string& dir, const std::string& split, int expect_rows, int expect_cols,
                            int num_classes) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw InputError(dir, "", "dataset directory not found (set HEATVIT_FMNIST or --data)");
  auto pick = [&](const std::string& stem) {
    for (const char* ext : {".gz", ""}) {
      const std::string p = (std::filesystem::path(dir) / (stem + ext)).string();
      if (std::filesystem::exists(p, ec)) return p;
    }
    return (std::filesystem::path(dir) / (stem + ".gz")).string();
  };
  ImageSet s;
  s.images_path = pick(split + "-images-idx3-ubyte");
  s.labels_path = pick(split + "-labels-idx1-ubyte");
  IdxArray x = read_idx(s.images_path, 3);
  IdxArray y = read_idx(s.labels_path, 1);
  if (x.dims[0] != y.dims[0])
    throw InputError(s.labels_path, "dims", "has " + std::to_string(y.dims[0]) + " labels but " + s.images_path +
                                                " has " + std::to_string(x.dims[0]) + " images");
  if ((expect_rows > 0 && x.dims[1] != static_cast<std::uint32_t>(expect_rows)) ||
      (expect_cols > 0 && x.dims[2] != static_cast<std::uint32_t>(expect_cols)))
    throw InputError(s.images_path, "dims", "images are " + std::to_string(x.dims[1]) + "x" +
                                                std::to_string(x.dims[2]) + ", expected " +
                                                std::to_string(expect_rows) + "x" + std::to_string(expect_cols));
  if (num_classes > 0)
    for (std::size_t i = 0; i < y.data.size(); ++i)
      if (y.data[i] >= num_classes)
        throw InputError(s.labels_path, "label " + std::to_string(i),
                         "class " + std::to_string(y.data[i]) + " is not below " + std::to_string(num_classes));
  s.count = static_cast<int>(x.dims[0]);
  s.rows = static_cast<int>(x.dims[1]);
  s.cols = static_cast<int>(x.dims[2]);
  s.pixels = std::move(x.data);
  s.labels = std::move(y.data);
  return s;
}

}  // namespace heatvit
