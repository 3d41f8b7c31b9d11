// Host program for the ZCU102's ARM cores (Linux, plain C++): places the weight image,
// the constants, the images and the scratch areas in a physically contiguous DDR region
// the kernel reserved for the accelerator (e.g. a reserved-memory node, given by
// --phys), writes their addresses to the accelerator's control registers, starts it,
// waits for ap_done and checks the results against tb_data/golden.dat.
//
// The register offsets come from the driver header Vitis HLS writes when it exports
// the IP (xheatvit_top_hw.h, in solution/impl/misc/drivers/.../src): build with
//   g++ -O2 -std=c++17 -I<that src dir> -I../firmware heatvit_host.cpp -o heatvit_host
// Without the header (-DHEATVIT_HOST_DRY_RUN) the program only lays out the buffers and
// prints the addresses it would program: nothing touches /dev/mem.
//
// Usage: heatvit_host --ctrl 0xA0000000 --phys 0x70000000 --size 0x10000000 [--images N] [TB_DATA_DIR]
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "defines.h"
#if !defined(HEATVIT_HOST_DRY_RUN)
#include "xheatvit_top_hw.h"
#endif

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "heatvit_host: %s: cannot read\n", path.c_str());
    std::exit(2);
  }
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::uint64_t align(std::uint64_t x) { return (x + 4095) & ~std::uint64_t(4095); }

struct Layout {
  std::uint64_t wmem, cmem, images, act8, act16, results, end;
};

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t ctrl = 0, phys = 0, size = 0;
  int n = HV_TB_IMAGES;
  std::string dir = "tb_data";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::uint64_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "heatvit_host: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::strtoull(argv[++i], nullptr, 0);
    };
    if (a == "--ctrl") ctrl = next();
    else if (a == "--phys") phys = next();
    else if (a == "--size") size = next();
    else if (a == "--images") n = static_cast<int>(next());
    else dir = a;
  }
  if (n < 1 || n > HV_TB_IMAGES) {
    std::fprintf(stderr, "heatvit_host: --images must be 1..%d\n", HV_TB_IMAGES);
    return 2;
  }
  const std::string w = slurp(dir + "/wmem.bin"), c = slurp(dir + "/cmem.bin"), im = slurp(dir + "/images.bin");
  if (w.size() != std::size_t(HV_W_ELEMS) || c.size() != std::size_t(HV_C_WORDS) * 4 ||
      im.size() < std::size_t(n) * HV_IMG_PIXELS) {
    std::fprintf(stderr, "heatvit_host: %s: data files do not match defines.h\n", dir.c_str());
    return 2;
  }
  Layout L;
  L.wmem = phys;
  L.cmem = align(L.wmem + w.size());
  L.images = align(L.cmem + c.size());
  L.act8 = align(L.images + std::uint64_t(n) * HV_IMG_PIXELS);
  L.act16 = align(L.act8 + HV_A8_ELEMS);
  L.results = align(L.act16 + 2ull * HV_A16_ELEMS);
  L.end = align(L.results + 4ull * n * HV_RESULT_WORDS);
  std::printf("DDR layout: wmem 0x%llx cmem 0x%llx images 0x%llx act8 0x%llx act16 0x%llx results 0x%llx (%llu bytes)\n",
              (unsigned long long)L.wmem, (unsigned long long)L.cmem, (unsigned long long)L.images,
              (unsigned long long)L.act8, (unsigned long long)L.act16, (unsigned long long)L.results,
              (unsigned long long)(L.end - phys));
#if defined(HEATVIT_HOST_DRY_RUN)
  (void)ctrl;
  (void)size;
  std::printf("dry run: no device access\n");
  return 0;
#else
  if (!ctrl || !phys || L.end - phys > size) {
    std::fprintf(stderr, "heatvit_host: --ctrl, --phys and a --size of at least %llu bytes are required\n",
                 (unsigned long long)(L.end - phys));
    return 2;
  }
  const int fd = open("/dev/mem", O_RDWR | O_SYNC);
  if (fd < 0) {
    std::perror("heatvit_host: /dev/mem");
    return 1;
  }
  auto* mem = static_cast<std::uint8_t*>(mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(phys)));
  auto* reg = static_cast<volatile std::uint32_t*>(mmap(nullptr, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(ctrl)));
  if (mem == MAP_FAILED || reg == MAP_FAILED) {
    std::perror("heatvit_host: mmap");
    return 1;
  }
  std::memcpy(mem + (L.wmem - phys), w.data(), w.size());
  std::memcpy(mem + (L.cmem - phys), c.data(), c.size());
  std::memcpy(mem + (L.images - phys), im.data(), std::size_t(n) * HV_IMG_PIXELS);
  auto set64 = [&](unsigned off, std::uint64_t v) {
    reg[off / 4] = std::uint32_t(v);
    reg[off / 4 + 1] = std::uint32_t(v >> 32);
  };
  set64(XHEATVIT_TOP_CONTROL_ADDR_WMEM_DATA, L.wmem);
  set64(XHEATVIT_TOP_CONTROL_ADDR_CMEM_DATA, L.cmem);
  set64(XHEATVIT_TOP_CONTROL_ADDR_IMAGES_DATA, L.images);
  set64(XHEATVIT_TOP_CONTROL_ADDR_ACT8_DATA, L.act8);
  set64(XHEATVIT_TOP_CONTROL_ADDR_ACT16_DATA, L.act16);
  set64(XHEATVIT_TOP_CONTROL_ADDR_RESULTS_DATA, L.results);
  reg[XHEATVIT_TOP_CONTROL_ADDR_N_IMAGES_DATA / 4] = std::uint32_t(n);
  reg[XHEATVIT_TOP_CONTROL_ADDR_AP_CTRL / 4] = 1;  // ap_start
  while (!(reg[XHEATVIT_TOP_CONTROL_ADDR_AP_CTRL / 4] & 2)) usleep(100);  // ap_done
  // Compare with the golden outputs (same format as the testbench reads).
  std::istringstream g(slurp(dir + "/golden.dat"));
  std::string line;
  int img = 0, bad = 0;
  const auto* res = reinterpret_cast<const std::int32_t*>(mem + (L.results - phys));
  while (img < n && std::getline(g, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    long long idx, v;
    ls >> idx;
    for (int wi = 0; ls >> v; ++wi) {
      long long got = res[img * HV_RESULT_WORDS + wi];
      if (wi >= HV_RES_MASKS) got = (unsigned)res[img * HV_RESULT_WORDS + wi];
      bad += got != v;
    }
    ++img;
  }
  std::printf("heatvit_host: %d images, %d mismatching values: %s\n", img, bad, bad ? "FAIL" : "PASS");
  return bad ? 1 : 0;
#endif
}
