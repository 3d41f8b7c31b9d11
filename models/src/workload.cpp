#include "heatvit/models/workload.hpp"

#include <algorithm>

#include "heatvit/core/error.hpp"

namespace heatvit {

const char* to_string(OpKind k) {
  switch (k) {
    case OpKind::Gemm: return "gemm";
    case OpKind::LayerNorm: return "layernorm";
    case OpKind::Softmax: return "softmax";
    case OpKind::Gelu: return "gelu";
    case OpKind::Sigmoid: return "sigmoid";
    case OpKind::Add: return "add";
    case OpKind::TokenMean: return "token_mean";
    case OpKind::Decision: return "decision";
    case OpKind::Compaction: return "compaction";
    case OpKind::Package: return "package";
  }
  return "?";
}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::Stem: return "stem";
    case Phase::Msa: return "msa";
    case Phase::Mlp: return "mlp";
    case Phase::Selector: return "selector";
    case Phase::Head: return "head";
  }
  return "?";
}

namespace {

struct Builder {
  std::vector<Op>& ops;

  Op& gemm(std::string name, int block, Phase ph, std::int64_t batch, std::int64_t m,
           std::int64_t n, std::int64_t k, bool weight = true, bool bias = true) {
    Op o;
    o.name = std::move(name);
    o.block = block;
    o.kind = OpKind::Gemm;
    o.phase = ph;
    o.batch = batch;
    o.m = m;
    o.n = n;
    o.k = k;
    o.b_is_weight = weight;
    o.has_bias = weight && bias;
    ops.push_back(o);
    return ops.back();
  }
  Op& elem(std::string name, int block, Phase ph, OpKind kind, std::int64_t rows, std::int64_t cols) {
    Op o;
    o.name = std::move(name);
    o.block = block;
    o.kind = kind;
    o.phase = ph;
    o.rows = rows;
    o.cols = cols;
    ops.push_back(o);
    return ops.back();
  }
};

// The HeatViT token selector before block b (structure of design/facts.md): per head
// LayerNorm(d) -> FC(d,d) -> GELU -> [local | mean over kept] -> FC(d,d/2) -> GELU ->
// FC(d/2,d/4) -> GELU -> FC(d/4,2) -> 2-way softmax; head weights from the per-token
// head means -> FC(h,h/2) -> GELU -> FC(h/2,h) -> sigmoid; then the control logic.
void add_selector(Builder& bd, const ModelShape& m, int b, std::int64_t scored, std::int64_t pruned) {
  const std::string p = "sel" + std::to_string(b) + ".";
  const std::int64_t h = m.heads, d = m.head_dim(), D = m.embed_dim;
  const std::int64_t hh = std::max<std::int64_t>(1, h / 2);
  const Phase ph = Phase::Selector;
  bd.elem(p + "ln", b, ph, OpKind::LayerNorm, scored * h, d);
  bd.gemm(p + "fc1", b, ph, h, scored, d, d);
  bd.elem(p + "gelu1", b, ph, OpKind::Gelu, scored, D);
  bd.elem(p + "global_mean", b, ph, OpKind::TokenMean, scored, D / 2);
  bd.gemm(p + "fc2", b, ph, h, scored, d / 2, d);
  bd.elem(p + "gelu2", b, ph, OpKind::Gelu, scored, h * (d / 2));
  bd.gemm(p + "fc3", b, ph, h, scored, std::max<std::int64_t>(1, d / 4), d / 2);
  bd.elem(p + "gelu3", b, ph, OpKind::Gelu, scored, h * std::max<std::int64_t>(1, d / 4));
  bd.gemm(p + "fc4", b, ph, h, scored, 2, std::max<std::int64_t>(1, d / 4));
  bd.elem(p + "softmax", b, ph, OpKind::Softmax, scored * h, 2);
  bd.gemm(p + "hw_fc1", b, ph, 1, scored, hh, h);
  bd.elem(p + "hw_gelu", b, ph, OpKind::Gelu, scored, hh);
  bd.gemm(p + "hw_fc2", b, ph, 1, scored, h, hh);
  bd.elem(p + "hw_sigmoid", b, ph, OpKind::Sigmoid, scored, h);
  bd.elem(p + "decision", b, ph, OpKind::Decision, scored, h);
  bd.elem(p + "compaction", b, ph, OpKind::Compaction, scored, 1);
  bd.elem(p + "package", b, ph, OpKind::Package, pruned, D);
}

void add_block(Builder& bd, const ModelShape& m, int b, std::int64_t n) {
  const std::string p = "block" + std::to_string(b) + ".";
  const std::int64_t h = m.heads, d = m.head_dim(), D = m.embed_dim, H = m.mlp_hidden();
  bd.elem(p + "ln1", b, Phase::Msa, OpKind::LayerNorm, n, D);
  bd.gemm(p + "qkv", b, Phase::Msa, 1, n, 3 * D, D);
  bd.gemm(p + "qk", b, Phase::Msa, h, n, n, d, /*weight=*/false);
  bd.elem(p + "softmax", b, Phase::Msa, OpKind::Softmax, h * n, n);
  bd.gemm(p + "av", b, Phase::Msa, h, n, d, n, /*weight=*/false);
  bd.gemm(p + "proj", b, Phase::Msa, 1, n, D, D);
  bd.elem(p + "add1", b, Phase::Msa, OpKind::Add, n, D);
  bd.elem(p + "ln2", b, Phase::Mlp, OpKind::LayerNorm, n, D);
  bd.gemm(p + "fc1", b, Phase::Mlp, 1, n, H, D);
  bd.elem(p + "gelu", b, Phase::Mlp, OpKind::Gelu, n, H);
  bd.gemm(p + "fc2", b, Phase::Mlp, 1, n, D, H);
  bd.elem(p + "add2", b, Phase::Mlp, OpKind::Add, n, D);
}

}  // namespace

