// The layer program: one descriptor per pass of the plan the simulator times
// (sim::make_plan), in execution order. parameters.h holds the program of this design
// as constants; the controller in heatvit_top.cpp walks it once per image.
//
// Offsets are element indices into the DDR arrays of the top function: `wmem` (int8
// weights, pre-tiled in the order the pass reads them), `cmem` (32-bit constants),
// `act8` (int8 activations) and `act16` (int16 activations).
#pragma once

enum HvOp {
  HV_OP_LINEAR = 0,      // GEMM with weights from DDR, fused load and store processing
  HV_OP_ATTENTION = 1,   // Q K^T -> softmax -> A V per head group, scores on chip
  HV_OP_DECISION = 2,    // selector: head-weighted score and keep decision
  HV_OP_COMPACTION = 3,  // selector: kept rows (and CLS) to the next residual region
  HV_OP_PACKAGE = 4      // selector: pruned rows into the package token
};

enum HvRows {          // how many rows a pass processes (tokens are known only at run time)
  HV_M_TOKENS = 0,     // every token of the block: CLS + patch tokens + package token
  HV_M_PATCHES = 1,    // the patch tokens reaching the selector
  HV_M_FIXED = 2       // `m_fixed` rows (patch embedding, classifier)
};

enum HvLoad {          // what the load path does with the A operand
  HV_LD_A8 = 0,        // int8 rows of act8
  HV_LD_LN16 = 1,      // int16 rows of act16 through the LayerNorm unit (whole rows)
  HV_LD_PATCH = 2,     // image pixels, patch by patch (im2col)
  HV_LD_HEADMEAN = 3   // per-head channel means of int16 rows of act16
};

enum HvOut {           // where the store path writes
  HV_OUT_A8 = 0,       // int8 to act8
  HV_OUT_A16 = 1,      // int16 to act16
  HV_OUT_ADD16 = 2,    // residual add: act16 = saturate16(residual + result)
  HV_OUT_LOGITS = 3    // 32-bit accumulators to the result record
};

enum HvPost {          // store-path units (bit flags)
  HV_POST_GELU = 1,    // GELU to int8 (fraction bits per head in cmem[gelu_off + h])
  HV_POST_MEAN = 2,    // token mean of the upper half of each head's columns
  HV_POST_SIGMOID = 4  // sigmoid (Q12) of the int16 result
};

struct HvPass {
  int op, block, rows, m_fixed;
  int load, a_off, a_stride, a_row0, a_bcol;  // A operand: base, row stride, first row, column step per head
  int batch, n, k;                            // heads (1: a plain linear layer), per-head N and K
  int tm, tn, tk, n_outer;                    // tiling from the plan (loop order n -> m -> k when n_outer)
  int w_off, b_off, ln_off, gelu_off;         // weights (wmem), bias+shift, LayerNorm, GELU fractions (cmem)
  int out, out_bits, post, res_off;           // store path; res_off: residual in cmem (-1: the output itself)
  int d_off, d_stride, d_row0, d_bcol;        // output: base, row stride, first row, column step per head
  int p0, p1, p2;                             // op-specific (see heatvit_top.cpp)
};
