#include "heatvit/models/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"

namespace heatvit {

namespace fs = std::filesystem;

namespace {

// Per-image MACs a model may have: 10 TMACs, about 570 times DeiT-B. Beyond it the
// 64-bit cycle and MAC counts of the workload and the plan could overflow, and no
// embedded accelerator would run it.
constexpr double kMaxModelMacs = 1e13;

// The dense MAC count in floating point (cannot overflow) and the stem's feature
// map sizes; each range above is plausible alone, their product may not be.
void check_model_size(ConfigReader& r, const ModelShape& m) {
  double size = m.image_size, ch = m.in_channels, macs = 0;
  for (std::size_t i = 0; i < m.stem.size(); ++i) {
    const StemConv& c = m.stem[i];
    const double out = std::floor((size + 2.0 * c.padding - c.kernel) / c.stride) + 1;
    if (out < 1)
      r.fail("stem[" + std::to_string(i) + "].kernel", "is larger than its padded input (" +
                                                           std::to_string(static_cast<long long>(size)) + " pixels)");
    macs += out * out * c.kernel * c.kernel * ch * c.out_channels;
    size = out;
    ch = c.out_channels;
  }
  const double n = m.dense_tokens(), d = m.embed_dim;
  macs += double(m.patch_tokens()) * m.patch_size * m.patch_size * ch * d;
  macs += m.depth * (n * d * d * (4.0 + 2.0 * m.mlp_ratio) + 2.0 * n * n * d);
  macs += (m.aux_head ? n : 1.0) * d * m.num_classes;
  if (!(macs <= kMaxModelMacs)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "about %.3g MACs per image, more than the limit of %.0e", macs, kMaxModelMacs);
    r.fail(m.stem.empty() ? "embed_dim" : "stem", std::string("the model is too large: ") + buf);
  }
}

}  // namespace

ModelShape parse_model(ConfigReader& r) {
  ModelShape m;
  m.name = r.string("name");
  if (m.name.empty()) r.fail("name", "must not be empty");
  m.source = r.string("source", "");
  m.image_size = static_cast<int>(r.integer("image_size", 1, 4096));
  m.in_channels = static_cast<int>(r.integer("in_channels", 1, 64));
  m.patch_size = static_cast<int>(r.integer("patch_size", 1, 1024));
  m.embed_dim = static_cast<int>(r.integer("embed_dim", 1, 16384));
  m.depth = static_cast<int>(r.integer("depth", 1, 256));
  m.heads = static_cast<int>(r.integer("heads", 1, 256));
  m.mlp_ratio = static_cast<int>(r.integer("mlp_ratio", 1, 16));
  m.num_classes = static_cast<int>(r.integer("num_classes", 1, 1000000));
  m.aux_head = r.boolean("aux_head", false);
  m.published_gmacs = r.number("published_gmacs", 0.0, 0.0, 1e6);
  if (m.image_size % m.patch_size != 0)
    r.fail("patch_size", "must divide image_size (" + std::to_string(m.image_size) + ")");
  if (m.embed_dim % m.heads != 0)
    r.fail("heads", "must divide embed_dim (" + std::to_string(m.embed_dim) + ")");
  if (r.has("stem")) {
    int stride = 1;
    auto convs = r.children("stem");
    for (std::size_t i = 0; i < convs.size(); ++i) {
      StemConv c;
      c.kernel = static_cast<int>(convs[i]->integer("kernel", 1, 64));
      c.stride = static_cast<int>(convs[i]->integer("stride", 1, 64));
      c.padding = static_cast<int>(convs[i]->integer("padding", 0, 64));
      c.out_channels = static_cast<int>(convs[i]->integer("out_channels", 1, 65536));
      stride *= c.stride;
      m.stem.push_back(c);
    }
    if (m.patch_size % stride != 0)
      r.fail("stem", "product of stem strides (" + std::to_string(stride) +
                         ") must divide patch_size");
  }
  check_model_size(r, m);
  r.finish();
  return m;
}

std::vector<std::string> builtin_model_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(project_root()) / "models" / "presets", ec))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string model_path(const std::string& name_or_path) {
  std::string path = name_or_path;
  const bool looks_like_path =
      name_or_path.find('/') != std::string::npos || fs::path(name_or_path).extension() == ".json";
  if (!looks_like_path) {
    path = (fs::path(project_root()) / "models" / "presets" / (name_or_path + ".json")).string();
    std::error_code ec;  // a name the OS rejects (too long) is an unknown model too
    if (!fs::exists(path, ec)) {
      std::string list;
      for (const auto& n : builtin_model_names()) list += (list.empty() ? "" : ", ") + n;
      throw InputError("--model", "", "unknown model '" + name_or_path + "' (known: " + list +
                                          "; or give a path to a JSON file)");
    }
  }
  return path;
}

ModelShape load_model(const std::string& name_or_path) {
  const std::string path = model_path(name_or_path);
  const json j = load_json_file(path);
  ConfigReader r(j, path);
  return parse_model(r);
}

}  // namespace heatvit
