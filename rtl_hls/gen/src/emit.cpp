// The HLS project generator (docs/hls.md).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "heatvit/core/error.hpp"
#include "heatvit/func/evaluate.hpp"
#include "heatvit/func/int_vit.hpp"
#include "heatvit/func/params.hpp"
#include "heatvit/hls/embedded.hpp"
#include "heatvit/hls/hls.hpp"
#include "heatvit/hls/project_files.hpp"
#include "heatvit/models/workload.hpp"
#include "heatvit/sim/resources.hpp"

namespace heatvit::hls {

namespace {

// Mirrors the engine's enums (rtl_hls/engine/firmware/heatvit_program.h).
enum { OP_LINEAR = 0, OP_ATTENTION = 1, OP_DECISION = 2, OP_COMPACTION = 3, OP_PACKAGE = 4 };
enum { M_TOKENS = 0, M_PATCHES = 1, M_FIXED = 2 };
enum { LD_A8 = 0, LD_LN16 = 1, LD_PATCH = 2, LD_HEADMEAN = 3 };
enum { OUT_A8 = 0, OUT_A16 = 1, OUT_ADD16 = 2, OUT_LOGITS = 3 };
enum { POST_GELU = 1, POST_MEAN = 2, POST_SIGMOID = 4 };

/// One HvPass, field for field.
struct Desc {
  std::string name;
  int op = 0, block = -1, rows = 0, m_fixed = 0;
  int load = 0, a_off = 0, a_stride = 0, a_row0 = 0, a_bcol = 0;
  int batch = 1, n = 0, k = 0;
  int tm = 0, tn = 0, tk = 0, n_outer = 0;
  int w_off = 0, b_off = 0, ln_off = 0, gelu_off = 0;
  int out = 0, out_bits = 0, post = 0, res_off = -1;
  int d_off = 0, d_stride = 0, d_row0 = 0, d_bcol = 0;
  int p0 = 0, p1 = 0, p2 = 0;

  std::vector<int> fields() const {
    return {op,     block,  rows,  m_fixed, load,     a_off,   a_stride, a_row0,   a_bcol,   batch, n,
            k,      tm,     tn,    tk,      n_outer,  w_off,   b_off,    ln_off,   gelu_off, out,   out_bits,
            post,   res_off, d_off, d_stride, d_row0, d_bcol,  p0,       p1,       p2};
  }
};

const char* const kFieldNames[] = {"op",     "block",  "rows",  "m_fixed", "load",     "a_off",   "a_stride",
                                   "a_row0", "a_bcol", "batch", "n",       "k",        "tm",      "tn",
                                   "tk",     "n_outer", "w_off", "b_off",  "ln_off",   "gelu_off", "out",
                                   "out_bits", "post",  "res_off", "d_off", "d_stride", "d_row0", "d_bcol",
                                   "p0",     "p1",     "p2"};

std::int64_t cdiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

/// Fixed memory map of the activation scratch (element offsets).
struct MemMap {
  int max_t = 0, P = 0, D = 0, H = 0, HD = 0, HID = 0, HH = 0;
  // act16
  int x[2] = {0, 0}, dl = 0, wsig = 0, score = 0, a16 = 0;
  // act8
  int qkv = 0, ao = 0, g = 0, s1 = 0, s2 = 0, s3 = 0, hw8 = 0, a8 = 0;

  MemMap(const ModelShape& m) {
    P = m.patch_tokens();
    max_t = m.dense_tokens() + 1;
    D = m.embed_dim;
    H = m.heads;
    HD = m.head_dim();
    HID = m.mlp_hidden();
    HH = std::max(1, H / 2);
    x[0] = 0;
    x[1] = max_t * D;
    dl = 2 * max_t * D;
    wsig = dl + P * H;
    score = wsig + P * H;
    a16 = score + P;
    qkv = 0;
    ao = max_t * 3 * D;
    g = ao + max_t * D;
    s1 = g + max_t * HID;
    s2 = s1 + P * D;
    s3 = s2 + P * H * (HD / 2);
    hw8 = s3 + P * H * std::max(1, HD / 4);
    a8 = hw8 + P * HH;
  }
};

/// The packed weight image (int8) and constants (int32).
struct Images {
  std::vector<std::int8_t> w;
  std::vector<std::int32_t> c;

  int add_c(std::int32_t v) {
    c.push_back(v);
    return static_cast<int>(c.size()) - 1;
  }
};

/// A weight matrix of one head: rows (output channels) x cols, plus per-row bias and shift.
struct Mat {
  int n = 0, k = 0;
  std::vector<std::int32_t> w, bias, shift;
  std::int32_t at(int r, int col) const { return w[static_cast<std::size_t>(r * k + col)]; }
};

template <int N, int K>
Mat mat_of(const func::Linear<N, K>& l) {
  Mat m;
  m.n = N;
  m.k = K;
  for (int r = 0; r < N; ++r) {
    for (int col = 0; col < K; ++col) m.w.push_back(l.w[r][col]);
    m.bias.push_back(l.b[r]);
    m.shift.push_back(l.shift);
  }
  return m;
}

Mat concat_rows(const std::vector<Mat>& ms) {
  Mat out;
  out.k = ms.front().k;
  for (const auto& m : ms) {
    out.n += m.n;
    out.w.insert(out.w.end(), m.w.begin(), m.w.end());
    out.bias.insert(out.bias.end(), m.bias.begin(), m.bias.end());
    out.shift.insert(out.shift.end(), m.shift.begin(), m.shift.end());
  }
  return out;
}

struct LnP {
  std::vector<std::int32_t> g, b;
  int shift = 0;
};

template <int C>
LnP ln_of(const func::Ln<C>& l) {
  LnP p;
  for (int c = 0; c < C; ++c) {
    p.g.push_back(l.g[c]);
    p.b.push_back(l.b[c]);
  }
  p.shift = l.shift;
  return p;
}

template <class SH>
class Builder {
 public:
  Builder(const DesignPoint& dp, const func::ParamsT<SH>& params) : dp_(dp), p_(params), mm_(dp.model) {
    // Position embedding (row 0: the class token with its position embedding).
    pos_off_ = 0;
    for (int t = 0; t <= mm_.P; ++t)
      for (int c = 0; c < mm_.D; ++c) img_.add_c(p_.pos[t][c]);
  }

