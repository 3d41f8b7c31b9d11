// deit-micro integer inference composed from the kernels (the C++ counterpart of
// IntModel.run in training/intref/reference.py, "heatvit" mode).
//
// Token layout: the hardware's dense layout, [CLS, kept patch tokens in ascending
// patch order, package token (once anything was pruned)]. reference.py keeps a masked
// 51-row buffer instead; every reduction over tokens is an exact integer sum or max,
// so both give identical integers.
//
// Activations and weights are held in int16 storage (their values are the int8/int16
// values of the numerics): on CPUs this lets the compiler use 16-bit multiply-add
// instructions for the int8 GEMMs. The HLS top instantiates the same kernels on int8.
#include "heatvit/func/func_model.hpp"
#include "heatvit/func/int_vit.hpp"
#include "heatvit/func/params.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "heatvit/core/error.hpp"
#include "heatvit/kernels/all.hpp"
#include "heatvit/models/hvt_file.hpp"

namespace heatvit::func {

namespace k = heatvit::kernels;
using S = Shape;

// ------------------------------------------------------------------ loading
namespace {

constexpr int kMinShift = -30, kMaxShift = 62;

class Loader {
 public:
  explicit Loader(const HvtFile& f) : f_(f), meta_(f.meta()) {}

  const json& obj(const json& parent, const std::string& key, const std::string& field) const {
    if (!parent.is_object() || !parent.contains(key)) f_.fail(field, "missing");
    return parent.at(key);
  }
  int integer(const json& parent, const std::string& key, const std::string& field) const {
    const json& v = obj(parent, key, field);
    if (!v.is_number_integer()) f_.fail(field, "must be an integer, got " + v.dump());
    const bool huge = v.is_number_unsigned() && v.get<std::uint64_t>() > 1000;
    const auto x = huge ? std::int64_t{1001} : v.get<std::int64_t>();
    if (x < -1000 || x > 1000) f_.fail(field, "value " + v.dump() + " is out of range [-1000, 1000]");
    return static_cast<int>(x);
  }
  int frac(const std::string& name) const {
    return integer(obj(meta_, "fracs", "meta.fracs"), name, "meta.fracs." + name);
  }
  int checked_shift(int s, const std::string& field) const {
    if (s < kMinShift || s > kMaxShift)
      f_.fail(field, "gives a shift of " + std::to_string(s) + ", outside [" + std::to_string(kMinShift) + ", " +
                         std::to_string(kMaxShift) + "]");
    return s;
  }

  template <int N, int K>
  void linear(const std::string& name, int out_bits, Linear<N, K>& l) const {
    const HvtTensor& w = f_.tensor(name + ".w", HvtDtype::Int8, {N, K});
    const HvtTensor& b = f_.tensor(name + ".b", HvtDtype::Int32, {N});
    for (int n = 0; n < N; ++n) {
      for (int kk = 0; kk < K; ++kk) l.w[n][kk] = static_cast<w_t>(w.values[static_cast<std::size_t>(n * K + kk)]);
      l.b[n] = static_cast<std::int32_t>(b.values[static_cast<std::size_t>(n)]);
    }
    const std::string field = "meta.gemm." + name;
    const json& g = obj(obj(meta_, "gemm", "meta.gemm"), name, field);
    const int fi = integer(g, "fi", field + ".fi"), fw = integer(g, "fw", field + ".fw");
    const int fo = integer(g, "fo", field + ".fo"), bits = integer(g, "out_bits", field + ".out_bits");
    if (bits != out_bits)
      f_.fail(field + ".out_bits", "is " + std::to_string(bits) + ", the model needs " + std::to_string(out_bits));
    l.shift = out_bits == 32 ? 0 : checked_shift(fi + fw - fo, field);
  }

  template <int C>
  void ln(const std::string& name, Ln<C>& l) const {
    const HvtTensor& g = f_.tensor(name + ".g", HvtDtype::Int16, {C});
    const HvtTensor& b = f_.tensor(name + ".b", HvtDtype::Int32, {C});
    for (int c = 0; c < C; ++c) {
      l.g[c] = static_cast<std::int16_t>(g.values[static_cast<std::size_t>(c)]);
      l.b[c] = static_cast<std::int32_t>(b.values[static_cast<std::size_t>(c)]);
    }
    const std::string field = "meta.ln." + name;
    const json& m = obj(obj(meta_, "ln", "meta.ln"), name, field);
    const int fg = integer(m, "fg", field + ".fg"), fo = integer(m, "fo", field + ".fo");
    l.shift = checked_shift(fg + k::Frac::ln_norm - fo, field);
  }

