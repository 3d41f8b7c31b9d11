#include "heatvit/core/plot.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "heatvit/core/paths.hpp"

namespace heatvit {

namespace {
std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
}  // namespace

std::string render_plot(const std::string& script, const std::map<std::string, std::string>& inputs) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "heatvit-plot-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("plot: cannot create a scratch directory");
  const std::string dir = tmpl;
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  } cleanup{dir};
  for (const auto& [name, content] : inputs) std::ofstream(dir + "/" + name, std::ios::binary) << content;
  const std::string cmd = "/usr/bin/python3 '" + project_root() + "/scripts/" + script + "' '" + dir + "' '" + dir +
                          "/plot.png' > '" + dir + "/plot.log' 2>&1";
  if (std::system(cmd.c_str()) != 0 || !std::filesystem::exists(dir + "/plot.png"))
    throw std::runtime_error("plot: scripts/" + script + " failed (python3-matplotlib is installed by make test / "
                             "make demo): " + slurp(dir + "/plot.log"));
  return slurp(dir + "/plot.png");
}

}  // namespace heatvit