  std::vector<Desc> build(const sim::Plan& plan) {
    std::vector<Desc> prog;
    int cur = 0, sel_index = 0;
    for (const auto& pass : plan.passes) {
      const std::string& nm = pass.name;
      const int b = pass.block;
      const std::string bp = "block" + std::to_string(b) + ".", sp = "sel" + std::to_string(b) + ".";
      Desc d;
      d.name = nm;
      d.block = b;
      if (nm == "patch_embed") {
        expect(pass, {"patch_embed", "pos_embed"});
        d.rows = M_FIXED;
        d.m_fixed = mm_.P;
        d.load = LD_PATCH;
        linear(d, pass, mat_of(p_.pe));
        d.out = OUT_ADD16;
        d.out_bits = 16;
        d.res_off = pos_off_;
        out_to(d, mm_.x[cur], mm_.D, 1, 0);
      } else if (nm == bp + "qkv") {
        const auto& B = p_.blocks[b];
        expect(pass, {bp + "ln1", bp + "qkv"});
        d.rows = M_TOKENS;
        in_from(d, LD_LN16, mm_.x[cur], mm_.D, 0, 0);
        linear(d, pass, concat_rows({mat_of(B.q), mat_of(B.k), mat_of(B.v)}));
        layernorm(d, {ln_of(B.ln1)});
        d.out = OUT_A8;
        d.out_bits = 8;
        out_to(d, mm_.qkv, 3 * mm_.D, 0, 0);
      } else if (nm == bp + "qk") {
        const auto& B = p_.blocks[b];
        expect(pass, {bp + "qk", bp + "softmax", bp + "av"});
        d.op = OP_ATTENTION;
        d.rows = M_TOKENS;
        d.batch = mm_.H;
        d.k = mm_.HD;
        d.a_off = mm_.qkv;
        d.a_stride = 3 * mm_.D;
        d.tm = static_cast<int>(pass.tiling.tm);
        out_to(d, mm_.ao, mm_.D, 0, 0);
        d.p0 = B.score_shift;
        d.p1 = B.attn_shift;
      } else if (nm == bp + "proj" || nm == bp + "fc2") {
        const auto& B = p_.blocks[b];
        const bool proj = nm == bp + "proj";
        expect(pass, {nm, bp + (proj ? "add1" : "add2")});
        d.rows = M_TOKENS;
        if (proj)
          in_from(d, LD_A8, mm_.ao, mm_.D, 0, 0);
        else
          in_from(d, LD_A8, mm_.g, mm_.HID, 0, 0);
        linear(d, pass, proj ? mat_of(B.proj) : mat_of(B.fc2));
        d.out = OUT_ADD16;
        d.out_bits = 16;
        d.res_off = -1;
        out_to(d, mm_.x[cur], mm_.D, 0, 0);
      } else if (nm == bp + "fc1") {
        const auto& B = p_.blocks[b];
        expect(pass, {bp + "ln2", bp + "fc1", bp + "gelu"});
        d.rows = M_TOKENS;
        in_from(d, LD_LN16, mm_.x[cur], mm_.D, 0, 0);
        linear(d, pass, mat_of(B.fc1));
        layernorm(d, {ln_of(B.ln2)});
        d.out = OUT_A8;
        d.out_bits = 16;
        gelu(d, {B.gelu_frac});
        out_to(d, mm_.g, mm_.HID, 0, 0);
      } else if (nm.rfind(sp, 0) == 0) {
        selector(d, pass, sp, cur, sel_index);
        if (nm == sp + "compaction") {
          prog.push_back(d);
          // The package pass follows every compaction; it reads the region the
          // compaction read and writes the package row of the next one.
          Desc pk;
          pk.name = sp + "package";
          pk.block = b;
          pk.op = OP_PACKAGE;
          pk.rows = M_PATCHES;
          pk.a_off = mm_.x[cur];
          pk.d_off = mm_.x[1 - cur];
          pk.p0 = mm_.score;
          pk.p2 = sel_index;
          prog.push_back(pk);
          cur = 1 - cur;
          ++sel_index;
          continue;
        }
      } else if (nm == "head.fc") {
        expect(pass, {"head.ln", "head.fc"});
        d.rows = M_FIXED;
        d.m_fixed = 1;
        in_from(d, LD_LN16, mm_.x[cur], mm_.D, 0, 0);
        linear(d, pass, mat_of(p_.head));
        layernorm(d, {ln_of(p_.lnf)});
        d.out = OUT_LOGITS;
        d.out_bits = 32;
      } else {
        throw std::logic_error("hls: the plan has a pass the engine does not execute: " + nm);
      }
      prog.push_back(d);
    }
    return prog;
  }

  Images& images() { return img_; }
  int pos_off() const { return pos_off_; }
  const MemMap& mem() const { return mm_; }
  int max_bn() const { return max_bn_; }
  int max_k() const { return max_k_; }
  int max_tiles() const { return max_tiles_; }

 private:
  static void expect(const sim::Pass& pass, const std::vector<std::string>& ops) {
    if (pass.ops != ops) {
      std::string got;
      for (const auto& o : pass.ops) got += (got.empty() ? "" : ", ") + o;
      throw std::logic_error("hls: plan pass " + pass.name + " fuses [" + got +
                             "], which the engine does not implement");
    }
  }

  static void in_from(Desc& d, int load, int off, int stride, int row0, int bcol) {
    d.load = load;
    d.a_off = off;
    d.a_stride = stride;
    d.a_row0 = row0;
    d.a_bcol = bcol;
  }
  static void out_to(Desc& d, int off, int stride, int row0, int bcol) {
    d.d_off = off;
    d.d_stride = stride;
    d.d_row0 = row0;
    d.d_bcol = bcol;
  }

  /// Packs the weights of a linear pass (one Mat per head) in the order the engine
  /// reads them, and the per-channel bias and shift.
  void linear(Desc& d, const sim::Pass& pass, const Mat& m) { linear_heads(d, pass, {m}); }

