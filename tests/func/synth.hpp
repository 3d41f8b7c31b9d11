// Test fixtures: a synthetic deit-micro-int8 model (random small weights with the exact
// tensor names, shapes and metadata of training/export/quantize.py) and small IDX files.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <climits>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "heatvit/models/hvt_file.hpp"

namespace heatvit::testing {

struct SynthModel {
  json meta;
  std::vector<std::pair<std::string, HvtOutTensor>> tensors;

  HvtOutTensor* find(const std::string& name) {
    for (auto& [n, t] : tensors)
      if (n == name) return &t;
    return nullptr;
  }
  void erase(const std::string& name) {
    for (auto it = tensors.begin(); it != tensors.end(); ++it)
      if (it->first == name) {
        tensors.erase(it);
        return;
      }
  }
  std::string encode() const { return encode_hvt("deit-micro-int8", meta, tensors); }
  void write(const std::string& path) const { write_hvt(path, "deit-micro-int8", meta, tensors); }
};

inline SynthModel make_synth_model(unsigned seed = 1) {
  SynthModel m;
  std::mt19937 rng(seed);
  auto rnd = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  json gemm = json::object(), ln = json::object(), fracs = json::object();
  const int fres = 8, fw = 7;
  fracs["res"] = fres;
  auto linear = [&](const std::string& name, int n, int k, int fi, int fo, int bits, int wmax = 12) {
    HvtOutTensor w{HvtDtype::Int8, {n, k}, {}}, b{HvtDtype::Int32, {n}, {}};
    for (int i = 0; i < n * k; ++i) w.values.push_back(rnd(-wmax, wmax));
    for (int i = 0; i < n; ++i) b.values.push_back(rnd(-200, 200));
    m.tensors.emplace_back(name + ".w", std::move(w));
    m.tensors.emplace_back(name + ".b", std::move(b));
    if (bits == 32) fo = fi + fw;
    gemm[name] = {{"fi", fi}, {"fw", fw}, {"fo", fo}, {"out_bits", bits}, {"shift", fi + fw - fo}};
  };
  auto layernorm = [&](const std::string& name, int c, int fo) {
    HvtOutTensor g{HvtDtype::Int16, {c}, {}}, b{HvtDtype::Int32, {c}, {}};
    for (int i = 0; i < c; ++i) g.values.push_back(rnd(2000, 6000));
    for (int i = 0; i < c; ++i) b.values.push_back(rnd(-20000, 20000));
    m.tensors.emplace_back(name + ".g", std::move(g));
    m.tensors.emplace_back(name + ".b", std::move(b));
    ln[name] = {{"fg", 12}, {"fo", fo}};
  };
  linear("pe", 64, 16, 0, fres, 16, 6);
  {
    HvtOutTensor pos{HvtDtype::Int16, {50, 64}, {}};
    for (int i = 0; i < 50 * 64; ++i) pos.values.push_back(rnd(-300, 300));
    m.tensors.emplace_back("pos", std::move(pos));
  }
  for (int i = 0; i < 12; ++i) {
    const std::string n = "b" + std::to_string(i);
    for (const char* f : {".q", ".k", ".v", ".ao", ".g", ".ln1", ".ln2"}) fracs[n + f] = 5;
    layernorm(n + ".ln1", 64, 5);
    linear(n + ".q", 64, 64, 5, 5, 8);
    linear(n + ".k", 64, 64, 5, 5, 8);
    linear(n + ".v", 64, 64, 5, 5, 8);
    linear(n + ".proj", 64, 64, 5, fres, 16);
    layernorm(n + ".ln2", 64, 5);
    linear(n + ".fc1", 256, 64, 5, 10, 16);
    linear(n + ".fc2", 64, 256, 5, fres, 16);
  }
  fracs["lnf"] = 5;
  layernorm("lnf", 64, 5);
  linear("head", 10, 64, 5, 0, 32);
  json blocks = json::array();
  for (int b = 1; b <= 10; ++b) {
    blocks.push_back(b);
    const std::string n = "s" + std::to_string(b);
    for (int h = 0; h < 2; ++h) {
      const std::string hs = std::to_string(h);
      for (const char* f : {".g1", ".g2", ".g3", ".ln"}) fracs[n + f + hs] = 5;
      layernorm(n + ".ln" + hs, 32, 5);
      linear(n + ".l1_" + hs, 32, 32, 5, 10, 16);
      linear(n + ".l2_" + hs, 16, 32, 5, 10, 16);
      linear(n + ".l3_" + hs, 8, 16, 5, 10, 16);
      linear(n + ".l4_" + hs, 1, 8, 5, 8, 16, 40);
    }
    fracs[n + ".m"] = 4;
    fracs[n + ".hg"] = 5;
    linear(n + ".hb1", 1, 2, 4, 10, 16, 40);
    linear(n + ".hb2", 2, 1, 5, 8, 16, 40);
    HvtOutTensor thr{HvtDtype::Int32, {20}, {}};
    for (int j = 0; j < 19; ++j) thr.values.push_back(300 - 30 * j);
    thr.values.push_back(INT32_MIN);
    m.tensors.emplace_back(n + ".thr", std::move(thr));
  }
  // calibration images: training images 0, 2, .., 30 (write_fake_fmnist writes 32)
  HvtOutTensor calib{HvtDtype::Int32, {16}, {}};
  for (int i = 0; i < 16; ++i) calib.values.push_back(2 * i);
  m.tensors.emplace_back("calib.index", std::move(calib));
  json keep_grid = json::array();
  for (int j = 1; j <= 20; ++j) keep_grid.push_back(50 * j);
  m.meta = {{"format", "deit-micro-int8"},
            {"model_version", 1},
            {"shape", {{"img", 28}, {"in_chans", 1}, {"patch", 4}, {"num_patches", 49}, {"tokens", 50},
                       {"dim", 64}, {"depth", 12}, {"heads", 2}, {"head_dim", 32}, {"mlp_ratio", 4},
                       {"hidden", 256}, {"classes", 10}}},
            {"candidate_blocks", blocks},
            {"consts", {{"F_H", 10}, {"F_D", 8}, {"F_SIG", 12}, {"F_N", 12}, {"G_LN", 4}}},
            {"fracs", fracs},
            {"gemm", gemm},
            {"ln", ln},
            {"keep_grid_milli", keep_grid}};
  return m;
}

/// Writes an IDX file (uint8). `gz`: gzip-compressed through zlib.
inline void write_idx(const std::string& path, const std::vector<std::uint32_t>& dims,
                      const std::vector<std::uint8_t>& data, bool gz, std::size_t cut_bytes = 0) {
  std::string raw = {'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) raw.push_back(static_cast<char>((d >> s) & 0xff));
  raw.append(reinterpret_cast<const char*>(data.data()), data.size());
  if (!gz) {
    raw.resize(raw.size() - cut_bytes);
    std::ofstream(path, std::ios::binary).write(raw.data(), static_cast<std::streamsize>(raw.size()));
    return;
  }
  gzFile g = gzopen(path.c_str(), "wb");
  gzwrite(g, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(g);
  if (cut_bytes) std::filesystem::resize_file(path, std::filesystem::file_size(path) - cut_bytes);
}

/// A small t10k split of `n` random 28x28 images with labels 0..9, and a training split
/// of `n_train` more (the synthetic model's calibration images are among its first 32).
inline void write_fake_fmnist(const std::string& dir, int n, unsigned seed = 5, int n_train = 32) {
  std::filesystem::create_directories(dir);
  std::mt19937 rng(seed);
  for (const auto& [split, count] : {std::pair<std::string, int>{"t10k", n}, {"train", n_train}}) {
    std::vector<std::uint8_t> px(static_cast<std::size_t>(count) * 784), lab(static_cast<std::size_t>(count));
    for (auto& v : px) v = static_cast<std::uint8_t>(rng() & 0xff);
    for (auto& v : lab) v = static_cast<std::uint8_t>(rng() % 10);
    write_idx(dir + "/" + split + "-images-idx3-ubyte.gz", {static_cast<std::uint32_t>(count), 28, 28}, px, true);
    write_idx(dir + "/" + split + "-labels-idx1-ubyte.gz", {static_cast<std::uint32_t>(count)}, lab, true);
  }
}

/// A fresh empty directory under the system temp dir.
inline std::string temp_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() /
                 ("heatvit-func-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

}  // namespace heatvit::testing
