#include "heatvit/models/hvt_file.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "heatvit/core/atomic_file.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/input_file.hpp"

namespace heatvit {

namespace {

constexpr char kMagic[4] = {'H', 'V', 'T', '\0'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint64_t kAlign = 64;
constexpr std::size_t kPreamble = 16;  // magic + version + header_length

std::uint64_t pad_to_align(std::uint64_t n) { return (kAlign - n % kAlign) % kAlign; }

std::uint64_t read_le(const std::string& b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  return v;
}

void append_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool parse_dtype(const std::string& s, HvtDtype& d) {
  static const std::pair<const char*, HvtDtype> names[] = {
      {"int8", HvtDtype::Int8},   {"uint8", HvtDtype::Uint8}, {"int16", HvtDtype::Int16},
      {"int32", HvtDtype::Int32}, {"int64", HvtDtype::Int64}};
  for (const auto& [n, v] : names)
    if (s == n) {
      d = v;
      return true;
    }
  return false;
}

std::int64_t decode_value(const char* p, HvtDtype d) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  switch (d) {
    case HvtDtype::Int8: return static_cast<std::int8_t>(u[0]);
    case HvtDtype::Uint8: return u[0];
    case HvtDtype::Int16: return static_cast<std::int16_t>(u[0] | (u[1] << 8));
    case HvtDtype::Int32: {
      std::uint32_t v = 0;
      for (int i = 3; i >= 0; --i) v = (v << 8) | u[i];
      return static_cast<std::int32_t>(v);
    }
    case HvtDtype::Int64: {
      std::uint64_t v = 0;
      for (int i = 7; i >= 0; --i) v = (v << 8) | u[i];
      return static_cast<std::int64_t>(v);
    }
  }
  return 0;
}

void value_range(HvtDtype d, std::int64_t& lo, std::int64_t& hi) {
  switch (d) {
    case HvtDtype::Int8: lo = -128; hi = 127; return;
    case HvtDtype::Uint8: lo = 0; hi = 255; return;
    case HvtDtype::Int16: lo = -32768; hi = 32767; return;
    case HvtDtype::Int32: lo = std::numeric_limits<std::int32_t>::min(); hi = std::numeric_limits<std::int32_t>::max(); return;
    case HvtDtype::Int64: lo = std::numeric_limits<std::int64_t>::min(); hi = std::numeric_limits<std::int64_t>::max(); return;
  }
}

std::string show_short(const json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string o = "[";
  for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}

}  // namespace

const char* to_string(HvtDtype d) {
  switch (d) {
    case HvtDtype::Int8: return "int8";
    case HvtDtype::Uint8: return "uint8";
    case HvtDtype::Int16: return "int16";
    case HvtDtype::Int32: return "int32";
    case HvtDtype::Int64: return "int64";
  }
  return "?";
}

int dtype_size(HvtDtype d) {
  switch (d) {
    case HvtDtype::Int8:
    case HvtDtype::Uint8: return 1;
    case HvtDtype::Int16: return 2;
    case HvtDtype::Int32: return 4;
    case HvtDtype::Int64: return 8;
  }
  return 1;
}

std::int64_t HvtTensor::numel() const {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

std::string HvtTensor::shape_string() const { return shape_str(shape); }

void HvtFile::fail(const std::string& field, const std::string& what) const {
  throw InputError(path_, field, what);
}

HvtFile HvtFile::read(const std::string& path, const std::string& expect_kind) {
  return decode(read_input_file(path, kMaxContainerBytes), path, expect_kind);
}

HvtFile HvtFile::decode(const std::string& buf, const std::string& origin, const std::string& expect_kind) {
  HvtFile f;
  f.path_ = origin;
  const std::uint64_t size = buf.size();
  if (size < kPreamble)
    f.fail("", "truncated file (" + std::to_string(size) + " bytes; the preamble alone needs 16)");
  if (std::memcmp(buf.data(), kMagic, 4) != 0)
    f.fail("magic", "not an HVT file (first bytes are not \"HVT\\0\")");
  const std::uint64_t version = read_le(buf, 4, 4);
  if (version != kVersion)
    f.fail("format_version", "version " + std::to_string(version) + " is not supported (this reader reads " +
                                 std::to_string(kVersion) + ")");
  const std::uint64_t hlen = read_le(buf, 8, 8);
  if (hlen > size - kPreamble)
    f.fail("header_length", "truncated file: header_length " + std::to_string(hlen) + " exceeds the " +
                                std::to_string(size - kPreamble) + " bytes after the preamble");
  if (hlen > kMaxJsonFileBytes)
    f.fail("header_length", std::to_string(hlen) + " bytes is more than the limit of " +
                                std::to_string(kMaxJsonFileBytes) + " for a header");
  const std::string text = buf.substr(kPreamble, hlen);
  // The header is exactly the JSON object: it ends at its closing brace, holds no NUL
  // (a length one byte too long would take in the first padding byte), and the padding
  // up to the data start is zeros.
  if (const auto nul = text.find('\0'); nul != std::string::npos)
    f.fail("header", "holds a NUL byte at header byte " + std::to_string(nul) +
                         " (is header_length " + std::to_string(hlen) + " exact?)");
  const std::uint64_t data0 = kPreamble + hlen + pad_to_align(kPreamble + hlen);
  if (data0 > size)
    f.fail("header_length", "truncated file: the padding after the header ends past the end of the file");
  for (std::uint64_t i = kPreamble + hlen; i < data0; ++i)
    if (buf[i] != '\0') f.fail("header_length", "padding byte " + std::to_string(i) + " after the header is not zero");
  json hdr;
  try {
    hdr = parse_json_text(text, origin);
  } catch (const InputError& e) {
    if (!e.field().empty()) throw;  // a limit, named by its field in the header
    const std::string what = e.what();
    f.fail("header", "not valid UTF-8 JSON (" + what.substr(std::min(what.size(), origin.size() + 2)) + ")");
  }
  if (!hdr.is_object()) f.fail("header", "must be a JSON object");
  if (text.back() != '}')
    f.fail("header_length", std::to_string(hlen) + " does not end the header at its closing brace");
  for (const char* key : {"kind", "meta", "tensors"})
    if (!hdr.contains(key)) f.fail(key, "missing from the header");
  if (!hdr["kind"].is_string()) f.fail("kind", "must be a string");
  if (!hdr["meta"].is_object()) f.fail("meta", "must be an object");
  if (!hdr["tensors"].is_object()) f.fail("tensors", "must be an object");
  f.kind_ = hdr["kind"].get<std::string>();
  if (!expect_kind.empty() && f.kind_ != expect_kind)
    f.fail("kind", "is '" + f.kind_ + "', expected '" + expect_kind + "'");
  f.meta_ = hdr["meta"];
  for (auto it = hdr["tensors"].begin(); it != hdr["tensors"].end(); ++it) {
    const std::string field = "tensors." + it.key();
    const json& t = it.value();
    if (!t.is_object()) f.fail(field, "must be an object");
    for (const char* key : {"dtype", "shape", "offset", "nbytes"})
      if (!t.contains(key)) f.fail(field + "." + key, "missing");
    HvtTensor out;
    out.name = it.key();
    if (!t["dtype"].is_string() || !parse_dtype(t["dtype"].get<std::string>(), out.dtype))
      f.fail(field + ".dtype", t["dtype"].dump() + " is not one of int8, uint8, int16, int32, int64");
    if (!t["shape"].is_array()) f.fail(field + ".shape", "must be a list of sizes");
    if (t["shape"].size() > 8) f.fail(field + ".shape", "has " + std::to_string(t["shape"].size()) + " dimensions, at most 8");
    // Every dimension is an int32-sized count and their product must be a number of
    // elements the file could hold; [2^62, 0] is refused although it has no element.
    std::uint64_t count = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_integer() || (!d.is_number_unsigned() && d.get<std::int64_t>() < 0) ||
          d.get<std::uint64_t>() > static_cast<std::uint64_t>(INT32_MAX))
        f.fail(field + ".shape", show_short(t["shape"]) + " is not a list of sizes in [0, 2^31-1]");
      const auto v = d.get<std::uint64_t>();
      if (v != 0 && count > size / v)
        f.fail(field + ".shape", show_short(t["shape"]) + " has more elements than the file has bytes");
      count *= v;
      out.shape.push_back(static_cast<std::int64_t>(v));
    }
    for (const char* key : {"offset", "nbytes"})
      if (!t[key].is_number_integer() || (!t[key].is_number_unsigned() && t[key].get<std::int64_t>() < 0))
        f.fail(field + "." + key, "must be a non-negative integer, got " + show_short(t[key]));
    const auto nbytes = t["nbytes"].get<std::uint64_t>();
    const auto offset = t["offset"].get<std::uint64_t>();
    const std::uint64_t esz = static_cast<std::uint64_t>(dtype_size(out.dtype));
    if (nbytes != count * esz)
      f.fail(field + ".nbytes", std::to_string(nbytes) + " does not match shape " + out.shape_string() + " x " +
                                    to_string(out.dtype));
    if (offset % kAlign != 0)
      f.fail(field + ".offset", std::to_string(offset) + " is not a multiple of " + std::to_string(kAlign) +
                                    " (every tensor starts 64-byte aligned)");
    if (offset > size || data0 > size - offset || nbytes > size - data0 - offset)
      f.fail(field + ".offset", "truncated file: the tensor needs bytes " + std::to_string(data0 + offset) + ".." +
                                    std::to_string(data0 + offset + nbytes) + ", the file has " +
                                    std::to_string(size));
    out.values.resize(count);
    const char* p = buf.data() + data0 + offset;
    for (std::uint64_t i = 0; i < count; ++i) out.values[i] = decode_value(p + i * esz, out.dtype);
    f.tensors_.emplace(out.name, std::move(out));
  }
  return f;
}