  void linear_heads(Desc& d, const sim::Pass& pass, const std::vector<Mat>& ms) {
    d.op = OP_LINEAR;
    d.batch = static_cast<int>(ms.size());
    d.n = ms.front().n;
    d.k = ms.front().k;
    d.w_off = static_cast<int>(img_.w.size());
    if (d.batch == 1) {
      const Mat& m = ms.front();
      d.tm = static_cast<int>(pass.tiling.tm);
      d.tn = static_cast<int>(std::min<std::int64_t>(pass.tiling.tn, m.n));
      d.tk = static_cast<int>(std::min<std::int64_t>(pass.tiling.tk, m.k));
      d.n_outer = pass.tiling.n_outer ? 1 : 0;
      // Tiles (ni, ki) in ni-major order, each tnn rows of tkk weights.
      for (int n0 = 0; n0 < m.n; n0 += d.tn)
        for (int k0 = 0; k0 < m.k; k0 += d.tk) {
          const int tnn = std::min(d.tn, m.n - n0), tkk = std::min(d.tk, m.k - k0);
          for (int r = 0; r < tnn; ++r)
            for (int c = 0; c < tkk; ++c) img_.w.push_back(static_cast<std::int8_t>(m.at(n0 + r, k0 + c)));
        }
      max_tiles_ = std::max<int>(max_tiles_, static_cast<int>(std::max({cdiv(m.n, d.tn), cdiv(m.k, d.tk),
                                                                         cdiv(mm_.max_t, d.tm)})));
    } else {
      d.tm = static_cast<int>(pass.tiling.tm);
      d.tn = d.n;
      d.tk = d.k;
      for (const auto& m : ms)
        for (auto v : m.w) img_.w.push_back(static_cast<std::int8_t>(v));
    }
    d.b_off = static_cast<int>(img_.c.size());
    for (const auto& m : ms)
      for (auto v : m.bias) img_.add_c(v);
    for (const auto& m : ms)
      for (auto v : m.shift) img_.add_c(v);
    max_bn_ = std::max(max_bn_, d.batch * d.n);
    max_k_ = std::max(max_k_, d.k);
  }

  void layernorm(Desc& d, const std::vector<LnP>& ls) {
    d.ln_off = static_cast<int>(img_.c.size());
    for (const auto& l : ls)
      for (auto v : l.g) img_.add_c(v);
    for (const auto& l : ls)
      for (auto v : l.b) img_.add_c(v);
    for (const auto& l : ls) img_.add_c(l.shift);
  }

  void gelu(Desc& d, const std::vector<int>& fracs) {
    d.post |= POST_GELU;
    d.gelu_off = static_cast<int>(img_.c.size());
    for (int f : fracs) img_.add_c(f);
  }

  void selector(Desc& d, const sim::Pass& pass, const std::string& sp, int cur, int sel_index) {
    const int b = pass.block;
    const auto& S = p_.sel[b];
    const int H = mm_.H, HD = mm_.HD;
    const std::string& nm = pass.name;
    d.rows = M_PATCHES;
    std::vector<int> fr;
    if (nm == sp + "fc1") {
      expect(pass, {sp + "ln", sp + "fc1", sp + "gelu1", sp + "global_mean"});
      in_from(d, LD_LN16, mm_.x[cur], mm_.D, 1, HD);
      std::vector<Mat> ms;
      std::vector<LnP> ls;
      for (int h = 0; h < H; ++h) {
        ms.push_back(mat_of(S.l1[h]));
        ls.push_back(ln_of(S.ln[h]));
        fr.push_back(S.g1[h]);
      }
      linear_heads(d, pass, ms);
      layernorm(d, ls);
      d.out = OUT_A8;
      d.out_bits = 16;
      gelu(d, fr);
      d.post |= POST_MEAN;
      out_to(d, mm_.s1, mm_.D, 0, HD);
    } else if (nm == sp + "fc2") {
      expect(pass, {sp + "fc2", sp + "gelu2"});
      in_from(d, LD_A8, mm_.s1, mm_.D, 0, HD);
      std::vector<Mat> ms;
      for (int h = 0; h < H; ++h) {
        ms.push_back(mat_of(S.l2[h]));
        fr.push_back(S.g2[h]);
      }
      linear_heads(d, pass, ms);
      d.out = OUT_A8;
      d.out_bits = 16;
      gelu(d, fr);
      out_to(d, mm_.s2, H * (HD / 2), 0, HD / 2);
    } else if (nm == sp + "fc3") {
      expect(pass, {sp + "fc3", sp + "gelu3"});
      in_from(d, LD_A8, mm_.s2, H * (HD / 2), 0, HD / 2);
      std::vector<Mat> ms;
      for (int h = 0; h < H; ++h) {
        ms.push_back(mat_of(S.l3[h]));
        fr.push_back(S.g3[h]);
      }
      linear_heads(d, pass, ms);
      d.out = OUT_A8;
      d.out_bits = 16;
      gelu(d, fr);
      out_to(d, mm_.s3, H * (HD / 4), 0, HD / 4);
    } else if (nm == sp + "fc4") {
      // The workload's 2-way softmax is the sign of one log-odds output in the
      // numerics (docs/integer-numerics.md): N = 1 here, the same PE cycles.
      expect(pass, {sp + "fc4", sp + "softmax"});
      if (cdiv(2, dp_.hw.pe.to) != cdiv(1, dp_.hw.pe.to))
        throw InputError(dp_.hw.accelerator_origin, "pe.to",
                         "is 1: the selector's keep head is one log-odds output in the numerics where the simulated "
                         "workload has two; they take the same array cycles only when pe.to >= 2");
      in_from(d, LD_A8, mm_.s3, H * (HD / 4), 0, HD / 4);
      std::vector<Mat> ms;
      for (int h = 0; h < H; ++h) ms.push_back(mat_of(S.l4[h]));
      linear_heads(d, pass, ms);
      d.out = OUT_A16;
      d.out_bits = 16;
      out_to(d, mm_.dl, H, 0, 1);
    } else if (nm == sp + "hw_fc1") {
      expect(pass, {sp + "hw_fc1", sp + "hw_gelu"});
      in_from(d, LD_HEADMEAN, mm_.x[cur], mm_.D, 1, 0);
      d.p0 = S.m_shift;
      linear(d, pass, mat_of(S.hb1));
      d.out = OUT_A8;
      d.out_bits = 16;
      gelu(d, {S.hg});
      out_to(d, mm_.hw8, mm_.HH, 0, 0);
    } else if (nm == sp + "hw_fc2") {
      expect(pass, {sp + "hw_fc2", sp + "hw_sigmoid"});
      in_from(d, LD_A8, mm_.hw8, mm_.HH, 0, 0);
      linear(d, pass, mat_of(S.hb2));
      d.out = OUT_A16;
      d.out_bits = 16;
      d.post |= POST_SIGMOID;
      out_to(d, mm_.wsig, H, 0, 0);
    } else if (nm == sp + "decision") {
      expect(pass, {sp + "decision"});
      d.op = OP_DECISION;
      d.a_off = mm_.dl;
      d.p0 = mm_.wsig;
      d.d_off = mm_.score;
      std::int32_t thr = 0;
      bool found = false;
      for (const auto& t : dp_.thresholds)
        if (t.block == b) {
          thr = t.threshold;
          found = true;
        }
      if (!found) throw std::logic_error("hls: no threshold for the selector before block " + std::to_string(b));
      d.p1 = img_.add_c(thr);
      d.p2 = sel_index;
    } else if (nm == sp + "compaction") {
      expect(pass, {sp + "compaction"});
      d.op = OP_COMPACTION;
      d.a_off = mm_.x[cur];
      d.d_off = mm_.x[1 - cur];
      d.p2 = sel_index;
    } else {
      throw std::logic_error("hls: the plan has a selector pass the engine does not execute: " + nm);
    }
  }

