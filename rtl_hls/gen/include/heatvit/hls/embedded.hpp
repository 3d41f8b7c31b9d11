// The engine sources and integer kernels the generator copies into every project,
// compiled into the binary (rtl_hls/gen/embed.cmake).
#pragma once

#include <string>
#include <vector>

namespace heatvit::hls {

struct EmbeddedFile {
  std::string path;     ///< relative to the source root, e.g. "rtl_hls/engine/firmware/heatvit_top.cpp"
  std::string content;
};

const std::vector<EmbeddedFile>& embedded_files();

}  // namespace heatvit::hls
