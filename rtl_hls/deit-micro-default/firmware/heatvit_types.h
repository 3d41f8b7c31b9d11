// Storage types of the accelerator's memories and buffers, behind one switch.
//
// C simulation (g++, this project's tests) uses <cstdint> integers. For synthesis,
// define HEATVIT_USE_AP_INT (hls_config.cfg and run_hls.tcl do) to get the exact
// widths of Xilinx's arbitrary-precision types; the values, and so the results, are
// the same: every kernel computes on 32/64-bit integers and stores back in range.
#pragma once

#include <cstdint>

#if defined(HEATVIT_USE_AP_INT)
#include "ap_int.h"
typedef ap_int<8> hv_w8_t;    // weights in DDR and in the weight buffer
typedef ap_int<8> hv_a8_t;    // int8 activations in DDR
typedef ap_int<16> hv_a16_t;  // int16 activations in DDR (residual stream, log-odds)
typedef ap_int<9> hv_ain_t;   // A operand in the input buffer: int8 activations or uint8 pixels
typedef ap_uint<8> hv_px_t;   // input pixels
typedef ap_int<32> hv_c32_t;  // constants (biases, shifts, LayerNorm parameters, thresholds)
typedef ap_int<32> hv_r32_t;  // result words
#else
typedef std::int8_t hv_w8_t;
typedef std::int8_t hv_a8_t;
typedef std::int16_t hv_a16_t;
typedef std::int16_t hv_ain_t;
typedef std::uint8_t hv_px_t;
typedef std::int32_t hv_c32_t;
typedef std::int32_t hv_r32_t;
#endif
