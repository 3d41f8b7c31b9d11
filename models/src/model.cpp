#include "heatvit/models/model.hpp"

#include <algorithm>
#include <filesystem>

#include "heatvit/core/error.hpp"
#include "heatvit/core/paths.hpp"

namespace heatvit {

namespace fs = std::filesystem;

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
    if (!fs::exists(path)) {
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
