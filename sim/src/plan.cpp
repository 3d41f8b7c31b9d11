#include "heatvit/sim/plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "heatvit/core/error.hpp"

namespace heatvit::sim {

const char* to_string(PassKind k) {
  switch (k) {
    case PassKind::Linear: return "linear";
    case PassKind::Attention: return "attention";
    case PassKind::Unit: return "unit";
  }
  return "?";
}

namespace {

std::int64_t cdiv(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
std::int64_t round_up(std::int64_t a, std::int64_t b) { return cdiv(a, b) * b; }

/// Candidate tile sizes for a dimension of size `dim` with hardware granule `g`:
/// the whole (rounded) dimension, then repeated halvings down to one granule.
std::vector<std::int64_t> candidates(std::int64_t dim, std::int64_t g) {
  std::vector<std::int64_t> out;
  std::int64_t t = round_up(dim, g);
  while (true) {
    out.push_back(t);
    if (t <= g) break;
    t = round_up(cdiv(t, 2), g);
  }
  return out;
}

[[noreturn]] void too_big(const HwConfig& hw, const std::string& field, const std::string& layer,
                          std::int64_t need, std::int64_t have) {
  throw InputError(hw.accelerator_origin, "buffers_kib." + field,
                   "layer " + layer + ": its smallest tile needs " + std::to_string(need) +
                       " bytes per buffer half, the buffer holds " + std::to_string(have));
}

}  // namespace

std::int64_t gemm_tile_cycles(const PeArray& pe, std::int64_t tm, std::int64_t tn, std::int64_t tk,
                              bool head_parallel) {
  const std::int64_t rows = head_parallel ? tm : cdiv(tm, pe.th);
  return rows * cdiv(tn, pe.to) * cdiv(tk, pe.ti);
}

std::int64_t unit_cycles(const NonlinearUnit& u, std::int64_t elements) {
  return cdiv(elements, u.lanes);
}

Tiling choose_tiling(std::int64_t m, std::int64_t n, std::int64_t k, bool a_ln, const HwConfig& hw,
                     const std::string& layer) {
  const std::int64_t eb = hw.element_bytes(), acc = hw.accumulator_bits / 8;
  const auto& B = hw.buffers;
  const auto& pe = hw.pe;
  const PeArray pe_linear = hw.pe_for(false);
  // Bytes the load DMA moves per PL cycle at best (ports x width, capped by DDR peak).
  const double dram_per_cycle = hw.ddr.peak_bytes_per_second() / (hw.frequency_mhz * 1e6);
  const double bw = std::min(hw.axi.read_ports.size() * hw.port_bytes_per_cycle(), dram_per_cycle);

  Tiling best;
  double best_cost = std::numeric_limits<double>::infinity();
  std::int64_t best_traffic = 0;
  const auto tks = a_ln ? std::vector<std::int64_t>{k} : candidates(k, pe.ti);
  for (std::int64_t tm : candidates(m, pe.th)) {
    for (std::int64_t tk : tks) {
      if (tm * tk * eb > B.input_bytes) continue;
      for (std::int64_t tn : candidates(n, pe.to)) {
        if (tk * tn * eb > B.weight_bytes || tm * tn * acc > B.output_bytes) continue;
        const std::int64_t nm = cdiv(m, tm), nn = cdiv(n, tn), nk = cdiv(k, tk);
        for (bool n_outer : {false, true}) {
          std::int64_t a_bytes, w_bytes;
          if (!n_outer) {
            a_bytes = (nk == 1) ? m * k : m * k * nn;
            w_bytes = (nm == 1 || (nk == 1 && nn == 1)) ? k * n : k * n * nm;
          } else {
            w_bytes = (nk == 1) ? k * n : k * n * nm;
            a_bytes = (nm == 1 && nk == 1) ? m * k : m * k * nn;
          }
          const std::int64_t traffic = (a_bytes + w_bytes + m * n) * eb;
          const std::int64_t compute = nm * nn * nk * gemm_tile_cycles(pe_linear, tm, tn, tk, false);
          const double cost = std::max<double>(compute, traffic / bw) +
                              static_cast<double>(nm * nn * nk) * pe.pipeline_depth();
          if (cost < best_cost || (cost == best_cost && traffic < best_traffic)) {
            best_cost = cost;
            best_traffic = traffic;
            best = {tm, tn, tk, n_outer};
          }
        }
      }
    }
  }
  if (best.tm == 0) {
    const std::int64_t tk_min = a_ln ? k : std::min<std::int64_t>(k, pe.ti);
    if (pe.th * tk_min * eb > B.input_bytes) too_big(hw, "input", layer, pe.th * tk_min * eb, B.input_bytes);
    if (tk_min * pe.to * eb > B.weight_bytes) too_big(hw, "weight", layer, tk_min * pe.to * eb, B.weight_bytes);
    too_big(hw, "output", layer, pe.th * pe.to * acc, B.output_bytes);
  }
  return best;
}

std::int64_t Pass::macs() const {
  std::int64_t t = 0;
  for (const auto& s : steps) t += s.macs;
  return t;
}
std::int64_t Pass::ddr_read_bytes() const {
  std::int64_t t = 0;
  for (const auto& s : steps) t += s.load_a_bytes + s.load_b_bytes + s.store_read_bytes;
  return t;
}
std::int64_t Pass::ddr_write_bytes() const {
  std::int64_t t = 0;
  for (const auto& s : steps) t += s.store_bytes;
  return t;
}
std::int64_t Pass::compute_cycles() const {
  std::int64_t t = 0;
  for (const auto& s : steps) t += s.compute_cycles;
  return t;
}
std::int64_t Plan::macs() const {
  std::int64_t t = 0;
  for (const auto& p : passes) t += p.macs();
  return t;
}

namespace {

/// Post-processing fused onto a GEMM's store path.
struct Post {
  std::vector<const NonlinearUnit*> units;  // one pass over the output per unit
  bool residual = false;                    // reads the residual tile from DDR
  int latency = 0;
};

class Lowering {
 public:
  Lowering(const Workload& w, const HwConfig& hw, TilingCache* cache = nullptr)
      : w_(w), hw_(hw), eb_(hw.element_bytes()), cache_(cache) {}

