// The HVT container (docs/deit-micro-format.md), format version 1: exported integer
// models ("deit-micro-int8") and per-image token masks ("token-masks").
//
// Layout: "HVT\0" | uint32 LE version | uint64 LE header_length | UTF-8 JSON header
// {"kind", "meta", "tensors": {name: {dtype, shape, offset, nbytes}}} | zero padding to
// a 64-byte boundary | data region. Tensor offsets count from the start of the data
// region; tensors are little-endian, C order, 64-byte aligned.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "heatvit/core/json_config.hpp"

namespace heatvit {

enum class HvtDtype { Int8, Uint8, Int16, Int32, Int64 };

/// "int8", "uint8", ... as written in the header.
const char* to_string(HvtDtype d);
/// Bytes per element.
int dtype_size(HvtDtype d);

/// One tensor of a file: metadata and its values widened to int64 (C order).
struct HvtTensor {
  std::string name;
  HvtDtype dtype = HvtDtype::Int8;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> values;

  std::int64_t numel() const;
  std::string shape_string() const;  ///< e.g. "[64, 16]"
};

/// A tensor to write: values given as int64, stored as `dtype` (each value must fit).
struct HvtOutTensor {
  HvtDtype dtype = HvtDtype::Int8;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> values;
};

/// A whole file read into memory and validated. Every error throws InputError naming
/// the file, the header field (e.g. "tensors.b0.q.w.nbytes") and what is wrong.
class HvtFile {
 public:
  /// Reads and validates `path`: magic, version, header JSON (object with kind,
  /// meta, tensors), every tensor's dtype, shape, offset and nbytes against the file
  /// size. With `expect_kind` non-empty, the kind must match.
  static HvtFile read(const std::string& path, const std::string& expect_kind = "");
  /// Same on an in-memory image; `origin` names it in errors.
  static HvtFile decode(const std::string& bytes, const std::string& origin,
                        const std::string& expect_kind = "");

  const std::string& path() const { return path_; }
  const std::string& kind() const { return kind_; }
  const json& meta() const { return meta_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  /// Throws InputError (field "tensors.<name>") when absent.
  const HvtTensor& tensor(const std::string& name) const;
  /// tensor(name) after checking its dtype and shape; InputError otherwise.
  const HvtTensor& tensor(const std::string& name, HvtDtype dtype,
                          const std::vector<std::int64_t>& shape) const;
  const std::map<std::string, HvtTensor>& tensors() const { return tensors_; }

  /// Throws InputError(path, field, what).
  [[noreturn]] void fail(const std::string& field, const std::string& what) const;

 private:
  std::string path_;
  std::string kind_;
  json meta_;
  std::map<std::string, HvtTensor> tensors_;
};

/// Encodes a file image (tensors in the order given).
std::string encode_hvt(const std::string& kind, const json& meta,
                       const std::vector<std::pair<std::string, HvtOutTensor>>& tensors);

/// Writes a file atomically (InputError naming `path` when it cannot be written).
void write_hvt(const std::string& path, const std::string& kind, const json& meta,
               const std::vector<std::pair<std::string, HvtOutTensor>>& tensors);

}  // namespace heatvit