  const DesignPoint& dp_;
  const func::ParamsT<SH>& p_;
  MemMap mm_;
  Images img_;
  int pos_off_ = 0;
  int max_bn_ = 1, max_k_ = 1, max_tiles_ = 1;
};

// ------------------------------------------------------------------ text helpers
template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  std::string out(v.size() * sizeof(T), '\0');
  // little-endian hosts only (x86-64, aarch64): the files are the DDR images as is
  if (!v.empty()) std::memcpy(&out[0], v.data(), out.size());
  return out;
}

std::string define(const std::string& name, std::int64_t v, const std::string& comment) {
  std::ostringstream os;
  os << "#define " << name;
  for (std::size_t i = name.size(); i < 24; ++i) os << ' ';
  os << ' ' << v;
  if (!comment.empty()) os << "  // " << comment;
  os << "\n";
  return os.str();
}

std::string fmt_double(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

}  // namespace

void check_engine_support(const sim::HwConfig& hw, const Schedule& schedule) {
  const std::string& cfg = hw.accelerator_origin;
  if (!schedule.selectors.empty() && !hw.selector.enabled)
    throw InputError(cfg, "selector.enabled", "the schedule inserts token selectors but this hardware has no selector support");
  if (hw.precision_bits != 8)
    throw InputError(cfg, "precision_bits", "is " + std::to_string(hw.precision_bits) +
                                                "; the emitted engine computes the INT8 numerics (precision_bits 8)");
  if (hw.accumulator_bits != 32)
    throw InputError(cfg, "accumulator_bits", "must be 32 for the emitted engine (int32 partial sums)");
  if (hw.ps.layernorm)
    throw InputError(cfg, "ps.layernorm", "the emitted engine computes LayerNorm on the PL (ps.layernorm false)");
  if (hw.macs_per_dsp == 2 && !(hw.packing.linear && hw.packing.attention))
    throw InputError(cfg, "packing", "the emitted engine packs every GEMM when macs_per_dsp is 2");
  if (hw.buffer_slots != 2)
    throw InputError(cfg, "buffer_slots", "the emitted engine double-buffers its operands (buffer_slots 2)");
}

sim::Plan program_plan(const ModelShape& model, const sim::HwConfig& hw, const std::vector<int>& selector_blocks) {
  const std::vector<int> tokens(static_cast<std::size_t>(model.depth), model.dense_tokens());
  return sim::make_plan(build_workload(model, tokens, selector_blocks), hw);
}

namespace {

/// What one image produces, from the reference that checks the project.
struct GoldenImage {
  std::vector<std::int64_t> logits;
  int prediction = 0;
  std::vector<int> tokens;            ///< per block
  std::vector<int> kept;              ///< patch tokens kept by each selector
  std::vector<std::uint32_t> masks;   ///< selectors x mask words
};

template <class SH>
Project emit_impl(const DesignPoint& dp, const func::ParamsT<SH>& params, const std::string& images_bin,
                  const std::vector<GoldenImage>& gold, const json& reference) {
  const ModelShape& model = dp.model;
  const sim::HwConfig& hw = dp.hw;
  const std::string cfg = hw.accelerator_origin;
  std::vector<int> blocks;
  for (const auto& t : dp.thresholds) blocks.push_back(t.block);

  // ---- the layer program
  const sim::Plan plan = program_plan(model, hw, blocks);
  Builder<SH> bld(dp, params);
  const std::vector<Desc> prog = bld.build(plan);
  const MemMap& mm = bld.mem();
  Images& img = bld.images();

  check_engine_support(hw, dp.schedule);
  // ---- buffer checks of the engine's own layout (beyond the plan's)
  const std::int64_t eb = hw.element_bytes();
  const std::int64_t in_elems = hw.buffers.input_bytes / eb, w_elems = hw.buffers.weight_bytes / eb;
  const std::int64_t out_words = hw.buffers.output_bytes / 4, att_words = hw.buffers.attention_bytes / 4;
  if (2 * std::int64_t(hw.pe.th) * mm.max_t * mm.HD > w_elems)
    throw InputError(cfg, "buffers_kib.weight",
                     "the attention engine keeps K and V of " + std::to_string(hw.pe.th) + " heads x " +
                         std::to_string(mm.max_t) + " token rows in one weight-buffer half: needs " +
                         std::to_string(2 * hw.pe.th * mm.max_t * mm.HD * eb) + " bytes, the buffer holds " +
                         std::to_string(hw.buffers.weight_bytes));
  if (2 * std::int64_t(hw.pe.th) * mm.max_t > att_words)
    throw InputError(cfg, "buffers_kib.attention",
                     "one score row and its probabilities for " + std::to_string(hw.pe.th) + " heads need " +
                         std::to_string(8 * hw.pe.th * mm.max_t) + " bytes, the buffer holds " +
                         std::to_string(hw.buffers.attention_bytes));
  if (std::int64_t(hw.pe.th) * mm.HD > in_elems)
    throw InputError(cfg, "buffers_kib.input", "a query row of every head lane does not fit");
  // Every tile of every pass within the engine's buffers (the plan's checks, again, on
  // what the engine will index).
  for (const auto& d : prog) {
    if (d.op != OP_LINEAR) continue;
    const std::int64_t lanes = d.batch > 1 ? std::min(hw.pe.th, d.batch) : 1;
    const std::int64_t a = lanes * d.tm * (d.batch > 1 ? d.k : d.tk), w = lanes * std::int64_t(d.tn) * d.tk,
                       o = lanes * std::int64_t(d.tm) * d.tn;
    auto over = [&](const char* field, std::int64_t need, std::int64_t have) {
      if (need > have)
        throw InputError(cfg, std::string("buffers_kib.") + field,
                         "pass " + d.name + " needs " + std::to_string(need) + " elements per buffer half, the buffer holds " +
                             std::to_string(have));
    };
    over("input", a, in_elems);
    over("weight", w, w_elems);
    over("output", o, out_words);
  }

  // ---- golden vectors from the reference, and the per-image plans
  const int nimg = static_cast<int>(gold.size());
  const int C = model.num_classes, DEPTH = model.depth, NSEL = static_cast<int>(dp.thresholds.size());
  const int mask_words = static_cast<int>(cdiv(mm.P, 32));
  std::ostringstream golden, plan_cycles;
  golden << "# heatvit golden outputs of " << reference["golden"].get<std::string>() << ", one line per image:\n"
         << "# image, " << C << " logits, prediction, " << DEPTH << " tokens per block, " << NSEL << " x "
         << mask_words << " keep-mask words (bit p of word p/32 = patch p kept after that selector)\n";
  plan_cycles << "# per image: the simulator's compute cycles of each pass of the layer program (sim::make_plan"
              << " of the image's tokens); -1: the image's plan has no such pass\n";
  std::vector<double> mean_plan(prog.size(), 0.0);
  std::vector<int> mean_cnt(prog.size(), 0);
  for (int i = 0; i < nimg; ++i) {
    const GoldenImage& r = gold[static_cast<std::size_t>(i)];
    golden << i;
    for (auto v : r.logits) golden << ' ' << v;
    golden << ' ' << r.prediction;
    for (int t : r.tokens) golden << ' ' << t;
    for (auto m : r.masks) golden << ' ' << m;
    golden << "\n";
    const sim::Plan ip = sim::make_plan(build_workload(model, r.tokens, blocks, r.kept), hw);
    std::map<std::string, std::int64_t> cyc;
    for (const auto& ps : ip.passes) cyc[ps.name] += ps.compute_cycles();
    plan_cycles << i;
    for (std::size_t pi = 0; pi < prog.size(); ++pi) {
      const auto it = cyc.find(prog[pi].name);
      plan_cycles << ' ' << (it == cyc.end() ? -1 : it->second);
      if (it != cyc.end()) {
        mean_plan[pi] += static_cast<double>(it->second);
        ++mean_cnt[pi];
      }
    }
    plan_cycles << "\n";
  }

  // ---- defines.h
  auto bundle = [&](bool write, int i) {
    const auto& v = write ? hw.axi.write_ports : hw.axi.read_ports;
    return "gmem" + std::to_string(v[static_cast<std::size_t>(i % static_cast<int>(v.size()))]);
  };
  std::ostringstream df;
  df << "// Every size of this design, from its hw config and model (generated by heatvit hls).\n"
     << "#pragma once\n\n// GEMM engine: Th x Ti x To multipliers (hw config pe)\n"
     << define("HV_TH", hw.pe.th, "rows (linear layers) or heads (attention) in parallel")
     << define("HV_TI", hw.pe.ti, "input channels per cycle")
     << define("HV_TO", hw.pe.to, "output channels per cycle")
     << "\n// On-chip buffers, elements per half (hw config buffers_kib; each double-buffered)\n"
     << define("HV_IN_BUF_ELEMS", in_elems, std::to_string(hw.buffers.input_bytes) + " bytes")
     << define("HV_W_BUF_ELEMS", w_elems, std::to_string(hw.buffers.weight_bytes) + " bytes")
     << define("HV_OUT_BUF_WORDS", out_words, std::to_string(hw.buffers.output_bytes) + " bytes of 32-bit partial sums")
     << define("HV_ATT_BUF_WORDS", att_words, std::to_string(hw.buffers.attention_bytes) + " bytes of scores")
     << define("HV_ACC_BYTES", hw.accumulator_bits / 8, "bytes of a partial sum in the cycle model's buffers")
     << define("HV_IN_PARTITION", std::int64_t(hw.pe.th) * hw.pe.ti, "banks: Th x Ti operands per cycle")
     << define("HV_W_PARTITION", std::int64_t(hw.pe.ti) * hw.pe.to, "banks: Ti x To weights per cycle")
     << define("HV_OUT_PARTITION", std::max<std::int64_t>(1, std::int64_t(hw.pe.th) * hw.pe.to / 4),
               "banks: Th x To partial sums in 4 cycles (32-bit words, 8-bit port budget per MAC lane)")
     << define("HV_ATT_PARTITION", std::max<std::int64_t>(1, std::int64_t(hw.pe.th) * hw.pe.to / 4),
               "banks: as the output buffer")
     << "\n// Nonlinear units and selector control (lanes = elements per cycle)\n"
     << define("HV_SM_LANES", hw.nonlinear.softmax.lanes, "")
     << define("HV_SM_LATENCY", hw.nonlinear.softmax.latency, "pipeline depth, cycles")
     << define("HV_GELU_LANES", hw.nonlinear.gelu.lanes, "store path")
     << define("HV_LN_LANES", hw.nonlinear.layernorm.lanes, "load path")
     << define("HV_SIGMOID_LANES", hw.nonlinear.sigmoid.lanes, "store path")
     << define("HV_ADD_LANES", hw.nonlinear.add.lanes, "store path")
     << define("HV_STORE_LANES", std::min(hw.nonlinear.gelu.lanes, hw.nonlinear.add.lanes),
               "store path width: the narrower of the GELU and residual-add units")
     << define("HV_DECISION_LANES", hw.selector.decision_lanes, "")
     << define("HV_DECISION_DEPTH", 2, "compare + count pipeline, cycles")
     << define("HV_COMPACTION_LANES", hw.selector.compaction_lanes, "")
     << define("HV_PACKAGE_LANES", hw.selector.package_lanes, "")
     << define("HV_MEAN_LANES", hw.selector.mean_lanes, "store path")
     << "\n// Model " << model.name << "\n"
     << define("HV_IMG", model.image_size, "pixels per side")
     << define("HV_CHANS", model.in_channels, "")
     << define("HV_PATCH", model.patch_size, "")
     << define("HV_GRID", model.grid(), "")
     << define("HV_PATCHES", mm.P, "")
     << define("HV_PATCH_ELEMS", model.in_channels * model.patch_size * model.patch_size, "")
     << define("HV_IMG_PIXELS", model.in_channels * model.image_size * model.image_size, "")
     << define("HV_D", mm.D, "") << define("HV_HEADS", mm.H, "") << define("HV_HD", mm.HD, "")
     << define("HV_HIDDEN", mm.HID, "") << define("HV_DEPTH", DEPTH, "") << define("HV_CLASSES", C, "")
     << define("HV_MAX_T", mm.max_t, "token rows: CLS + patches + package")
     << define("HV_SELECTORS", NSEL, "active token selectors")
     << define("HV_MASK_WORDS", mask_words, "32-bit words of a keep mask")
     << "\n// Layer program (parameters.h)\n"
     << define("HV_PASSES", static_cast<std::int64_t>(prog.size()), "")
     << define("HV_MAX_BN", bld.max_bn(), "largest heads x N of a pass")
     << define("HV_MAX_K", bld.max_k(), "largest K of a pass")
     << define("HV_MAX_TILES", bld.max_tiles(), "largest tile count along one dimension")
     << "\n// DDR arrays, elements\n"
     << define("HV_W_ELEMS", static_cast<std::int64_t>(img.w.size()), "int8 weight image (tb_data/wmem.bin)")
     << define("HV_C_WORDS", static_cast<std::int64_t>(img.c.size()) + 0, "32-bit constants (tb_data/cmem.bin)")
     << define("HV_A8_ELEMS", mm.a8, "int8 activation scratch")
     << define("HV_A16_ELEMS", mm.a16, "int16 activation scratch")
     << define("HV_X0_OFF", mm.x[0], "residual stream, first region (act16)")
     << define("HV_POS_OFF", bld.pos_off(), "position embedding (cmem)")
     << define("HV_RES_TOKENS", C + 1, "result word: tokens entering block 0")
     << define("HV_RES_MASKS", C + 1 + DEPTH, "result word: first keep mask")
     << define("HV_RESULT_WORDS", C + 1 + DEPTH + std::max(1, NSEL) * mask_words, "result words per image")
     << define("HV_TB_IMAGES", nimg, "images of the testbench")
     << define("HV_IMAGES_DEPTH", static_cast<std::int64_t>(nimg) * model.in_channels * model.image_size *
                                      model.image_size, "cosim depth of the image port")
     << define("HV_RESULTS_DEPTH", static_cast<std::int64_t>(nimg) * (C + 1 + DEPTH + std::max(1, NSEL) * mask_words),
               "cosim depth of the result port")
     << "\n// AXI (hw config axi): one m_axi bundle per HP port\n"
     << define("HV_AXI_PORTS", hw.axi.ports, "")
     << define("HV_AXI_WIDTH", hw.axi.width_bits, "bits per beat")
     << define("HV_AXI_BURST_BEATS", hw.axi.max_burst_bytes / (hw.axi.width_bits / 8), "")
     << define("HV_AXI_OUTSTANDING", hw.axi.max_outstanding, "")
     << "#define HV_BUNDLE_WMEM           " << bundle(false, 0) << "\n"
     << "#define HV_BUNDLE_ACT8           " << bundle(false, 1) << "\n"
     << "#define HV_BUNDLE_CMEM           " << bundle(false, 2) << "\n"
     << "#define HV_BUNDLE_IMAGES         " << bundle(false, 2) << "\n"
     << "#define HV_BUNDLE_ACT16          " << bundle(true, 0) << "\n"
     << "#define HV_BUNDLE_RESULTS        " << bundle(true, 0) << "\n"
     << "\n// Clock\n"
     << "#define HV_CLOCK_MHZ             " << fmt_double(hw.frequency_mhz) << "\n";

  // ---- parameters.h
  std::ostringstream pf;
  pf << "// The layer program of this design: one descriptor per pass of the simulator's plan\n"
     << "// (sim::make_plan at every block's largest token count), in execution order, with the\n"
     << "// plan's tiles and loop order. Generated by heatvit hls.\n"
     << "#pragma once\n\n#include \"defines.h\"\n#include \"heatvit_program.h\"\n\n// Fields:";
  for (const char* f : kFieldNames) pf << ' ' << f;
  pf << "\nstatic const HvPass kHvProgram[HV_PASSES] = {\n";
  for (const auto& d : prog) {
    pf << "    {";
    const auto f = d.fields();
    for (std::size_t i = 0; i < f.size(); ++i) pf << (i ? ", " : "") << f[i];
    pf << "},  // " << d.name << "\n";
  }
  pf << "};\n\n#ifndef __SYNTHESIS__\nstatic const char* const kHvPassNames[HV_PASSES] = {\n";
  for (const auto& d : prog) pf << "    \"" << d.name << "\",\n";
  pf << "};\n#endif\n";

  Project pr;
  auto& F = pr.files;
  F["firmware/defines.h"] = df.str();
  F["firmware/parameters.h"] = pf.str();
  for (const auto& e : embedded_files()) {
    const std::string& p = e.path;
    const std::string eng = "rtl_hls/engine/", ker = "kernels/include/";
    if (p.rfind(eng, 0) == 0)
      F[p.substr(eng.size())] = e.content;
    else if (p.rfind(ker, 0) == 0)
      F["firmware/" + p.substr(ker.size())] = e.content;
  }
  F["tb_data/wmem.bin"] = bytes_of(img.w);
  F["tb_data/cmem.bin"] = bytes_of(img.c);
  F["tb_data/images.bin"] = images_bin;
  F["tb_data/golden.dat"] = golden.str();
  F["tb_data/plan_cycles.dat"] = plan_cycles.str();

  // ---- checks that run here: lint, resources, latency at the nominal tokens
  std::map<std::string, std::string> fw;
  for (const auto& [path, content] : F)
    if (path.rfind("firmware/", 0) == 0) fw[path] = content;
  const auto issues = lint_firmware(fw, F["firmware/defines.h"], "firmware/heatvit_top.cpp", "heatvit_top");
  json lint = json::array();
  for (const auto& is : issues)
    lint.push_back({{"file", is.file}, {"line", is.line}, {"rule", is.rule}, {"message", is.message}});

  // Resources of the emitted design, derived from its source: the unrolled MAC loops of
  // the GEMM array and the buffer arrays with their partitioning, evaluated with the
  // values of defines.h; against the resource model of the same config.
  const sim::ResourceReport rm = sim::estimate_resources(hw);
  auto item = [&](const std::string& n) {
    for (const auto& it : rm.items)
      if (it.name == n) return it.use;
    return sim::Resources{};
  };
  const EmittedResources er = emitted_resources(F.at("firmware/heatvit_top.cpp"), F.at("firmware/defines.h"),
                                                hw.macs_per_dsp);
  json res_items = json::array();
  auto res_row = [&](const std::string& n, std::int64_t emitted, std::int64_t model_v, const std::string& what,
                     const std::string& from) {
    res_items.push_back({{"item", n}, {"resource", what}, {"emitted", emitted}, {"resource_model", model_v},
                         {"match", emitted == model_v}, {"emitted_from", from}});
  };
  res_row("pe_array", er.dsp, item("pe_array").dsp, "dsp", er.dsp_from);
  for (const auto& b : er.buffers) res_row(b.item, b.bram36, item(b.item).bram36, "bram36", b.from);
  bool res_ok = !er.buffers.empty();
  for (const auto& r : res_items) res_ok = res_ok && r["match"].get<bool>();

  // Latency at the nominal tokens (the schedule's expected counts): the plan's compute
  // cycles per pass, and the same from the engine's loop nests in closed form.
  json passes = json::array();
  for (std::size_t pi = 0; pi < prog.size(); ++pi) {
    json pj = {{"pass", prog[pi].name}, {"op", prog[pi].op}};
    if (mean_cnt[pi] > 0) pj["plan_compute_cycles_mean"] = mean_plan[pi] / mean_cnt[pi];
    passes.push_back(pj);
  }

  json facts = {{"model", model.name},
                {"reference", reference},
                {"hw", hw.name},
                {"part", "xczu9eg-ffvb1156-2-e"},
                {"clock_mhz", hw.frequency_mhz},
                {"clock_ns", 1000.0 / hw.frequency_mhz},
                {"passes", prog.size()},
                {"tb_images", nimg},
                {"selectors", NSEL},
                {"w_bytes", img.w.size()},
                {"c_words", img.c.size()},
                {"a8_elems", mm.a8},
                {"a16_elems", mm.a16}};
  pr.report = {{"design", facts},
               {"lint", {{"issues", lint}, {"pass", lint.empty()}}},
               {"resources", {{"items", res_items}, {"pass", res_ok},
                              {"lut_ff_without_counterpart",
                               "the resource model's LUT/FF figures (per-MAC fabric, nonlinear lanes, control/DMA/AXI base, "
                               "selector lanes) are per-unit estimates; the emitted code has no count of its own for them "
                               "until synthesis: only DSP and BRAM are derived from the emitted arrays and unrolled loops"},
                              {"resource_model", sim::to_json(rm, hw)}}},
               {"program", passes}};
  add_build_files(F, dp, pr.report);
  F["hls_report.json"] = pr.report.dump(2) + "\n";
  return pr;
}

}  // namespace

Project emit_project(const DesignPoint& dp, const func::FuncModel& fm, const ImageSet& data, const EmitOptions& opt) {
  const int nimg = std::min(opt.tb_images, data.count);
  if (nimg < 1) throw InputError(data.images_path, "", "no test images");
  const int NSEL = static_cast<int>(dp.thresholds.size());
  const int words = static_cast<int>(cdiv(func::Shape::kPatches, 32));
  std::vector<GoldenImage> gold;
  std::string images_bin;
  for (int i = 0; i < nimg; ++i) {
    func::ImageResult r;
    fm.run(data.image(i), dp.thresholds, r);
    GoldenImage g;
    for (int c = 0; c < func::Shape::kClasses; ++c) g.logits.push_back(r.logits[c]);
    g.prediction = r.prediction;
    for (int b = 0; b < func::Shape::kDepth; ++b) g.tokens.push_back(r.tokens[b]);
    for (int si = 0; si < NSEL; ++si) {
      g.kept.push_back(__builtin_popcountll(r.kept[si]));
      for (int w = 0; w < words; ++w) g.masks.push_back(static_cast<std::uint32_t>((r.kept[si] >> (32 * w)) & 0xffffffffu));
    }
    gold.push_back(std::move(g));
    images_bin.append(reinterpret_cast<const char*>(data.image(i)), static_cast<std::size_t>(data.rows * data.cols));
  }
  const json ref = {{"golden", "the functional model (heatvit eval)"},
                    {"weights", "the trained deit-micro export"},
                    {"images", "the first " + std::to_string(nimg) + " Fashion-MNIST test images"}};
  return emit_impl<func::Shape>(dp, fm.params(), images_bin, gold, ref);
}

}  // namespace heatvit::hls

