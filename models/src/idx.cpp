#include "heatvit/models/idx.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <functional>

#include "heatvit/core/error.hpp"
#include "heatvit/core/input_file.hpp"

namespace heatvit {

namespace {

/// The header of an IDX array at the start of `raw` (`avail` bytes): its dims and size
/// in bytes, or 0 while `avail` is too short to tell (`final`: no more bytes will come,
/// and a short header is an error). Every problem throws InputError naming `path`.
std::size_t parse_header(const unsigned char* raw, std::size_t avail, bool final, const std::string& path,
                         int expect_ndim, std::vector<std::uint32_t>& dims) {
  if (avail < 4) {
    if (!final) return 0;
    throw InputError(path, "header", "truncated IDX header (" + std::to_string(avail) + " bytes)");
  }
  if (raw[0] != 0 || raw[1] != 0) throw InputError(path, "magic", "not an IDX file (first two bytes must be 0)");
  if (raw[2] != 0x08) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", raw[2]);
    throw InputError(path, "magic", std::string("data type ") + buf + " is not uint8 (0x08)");
  }
  const int ndim = raw[3];
  if (ndim == 0) throw InputError(path, "magic", "zero dimensions");
  if (expect_ndim > 0 && ndim != expect_ndim)
    throw InputError(path, "magic", "has " + std::to_string(ndim) + " dimensions, expected " +
                                        std::to_string(expect_ndim));
  const std::size_t hdr = 4 + 4 * static_cast<std::size_t>(ndim);
  if (avail < hdr) {
    if (!final) return 0;
    throw InputError(path, "header", "truncated IDX header (dimension sizes cut off)");
  }
  dims.clear();
  std::uint64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    const unsigned char* b = raw + 4 + 4 * static_cast<std::size_t>(d);
    const std::uint32_t v = (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) |
                            std::uint32_t(b[3]);
    dims.push_back(v);
    n *= v;
    if (n > (std::uint64_t(1) << 40)) throw InputError(path, "dims", "sizes are implausibly large");
  }
  return hdr;
}

std::uint64_t element_count(const std::vector<std::uint32_t>& dims) {
  std::uint64_t n = 1;
  for (auto v : dims) n *= v;
  return n;
}

void check_body(std::uint64_t body, const std::vector<std::uint32_t>& dims, const std::string& path) {
  const std::uint64_t n = element_count(dims);
  if (body == n) return;
  std::string shape;
  for (auto v : dims) shape += (shape.empty() ? "" : "x") + std::to_string(v);
  throw InputError(path, "dims", "header dims " + shape + " need " + std::to_string(n) + " data bytes, the file has " +
                                     std::to_string(body) + (body < n ? " (truncated)" : " (trailing bytes)"));
}

/// Reads `path` (gzip-compressed or plain: gzread passes plain files through) as an IDX
/// array without holding it: `on_header(dims)` once the header is read (it may throw),
/// then the data in order, chunk by chunk, to `on_data(offset, bytes, size)`. Checks
/// everything read_idx checks, the data size after the last byte.
void stream_idx(const std::string& path, int expect_ndim,
                const std::function<void(const std::vector<std::uint32_t>&)>& on_header,
                const std::function<void(std::uint64_t, const unsigned char*, std::size_t)>& on_data) {
  require_regular_file(path);
  gzFile g = gzopen(path.c_str(), "rb");
  if (!g) throw InputError(path, "", "cannot open file (" + std::string(std::strerror(errno)) + ")");
  struct Closer {
    gzFile g;
    ~Closer() { gzclose(g); }
  } closer{g};
  gzbuffer(g, 1 << 17);
  std::vector<unsigned char> chunk(std::size_t(1) << 17);
  std::vector<unsigned char> head;  // the header's bytes until it is complete
  std::vector<std::uint32_t> dims;
  std::size_t hdr = 0;
  std::uint64_t total = 0, body = 0;
  for (;;) {
    const int n = gzread(g, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const std::string msg = gzerror(g, &code);
      throw InputError(path, "", "corrupt gzip stream (" + msg + ")");
    }
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    if (total > kMaxContainerBytes)
      throw InputError(path, "", "decompresses to more than " + std::to_string(kMaxContainerBytes) + " bytes");
    const unsigned char* p = chunk.data();
    std::size_t len = static_cast<std::size_t>(n);
    if (hdr == 0) {
      const std::size_t take = std::min(len, std::size_t(4 + 4 * 255) - head.size());
      head.insert(head.end(), p, p + take);
      hdr = parse_header(head.data(), head.size(), false, path, expect_ndim, dims);
      // Not complete yet: the whole chunk went into `head` (a header is at most
      // 4 + 4 * 255 bytes, so a chunk that does not fit completes it).
      if (hdr == 0) continue;
      on_header(dims);
      // Bytes of this chunk after the header.
      const std::size_t used = take - (head.size() - hdr);
      p += used;
      len -= used;
    }
    const std::uint64_t want = element_count(dims);
    if (body < want && len > 0) {
      const std::size_t give = static_cast<std::size_t>(std::min<std::uint64_t>(len, want - body));
      on_data(body, p, give);
    }
    body += len;
  }
  // A gzip stream cut short reads as end of file with Z_BUF_ERROR pending.
  int code = Z_OK;
  const std::string msg = gzerror(g, &code);
  if (code != Z_OK && code != Z_STREAM_END)
    throw InputError(path, "", "truncated or corrupt gzip stream (" + msg + ")");
  if (hdr == 0) parse_header(head.data(), head.size(), true, path, expect_ndim, dims);  // throws: cut short
  check_body(body, dims, path);
}

}  // namespace