Workload build_workload(const ModelShape& model, const std::vector<int>& tokens,
                        const std::vector<int>& selector_blocks, const std::vector<int>& kept_patches) {
  validate_tokens(model, tokens, "tokens");
  Workload w;
  w.model = model;
  w.tokens = tokens;
  w.selector_blocks = selector_blocks;
  std::sort(w.selector_blocks.begin(), w.selector_blocks.end());
  Builder bd{w.ops};
  const std::int64_t D = model.embed_dim;

  // Stem: convolutions lowered to GEMMs (im2col), BatchNorm folded into them.
  int size = model.image_size, ch = model.in_channels, stride = 1;
  for (std::size_t i = 0; i < model.stem.size(); ++i) {
    const auto& c = model.stem[i];
    size = (size + 2 * c.padding - c.kernel) / c.stride + 1;
    bd.gemm("stem.conv" + std::to_string(i), -1, Phase::Stem, 1,
            static_cast<std::int64_t>(size) * size, c.out_channels,
            static_cast<std::int64_t>(ch) * c.kernel * c.kernel, true, false);
    ch = c.out_channels;
    stride *= c.stride;
  }
  const std::int64_t pk = model.patch_size / stride;
  bd.gemm("patch_embed", -1, Phase::Stem, 1, model.patch_tokens(), D, ch * pk * pk);
  bd.elem("pos_embed", -1, Phase::Stem, OpKind::Add, model.dense_tokens(), D);

  bool package = false;
  int prev = model.dense_tokens();
  for (int b = 0; b < model.depth; ++b) {
    const int n = tokens[static_cast<std::size_t>(b)];
    if (std::binary_search(w.selector_blocks.begin(), w.selector_blocks.end(), b)) {
      const std::int64_t scored = patch_tokens_of(prev, package);
      bool pkg_after = package || n < prev;
      std::int64_t kept = patch_tokens_of(n, pkg_after);
      if (!kept_patches.empty()) {
        // Exact counts: a first pruning of a single token leaves the token count as it
        // was (the package token takes its place), which the counts alone cannot tell.
        const auto si = static_cast<std::size_t>(
            std::lower_bound(w.selector_blocks.begin(), w.selector_blocks.end(), b) - w.selector_blocks.begin());
        if (si >= kept_patches.size())
          throw InputError("kept_patches", "selector " + std::to_string(si), "missing");
        kept = kept_patches[si];
        pkg_after = package || kept < scored;
        if (1 + kept + (pkg_after ? 1 : 0) != n)
          throw InputError("kept_patches", "selector " + std::to_string(si),
                           std::to_string(kept) + " kept patch tokens disagree with " + std::to_string(n) +
                               " tokens entering block " + std::to_string(b));
      }
      if (kept < 0 || kept > scored)
        throw InputError("tokens", "block " + std::to_string(b),
                         "selector cannot produce " + std::to_string(n) + " tokens from " +
                             std::to_string(prev));
      add_selector(bd, model, b, scored, scored - kept);
      package = pkg_after;
    }
    add_block(bd, model, b, n);
    prev = n;
  }
  const int hb = model.depth;
  bd.elem("head.ln", hb, Phase::Head, OpKind::LayerNorm, prev, D);
  bd.gemm("head.fc", hb, Phase::Head, 1, 1, model.num_classes, D);
  if (model.aux_head) bd.gemm("head.aux", hb, Phase::Head, 1, prev - 1, model.num_classes, D);
  return w;
}