  Plan run() {
    const auto& ops = w_.ops;
    for (std::size_t i = 0; i < ops.size();) {
      const Op& o = ops[i];
      if (o.kind == OpKind::LayerNorm && next_weight_gemm(i) && !hw_.ps.layernorm) {
        pending_ln_ = &o;
        ++i;
        continue;
      }
      if (o.kind == OpKind::Gemm && !o.b_is_weight && i + 2 < ops.size() &&
          ops[i + 1].kind == OpKind::Softmax && ops[i + 2].kind == OpKind::Gemm) {
        attention(o, ops[i + 1], ops[i + 2]);
        i += 3;
        continue;
      }
      if (o.kind == OpKind::Gemm && o.macs() == 0) {
        // Nothing to compute (e.g. a selector after all patch tokens were pruned):
        // the controller skips it and its fused post-processing.
        std::size_t j = i + 1;
        while (j < ops.size() && fusable_post(ops[j])) ++j;
        mean_post_ = false;
        if (o.phase != Phase::Head) pending_ln_ = nullptr;
        i = j;
        continue;
      }
      if (o.kind == OpKind::Gemm) {
        std::size_t j = i + 1;
        Post post;
        std::vector<std::string> fused;
        while (j < ops.size() && fusable_post(ops[j])) {
          add_post(ops[j], post);
          fused.push_back(ops[j].name);
          ++j;
        }
        linear(o, post, fused);
        i = j;
        continue;
      }
      unit(i);
      ++i;
    }
    return std::move(plan_);
  }

 private:
  bool next_weight_gemm(std::size_t i) const {
    return i + 1 < w_.ops.size() && w_.ops[i + 1].kind == OpKind::Gemm && w_.ops[i + 1].b_is_weight;
  }

  static bool fusable_post(const Op& o) {
    return o.kind == OpKind::Gelu || o.kind == OpKind::Add || o.kind == OpKind::Sigmoid ||
           o.kind == OpKind::TokenMean || (o.kind == OpKind::Softmax && o.phase == Phase::Selector);
  }

  void add_post(const Op& o, Post& p) {
    const auto& nl = hw_.nonlinear;
    switch (o.kind) {
      case OpKind::Gelu: p.units.push_back(&nl.gelu); p.latency += nl.gelu.latency; break;
      case OpKind::Sigmoid: p.units.push_back(&nl.sigmoid); p.latency += nl.sigmoid.latency; break;
      case OpKind::Softmax: p.units.push_back(&nl.softmax); p.latency += nl.softmax.latency; break;
      case OpKind::Add:
        p.units.push_back(&nl.add);
        p.latency += nl.add.latency;
        p.residual = true;
        break;
      case OpKind::TokenMean: mean_post_ = true; break;
      default: break;
    }
  }

