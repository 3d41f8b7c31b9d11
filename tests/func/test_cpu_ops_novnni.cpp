// test_cpu_ops.cpp compiled without AVX-512 VNNI (tests/func/CMakeLists.txt): the CPU
// path's VPMADDWD + VPADDD multiply-add, which AVX-512 CPUs without VNNI run.
#include "test_cpu_ops.cpp"  // NOLINT(bugprone-suspicious-include)
