// The layer-programmable engine: a controller that walks the layer program
// (parameters.h, one descriptor per pass of the simulator's plan) and the units it
// drives: the Th x Ti x To GEMM array with its double-buffered input, weight and
// output buffers; the LayerNorm unit on the load path; GELU, sigmoid, residual add and
// token mean on the store path; the head-parallel attention engine with its softmax
// unit; and the token selector's control logic (decision, compaction, package token).
//
// Every value comes from the integer kernels (kernels/, copied here unchanged): the
// engine only moves data and accumulates exact integer products, so its results equal
// the functional model's bit for bit.
//
// Loop trip counts follow the plan's cost model (docs/hls.md): one iteration of a
// pipelined PE loop is one cycle of the array (Th x To x Ti MACs, unrolled).
#include "heatvit_top.h"

#include "heatvit/kernels/all.hpp"
#include "parameters.h"

namespace hk = heatvit::kernels;
typedef hk::i64 i64;
typedef hk::i32 i32;

#ifndef __SYNTHESIS__
long long hv_pass_cycles[HV_PASSES];
static int hv_current_pass = 0;
#define HV_COUNT(x) (hv_pass_cycles[hv_current_pass] += (long long)(x))
#else
#define HV_COUNT(x)
#endif

#define HV_CDIV(a, b) (((a) + (b)-1) / (b))

HEATVIT_KERNELS_BEGIN

// ------------------------------------------------------------------ on-chip memories
// Buffer halves at the configured sizes (defines.h); [2] is the double buffer.
static hv_ain_t in_buf[2][HV_IN_BUF_ELEMS];    // A operand tiles
static hv_w8_t w_buf[2][HV_W_BUF_ELEMS];       // weight tiles; K and V of a head group
static i32 out_buf[2][HV_OUT_BUF_WORDS];       // accumulator tiles
static i32 att_buf[2][HV_ATT_BUF_WORDS];       // one score row and its probabilities per head

// Per-pass parameter RAMs of the store and load units.
static i32 bias_ram[HV_MAX_BN];
static i32 shift_ram[HV_MAX_BN];
static i32 ln_g_ram[HV_D];
static i32 ln_b_ram[HV_D];
static i32 ln_s_ram[HV_HEADS];
static i32 gelu_ram[HV_HEADS];
static i64 mean_ram[HV_D];  // token-mean column sums

// Token-selector state of the image in flight.
struct HvTokens {
  int n;          // patch tokens (rows 1..n of the residual stream)
  int alive;      // package token present (row n + 1)
  i64 wsum;       // package accumulator weight
  int kept;       // patch tokens kept by the last decision
  int pruned;     // patch tokens pruned by the last decision
  short index[HV_PATCHES];          // absolute patch index of row 1 + i
  unsigned char keep[HV_PATCHES];   // keep flags of the last decision
};
static HvTokens tok;

static int pass_rows(const HvPass& p) {
  if (p.rows == HV_M_TOKENS) return 1 + tok.n + tok.alive;
  if (p.rows == HV_M_PATCHES) return tok.n;
  return p.m_fixed;
}

static void ln_row(const i32 x[HV_D], int k, const i32* g, const i32* b, int shift, hv_ain_t out[HV_D]) {
  if (k == HV_D)
    hk::layernorm_row<HV_D>(x, g, b, shift, out);
  else
    hk::layernorm_row<HV_HD>(x, g, b, shift, out);
}

// ------------------------------------------------------------------ load path
// One A-operand row of `cols` elements starting at column `c0` into dst.
static void load_a_row(const HvPass& p, const hv_px_t* img, const hv_a8_t* act8, const hv_a16_t* act16,
                       int row, int h, int c0, int cols, hv_ain_t* dst) {
  if (p.load == HV_LD_A8) {
    const int base = p.a_off + (p.a_row0 + row) * p.a_stride + h * p.a_bcol + c0;
  ld_a8:
    for (int c = 0; c < cols; ++c) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_K)
      HEATVIT_HLS(PIPELINE II=1)
      dst[c] = act8[base + c];
    }
  } else if (p.load == HV_LD_LN16) {
    // Whole rows (the plan sets tk = K): LayerNorm over this head's k channels.
    i32 x[HV_D];
    const int base = p.a_off + (p.a_row0 + row) * p.a_stride + h * p.a_bcol;
  ld_ln:
    for (int c = 0; c < p.k; ++c) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_D)
      HEATVIT_HLS(PIPELINE II=1)
      x[c] = act16[base + c];
    }
    ln_row(x, p.k, &ln_g_ram[h * p.k], &ln_b_ram[h * p.k], ln_s_ram[h], dst);
  } else if (p.load == HV_LD_PATCH) {
    // Patch `row` in im2col order (channel, patch row, patch column).
    const int pr = row / HV_GRID, pc = row % HV_GRID;
  ld_patch:
    for (int c = 0; c < cols; ++c) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_PATCH_ELEMS)
      HEATVIT_HLS(PIPELINE II=1)
      const int e = c0 + c;
      const int ch = e / (HV_PATCH * HV_PATCH), r = (e / HV_PATCH) % HV_PATCH, q = e % HV_PATCH;
      dst[c] = img[(ch * HV_IMG + pr * HV_PATCH + r) * HV_IMG + pc * HV_PATCH + q];
    }
  } else {  // HV_LD_HEADMEAN: per-head means of the residual row (head-importance input)
    i32 x[1][HV_D];
    i32 m[1][HV_HEADS];
    const int base = p.a_off + (p.a_row0 + row) * p.a_stride;
  ld_hm:
    for (int c = 0; c < HV_D; ++c) {
      HEATVIT_HLS(PIPELINE II=1)
      x[0][c] = act16[base + c];
    }
    hk::head_means<1, HV_D, HV_HD>(x, 0, 1, p.p0, m);
  ld_hm_out:
    for (int c = 0; c < cols; ++c) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HEADS)
      dst[c] = hv_ain_t(m[0][c0 + c]);
    }
  }
}