std::vector<Op> selector_ops(const ModelShape& model, int block, std::int64_t scored, std::int64_t pruned) {
  std::vector<Op> ops;
  Builder bd{ops};
  add_selector(bd, model, block, scored, pruned);
  return ops;
}

Workload build_dense_workload(const ModelShape& model) {
  return build_workload(model, std::vector<int>(static_cast<std::size_t>(model.depth), model.dense_tokens()), {});
}

Workload build_schedule_workload(const ModelShape& model, const Schedule& s) {
  std::vector<int> blocks;
  for (const auto& p : s.selectors) blocks.push_back(p.block);
  return build_workload(model, expected_tokens(model, s), blocks);
}

std::int64_t Workload::backbone_macs() const {
  std::int64_t t = 0;
  for (const auto& o : ops)
    if (o.phase != Phase::Selector) t += o.macs();
  return t;
}

std::int64_t Workload::selector_macs() const {
  std::int64_t t = 0;
  for (const auto& o : ops)
    if (o.phase == Phase::Selector) t += o.macs();
  return t;
}

std::int64_t Workload::weight_elements() const {
  std::int64_t t = 0;
  for (const auto& o : ops) t += o.weight_elements();
  return t;
}

json workload_to_json(const Workload& w, int bits) {
  json layers = json::array();
  for (const auto& o : w.ops) {
    json l = {{"name", o.name}, {"block", o.block}, {"kind", to_string(o.kind)},
              {"phase", to_string(o.phase)}, {"macs", o.macs()}};
    if (o.kind == OpKind::Gemm) {
      l["batch"] = o.batch;
      l["m"] = o.m;
      l["n"] = o.n;
      l["k"] = o.k;
      l["weight_bytes"] = o.weight_elements() * bits / 8;
    } else {
      l["rows"] = o.rows;
      l["cols"] = o.cols;
    }
    l["elements"] = o.elements();
    layers.push_back(l);
  }
  json j;
  j["model"] = w.model.name;
  j["depth"] = w.model.depth;
  j["tokens"] = w.tokens;
  j["selector_blocks"] = w.selector_blocks;
  j["backbone_macs"] = w.backbone_macs();
  j["selector_macs"] = w.selector_macs();
  j["total_macs"] = w.total_macs();
  j["gmacs"] = static_cast<double>(w.total_macs()) / 1e9;
  if (w.model.published_gmacs > 0) j["published_gmacs"] = w.model.published_gmacs;
  j["bits_per_element"] = bits;
  j["weight_bytes"] = w.weight_elements() * bits / 8;
  j["layers"] = layers;
  return j;
}

}  // namespace heatvit
