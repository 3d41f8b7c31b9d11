// HLS support for the integer kernels: pragmas that only the HLS compiler sees.
//
// The kernels are plain C++ that g++ compiles for bit-accurate simulation and that
// Vitis HLS synthesises (it defines __SYNTHESIS__). `#pragma HLS ...` lines would make
// g++ warn (-Wunknown-pragmas), so they are written through HEATVIT_HLS(...), which
// expands to `_Pragma("HLS ...")` under synthesis and to nothing otherwise:
//
//   row_loop: for (int i = 0; i < rows; ++i) {
//     HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=MAX_ROWS)
//     HEATVIT_HLS(PIPELINE II=1)
//
// Loop labels name the loops in HLS reports; g++ would flag them as unused labels, so
// every kernel header wraps its body in HEATVIT_KERNELS_BEGIN / HEATVIT_KERNELS_END.
// Pragma arguments may name template parameters (max=MAX_T), as hls4ml's kernels do
// with their config constants.
#pragma once

#define HEATVIT_PRAGMA_STR_(x) _Pragma(#x)
#if defined(__SYNTHESIS__)
#define HEATVIT_HLS(directive) HEATVIT_PRAGMA_STR_(HLS directive)
#else
#define HEATVIT_HLS(directive)
#endif

#if defined(__GNUC__)  // g++, and the clang front end of Vitis HLS
#define HEATVIT_KERNELS_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wunused-label\"")
#define HEATVIT_KERNELS_END _Pragma("GCC diagnostic pop")
#else
#define HEATVIT_KERNELS_BEGIN
#define HEATVIT_KERNELS_END
#endif
