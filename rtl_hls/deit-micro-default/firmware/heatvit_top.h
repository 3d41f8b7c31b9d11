// The accelerator's top function: a layer-programmable engine that runs the layer
// program of parameters.h over a batch of images. All data lives in DDR behind m_axi
// ports; the control registers (the base addresses and the image count) behind one
// s_axilite port.
#pragma once

#include "defines.h"
#include "heatvit_types.h"

/// Runs `n_images` images (IMG_PIXELS pixels each, channel-major) through the model.
///   wmem:    int8 weight image (HV_W_ELEMS), pre-tiled by the generator
///   cmem:    32-bit constants (HV_C_WORDS): biases, shifts, LayerNorm, thresholds
///   images:  n_images x HV_IMG_PIXELS uint8 pixels
///   act8:    int8 activation scratch (HV_A8_ELEMS)
///   act16:   int16 activation scratch (HV_A16_ELEMS)
///   results: n_images x HV_RESULT_WORDS words: logits, prediction, tokens per block,
///            then the keep mask of each selector (HV_MASK_WORDS words, bit p = patch p)
void heatvit_top(const hv_w8_t* wmem, const hv_c32_t* cmem, const hv_px_t* images, hv_a8_t* act8,
                 hv_a16_t* act16, hv_r32_t* results, int n_images);

#ifndef __SYNTHESIS__
/// C simulation only: compute cycles of each pass of the last image, counted from the
/// loop nests the engine executes (trip count x II of every pipelined loop, plus the
/// pipeline depth of the units the plan charges it to).
extern long long hv_pass_cycles[HV_PASSES];
#endif