  int gelu_frac(const std::string& name) const {
    const int f = frac(name);
    checked_shift(k::Frac::pre_gelu - f, "meta.fracs." + name);
    return f;
  }

 private:
  const HvtFile& f_;
  const json& meta_;
};

void check_shape_meta(const HvtFile& f) {
  const json& meta = f.meta();
  if (!meta.contains("shape") || !meta["shape"].is_object()) f.fail("meta.shape", "missing");
  const std::pair<const char*, int> want[] = {
      {"img", S::kImage},       {"in_chans", 1},          {"patch", S::kPatch},      {"num_patches", S::kPatches},
      {"tokens", S::kPatches + 1}, {"dim", S::kDim},      {"depth", S::kDepth},      {"heads", S::kHeads},
      {"head_dim", S::kHeadDim}, {"mlp_ratio", S::kHidden / S::kDim}, {"hidden", S::kHidden},
      {"classes", S::kClasses}};
  for (const auto& [key, v] : want) {
    const json& s = meta["shape"];
    if (!s.contains(key) || !s[key].is_number_integer())
      f.fail(std::string("meta.shape.") + key, "missing or not an integer");
    if (s[key].get<std::int64_t>() != v)
      f.fail(std::string("meta.shape.") + key, "is " + s[key].dump() + ", this model (deit-micro) has " +
                                                   std::to_string(v));
  }
  if (!meta.contains("consts") || !meta["consts"].is_object()) f.fail("meta.consts", "missing");
  const std::pair<const char*, int> consts[] = {{"F_H", k::Frac::pre_gelu},   {"F_D", k::Frac::log_odds},
                                                {"F_SIG", k::Frac::sigmoid},  {"F_N", k::Frac::ln_norm},
                                                {"G_LN", k::Frac::ln_std_extra}};
  for (const auto& [key, v] : consts) {
    const json& c = meta["consts"];
    if (!c.contains(key) || !c[key].is_number_integer() || c[key].get<std::int64_t>() != v)
      f.fail(std::string("meta.consts.") + key,
             (c.contains(key) ? "is " + c[key].dump() : std::string("missing")) + "; the kernels implement " +
                 std::to_string(v));
  }
  if (meta.contains("keep_grid_milli")) {
    const json& g = meta["keep_grid_milli"];
    bool ok = g.is_array() && g.size() == static_cast<std::size_t>(S::kKeepGrid);
    for (std::size_t j = 0; ok && j < g.size(); ++j)
      ok = g[j].is_number_integer() && g[j].get<std::int64_t>() == 50 * static_cast<std::int64_t>(j + 1);
    if (!ok) f.fail("meta.keep_grid_milli", "must be [50, 100, ..., 1000] (20 keep rates)");
  }
}

void check_model_shape(const ModelShape& m) {
  auto need = [&](const char* field, int have, int want) {
    if (have != want)
      throw InputError("--model " + m.name, field,
                       "is " + std::to_string(have) + "; the functional model runs deit-micro (" + field + " " +
                           std::to_string(want) + ")");
  };
  need("image_size", m.image_size, S::kImage);
  need("in_channels", m.in_channels, 1);
  need("patch_size", m.patch_size, S::kPatch);
  need("embed_dim", m.embed_dim, S::kDim);
  need("depth", m.depth, S::kDepth);
  need("heads", m.heads, S::kHeads);
  need("mlp_ratio", m.mlp_ratio, S::kHidden / S::kDim);
  need("num_classes", m.num_classes, S::kClasses);
  if (!m.stem.empty()) throw InputError("--model " + m.name, "stem", "deit-micro has no convolutional stem");
}

}  // namespace

FuncModel FuncModel::load(const std::string& path, const ModelShape& shape) {
  check_model_shape(shape);
  return from_file(HvtFile::read(path, "deit-micro-int8"), shape);
}

FuncModel FuncModel::from_file(const HvtFile& f, const ModelShape& shape) {
  check_model_shape(shape);
  if (f.kind() != "deit-micro-int8") f.fail("kind", "is '" + f.kind() + "', expected 'deit-micro-int8'");
  const std::string& path = f.path();
  check_shape_meta(f);
  Loader L(f);
  auto p = std::make_shared<Params>();
  L.linear("pe", 16, p->pe);
  {
    const HvtTensor& pos = f.tensor("pos", HvtDtype::Int16, {S::kPatches + 1, S::kDim});
    for (int t = 0; t <= S::kPatches; ++t)
      for (int c = 0; c < S::kDim; ++c)
        p->pos[t][c] = static_cast<std::int16_t>(pos.values[static_cast<std::size_t>(t * S::kDim + c)]);
  }
  for (int i = 0; i < S::kDepth; ++i) {
    const std::string n = "b" + std::to_string(i);
    BlockParams& b = p->blocks[i];
    L.ln(n + ".ln1", b.ln1);
    L.linear(n + ".q", 8, b.q);
    L.linear(n + ".k", 8, b.k);
    L.linear(n + ".v", 8, b.v);
    L.linear(n + ".proj", 16, b.proj);
    L.ln(n + ".ln2", b.ln2);
    L.linear(n + ".fc1", 16, b.fc1);
    L.linear(n + ".fc2", 16, b.fc2);
    b.score_shift = L.checked_shift(L.frac(n + ".q") + L.frac(n + ".k") - k::Frac::softmax_in, "meta.fracs." + n + ".q");
    b.attn_shift = L.checked_shift(k::Frac::softmax_out + L.frac(n + ".v") - L.frac(n + ".ao"),
                                   "meta.fracs." + n + ".ao");
    b.gelu_frac = L.gelu_frac(n + ".g");
  }
  L.ln("lnf", p->lnf);
  L.linear("head", 32, p->head);
  const int f_res = L.frac("res");

  FuncModel m;
  m.path_ = path;
  m.shape_ = shape;
  const json& meta = f.meta();
  if (!meta.contains("candidate_blocks") || !meta["candidate_blocks"].is_array())
    f.fail("meta.candidate_blocks", "missing or not a list");
  for (const auto& jb : meta["candidate_blocks"]) {
    if (!jb.is_number_integer() || jb.get<std::int64_t>() < 0 || jb.get<std::int64_t>() >= S::kDepth)
      f.fail("meta.candidate_blocks", "entry " + jb.dump() + " is not a block index 0.." + std::to_string(S::kDepth - 1));
    const int b = static_cast<int>(jb.get<std::int64_t>());
    if (p->has_sel[b]) f.fail("meta.candidate_blocks", "block " + std::to_string(b) + " is listed twice");
    const std::string n = "s" + std::to_string(b);
    SelectorParams& s = p->sel[b];
    for (int h = 0; h < S::kHeads; ++h) {
      const std::string hs = std::to_string(h);
      L.ln(n + ".ln" + hs, s.ln[h]);
      L.linear(n + ".l1_" + hs, 16, s.l1[h]);
      L.linear(n + ".l2_" + hs, 16, s.l2[h]);
      L.linear(n + ".l3_" + hs, 16, s.l3[h]);
      L.linear(n + ".l4_" + hs, 16, s.l4[h]);
      s.g1[h] = L.gelu_frac(n + ".g1" + hs);
      s.g2[h] = L.gelu_frac(n + ".g2" + hs);
      s.g3[h] = L.gelu_frac(n + ".g3" + hs);
    }
    L.linear(n + ".hb1", 16, s.hb1);
    L.linear(n + ".hb2", 16, s.hb2);
    s.m_shift = L.checked_shift(f_res - L.frac(n + ".m"), "meta.fracs." + n + ".m");
    s.hg = L.gelu_frac(n + ".hg");
    const HvtTensor& thr = f.tensor(n + ".thr", HvtDtype::Int32, {S::kKeepGrid});
    for (int j = 0; j < S::kKeepGrid; ++j) s.thr[j] = static_cast<std::int32_t>(thr.values[static_cast<std::size_t>(j)]);
    p->has_sel[b] = true;
    m.bank_.push_back(b);
  }
  std::sort(m.bank_.begin(), m.bank_.end());
  if (f.has("calib.index")) {
    const HvtTensor& ci = f.tensor("calib.index");
    if (ci.dtype != HvtDtype::Int32 || ci.shape.size() != 1 || ci.shape[0] < 1)
      f.fail("tensors.calib.index", "must be a non-empty 1-D int32 tensor of training-image indices");
    for (auto v : ci.values) {
      if (v < 0) f.fail("tensors.calib.index", "negative image index " + std::to_string(v));
      m.calib_.push_back(static_cast<int>(v));
    }
  }
  auto ops = std::make_shared<CpuOps>();
  ops->add(p->pe);
  for (const auto& b : p->blocks) {
    for (const auto* l : {&b.q, &b.k, &b.v, &b.proj}) ops->add(*l);
    ops->add(b.fc1);
    ops->add(b.fc2);
  }
  for (const auto& sel : p->sel)
    for (int h = 0; h < S::kHeads; ++h) {
      ops->add(sel.l1[h]);
      ops->add(sel.l2[h]);
    }
  m.p_ = std::move(p);
  m.ops_ = std::move(ops);
  return m;
}

bool FuncModel::has_selector(int block) const {
  return block >= 0 && block < S::kDepth && p_->has_sel[block];
}

std::vector<std::int32_t> FuncModel::threshold_table(int block) const {
  HEATVIT_CHECK(has_selector(block), "threshold_table: no selector before block " + std::to_string(block));
  const auto& t = p_->sel[block].thr;
  return std::vector<std::int32_t>(t, t + S::kKeepGrid);
}

std::vector<SelectorThreshold> FuncModel::resolve(const Schedule& schedule, const std::string& origin) const {
  std::vector<SelectorPoint> pts = schedule.selectors;
  std::stable_sort(pts.begin(), pts.end(), [](const SelectorPoint& a, const SelectorPoint& b) { return a.block < b.block; });
  std::string bank;
  for (int b : bank_) bank += (bank.empty() ? "" : ", ") + std::to_string(b);
  std::vector<SelectorThreshold> out;
  std::int64_t cum = 1000;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const SelectorPoint& sp = pts[i];
    if (!has_selector(sp.block))
      throw InputError(origin, "selectors[" + std::to_string(i) + "].block",
                       "the model " + path_ + " has no selector before block " + std::to_string(sp.block) +
                           " (its bank has selectors before blocks " + (bank.empty() ? "none" : bank) + ")");
    if (!(sp.keep > 0.0 && sp.keep <= 1.0))
      throw InputError(origin, "selectors[" + std::to_string(i) + "].keep", "must be in (0, 1]");
    // Python: cum = cum * int(round(k * 1000)) // 1000, round() half to even.
    const auto k_milli = static_cast<std::int64_t>(std::nearbyint(sp.keep * 1000.0));
    cum = cum * k_milli / 1000;
    std::int64_t j = (cum * 20 + 500) / 1000 - 1;
    j = std::min<std::int64_t>(S::kKeepGrid - 1, std::max<std::int64_t>(0, j));
    SelectorThreshold st;
    st.block = sp.block;
    st.keep = sp.keep;
    st.cum_keep_milli = static_cast<int>(cum);
    st.table_index = static_cast<int>(j);
    st.threshold = p_->sel[sp.block].thr[j];
    out.push_back(st);
  }
  return out;
}