// ------------------------------------------------------------------ store path
// Bias, requantisation and the fused store-path units for one output element.
static void store_elem(const HvPass& p, const hv_c32_t* cmem, hv_a8_t* act8, hv_a16_t* act16, hv_r32_t* res,
                       int row, int h, int col, i32 acc) {
  const int bi = h * p.n + col;
  const i64 v = i64(acc) + i64(bias_ram[bi]);
  const int s = shift_ram[bi];
  const int dst = p.d_off + (p.d_row0 + row) * p.d_stride + h * p.d_bcol + col;
  if (p.out == HV_OUT_LOGITS) {
    res[col] = hv_r32_t(hk::requant<0>(v, 0));
    return;
  }
  i64 y = p.out_bits == 8 ? hk::requant<8>(v, s) : hk::requant<16>(v, s);
  if (p.post & HV_POST_GELU) y = hk::gelu_to_int8(i32(y), gelu_ram[h]);
  if (p.post & HV_POST_SIGMOID) y = hk::sigmoid_q8(y);
  if (p.post & HV_POST_MEAN) {
    if (col >= p.n / 2) mean_ram[h * p.n + col] += y;
  }
  if (p.out == HV_OUT_A8) {
    act8[dst] = hv_a8_t(y);
  } else if (p.out == HV_OUT_A16) {
    act16[dst] = hv_a16_t(y);
  } else {  // HV_OUT_ADD16
    const i64 r = p.res_off < 0 ? i64(act16[dst]) : i64(cmem[p.res_off + (p.d_row0 + row) * p.d_stride + col]);
    act16[dst] = hv_a16_t(hk::saturate<16>(r + y));
  }
}

// ------------------------------------------------------------------ GEMM array
// The PE array: Th x To x Ti multipliers computing acc[i][o] += sum_q a[i][q] b[i][o][q]
// in one cycle. a is shared by the To outputs of a lane (so two int8 MACs can share a
// DSP48E2); b is per lane for the head-parallel modes. One instance serves every pass
// (ALLOCATION in heatvit_top): the linear layers, the per-head selector layers, Q K^T
// and A V.
typedef i32 hv_pe_a_t[HV_TH][HV_TI];
typedef i32 hv_pe_b_t[HV_TH][HV_TO][HV_TI];
typedef i32 hv_pe_acc_t[HV_TH][HV_TO];

static void pe_array(const hv_pe_a_t a, const hv_pe_b_t b, hv_pe_acc_t acc) {
  HEATVIT_HLS(INLINE off)
pe_th:
  for (int i = 0; i < HV_TH; ++i) {
  pe_to:
    for (int o = 0; o < HV_TO; ++o) {
      i32 s = 0;
    pe_ti:
      for (int q = 0; q < HV_TI; ++q) s += a[i][q] * b[i][o][q];
      acc[i][o] += s;
    }
  }
}

