// heatvit: one executable, one subcommand per job. Exit status: 0 success, 2 bad
// usage or bad input, 1 internal error.
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "heatvit/core/error.hpp"

namespace {

void print_usage(std::ostream& os) {
  os << "heatvit: cycle-level simulator and design-space explorer for HeatViT-style ViT\n"
        "accelerators on embedded FPGAs.\n\n"
        "Usage: heatvit <subcommand> [options]   (heatvit <subcommand> --help for its options)\n\n"
        "Subcommands:\n";
  for (const auto& c : heatvit::cli::subcommands())
    os << "  " << c.name << std::string(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ') << c.summary << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage(std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "heatvit 0.1.0\n";
    return 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    for (const auto& c : heatvit::cli::subcommands())
      if (c.name == cmd) return c.run(args);
    std::cerr << "heatvit: unknown subcommand '" << cmd << "'\n\n";
    print_usage(std::cerr);
    return 2;
  } catch (const heatvit::InputError& e) {
    std::cerr << "heatvit " << cmd << ": error: " << e.what() << "\n";
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    // the OS refused a path the user gave (a name too long, no permission): bad input
    std::cerr << "heatvit " << cmd << ": error: " << (e.path1().empty() ? std::string("(path)") : e.path1().string())
              << ": " << e.code().message() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "heatvit " << cmd << ": internal error: " << e.what() << "\n";
    return 1;
  }
}