  Pass start(const Op& o, PassKind kind) {
    Pass p;
    p.name = o.name;
    p.block = o.block;
    p.phase = o.phase;
    p.kind = kind;
    if (pending_ln_ && kind == PassKind::Linear) p.ops.push_back(pending_ln_->name);
    p.ops.push_back(o.name);
    p.fill_cycles = hw_.pe.pipeline_depth();
    return p;
  }

  void linear(const Op& o, const Post& post, const std::vector<std::string>& fused) {
    Pass p = start(o, PassKind::Linear);
    const bool ln = pending_ln_ != nullptr;
    if (o.phase != Phase::Head) pending_ln_ = nullptr;
    for (const auto& f : fused) p.ops.push_back(f);
    p.post_latency = post.latency;
    const bool mean = mean_post_;
    mean_post_ = false;
    const auto& ln_unit = hw_.nonlinear.layernorm;
    const std::int64_t eb = eb_;
    const std::int64_t bias_bytes = 4;  // int32 bias per output channel

    auto post_cycles = [&](std::int64_t elems) {
      std::int64_t c = 0;
      for (const auto* u : post.units) c += unit_cycles(*u, elems);
      if (mean) c += cdiv(elems / 2, hw_.selector.mean_lanes);
      return c;
    };

    if (o.batch > 1) {
      // Per-head GEMMs (selector layers): heads on the head-parallel lanes, rows tiled.
      const std::int64_t th = hw_.pe.th;
      std::int64_t tm = o.m;
      while (tm > 1 && (th * tm * o.k * eb > hw_.buffers.input_bytes ||
                        th * tm * o.n * (hw_.accumulator_bits / 8) > hw_.buffers.output_bytes))
        tm = cdiv(tm, 2);
      if (th * tm * o.k * eb > hw_.buffers.input_bytes)
        too_big(hw_, "input", o.name, th * tm * o.k * eb, hw_.buffers.input_bytes);
      if (th * tm * o.n * (hw_.accumulator_bits / 8) > hw_.buffers.output_bytes)
        too_big(hw_, "output", o.name, th * tm * o.n * (hw_.accumulator_bits / 8), hw_.buffers.output_bytes);
      if (th * o.k * o.n * eb > hw_.buffers.weight_bytes)
        too_big(hw_, "weight", o.name, th * o.k * o.n * eb, hw_.buffers.weight_bytes);
      p.tiling = {tm, o.n, o.k, false};
      for (std::int64_t g = 0; g < o.batch; g += th) {
        const std::int64_t hg = std::min(th, o.batch - g);
        for (std::int64_t m0 = 0; m0 < o.m; m0 += tm) {
          const std::int64_t tmm = std::min(tm, o.m - m0);
          Step s;
          s.load_a_bytes = hg * tmm * o.k * eb;
          s.load_b_bytes = (m0 == 0) ? hg * (o.k * o.n * eb + o.n * bias_bytes) : 0;
          if (ln) s.load_cycles = unit_cycles(ln_unit, hg * tmm * o.k) + ln_unit.latency;
          s.compute_cycles = gemm_tile_cycles(hw_.pe_for(false), tmm, o.n, o.k, true);
          s.macs = hg * tmm * o.n * o.k;
          s.post_cycles = post_cycles(hg * tmm * o.n);
          s.store_bytes = hg * tmm * o.n * eb;
          s.store_read_bytes = post.residual ? s.store_bytes : 0;
          p.steps.push_back(s);
        }
      }
      plan_.passes.push_back(std::move(p));
      return;
    }

    const Tiling t = tiling(o.m, o.n, o.k, ln, o.name);
    p.tiling = t;
    const std::int64_t nm = cdiv(o.m, t.tm), nn = cdiv(o.n, t.tn), nk = cdiv(o.k, t.tk);
    std::int64_t last_a = -1, last_w = -1;
    auto emit = [&](std::int64_t mi, std::int64_t ni, std::int64_t ki) {
      const std::int64_t tmm = std::min(t.tm, o.m - mi * t.tm);
      const std::int64_t tnn = std::min(t.tn, o.n - ni * t.tn);
      const std::int64_t tkk = std::min(t.tk, o.k - ki * t.tk);
      const std::int64_t a_id = mi * nk + ki, w_id = ki * nn + ni;
      Step s;
      if (a_id != last_a) {
        s.load_a_bytes = tmm * tkk * eb;
        if (ln) s.load_cycles = unit_cycles(ln_unit, tmm * tkk) + ln_unit.latency;
        last_a = a_id;
      }
      if (w_id != last_w) {
        s.load_b_bytes = tkk * tnn * eb + (ki == 0 && o.has_bias ? tnn * bias_bytes : 0);
        last_w = w_id;
      }
      s.compute_cycles = gemm_tile_cycles(hw_.pe_for(false), tmm, tnn, tkk, false);
      s.macs = tmm * tnn * tkk;
      s.ends_tile = (ki == nk - 1);
      if (s.ends_tile) {
        s.post_cycles = post_cycles(tmm * tnn);
        s.store_bytes = tmm * tnn * eb;
        s.store_read_bytes = post.residual ? s.store_bytes : 0;
      }
      p.steps.push_back(s);
    };
    if (!t.n_outer) {
      for (std::int64_t mi = 0; mi < nm; ++mi)
        for (std::int64_t ni = 0; ni < nn; ++ni)
          for (std::int64_t ki = 0; ki < nk; ++ki) emit(mi, ni, ki);
    } else {
      for (std::int64_t ni = 0; ni < nn; ++ni)
        for (std::int64_t mi = 0; mi < nm; ++mi)
          for (std::int64_t ki = 0; ki < nk; ++ki) emit(mi, ni, ki);
    }
    plan_.passes.push_back(std::move(p));
  }