const HvtTensor& HvtFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("tensors." + name, "missing");
  return it->second;
}

const HvtTensor& HvtFile::tensor(const std::string& name, HvtDtype dtype,
                                 const std::vector<std::int64_t>& shape) const {
  const HvtTensor& t = tensor(name);
  if (t.dtype != dtype)
    fail("tensors." + name + ".dtype", std::string("is ") + to_string(t.dtype) + ", expected " + to_string(dtype));
  if (t.shape != shape)
    fail("tensors." + name + ".shape", "is " + t.shape_string() + ", expected " + shape_str(shape));
  return t;
}

std::string encode_hvt(const std::string& kind, const json& meta,
                       const std::vector<std::pair<std::string, HvtOutTensor>>& tensors) {
  json th = json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    std::int64_t n = 1;
    for (auto s : t.shape) n *= s;
    HEATVIT_CHECK(n == static_cast<std::int64_t>(t.values.size()), "encode_hvt: " + name + ": shape/value count");
    std::int64_t lo = 0, hi = 0;
    value_range(t.dtype, lo, hi);
    const int esz = dtype_size(t.dtype);
    const std::uint64_t off = data.size();
    for (std::int64_t v : t.values) {
      HEATVIT_CHECK(v >= lo && v <= hi, "encode_hvt: " + name + ": value out of range of " + to_string(t.dtype));
      append_le(data, static_cast<std::uint64_t>(v), esz);
    }
    const std::uint64_t nbytes = data.size() - off;
    data.append(pad_to_align(nbytes), '\0');
    th[name] = {{"dtype", to_string(t.dtype)}, {"shape", t.shape}, {"offset", off}, {"nbytes", nbytes}};
  }
  const std::string header = json{{"kind", kind}, {"meta", meta}, {"tensors", th}}.dump();
  std::string out(kMagic, 4);
  append_le(out, kVersion, 4);
  append_le(out, header.size(), 8);
  out += header;
  out.append(pad_to_align(out.size()), '\0');
  out += data;
  return out;
}

void write_hvt(const std::string& path, const std::string& kind, const json& meta,
               const std::vector<std::pair<std::string, HvtOutTensor>>& tensors) {
  write_file_atomic(path, encode_hvt(kind, meta, tensors));
}

}  // namespace heatvit