IdxArray read_idx(const std::string& path, int expect_ndim) {
  IdxArray a;
  stream_idx(
      path, expect_ndim,
      [&](const std::vector<std::uint32_t>& dims) {
        a.dims = dims;
        // Reserved up to what a valid file can hold (the header is not checked against
        // the data yet): a larger claim fails when the data runs past the limit.
        const std::uint64_t n = element_count(dims);
        a.data.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, kMaxContainerBytes)));
      },
      [&](std::uint64_t, const unsigned char* p, std::size_t n) { a.data.insert(a.data.end(), p, p + n); });
  return a;
}

IdxArray parse_idx(const std::string& raw, const std::string& path, int expect_ndim) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  IdxArray a;
  const std::size_t hdr = parse_header(bytes, raw.size(), true, path, expect_ndim, a.dims);
  check_body(raw.size() - hdr, a.dims, path);
  a.data.assign(bytes + hdr, bytes + raw.size());
  return a;
}

std::string default_fashion_mnist_dir() {
  if (const char* e = std::getenv("HEATVIT_FMNIST"); e && *e) return e;
  return "/usr/share/datasets/fashion-mnist";
}

namespace {

std::string split_file(const std::string& dir, const std::string& stem) {
  std::error_code ec;
  for (const char* ext : {".gz", ""}) {
    const std::string p = (std::filesystem::path(dir) / (stem + ext)).string();
    if (std::filesystem::exists(p, ec)) return p;
  }
  return (std::filesystem::path(dir) / (stem + ".gz")).string();
}

/// load_fashion_mnist and load_fashion_mnist_images: `select` null = every image.
ImageSet load_split(const std::string& dir, const std::string& split, int expect_rows, int expect_cols,
                    int num_classes, const std::vector<int>* select,
                    const std::function<void(int, int, const std::string&)>* out_of_range) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw InputError(dir, "", "dataset directory not found (set HEATVIT_FMNIST or --data)");
  ImageSet s;
  s.images_path = fashion_mnist_file(dir, split, false);
  s.labels_path = fashion_mnist_file(dir, split, true);
  IdxArray y = read_idx(s.labels_path, 1);
  std::uint32_t images = 0;
  std::size_t pixels = 0;
  // The wanted images as (index in the file, position in the result), by index.
  std::vector<std::pair<std::uint32_t, std::size_t>> want;
  std::size_t next = 0;
  stream_idx(
      s.images_path, 3,
      [&](const std::vector<std::uint32_t>& dims) {
        if ((expect_rows > 0 && dims[1] != static_cast<std::uint32_t>(expect_rows)) ||
            (expect_cols > 0 && dims[2] != static_cast<std::uint32_t>(expect_cols)))
          throw InputError(s.images_path, "dims", "images are " + std::to_string(dims[1]) + "x" +
                                                      std::to_string(dims[2]) + ", expected " +
                                                      std::to_string(expect_rows) + "x" + std::to_string(expect_cols));
        images = dims[0];
        s.rows = static_cast<int>(dims[1]);
        s.cols = static_cast<int>(dims[2]);
        pixels = static_cast<std::size_t>(dims[1]) * dims[2];
        // Nothing is allocated for a header no file within the size limit can satisfy.
        const std::uint64_t n = std::uint64_t(images) * pixels;
        if (n > kMaxContainerBytes)
          throw InputError(s.images_path, "dims", "header dims need " + std::to_string(n) +
                                                      " data bytes, more than a file may hold (" +
                                                      std::to_string(kMaxContainerBytes) + ")");
        if (!select) {
          s.pixels.reserve(static_cast<std::size_t>(n));
          return;
        }
        if (std::uint64_t(select->size()) * pixels > kMaxContainerBytes)
          throw InputError(s.images_path, "dims", std::to_string(select->size()) + " images of " +
                                                      std::to_string(pixels) + " pixels are more than " +
                                                      std::to_string(kMaxContainerBytes) + " bytes");
        for (std::size_t i = 0; i < select->size(); ++i) {
          const int k = (*select)[i];
          if (k < 0 || static_cast<std::uint32_t>(k) >= images) {
            (*out_of_range)(k, static_cast<int>(images), s.images_path);
            throw InputError(s.images_path, "", "image index " + std::to_string(k) + " is outside the split (" +
                                                    std::to_string(images) + " images)");
          }
          want.emplace_back(static_cast<std::uint32_t>(k), i);
        }
        std::sort(want.begin(), want.end());
        s.pixels.assign(select->size() * pixels, 0);
      },
      [&](std::uint64_t offset, const unsigned char* p, std::size_t n) {
        if (!select) {
          s.pixels.insert(s.pixels.end(), p, p + n);
          return;
        }
        // Copy the parts of the wanted images that lie in [offset, offset + n). `next`:
        // the first wanted image not complete yet (an image that runs past this chunk
        // stays there, with its repeats, until the next chunk brings the rest).
        const std::uint64_t end = offset + n;
        for (std::size_t j = next; j < want.size(); ++j) {
          const std::uint64_t first = std::uint64_t(want[j].first) * pixels;
          if (first >= end) break;
          const std::uint64_t last = first + pixels;
          const std::uint64_t a = std::max(first, offset), b = std::min(last, end);
          std::memcpy(s.pixels.data() + want[j].second * pixels + (a - first), p + (a - offset),
                      static_cast<std::size_t>(b - a));
          if (last <= end && j == next) ++next;
        }
      });
  if (images != y.dims[0])
    throw InputError(s.labels_path, "dims", "has " + std::to_string(y.dims[0]) + " labels but " + s.images_path +
                                                " has " + std::to_string(images) + " images");
  if (num_classes > 0)
    for (std::size_t i = 0; i < y.data.size(); ++i)
      if (y.data[i] >= num_classes)
        throw InputError(s.labels_path, "label " + std::to_string(i),
                         "class " + std::to_string(y.data[i]) + " is not below " + std::to_string(num_classes));
  if (select) {
    s.count = static_cast<int>(select->size());
    for (int k : *select) s.labels.push_back(y.data[static_cast<std::size_t>(k)]);
  } else {
    s.count = static_cast<int>(images);
    s.labels = std::move(y.data);
  }
  return s;
}

}  // namespace

std::string fashion_mnist_file(const std::string& dir, const std::string& split, bool labels) {
  return split_file(dir, split + (labels ? "-labels-idx1-ubyte" : "-images-idx3-ubyte"));
}

ImageSet load_fashion_mnist(const std::string& dir, const std::string& split, int expect_rows, int expect_cols,
                            int num_classes) {
  return load_split(dir, split, expect_rows, expect_cols, num_classes, nullptr, nullptr);
}

ImageSet load_fashion_mnist_images(const std::string& dir, const std::string& split, const std::vector<int>& indices,
                                   const std::function<void(int index, int count, const std::string& images_path)>& out_of_range, int expect_rows,
                                   int expect_cols, int num_classes) {
  return load_split(dir, split, expect_rows, expect_cols, num_classes, &indices, &out_of_range);
}

}  // namespace heatvit