  void attention(const Op& qk, const Op& sm, const Op& av) {
    Pass p = start(qk, PassKind::Attention);
    p.ops.push_back(sm.name);
    p.ops.push_back(av.name);
    p.post_latency = hw_.nonlinear.softmax.latency;
    const std::int64_t h = qk.batch, n = qk.n, d = qk.k, th = hw_.pe.th, eb = eb_;
    const std::int64_t acc = hw_.accumulator_bits / 8;
    // K and V of a head group stay on chip (weight buffer) for all query tiles.
    if (2 * th * n * d * eb > hw_.buffers.weight_bytes)
      too_big(hw_, "weight", qk.name, 2 * th * n * d * eb, hw_.buffers.weight_bytes);
    // Raw scores of th heads x tm query rows x n keys live in the attention buffer.
    std::int64_t tm = qk.m;
    while (tm > 1 && (th * tm * n * acc > hw_.buffers.attention_bytes || th * tm * d * eb > hw_.buffers.input_bytes))
      tm = cdiv(tm, 2);
    if (th * tm * n * acc > hw_.buffers.attention_bytes)
      too_big(hw_, "attention", qk.name, th * tm * n * acc, hw_.buffers.attention_bytes);
    p.tiling = {tm, n, d, false};
    const auto& smu = hw_.nonlinear.softmax;
    for (std::int64_t g = 0; g < h; g += th) {
      const std::int64_t hg = std::min(th, h - g);
      for (std::int64_t m0 = 0; m0 < qk.m; m0 += tm) {
        const std::int64_t tmm = std::min(tm, qk.m - m0);
        Step s;
        s.load_a_bytes = hg * tmm * d * eb;
        s.load_b_bytes = (m0 == 0) ? 2 * hg * n * d * eb : 0;
        // Row pipeline: the PE array computes Q*K^T of row r+1 and A*V of row r-1
        // while the softmax unit normalizes row r (all heads of the group), so a
        // row costs the slower of the two, plus one softmax row to drain.
        const PeArray ape = hw_.pe_for(true);
        const std::int64_t pe_row = gemm_tile_cycles(ape, 1, n, d, true) + gemm_tile_cycles(ape, 1, d, n, true);
        const std::int64_t sm_row = unit_cycles(smu, hg * n);
        s.compute_cycles = tmm * std::max(pe_row, sm_row) + sm_row + smu.latency;
        s.macs = 2 * hg * tmm * n * d;
        s.store_bytes = hg * tmm * d * eb;
        p.steps.push_back(s);
      }
    }
    plan_.passes.push_back(std::move(p));
  }

