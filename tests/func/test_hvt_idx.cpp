// The HVT container reader/writer and the IDX reader on good and corrupted files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "heatvit/core/error.hpp"
#include "heatvit/models/hvt_file.hpp"
#include "heatvit/models/idx.hpp"
#include "synth.hpp"

using namespace heatvit;
using heatvit::testing::temp_dir;
using heatvit::testing::write_idx;

namespace {

std::string small_file() {
  std::vector<std::pair<std::string, HvtOutTensor>> t;
  t.emplace_back("a", HvtOutTensor{HvtDtype::Int8, {2, 3}, {-128, 0, 1, 2, 3, 127}});
  t.emplace_back("b", HvtOutTensor{HvtDtype::Int32, {2}, {INT32_MIN, 123456}});
  t.emplace_back("c", HvtOutTensor{HvtDtype::Uint8, {0}, {}});
  return encode_hvt("test-kind", json{{"x", 1}}, t);
}

/// The error message of decoding `bytes` ("" if it decodes).
std::string decode_error(const std::string& bytes, const std::string& kind = "") {
  try {
    HvtFile::decode(bytes, "f.hvt", kind);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

/// Replaces the JSON header of an encoded file by `header` (keeps the data region
/// aligned by re-padding).
std::string with_header(const std::string& file, const std::string& header) {
  std::uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | static_cast<unsigned char>(file[8 + i]);
  const std::size_t data0 = (16 + hlen + 63) / 64 * 64;
  std::string out = file.substr(0, 8);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  out += header;
  out.append((64 - out.size() % 64) % 64, '\0');
  return out + file.substr(data0);
}

}  // namespace

TEST(Hvt, RoundTrip) {
  const HvtFile f = HvtFile::decode(small_file(), "mem", "test-kind");
  EXPECT_EQ(f.kind(), "test-kind");
  EXPECT_EQ(f.meta()["x"], 1);
  const HvtTensor& a = f.tensor("a", HvtDtype::Int8, {2, 3});
  EXPECT_EQ(a.values, (std::vector<std::int64_t>{-128, 0, 1, 2, 3, 127}));
  EXPECT_EQ(f.tensor("b").values[0], INT32_MIN);
  EXPECT_EQ(f.tensor("c").numel(), 0);
  const std::string d = temp_dir("hvt");
  write_hvt(d + "/x.hvt", "k", json::object(), {{"z", HvtOutTensor{HvtDtype::Int16, {1}, {-2}}}});
  EXPECT_EQ(HvtFile::read(d + "/x.hvt").tensor("z").values[0], -2);
  std::filesystem::remove_all(d);
}

TEST(Hvt, RejectsCorruptFiles) {
  const std::string good = small_file();
  EXPECT_EQ(decode_error(good), "");
  EXPECT_NE(decode_error(good.substr(0, 10)).find("truncated file"), std::string::npos);
  std::string m = good;
  m[0] = 'X';
  EXPECT_NE(decode_error(m).find("field 'magic'"), std::string::npos);
  m = good;
  m[4] = 2;
  EXPECT_NE(decode_error(m).find("field 'format_version'"), std::string::npos);
  m = good;
  m[15] = 1;  // header length far beyond the file
  EXPECT_NE(decode_error(m).find("field 'header_length'"), std::string::npos);
  EXPECT_NE(decode_error(with_header(good, "{not json")).find("not valid UTF-8 JSON"), std::string::npos);
  EXPECT_NE(decode_error(with_header(good, "{\"kind\":\"k\",\"meta\":{}}")).find("field 'tensors'"), std::string::npos);
  EXPECT_NE(decode_error(good, "other").find("expected 'other'"), std::string::npos);
  const std::string t = R"({"kind":"k","meta":{},"tensors":{"a":{"dtype":"DT","shape":SH,"offset":OF,"nbytes":NB}}})";
  auto hdr = [&](const std::string& dt, const std::string& sh, const std::string& of, const std::string& nb) {
    std::string h = t;
    h.replace(h.find("DT"), 2, dt);
    h.replace(h.find("SH"), 2, sh);
    h.replace(h.find("OF"), 2, of);
    h.replace(h.find("NB"), 2, nb);
    return with_header(good, h);
  };
  EXPECT_EQ(decode_error(hdr("int8", "[2,3]", "0", "6")), "");
  EXPECT_NE(decode_error(hdr("float32", "[2,3]", "0", "6")).find("tensors.a.dtype"), std::string::npos);
  EXPECT_NE(decode_error(hdr("int8", "[2,-3]", "0", "6")).find("tensors.a.shape"), std::string::npos);
  EXPECT_NE(decode_error(hdr("int16", "[2,3]", "0", "6")).find("tensors.a.nbytes"), std::string::npos);
  EXPECT_NE(decode_error(hdr("int8", "[2,3]", "100000", "6")).find("tensors.a.offset"), std::string::npos);
  EXPECT_NE(decode_error(hdr("int8", "[4294967296,4294967296]", "0", "6")).find("tensors.a.shape"),
            std::string::npos);
  // data region cut short
  EXPECT_NE(decode_error(good.substr(0, good.size() - 70)).find("truncated file"), std::string::npos);
}

// The container exactly as docs/deit-micro-format.md says: anything else is refused
// with the file and the field named.
TEST(Hvt, RejectsInexactContainers) {
  const std::string good = small_file();
  const std::string t = R"({"kind":"k","meta":{},"tensors":{"a":{"dtype":"DT","shape":SH,"offset":OF,"nbytes":NB}}})";
  auto hdr = [&](const std::string& dt, const std::string& sh, const std::string& of, const std::string& nb) {
    std::string h = t;
    h.replace(h.find("DT"), 2, dt);
    h.replace(h.find("SH"), 2, sh);
    h.replace(h.find("OF"), 2, of);
    h.replace(h.find("NB"), 2, nb);
    return with_header(good, h);
  };
  auto has = [](const std::string& err, const std::string& what) {
    return err.find(what) != std::string::npos;
  };
  // header_length one byte too long: the header takes in the first padding byte (NUL)
  {
    std::string m = good;
    m[8] = static_cast<char>(m[8] + 1);
    const std::string e = decode_error(m);
    EXPECT_TRUE(has(e, "NUL")) << e;
  }
  EXPECT_TRUE(has(decode_error(with_header(good, std::string(R"({"kind":"k","meta":{},"tensors":{}})") + " ")),
                  "closing brace"));
  EXPECT_TRUE(has(decode_error(with_header(good, std::string("{\"kind\":\"k\"\0,\"meta\":{},\"tensors\":{}}", 36))),
                  "NUL"));
  // unaligned offset, counts that overflow, sizes beyond int32
  EXPECT_TRUE(has(decode_error(hdr("int8", "[2,3]", "1", "6")), "tensors.a.offset"));
  EXPECT_TRUE(has(decode_error(hdr("int8", "[4611686018427387904,0]", "0", "0")), "tensors.a.shape"));
  EXPECT_TRUE(has(decode_error(hdr("int8", "[65536,65536,65536,65536]", "0", "0")), "tensors.a.shape"));
  EXPECT_TRUE(has(decode_error(hdr("int8", "[2,3]", "18446744073709551615", "6")), "tensors.a.offset"));
  EXPECT_TRUE(has(decode_error(hdr("int8", "[2,3]", "0", "18446744073709551615")), "tensors.a.nbytes"));
  // JSON limits hold inside the header too
  {
    const std::string e = decode_error(with_header(good, R"({"kind":"k","kind":"k","meta":{},"tensors":{}})"));
    EXPECT_TRUE(has(e, "field 'kind'") && has(e, "duplicate key")) << e;
  }
  {
    const std::string deep = R"({"kind":"k","meta":{"x":)" + std::string(600, '[') + std::string(600, ']') +
                             R"(},"tensors":{}})";
    EXPECT_TRUE(has(decode_error(with_header(good, deep)), "nested deeper than 512")) << decode_error(with_header(good, deep));
  }
  EXPECT_TRUE(has(decode_error(with_header(good, R"({"kind":"k","meta":{"x":1e999},"tensors":{}})")), "meta.x"));
}

TEST(Hvt, MissingFileNamesIt) {
  try {
    HvtFile::read("/nonexistent/x.hvt");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.hvt"), std::string::npos);
  }
}

namespace {
std::string idx_error(const std::string& path, int ndim) {
  try {
    read_idx(path, ndim);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Idx, ReadsPlainAndGzip) {
  const std::string d = temp_dir("idx");
  const std::vector<std::uint8_t> data = {1, 2, 3, 4, 5, 6};
  write_idx(d + "/a", {2, 3}, data, false);
  write_idx(d + "/a.gz", {2, 3}, data, true);
  for (const char* f : {"/a", "/a.gz"}) {
    const IdxArray a = read_idx(d + f, 2);
    EXPECT_EQ(a.dims, (std::vector<std::uint32_t>{2, 3}));
    EXPECT_EQ(a.data, data);
  }
  std::filesystem::remove_all(d);
}

TEST(Idx, RejectsCorruptFiles) {
  const std::string d = temp_dir("idxbad");
  std::vector<std::uint8_t> data(600);
  write_idx(d + "/short", {2, 3}, {1, 2, 3}, false);
  EXPECT_NE(idx_error(d + "/short", 2).find("(truncated)"), std::string::npos);
  write_idx(d + "/long", {2, 2}, {1, 2, 3, 4, 5}, false);
  EXPECT_NE(idx_error(d + "/long", 2).find("trailing bytes"), std::string::npos);
  write_idx(d + "/dims", {2, 3}, {1, 2, 3, 4, 5, 6}, false);
  EXPECT_NE(idx_error(d + "/dims", 3).find("has 2 dimensions, expected 3"), std::string::npos);
  std::ofstream(d + "/magic", std::ios::binary) << std::string("\x01\x00\x08\x01\x00\x00\x00\x01\x05", 9);
  EXPECT_NE(idx_error(d + "/magic", 1).find("field 'magic'"), std::string::npos);
  std::ofstream(d + "/dtype", std::ios::binary) << std::string("\x00\x00\x0d\x01\x00\x00\x00\x01\x05", 9);
  EXPECT_NE(idx_error(d + "/dtype", 1).find("0x0d"), std::string::npos);
  std::ofstream(d + "/tiny", std::ios::binary) << std::string("\x00\x00", 2);
  EXPECT_NE(idx_error(d + "/tiny", 1).find("truncated IDX header"), std::string::npos);
  write_idx(d + "/cut.gz", {600}, data, true, 12);  // gzip stream cut short
  EXPECT_NE(idx_error(d + "/cut.gz", 1).find("gzip"), std::string::npos);
  EXPECT_NE(idx_error(d + "/missing.gz", 1).find("No such file or directory"), std::string::npos);
  std::filesystem::remove_all(d);
}

TEST(Idx, FashionMnistSplitChecks) {
  const std::string d = temp_dir("fm");
  heatvit::testing::write_fake_fmnist(d, 4);
  const ImageSet s = load_fashion_mnist(d, "t10k");
  EXPECT_EQ(s.count, 4);
  EXPECT_EQ(s.rows, 28);
  write_idx(d + "/t10k-labels-idx1-ubyte.gz", {3}, {1, 2, 3}, true);
  try {
    load_fashion_mnist(d, "t10k");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("3 labels"), std::string::npos);
  }
  write_idx(d + "/t10k-labels-idx1-ubyte.gz", {4}, {1, 2, 3, 12}, true);
  EXPECT_THROW(load_fashion_mnist(d, "t10k"), InputError);
  EXPECT_THROW(load_fashion_mnist(d + "/nope", "t10k"), InputError);
  std::filesystem::remove_all(d);
}

TEST(Idx, SelectedImagesEqualTheWholeLoad) {
  // 400 training images span several read chunks: some images straddle two.
  const std::string d = temp_dir("fmsel");
  heatvit::testing::write_fake_fmnist(d, 4, 9, 400);
  const ImageSet all = load_fashion_mnist(d, "train");
  const std::vector<int> pick = {399, 0, 167, 166, 168, 167, 5, 334, 335, 200};  // unordered, a repeat
  const ImageSet sel = load_fashion_mnist_images(d, "train", pick, [](int, int, const std::string&) { FAIL(); });
  ASSERT_EQ(sel.count, static_cast<int>(pick.size()));
  EXPECT_EQ(sel.rows, 28);
  EXPECT_EQ(sel.images_path, all.images_path);
  for (std::size_t i = 0; i < pick.size(); ++i) {
    EXPECT_TRUE(std::equal(all.image(pick[i]), all.image(pick[i]) + 784, sel.image(static_cast<int>(i))))
        << "image " << pick[i];
    EXPECT_EQ(sel.labels[i], all.labels[static_cast<std::size_t>(pick[i])]);
  }
  // An index outside the split: the caller's error, told the split's size and file.
  try {
    load_fashion_mnist_images(d, "train", {3, 400}, [](int index, int count, const std::string& path) {
      throw InputError("model.hvt", "tensors.calib.index",
                       std::to_string(index) + " of " + std::to_string(count) + " in " + path);
    });
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("400 of 400 in " + all.images_path), std::string::npos) << e.what();
  }
  // The files are checked as a whole load checks them.
  write_idx(d + "/train-images-idx3-ubyte.gz", {400, 28, 28}, std::vector<std::uint8_t>(400 * 784 - 1), true);
  try {
    load_fashion_mnist_images(d, "train", {0}, [](int, int, const std::string&) {});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("(truncated)"), std::string::npos) << e.what();
  }
  write_idx(d + "/train-images-idx3-ubyte.gz", {400, 28, 28}, std::vector<std::uint8_t>(400 * 784), true, 40);
  EXPECT_THROW(load_fashion_mnist_images(d, "train", {0}, [](int, int, const std::string&) {}), InputError);
  // A header claiming more than any file may hold: an InputError before anything is
  // allocated for it (one image of 65535 x 65535 pixels, asked for 2,000 times).
  write_idx(d + "/train-images-idx3-ubyte.gz", {1, 65535, 65535}, std::vector<std::uint8_t>(10), true);
  for (const std::vector<int>& wanted : {std::vector<int>{0}, std::vector<int>(2000, 0)}) {
    try {
      load_fashion_mnist_images(d, "train", wanted, [](int, int, const std::string&) {}, 0, 0, 0);
      FAIL();
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("dims"), std::string::npos) << e.what();
    }
  }
  write_idx(d + "/train-images-idx3-ubyte.gz", {1, 4096, 4096}, std::vector<std::uint8_t>(10), true);
  try {
    load_fashion_mnist_images(d, "train", std::vector<int>(2000, 0), [](int, int, const std::string&) {}, 0, 0, 0);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("2000 images of 16777216 pixels"), std::string::npos) << e.what();
  }
  write_idx(d + "/train-images-idx3-ubyte.gz", {399, 28, 28}, std::vector<std::uint8_t>(399 * 784), true);
  try {
    load_fashion_mnist_images(d, "train", {0}, [](int, int, const std::string&) {});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("400 labels"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(d);
}

TEST(Idx, PlainAndGzipReadInChunksAlike) {
  // A file larger than one read chunk, plain and compressed, and a header alone.
  const std::string d = temp_dir("idxbig");
  std::vector<std::uint8_t> data(300000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + i / 1000);
  write_idx(d + "/a", {300, 1000}, data, false);
  write_idx(d + "/a.gz", {300, 1000}, data, true);
  EXPECT_EQ(read_idx(d + "/a", 2).data, data);
  EXPECT_EQ(read_idx(d + "/a.gz", 2).data, data);
  write_idx(d + "/empty", {0, 5}, {}, false);
  EXPECT_TRUE(read_idx(d + "/empty", 2).data.empty());
  std::filesystem::remove_all(d);
}