// acc[r][c] (+)= sum_k a[r][k] w[c][k] over one tile: ceil(tm/Th) x ceil(tn/To) x
// ceil(tk/Ti) iterations of the pipelined loop (one array cycle each). The Th x To
// partial sums of an output block stay in the array's registers over the k loop; the
// output buffer is read before it (later k tiles) and written after it.
static void pe_tile(const hv_ain_t* a, const hv_w8_t* w, i32* acc, int tm, int tn, int tk, int lda, int ldw,
                    int ldc, bool first) {
pt_rows:
  for (int r0 = 0; r0 < tm; r0 += HV_TH) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_IN_BUF_ELEMS/HV_TH)
  pt_cols:
    for (int c0 = 0; c0 < tn; c0 += HV_TO) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_W_BUF_ELEMS/HV_TO)
      hv_pe_acc_t reg;
      HEATVIT_HLS(ARRAY_PARTITION variable=reg complete dim=0)
    pt_load:
      for (int i = 0; i < HV_TH; ++i)
        for (int o = 0; o < HV_TO; ++o) {
          const int r = r0 + i, c = c0 + o;
          reg[i][o] = (!first && r < tm && c < tn) ? acc[r * ldc + c] : 0;
        }
    pt_k:
      for (int k0 = 0; k0 < tk; k0 += HV_TI) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_K/HV_TI)
        HEATVIT_HLS(PIPELINE II=1)
        HV_COUNT(1);
        hv_pe_a_t av;
        hv_pe_b_t bv;
      pt_gather:
        for (int i = 0; i < HV_TH; ++i)
          for (int q = 0; q < HV_TI; ++q) {
            const int r = r0 + i, kk = k0 + q;
            av[i][q] = (r < tm && kk < tk) ? i32(a[r * lda + kk]) : 0;
            for (int o = 0; o < HV_TO; ++o) {
              const int c = c0 + o;
              bv[i][o][q] = (c < tn && kk < tk) ? i32(w[c * ldw + kk]) : 0;
            }
          }
        pe_array(av, bv, reg);
      }
    pt_store:
      for (int i = 0; i < HV_TH; ++i)
        for (int o = 0; o < HV_TO; ++o) {
          const int r = r0 + i, c = c0 + o;
          if (r < tm && c < tn) acc[r * ldc + c] = reg[i][o];
        }
    }
  }
}

// Head-parallel variant: Th heads on the array's lanes, each with its own weights:
// rows x ceil(n/To) x ceil(k/Ti) iterations (tm: the rows of a head in the buffers).
static void pe_tile_heads(const hv_ain_t* a, const hv_w8_t* w, i32* acc, int hg, int rows, int tm, int n, int k) {
peh_rows:
  for (int r = 0; r < rows; ++r) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_PATCHES)
  peh_cols:
    for (int c0 = 0; c0 < n; c0 += HV_TO) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HD/HV_TO+1)
      hv_pe_acc_t reg;
      HEATVIT_HLS(ARRAY_PARTITION variable=reg complete dim=0)
    peh_clear:
      for (int hh = 0; hh < HV_TH; ++hh)
        for (int o = 0; o < HV_TO; ++o) reg[hh][o] = 0;
    peh_k:
      for (int k0 = 0; k0 < k; k0 += HV_TI) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HD/HV_TI+1)
        HEATVIT_HLS(PIPELINE II=1)
        HV_COUNT(1);
        hv_pe_a_t av;
        hv_pe_b_t bv;
      peh_gather:
        for (int hh = 0; hh < HV_TH; ++hh)
          for (int q = 0; q < HV_TI; ++q) {
            const int kk = k0 + q;
            const bool on = hh < hg && kk < k;
            av[hh][q] = on ? i32(a[(hh * tm + r) * k + kk]) : 0;
            for (int o = 0; o < HV_TO; ++o) {
              const int c = c0 + o;
              bv[hh][o][q] = (on && c < n) ? i32(w[(hh * n + c) * k + kk]) : 0;
            }
          }
        pe_array(av, bv, reg);
      }
    peh_store:
      for (int hh = 0; hh < HV_TH; ++hh)
        for (int o = 0; o < HV_TO; ++o) {
          const int c = c0 + o;
          if (hh < hg && c < n) acc[(hh * tm + r) * n + c] = reg[hh][o];
        }
    }
  }
}

// ------------------------------------------------------------------ passes
static void load_pass_params(const HvPass& p, const hv_c32_t* cmem) {
  const int bn = p.batch * p.n;
ld_bias:
  for (int i = 0; i < bn; ++i) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_BN)
    HEATVIT_HLS(PIPELINE II=1)
    bias_ram[i] = cmem[p.b_off + i];
    shift_ram[i] = cmem[p.b_off + bn + i];
  }
  if (p.load == HV_LD_LN16) {
    const int bk = p.batch * p.k;
  ld_lnp:
    for (int i = 0; i < bk; ++i) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_D)
      HEATVIT_HLS(PIPELINE II=1)
      ln_g_ram[i] = cmem[p.ln_off + i];
      ln_b_ram[i] = cmem[p.ln_off + bk + i];
    }
  ld_lns:
    for (int h = 0; h < p.batch; ++h) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HEADS)
      ln_s_ram[h] = cmem[p.ln_off + 2 * bk + h];
    }
  }
ld_gelu:
  for (int h = 0; h < p.batch; ++h) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HEADS)
    gelu_ram[h] = (p.post & HV_POST_GELU) ? i32(cmem[p.gelu_off + h]) : 0;
  }
ld_mean:
  for (int c = 0; c < HV_D; ++c) {
    HEATVIT_HLS(UNROLL)
    mean_ram[c] = 0;
  }
}