// ------------------------------------------------------------------ synthetic DeiT designs
namespace heatvit::hls {

namespace {

/// A DeiT-style shape as compile-time constants (the members func::Shape has).
template <int IMG, int CH, int PATCH, int DIM, int HEADS>
struct VitShape {
  static constexpr int kImage = IMG;
  static constexpr int kChans = CH;
  static constexpr int kPatch = PATCH;
  static constexpr int kGrid = IMG / PATCH;
  static constexpr int kPatches = kGrid * kGrid;
  static constexpr int kPatchPixels = CH * PATCH * PATCH;
  static constexpr int kDim = DIM;
  static constexpr int kDepth = 12;
  static constexpr int kHeads = HEADS;
  static constexpr int kHeadDim = DIM / HEADS;
  static constexpr int kHidden = 4 * DIM;
  static constexpr int kHeadHidden = HEADS / 2 > 1 ? HEADS / 2 : 1;
  static constexpr int kClasses = 1000;
  static constexpr int kMaxTokens = kPatches + 2;
  static constexpr int kKeepGrid = 20;
};
using DeiTTiny = VitShape<224, 3, 16, 192, 3>;
using DeiTSmall = VitShape<224, 3, 16, 384, 6>;
using DeiTBase = VitShape<224, 3, 16, 768, 12>;

/// SplitMix64: a fixed, portable sequence (the standard library's distributions are not).
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
};

/// Requantisation shift bringing sqrt(K) * rms_in * rms_w to about `target`.
int shift_for(int k, double rms_in, double target) {
  constexpr double rms_w = 18.0;  // uniform int8 in [-31, 31]
  return static_cast<int>(std::lround(std::log2(std::sqrt(double(k)) * rms_in * rms_w / target)));
}

template <int N, int K>
void fill(func::Linear<N, K>& l, Rng& r, double rms_in, double target) {
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < K; ++k) l.w[n][k] = static_cast<func::w_t>(r.range(-31, 31));
    l.b[n] = r.range(-512, 512);
  }
  l.shift = shift_for(K, rms_in, target);
}

