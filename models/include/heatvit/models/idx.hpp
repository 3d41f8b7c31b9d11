// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
//
// Layout: 0x00 0x00 | dtype (0x08 = uint8) | ndim | ndim big-endian uint32 sizes | data.
// Only uint8 data is accepted (all four Fashion-MNIST files).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace heatvit {

/// A uint8 IDX array.
struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;  ///< C order, product(dims) bytes
};

/// Reads `path` (gzip-compressed when it is, detected from its content). Checks the
/// magic, the dtype, the number of dimensions (`expect_ndim`, 0 = any) and that the
/// data has exactly product(dims) bytes; a truncated or corrupt gzip stream is an
/// error too. Every problem throws InputError naming the file.
IdxArray read_idx(const std::string& path, int expect_ndim = 0);
/// The same on content already read and decompressed; `origin` names it in errors.
IdxArray parse_idx(const std::string& raw, const std::string& origin, int expect_ndim = 0);

/// Images with labels (one split of Fashion-MNIST).
struct ImageSet {
  std::string images_path, labels_path;
  int count = 0;
  int rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  ///< count x rows x cols, row-major
  std::vector<std::uint8_t> labels;  ///< count

  const std::uint8_t* image(int i) const {
    return pixels.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(rows * cols);
  }
};

/// The directory of the Fashion-MNIST files: $HEATVIT_FMNIST when set, else
/// /usr/share/datasets/fashion-mnist (what the Python side uses too).
std::string default_fashion_mnist_dir();

/// The file of a split's images (`labels` false) or labels in `dir`:
/// <split>-images-idx3-ubyte.gz or <split>-labels-idx1-ubyte.gz, or the same without .gz
/// when only that exists.
std::string fashion_mnist_file(const std::string& dir, const std::string& split, bool labels);

/// Loads split "t10k" or "train" from `dir` (files <split>-images-idx3-ubyte[.gz],
/// <split>-labels-idx1-ubyte[.gz]). Checks image size rows x cols == expect_rows x
/// expect_cols (0: any), label values < num_classes (0: any) and equal counts.
ImageSet load_fashion_mnist(const std::string& dir, const std::string& split, int expect_rows = 28,
                            int expect_cols = 28, int num_classes = 10);

/// The images at `indices` of a split (in that order, repeats allowed; count =
/// indices.size()), read without holding the others: the same checks as
/// load_fashion_mnist. An index outside the split calls `out_of_range(index, images in
/// the split, the images file)`, which throws (InputError naming whatever the indices
/// come from).
ImageSet load_fashion_mnist_images(const std::string& dir, const std::string& split, const std::vector<int>& indices,
                                   const std::function<void(int index, int count, const std::string& images_path)>& out_of_range,
                                   int expect_rows = 28, int expect_cols = 28, int num_classes = 10);

}  // namespace heatvit