// ------------------------------------------------------------------ inference
namespace {
using V = IntVit<Shape>;
using Work = V::Work;
constexpr int P = S::kPatches;
constexpr int D = S::kDim;
}  // namespace

void FuncModel::run(const std::uint8_t* image, const std::vector<SelectorThreshold>& selectors,
                    ImageResult& out, bool stop_after_selectors) const {
  const Params& p = *p_;
  const auto wp = std::make_unique<Work>();
  Work& w = *wp;
  V::embed(p, image, w, *ops_);
  int n = P;           // patch tokens (rows 1..n)
  bool alive = false;  // package token present (row n + 1)
  std::int64_t wsum = 0;
  std::size_t next = 0;
  out.selectors = static_cast<int>(selectors.size());
  for (int b = 0; b < S::kDepth; ++b) {
    if (next < selectors.size() && selectors[next].block == b) {
      const int si = static_cast<int>(next++);
      HEATVIT_CHECK(p.has_sel[b], "no selector before block " + std::to_string(b));
      V::selector_scores(p.sel[b], w, n, *ops_);
      out.reached[si] = n;
      for (int j = 0; j < P; ++j) out.score[si][j] = INT32_MIN;
      for (int i = 0; i < n; ++i) out.score[si][w.index[i]] = w.score[i];
      V::decide(w, selectors[static_cast<std::size_t>(si)].threshold, n, alive, wsum);
      std::uint64_t mask = 0;
      for (int i = 0; i < n; ++i) mask |= std::uint64_t(1) << w.index[i];
      out.kept[si] = mask;
      if (stop_after_selectors && next == selectors.size()) return;
    }
    const int t = 1 + n + (alive ? 1 : 0);
    out.tokens[b] = t;
    V::run_block(p.blocks[b], w, t, *ops_);
  }
  HEATVIT_CHECK(next == selectors.size(), "selector list not in ascending block order");
  out.prediction = V::classify(p, w, out.logits);
}