// Token mean on the store path: the upper half of each head's columns becomes the
// column mean over the m rows (kernels::global_token_mean's definition).
static void mean_broadcast(const HvPass& p, hv_a8_t* act8, int m) {
mb_rows:
  for (int r = 0; r < m; ++r) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=HV_PATCHES)
  mb_heads:
    for (int h = 0; h < p.batch; ++h) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HEADS)
    mb_cols:
      for (int c = p.n / 2; c < p.n; ++c) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HD/2)
        HEATVIT_HLS(PIPELINE II=1)
        act8[p.d_off + (p.d_row0 + r) * p.d_stride + h * p.d_bcol + c] = hv_a8_t(hk::div_trunc(mean_ram[h * p.n + c], m));
      }
    }
  }
}

static void linear_pass(const HvPass& p, const hv_w8_t* wmem, const hv_c32_t* cmem, const hv_px_t* img,
                        hv_a8_t* act8, hv_a16_t* act16, hv_r32_t* res) {
  const int m = pass_rows(p);
  if (m == 0) return;
  load_pass_params(p, cmem);
  int buf = 0;
  if (p.batch > 1) {
    // Per-head GEMMs: heads in groups of Th, rows in tiles of tm, each head's whole
    // weight matrix on chip for the group.
  lh_groups:
    for (int g = 0; g < p.batch; g += HV_TH) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HEADS)
      const int hg = p.batch - g < HV_TH ? p.batch - g : HV_TH;
    lh_w:
      for (int i = 0; i < hg * p.n * p.k; ++i) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_W_BUF_ELEMS)
        HEATVIT_HLS(PIPELINE II=1)
        w_buf[0][i] = wmem[p.w_off + g * p.n * p.k + i];
      }
    lh_tiles:
      for (int m0 = 0; m0 < m; m0 += p.tm) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_PATCHES)
        const int tmm = m - m0 < p.tm ? m - m0 : p.tm;
      lh_load:
        for (int hh = 0; hh < hg; ++hh) {
          HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_TH)
        lh_load_rows:
          for (int r = 0; r < tmm; ++r) {
            HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_PATCHES)
            load_a_row(p, img, act8, act16, m0 + r, g + hh, 0, p.k, &in_buf[buf][(hh * p.tm + r) * p.k]);
          }
        }
        pe_tile_heads(in_buf[buf], w_buf[0], out_buf[buf], hg, tmm, p.tm, p.n, p.k);
      lh_store:
        for (int hh = 0; hh < hg; ++hh) {
          HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_TH)
        lh_store_rows:
          for (int r = 0; r < tmm; ++r) {
            HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_PATCHES)
          lh_store_cols:
            for (int c = 0; c < p.n; ++c) {
              HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HD)
              HEATVIT_HLS(PIPELINE II=1)
              HEATVIT_HLS(UNROLL factor=HV_STORE_LANES)
              store_elem(p, cmem, act8, act16, res, m0 + r, g + hh, c, out_buf[buf][(hh * p.tm + r) * p.n + c]);
            }
          }
        }
        buf ^= 1;
      }
    }
  } else {
    // Tiled GEMM in the plan's loop order; a tile is reloaded only when its index
    // changes (as the plan's steps count the DDR traffic).
    const int nm = HV_CDIV(m, p.tm), nn = HV_CDIV(p.n, p.tn), nk = HV_CDIV(p.k, p.tk);
    const int outer = p.n_outer ? nn : nm, inner = p.n_outer ? nm : nn;
    int last_a = -1, last_w = -1, abuf = 0, wb = 0;
  l_outer:
    for (int o = 0; o < outer; ++o) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_TILES)
    l_inner:
      for (int i = 0; i < inner; ++i) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_TILES)
      l_k:
        for (int ki = 0; ki < nk; ++ki) {
          HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_TILES)
          const int mi = p.n_outer ? i : o, ni = p.n_outer ? o : i;
          const int m0 = mi * p.tm, n0 = ni * p.tn, k0 = ki * p.tk;
          const int tmm = m - m0 < p.tm ? m - m0 : p.tm;
          const int tnn = p.n - n0 < p.tn ? p.n - n0 : p.tn;
          const int tkk = p.k - k0 < p.tk ? p.k - k0 : p.tk;
          const int a_id = mi * nk + ki, w_id = ki * nn + ni;
          if (a_id != last_a) {
            abuf ^= 1;
          l_load_a:
            for (int r = 0; r < tmm; ++r) {
              HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_IN_BUF_ELEMS)
              load_a_row(p, img, act8, act16, m0 + r, 0, k0, tkk, &in_buf[abuf][r * p.tk]);
            }
            last_a = a_id;
          }
          if (w_id != last_w) {
            wb ^= 1;
            // Tile (ni, ki) is stored contiguously: tnn rows of tkk weights.
            const int base = p.w_off + n0 * p.k + k0 * tnn;
          l_load_w:
            for (int c = 0; c < tnn; ++c) {
              HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_W_BUF_ELEMS)
            l_load_w_k:
              for (int kk = 0; kk < tkk; ++kk) {
                HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_K)
                HEATVIT_HLS(PIPELINE II=1)
                w_buf[wb][c * p.tk + kk] = wmem[base + c * tkk + kk];
              }
            }
            last_w = w_id;
          }
          pe_tile(in_buf[abuf], w_buf[wb], out_buf[buf], tmm, tnn, tkk, p.tk, p.tk, p.tn, ki == 0);
          if (ki == nk - 1) {
          l_store:
            for (int r = 0; r < tmm; ++r) {
              HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_OUT_BUF_WORDS)
            l_store_c:
              for (int c = 0; c < tnn; ++c) {
                HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_OUT_BUF_WORDS)
                HEATVIT_HLS(PIPELINE II=1)
                HEATVIT_HLS(UNROLL factor=HV_STORE_LANES)
                store_elem(p, cmem, act8, act16, res, m0 + r, 0, n0 + c, out_buf[buf][r * p.tn + c]);
              }
            }
            buf ^= 1;
          }
        }
      }
    }
  }
  if (p.post & HV_POST_MEAN) mean_broadcast(p, act8, m);
}