template <int C>
void fill(func::Ln<C>& l, Rng& r) {
  for (int c = 0; c < C; ++c) {
    l.g[c] = static_cast<std::int16_t>(256 + r.range(-32, 32));  // Q8 gain about 1
    l.b[c] = r.range(-4096, 4096);
  }
  l.shift = 8 + kernels::Frac::ln_norm - 5;  // f_g + F_N - f_out, int8 output at Q5
}

/// Seeded INT8 weights with requantisation shifts that keep the activations in range
/// (int8 about 32 rms, pre-GELU int16 about 1.0 in Q10, residual updates about 1.0 in Q8).
template <class SH>
std::unique_ptr<func::ParamsT<SH>> synthetic_params(std::uint64_t seed) {
  auto p = std::make_unique<func::ParamsT<SH>>();
  Rng r{seed};
  constexpr double a8 = 32, px = 147, q10 = 1024, res = 256;
  fill(p->pe, r, px, res);
  for (auto& row : p->pos)
    for (auto& v : row) v = static_cast<std::int16_t>(r.range(-256, 256));
  for (auto& b : p->blocks) {
    fill(b.ln1, r);
    fill(b.ln2, r);
    fill(b.q, r, a8, a8);
    fill(b.k, r, a8, a8);
    fill(b.v, r, a8, a8);
    fill(b.proj, r, a8, res);
    fill(b.fc1, r, a8, q10);
    fill(b.fc2, r, 20, res);
    b.score_shift = 4;
    b.attn_shift = 8;
    b.gelu_frac = 5;
  }
  fill(p->lnf, r);
  fill(p->head, r, a8, 1);
  p->head.shift = 0;
  for (int blk = 0; blk < SH::kDepth; ++blk) {
    auto& s = p->sel[blk];
    for (int h = 0; h < SH::kHeads; ++h) {
      fill(s.ln[h], r);
      fill(s.l1[h], r, a8, q10);
      fill(s.l2[h], r, 20, q10);
      fill(s.l3[h], r, 20, q10);
      fill(s.l4[h], r, 20, res);
      s.g1[h] = s.g2[h] = s.g3[h] = 5;
    }
    fill(s.hb1, r, a8, q10);
    fill(s.hb2, r, 20, res);
    s.m_shift = 3;
    s.hg = 5;
    p->has_sel[blk] = true;
  }
  return p;
}