// ---- the token stream between blocks (prefix sharing in sweeps) ----

struct FuncModel::Scratch {
  Work w;
};

FuncModel::ScratchPtr FuncModel::make_scratch() const { return ScratchPtr(new Scratch()); }
void FuncModel::ScratchDeleter::operator()(Scratch* s) const { delete s; }

namespace {
void load_state(const TokenState& s, Work& w) {
  const int rows = 1 + s.n + (s.alive ? 1 : 0);
  std::memcpy(w.x, s.x, sizeof(act_t) * static_cast<std::size_t>(rows) * D);
  std::memcpy(w.index, s.index, sizeof(std::int16_t) * static_cast<std::size_t>(s.n));
}
void store_state(const Work& w, TokenState& s) {
  const int rows = 1 + s.n + (s.alive ? 1 : 0);
  std::memcpy(s.x, w.x, sizeof(act_t) * static_cast<std::size_t>(rows) * D);
  std::memcpy(s.index, w.index, sizeof(std::int16_t) * static_cast<std::size_t>(s.n));
}
}  // namespace

void FuncModel::begin(const std::uint8_t* image, TokenState& s, Scratch& sc) const {
  V::embed(*p_, image, sc.w, *ops_);
  s.block = 0;
  s.n = P;
  s.alive = false;
  s.wsum = 0;
  store_state(sc.w, s);
}