// Fused attention: per head group, K and V of every token in the weight buffer; per
// query row, Q K^T on the PE array (head lanes), softmax on the softmax unit, A V on
// the PE array. Rows are pipelined (Q K^T of row r+1 and A V of row r-1 overlap the
// softmax of row r), so a row costs the slower stage; the last softmax row drains.
static void attention_pass(const HvPass& p, hv_a8_t* act8) {
  const int t = pass_rows(p);
  const int D3 = p.a_stride;
  hv_w8_t* kb = w_buf[0];
  hv_w8_t* vb = w_buf[1];
  // Query rows per tile: the plan's rule at the image's token count (the largest halving
  // of t whose scores of Th heads fit the attention buffer and whose queries fit the
  // input buffer); p.tm is the tile of the largest count.
  int tm = t;
at_tile:
  for (int it = 0; it < 16; ++it)
    if (tm > 1 && (HV_TH * tm * t * HV_ACC_BYTES > HV_ATT_BUF_WORDS * 4 || HV_TH * tm * HV_HD > HV_IN_BUF_ELEMS)) tm = (tm + 1) / 2;
at_groups:
  for (int g = 0; g < p.batch; g += HV_TH) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HEADS)
    const int hg = p.batch - g < HV_TH ? p.batch - g : HV_TH;
  at_kv:
    for (int hh = 0; hh < hg; ++hh) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_TH)
    at_kv_rows:
      for (int j = 0; j < t; ++j) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_T)
      at_kv_cols:
        for (int c = 0; c < HV_HD; ++c) {
          HEATVIT_HLS(PIPELINE II=1)
          const int src = p.a_off + j * D3 + (g + hh) * HV_HD + c;
          kb[(hh * HV_MAX_T + j) * HV_HD + c] = act8[src + HV_D];
          vb[(hh * HV_MAX_T + j) * HV_HD + c] = act8[src + 2 * HV_D];
        }
      }
    }
  at_tiles:
    for (int m0 = 0; m0 < t; m0 += tm) {
      HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_T)
      const int tmm = t - m0 < tm ? t - m0 : tm;
      // softmax unit: each of its three loops runs over the group's rows flattened,
      // ceil(hg t / lanes) iterations (kernels::softmax_rows)
      const int sm_stage = HV_CDIV(hg * t, HV_SM_LANES);
    at_rows:
      for (int r = 0; r < tmm; ++r) {
        HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_T)
        const int i = m0 + r;
        hv_ain_t* q = in_buf[0];
      at_q:
        for (int hh = 0; hh < hg; ++hh) {
          HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_TH)
        at_q_cols:
          for (int c = 0; c < HV_HD; ++c) {
            HEATVIT_HLS(PIPELINE II=1)
            q[hh * HV_HD + c] = act8[p.a_off + i * D3 + (g + hh) * HV_HD + c];
          }
        }
        i32* s = att_buf[0];
        i32* pr = att_buf[1];
        long long pe_row = 0;
        hv_pe_a_t av;
        hv_pe_b_t bv;
        hv_pe_acc_t reg;
        HEATVIT_HLS(ARRAY_PARTITION variable=reg complete dim=0)
      at_qk_cols:
        for (int j0 = 0; j0 < t; j0 += HV_TO) {
          HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_T/HV_TO+1)
        at_qk_clear:
          for (int hh = 0; hh < HV_TH; ++hh)
            for (int o = 0; o < HV_TO; ++o) reg[hh][o] = 0;
        at_qk_k:
          for (int d0 = 0; d0 < HV_HD; d0 += HV_TI) {
            HEATVIT_HLS(PIPELINE II=1)
            ++pe_row;
          at_qk_gather:
            for (int hh = 0; hh < HV_TH; ++hh)
              for (int e = 0; e < HV_TI; ++e) {
                const int d = d0 + e;
                const bool on = hh < hg && d < HV_HD;
                av[hh][e] = on ? i32(q[hh * HV_HD + d]) : 0;
                for (int o = 0; o < HV_TO; ++o) {
                  const int j = j0 + o;
                  bv[hh][o][e] = (on && j < t) ? i32(kb[(hh * HV_MAX_T + j) * HV_HD + d]) : 0;
                }
              }
            pe_array(av, bv, reg);
          }
        at_qk_store:
          for (int hh = 0; hh < HV_TH; ++hh)
            for (int o = 0; o < HV_TO; ++o)
              if (hh < hg && j0 + o < t) s[hh * HV_MAX_T + j0 + o] = reg[hh][o];
        }
        hk::softmax_rows<HV_MAX_T, HV_TH, HV_SM_LANES>(s, hg, t, p.p0, pr);
        i32 acc[HV_TH][HV_HD];
      at_av_cols:
        for (int c0 = 0; c0 < HV_HD; c0 += HV_TO) {
          HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_HD/HV_TO+1)
        at_av_clear:
          for (int hh = 0; hh < HV_TH; ++hh)
            for (int o = 0; o < HV_TO; ++o) reg[hh][o] = 0;
        at_av_k:
          for (int j0 = 0; j0 < t; j0 += HV_TI) {
            HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_MAX_T/HV_TI+1)
            HEATVIT_HLS(PIPELINE II=1)
            ++pe_row;
          at_av_gather:
            for (int hh = 0; hh < HV_TH; ++hh)
              for (int e = 0; e < HV_TI; ++e) {
                const int j = j0 + e;
                const bool on = hh < hg && j < t;
                av[hh][e] = on ? pr[hh * HV_MAX_T + j] : 0;
                for (int o = 0; o < HV_TO; ++o) {
                  const int c = c0 + o;
                  bv[hh][o][e] = (on && c < HV_HD) ? i32(vb[(hh * HV_MAX_T + j) * HV_HD + c]) : 0;
                }
              }
            pe_array(av, bv, reg);
          }
        at_av_store:
          for (int hh = 0; hh < HV_TH; ++hh)
            for (int o = 0; o < HV_TO; ++o)
              if (hh < hg && c0 + o < HV_HD) acc[hh][c0 + o] = reg[hh][o];
        }
      at_out:
        for (int hh = 0; hh < hg; ++hh) {
          HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=HV_TH)
        at_out_cols:
          for (int c = 0; c < HV_HD; ++c) {
            HEATVIT_HLS(PIPELINE II=1)
            act8[p.d_off + i * p.d_stride + (g + hh) * HV_HD + c] = hv_a8_t(hk::requant<8>(acc[hh][c], p.p1));
          }
        }
        HV_COUNT(pe_row > sm_stage ? pe_row : (long long)sm_stage);
        (void)pe_row;
      }
      HV_COUNT(sm_stage + HV_SM_LATENCY);
      (void)sm_stage;
    }
  }
}