std::string synthetic_image(std::uint64_t seed, int pixels) {
  Rng r{seed};
  std::string img(static_cast<std::size_t>(pixels), '\0');
  for (auto& c : img) c = static_cast<char>(r.range(0, 255));
  return img;
}

template <class SH>
Project emit_synthetic(DesignPoint& dp, const EmitOptions& opt) {
  using V = func::IntVit<SH>;
  constexpr std::uint64_t kWeightSeed = 20261206, kCalibSeed = 1000, kTestSeed = 2000;
  constexpr int kCalibImages = 4;
  const auto params = synthetic_params<SH>(kWeightSeed);
  const int pixels = SH::kChans * SH::kImage * SH::kImage;
  auto work = std::make_unique<typename V::Work>();
  auto res = std::make_unique<typename V::Result>();
  // Thresholds: sequential calibration on seeded images (the schedule's keep rates).
  std::vector<int> blocks;
  std::vector<std::int32_t> thr;
  std::vector<SelectorPoint> pts = dp.schedule.selectors;
  std::stable_sort(pts.begin(), pts.end(), [](const SelectorPoint& a, const SelectorPoint& b) { return a.block < b.block; });
  for (const auto& sp : pts) blocks.push_back(sp.block);
  dp.thresholds.clear();
  for (std::size_t si = 0; si < pts.size(); ++si) {
    std::vector<std::int32_t> scores;
    for (int c = 0; c < kCalibImages; ++c) {
      const std::string img = synthetic_image(kCalibSeed + static_cast<std::uint64_t>(c), pixels);
      V::run(*params, reinterpret_cast<const std::uint8_t*>(img.data()), blocks.data(), thr.data(),
             static_cast<int>(blocks.size()), *work, *res, static_cast<int>(si));
      scores.insert(scores.end(), res->score[si], res->score[si] + res->reached[si]);
    }
    std::sort(scores.begin(), scores.end());
    const int keep_milli = static_cast<int>(std::lround(pts[si].keep * 1000.0));
    thr.push_back(func::quantile_threshold(scores, keep_milli));
    func::SelectorThreshold st;
    st.block = pts[si].block;
    st.keep = pts[si].keep;
    st.table_index = -1;
    st.threshold = thr.back();
    dp.thresholds.push_back(st);
  }
  dp.calibration = "sequential on " + std::to_string(kCalibImages) + " seeded synthetic images";
  // Golden outputs of the reference (IntVit<S>, the whole-matrix kernels).
  const int nimg = std::max(1, opt.tb_images);
  std::vector<GoldenImage> gold;
  std::string images_bin;
  const int words = (SH::kPatches + 31) / 32;
  for (int i = 0; i < nimg; ++i) {
    const std::string img = synthetic_image(kTestSeed + static_cast<std::uint64_t>(i), pixels);
    V::run(*params, reinterpret_cast<const std::uint8_t*>(img.data()), blocks.data(), thr.data(),
           static_cast<int>(blocks.size()), *work, *res);
    GoldenImage g;
    for (int c = 0; c < SH::kClasses; ++c) g.logits.push_back(res->logits[c]);
    g.prediction = res->prediction;
    for (int b = 0; b < SH::kDepth; ++b) g.tokens.push_back(res->tokens[b]);
    for (std::size_t si = 0; si < blocks.size(); ++si) {
      int kept = 0;
      for (int w = 0; w < words; ++w) {
        g.masks.push_back(res->kept[si][w]);
        kept += __builtin_popcount(res->kept[si][w]);
      }
      g.kept.push_back(kept);
    }
    gold.push_back(std::move(g));
    images_bin += img;
  }
  const json ref = {
      {"golden", "the shape-generic integer reference (func::IntVit: the whole-matrix kernels, as the functional model "
                 "composes them) on seeded synthetic weights and images"},
      {"weights", "synthetic INT8, SplitMix64 seed " + std::to_string(kWeightSeed)},
      {"images", std::to_string(nimg) + " synthetic " + std::to_string(SH::kImage) + "x" + std::to_string(SH::kImage) +
                     "x" + std::to_string(SH::kChans) + " images, seeds from " + std::to_string(kTestSeed)}};
  dp.origin["weights"] = ref["weights"];
  return emit_impl<SH>(dp, *params, images_bin, gold, ref);
}

template <class SH>
bool same_shape(const ModelShape& m) {
  return m.image_size == SH::kImage && m.in_channels == SH::kChans && m.patch_size == SH::kPatch &&
         m.embed_dim == SH::kDim && m.depth == SH::kDepth && m.heads == SH::kHeads &&
         m.mlp_ratio * m.embed_dim == SH::kHidden && m.num_classes == SH::kClasses && m.stem.empty() && !m.aux_head;
}

}  // namespace

Project emit_project_synthetic(DesignPoint& dp, const EmitOptions& opt) {
  const ModelShape& m = dp.model;
  if (same_shape<DeiTTiny>(m)) return emit_synthetic<DeiTTiny>(dp, opt);
  if (same_shape<DeiTSmall>(m)) return emit_synthetic<DeiTSmall>(dp, opt);
  if (same_shape<DeiTBase>(m)) return emit_synthetic<DeiTBase>(dp, opt);
  throw InputError("--model", "", "heatvit hls has no engine build for " + m.name +
                                      " (supported: deit-micro with its trained weights; the DeiT-Ti/S/B shapes with "
                                      "synthetic weights; LV-ViT's convolutional stem is not supported)");
}

}  // namespace heatvit::hls
