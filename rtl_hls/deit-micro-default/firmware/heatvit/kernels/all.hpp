// Every integer kernel of the deit-micro numerics (docs/integer-numerics.md).
#pragma once

#include "heatvit/kernels/arith.hpp"
#include "heatvit/kernels/attention.hpp"
#include "heatvit/kernels/elementwise.hpp"
#include "heatvit/kernels/gemm.hpp"
#include "heatvit/kernels/hls.hpp"
#include "heatvit/kernels/layernorm.hpp"
#include "heatvit/kernels/nonlinear.hpp"
#include "heatvit/kernels/selector.hpp"