// Selector decision: score = head-weighted mean of the keep log-odds (sigmoid head
// weights), keep iff score > threshold; decision_lanes tokens per cycle.
static void decision_pass(const HvPass& p, const hv_c32_t* cmem, hv_a16_t* act16) {
  const int n = tok.n;
  const i32 thr = cmem[p.p1];
  int kept = 0;
dc_tokens:
  for (int i0 = 0; i0 < n; i0 += HV_DECISION_LANES) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=HV_PATCHES/HV_DECISION_LANES+1)
    HEATVIT_HLS(PIPELINE II=1)
    HV_COUNT(1);
  dc_lanes:
    for (int l = 0; l < HV_DECISION_LANES; ++l) {
      const int i = i0 + l;
      if (i >= n) continue;
      i64 w[HV_HEADS], d[HV_HEADS];
    dc_heads:
      for (int h = 0; h < HV_HEADS; ++h) {
        w[h] = act16[p.p0 + i * HV_HEADS + h];
        d[h] = act16[p.a_off + i * HV_HEADS + h];
      }
      const i64 score = hk::head_weighted_score<HV_HEADS>(w, d);
      act16[p.d_off + i] = hv_a16_t(score);
      tok.keep[i] = score > i64(thr) ? 1 : 0;
      kept += tok.keep[i];
    }
  }
  if (n > 0) HV_COUNT(HV_DECISION_DEPTH);
  tok.kept = kept;
  tok.pruned = n - kept;
}