void FuncModel::advance(TokenState& s, int to_block, Scratch& sc) const {
  HEATVIT_CHECK(to_block >= s.block && to_block <= S::kDepth, "advance: bad target block");
  if (to_block == s.block) return;
  load_state(s, sc.w);
  for (; s.block < to_block; ++s.block) {
    const int t = 1 + s.n + (s.alive ? 1 : 0);
    s.tokens[s.block] = t;
    V::run_block(p_->blocks[s.block], sc.w, t, *ops_);
  }
  store_state(sc.w, s);
}

int FuncModel::scores(const TokenState& s, std::int32_t* out, Scratch& sc) const {
  HEATVIT_CHECK(s.block < S::kDepth && p_->has_sel[s.block], "no selector before block " + std::to_string(s.block));
  load_state(s, sc.w);
  V::selector_scores(p_->sel[s.block], sc.w, s.n, *ops_);
  std::memcpy(out, sc.w.score, sizeof(std::int32_t) * static_cast<std::size_t>(s.n));
  return s.n;
}

void FuncModel::select(TokenState& s, const std::int32_t* scores, std::int32_t threshold, Scratch& sc) const {
  load_state(s, sc.w);
  std::memcpy(sc.w.score, scores, sizeof(std::int32_t) * static_cast<std::size_t>(s.n));
  V::decide(sc.w, threshold, s.n, s.alive, s.wsum);
  store_state(sc.w, s);
}

int FuncModel::finish(TokenState& s, std::int64_t* logits, Scratch& sc) const {
  advance(s, S::kDepth, sc);
  load_state(s, sc.w);
  return V::classify(*p_, sc.w, logits);
}

}  // namespace heatvit::func