  void unit(std::size_t i) {
    const Op& o = w_.ops[i];
    Pass p = start(o, PassKind::Unit);
    p.fill_cycles = 0;
    const std::int64_t eb = eb_, D = w_.model.embed_dim;
    const auto& sel = hw_.selector;
    Step s;
    switch (o.kind) {
      case OpKind::Decision:
        if (o.rows == 0) return;
        // Reads the per-head keep probabilities and head weights (2 bytes per head).
        s.load_a_bytes = o.rows * o.cols * 2 * eb;
        s.compute_cycles = cdiv(o.rows, sel.decision_lanes) + 2;
        s.store_bytes = 0;
        break;
      case OpKind::Compaction: {
        if (o.rows == 0) return;
        // Streams every scored token once: kept rows are written densely, pruned rows
        // feed the package accumulator on the way (see the Package op).
        const std::int64_t pruned = (i + 1 < w_.ops.size() && w_.ops[i + 1].kind == OpKind::Package)
                                        ? w_.ops[i + 1].rows : 0;
        s.load_a_bytes = o.rows * D * eb;
        s.compute_cycles = cdiv(o.rows, sel.compaction_lanes) + 1;
        s.store_bytes = (o.rows - pruned) * D * eb;
        break;
      }
      case OpKind::Package:
        s.compute_cycles = cdiv(o.rows * o.cols, sel.package_lanes) + (o.rows > 0 ? 1 : 0);
        s.store_bytes = o.rows > 0 ? o.cols * eb : 0;
        break;
      case OpKind::LayerNorm:
        if (hw_.ps.layernorm) {
          if (o.rows * o.cols == 0) return;
          // On the PS: it reads the activations, normalizes them on its cores and writes
          // them back while the accelerator waits (docs/microarchitecture.md, "LayerNorm on the PS").
          s.load_a_bytes = o.rows * o.cols * eb;
          s.compute_cycles = ps_cycles(o.rows * o.cols);
          s.store_bytes = o.rows * o.cols * eb;
          break;
        }
        [[fallthrough]];
      default: {
        if (o.rows * o.cols == 0) return;
        const NonlinearUnit* u = &hw_.nonlinear.add;
        if (o.kind == OpKind::LayerNorm) u = &hw_.nonlinear.layernorm;
        if (o.kind == OpKind::Gelu) u = &hw_.nonlinear.gelu;
        if (o.kind == OpKind::Sigmoid) u = &hw_.nonlinear.sigmoid;
        if (o.kind == OpKind::Softmax) u = &hw_.nonlinear.softmax;
        s.load_a_bytes = o.rows * o.cols * eb;
        if (o.kind == OpKind::Add) s.load_b_bytes = o.rows * o.cols * eb;
        s.compute_cycles = unit_cycles(*u, o.rows * o.cols) + u->latency;
        s.store_bytes = o.rows * o.cols * eb;
        break;
      }
    }
    if (s.compute_cycles == 0 && s.load_a_bytes == 0 && s.load_b_bytes == 0 && s.store_bytes == 0) return;
    p.steps.push_back(s);
    plan_.passes.push_back(std::move(p));
  }

  /// PL cycles the PS takes for one LayerNorm over `elements` elements.
  std::int64_t ps_cycles(std::int64_t elements) const {
    const auto& ps = hw_.ps;
    const double ps_cycles = std::ceil(double(elements) * ps.cycles_per_element / ps.cores);
    return static_cast<std::int64_t>(std::ceil(ps_cycles * hw_.frequency_mhz / ps.frequency_mhz +
                                               ps.handoff_us * hw_.frequency_mhz));
  }

  Tiling tiling(std::int64_t m, std::int64_t n, std::int64_t k, bool ln, const std::string& layer) {
    if (!cache_) return choose_tiling(m, n, k, ln, hw_, layer);
    const std::array<std::int64_t, 4> key{m, n, k, ln ? 1 : 0};
    auto it = cache_->find(key);
    if (it == cache_->end()) it = cache_->emplace(key, choose_tiling(m, n, k, ln, hw_, layer)).first;
    return it->second;
  }

  const Workload& w_;
  const HwConfig& hw_;
  const std::int64_t eb_;
  TilingCache* cache_;
  const Op* pending_ln_ = nullptr;
  bool mean_post_ = false;
  Plan plan_;
};

}  // namespace

Plan make_plan(const Workload& w, const HwConfig& hw) { return Lowering(w, hw).run(); }

Plan Planner::operator()(const Workload& w) { return Lowering(w, hw_, &tilings_).run(); }

}  // namespace heatvit::sim