// Compaction: the prefix sum over the keep flags (compaction_lanes tokens per cycle)
// gives each kept row its new place; the DMA moves CLS and the kept rows to the next
// residual region in order, and the patch indices follow.
static void compaction_pass(const HvPass& p, hv_a16_t* act16, hv_r32_t* res) {
  const int n = tok.n;
  short pos[HV_PATCHES];
  int w = 0;
cp_prefix:
  for (int i0 = 0; i0 < n; i0 += HV_COMPACTION_LANES) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=HV_PATCHES/HV_COMPACTION_LANES+1)
    HEATVIT_HLS(PIPELINE II=1)
    HV_COUNT(1);
  cp_lanes:
    for (int l = 0; l < HV_COMPACTION_LANES; ++l) {
      const int i = i0 + l;
      if (i >= n) continue;
      pos[i] = short(tok.keep[i] ? w : -1);
      w += tok.keep[i];
    }
  }
  if (n > 0) HV_COUNT(1);
cp_cls:
  for (int c = 0; c < HV_D; ++c) {
    HEATVIT_HLS(PIPELINE II=1)
    act16[p.d_off + c] = act16[p.a_off + c];
  }
  unsigned mask[HV_MASK_WORDS];
cp_mask_init:
  for (int j = 0; j < HV_MASK_WORDS; ++j) mask[j] = 0;
cp_rows:
  for (int i = 0; i < n; ++i) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=HV_PATCHES)
    if (pos[i] < 0) continue;
  cp_cols:
    for (int c = 0; c < HV_D; ++c) {
      HEATVIT_HLS(PIPELINE II=1)
      act16[p.d_off + (1 + pos[i]) * HV_D + c] = act16[p.a_off + (1 + i) * HV_D + c];
    }
    const int a = tok.index[i];
    mask[a / 32] |= 1u << (a % 32);
    tok.index[pos[i]] = tok.index[i];  // pos[i] <= i: in place, in order
  }
cp_mask:
  for (int j = 0; j < HV_MASK_WORDS; ++j)
    res[HV_RES_MASKS + p.p2 * HV_MASK_WORDS + j] = hv_r32_t(i32(mask[j]));
}

// Package token: the score-weighted running mean of every pruned token, o = sigmoid(S)
// + 1 (Q12): acc = wsum pkg + sum o x, pkg = saturate16(trunc(acc / (wsum + sum o)))
// (kernels::package_accumulate's definition); package_lanes channels per cycle.
// Reads the pruned rows and the old package token from the region the compaction read.
static void package_pass(const HvPass& p, hv_a16_t* act16) {
  const int n = tok.n, kept = tok.kept;
  i64 acc[HV_D];
pk_init:
  for (int c = 0; c < HV_D; ++c) {
    HEATVIT_HLS(UNROLL)
    acc[c] = tok.alive ? tok.wsum * i64(act16[p.a_off + (n + 1) * HV_D + c]) : i64(0);
  }
  i64 w = tok.alive ? tok.wsum : i64(0);
pk_rows:
  for (int i = 0; i < n; ++i) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=0 max=HV_PATCHES)
    if (tok.keep[i]) continue;
    const i64 o = hk::sigmoid_q8(i64(act16[p.p0 + i])) + 1;
    w += o;
  pk_cols:
    for (int c0 = 0; c0 < HV_D; c0 += HV_PACKAGE_LANES) {
      HEATVIT_HLS(PIPELINE II=1)
      HV_COUNT(1);
    pk_lanes:
      for (int l = 0; l < HV_PACKAGE_LANES; ++l) {
        const int c = c0 + l;
        if (c < HV_D) acc[c] += o * i64(act16[p.a_off + (1 + i) * HV_D + c]);
      }
    }
  }
  if (tok.pruned > 0) HV_COUNT(1);
  tok.wsum = w;
  tok.n = kept;
  tok.alive = w > 0 ? 1 : 0;
  if (tok.alive) {
  pk_out:
    for (int c = 0; c < HV_D; ++c) {
      HEATVIT_HLS(PIPELINE II=1)
      act16[p.d_off + (kept + 1) * HV_D + c] = hv_a16_t(hk::saturate<16>(hk::div_trunc(acc[c], w)));
    }
  }
}

// ------------------------------------------------------------------ top
void heatvit_top(const hv_w8_t* wmem, const hv_c32_t* cmem, const hv_px_t* images, hv_a8_t* act8,
                 hv_a16_t* act16, hv_r32_t* results, int n_images) {
  HEATVIT_HLS(INTERFACE m_axi port=wmem offset=slave bundle=HV_BUNDLE_WMEM depth=HV_W_ELEMS max_read_burst_length=HV_AXI_BURST_BEATS num_read_outstanding=HV_AXI_OUTSTANDING max_widen_bitwidth=HV_AXI_WIDTH)
  HEATVIT_HLS(INTERFACE m_axi port=cmem offset=slave bundle=HV_BUNDLE_CMEM depth=HV_C_WORDS max_read_burst_length=HV_AXI_BURST_BEATS num_read_outstanding=HV_AXI_OUTSTANDING max_widen_bitwidth=HV_AXI_WIDTH)
  HEATVIT_HLS(INTERFACE m_axi port=images offset=slave bundle=HV_BUNDLE_IMAGES depth=HV_IMAGES_DEPTH max_read_burst_length=HV_AXI_BURST_BEATS num_read_outstanding=HV_AXI_OUTSTANDING max_widen_bitwidth=HV_AXI_WIDTH)
  HEATVIT_HLS(INTERFACE m_axi port=act8 offset=slave bundle=HV_BUNDLE_ACT8 depth=HV_A8_ELEMS max_read_burst_length=HV_AXI_BURST_BEATS max_write_burst_length=HV_AXI_BURST_BEATS num_read_outstanding=HV_AXI_OUTSTANDING num_write_outstanding=HV_AXI_OUTSTANDING max_widen_bitwidth=HV_AXI_WIDTH)
  HEATVIT_HLS(INTERFACE m_axi port=act16 offset=slave bundle=HV_BUNDLE_ACT16 depth=HV_A16_ELEMS max_read_burst_length=HV_AXI_BURST_BEATS max_write_burst_length=HV_AXI_BURST_BEATS num_read_outstanding=HV_AXI_OUTSTANDING num_write_outstanding=HV_AXI_OUTSTANDING max_widen_bitwidth=HV_AXI_WIDTH)
  HEATVIT_HLS(INTERFACE m_axi port=results offset=slave bundle=HV_BUNDLE_RESULTS depth=HV_RESULTS_DEPTH max_write_burst_length=HV_AXI_BURST_BEATS num_write_outstanding=HV_AXI_OUTSTANDING max_widen_bitwidth=HV_AXI_WIDTH)
  HEATVIT_HLS(INTERFACE s_axilite port=n_images bundle=control)
  HEATVIT_HLS(INTERFACE s_axilite port=return bundle=control)
  HEATVIT_HLS(ARRAY_PARTITION variable=in_buf dim=2 cyclic factor=HV_IN_PARTITION)
  HEATVIT_HLS(ARRAY_PARTITION variable=w_buf dim=2 cyclic factor=HV_W_PARTITION)
  HEATVIT_HLS(ARRAY_PARTITION variable=out_buf dim=2 cyclic factor=HV_OUT_PARTITION)
  HEATVIT_HLS(ARRAY_PARTITION variable=att_buf dim=2 cyclic factor=HV_ATT_PARTITION)
  HEATVIT_HLS(ALLOCATION function instances=pe_array limit=1)
images_loop:
  for (int im = 0; im < n_images; ++im) {
    HEATVIT_HLS(LOOP_TRIPCOUNT min=1 max=1000)
    const hv_px_t* img = images + (long long)im * HV_IMG_PIXELS;
    hv_r32_t* res = results + (long long)im * HV_RESULT_WORDS;
    tok.n = HV_PATCHES;
    tok.alive = 0;
    tok.wsum = 0;
  init_index:
    for (int i = 0; i < HV_PATCHES; ++i) tok.index[i] = short(i);
    // CLS row of the residual stream: the class token plus its position embedding
    // (stored pre-added in cmem), written with the fused position-embedding add.
  init_cls:
    for (int c = 0; c < HV_D; ++c) {
      HEATVIT_HLS(PIPELINE II=1)
      act16[HV_X0_OFF + c] = hv_a16_t(cmem[HV_POS_OFF + c]);
    }
#ifndef __SYNTHESIS__
  clear_cycles:
    for (int i = 0; i < HV_PASSES; ++i) hv_pass_cycles[i] = 0;
#endif
    int last_block = -1;
  program:
    for (int pi = 0; pi < HV_PASSES; ++pi) {
      const HvPass& p = kHvProgram[pi];
#ifndef __SYNTHESIS__
      hv_current_pass = pi;
#endif
      if (p.block != last_block && p.block >= 0 && p.block < HV_DEPTH && p.op == HV_OP_LINEAR &&
          p.rows == HV_M_TOKENS) {
        res[HV_RES_TOKENS + p.block] = hv_r32_t(1 + tok.n + tok.alive);
        last_block = p.block;
      }
      switch (p.op) {
        case HV_OP_LINEAR: linear_pass(p, wmem, cmem, img, act8, act16, res); break;
        case HV_OP_ATTENTION: attention_pass(p, act8); break;
        case HV_OP_DECISION: decision_pass(p, cmem, act16); break;
        case HV_OP_COMPACTION: compaction_pass(p, act16, res); break;
        default: package_pass(p, act16); break;
      }
    }
    // Prediction: the first index of the largest logit.
    i32 logits[HV_CLASSES];
  read_logits:
    for (int c = 0; c < HV_CLASSES; ++c) logits[c] = res[c];
    res[HV_CLASSES] = hv_r32_t(hk::argmax<HV_CLASSES>(logits));
  }
}

HEATVIT_KERNELS_END
