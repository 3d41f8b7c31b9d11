#include "heatvit/sim/accelerator.hpp"

#include <algorithm>

#include "heatvit/core/error.hpp"

namespace heatvit::sim {

using sc_core::sc_time;
using sc_core::SC_PS;
using sc_core::SC_ZERO_TIME;

// ---------------------------------------------------------------------------- Dma

Dma::Dma(sc_core::sc_module_name name, int ports, int granule_bytes)
    : sc_module(name), socket("socket"), ports_(ports), granule_(granule_bytes),
      jobs_(static_cast<std::size_t>(ports)) {
  for (int p = 0; p < ports_; ++p) go_.push_back(std::make_unique<sc_core::sc_event>());
}

void Dma::end_of_elaboration() {
  for (int p = 0; p < ports_; ++p) {
    sc_core::sc_spawn_options opt;
    sc_core::sc_spawn(sc_bind(&Dma::worker, this, p), sc_core::sc_gen_unique_name("port_worker"), &opt);
  }
}

void Dma::transfer(bool write, const std::vector<Segment>& segments) {
  const sc_time start = sc_core::sc_time_stamp();
  write_ = write;
  for (auto& j : jobs_) j.clear();
  for (const auto& seg : segments) {
    if (seg.bytes <= 0) continue;
    // Even shares in whole granules; the last port used takes the remainder.
    const std::int64_t g = granule_;
    const std::int64_t granules = (seg.bytes + g - 1) / g;
    const std::int64_t per = (granules + ports_ - 1) / ports_;
    std::int64_t off = 0;
    for (int p = 0; p < ports_ && off < seg.bytes; ++p) {
      const std::int64_t n = std::min(per * g, seg.bytes - off);
      jobs_[static_cast<std::size_t>(p)].push_back({seg.address + static_cast<std::uint64_t>(off), n});
      off += n;
    }
    if (write) bytes_written_ += seg.bytes; else bytes_read_ += seg.bytes;
  }
  pending_ = 0;
  for (int p = 0; p < ports_; ++p)
    if (!jobs_[static_cast<std::size_t>(p)].empty()) {
      ++pending_;
      go_[static_cast<std::size_t>(p)]->notify(SC_ZERO_TIME);
    }
  if (pending_ > 0) sc_core::wait(done_);
  busy_ += sc_core::sc_time_stamp() - start;
}

void Dma::worker(int port) {
  tlm::tlm_generic_payload trans;
  while (true) {
    sc_core::wait(*go_[static_cast<std::size_t>(port)]);
    for (const auto& seg : jobs_[static_cast<std::size_t>(port)]) {
      trans.set_command(write_ ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
      trans.set_address(seg.address);
      trans.set_data_ptr(nullptr);  // timing only: no data is moved
      trans.set_data_length(static_cast<unsigned int>(seg.bytes));
      trans.set_streaming_width(static_cast<unsigned int>(seg.bytes));
      trans.set_byte_enable_ptr(nullptr);
      trans.set_dmi_allowed(false);
      trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      sc_time delay = SC_ZERO_TIME;
      socket[static_cast<unsigned>(port)]->b_transport(trans, delay);
      if (trans.get_response_status() != tlm::TLM_OK_RESPONSE)
        throw InternalError(std::string(name()) + ": DDR transaction failed at address " +
                            std::to_string(seg.address));
      if (delay > SC_ZERO_TIME) sc_core::wait(delay);
    }
    if (--pending_ == 0) done_.notify(SC_ZERO_TIME);
  }
}

// ---------------------------------------------------------------------- UnitModule

UnitModule::UnitModule(sc_core::sc_module_name name, sc_time clock)
    : sc_module(name), busy_signal("busy"), clock_(clock) {}

void UnitModule::occupy(std::int64_t cycles) { occupy(cycles, cycles); }

void UnitModule::occupy(std::int64_t wait_cycles, std::int64_t busy_cycles) {
  busy_ += std::max<std::int64_t>(0, busy_cycles);
  if (wait_cycles <= 0) return;
  mutex_.lock();
  busy_signal.write(true);
  sc_core::wait(clock_ * static_cast<double>(wait_cycles));
  busy_signal.write(false);
  mutex_.unlock();
}

// --------------------------------------------------------------------- Accelerator

namespace {
// DDR regions: two ping-pong activation regions and the weights. Activations are
// written tile-major by the store path in the layout their consumer reads, so every
// tile load is one contiguous transfer (docs/architecture.md).
constexpr std::uint64_t kActA = 0x00000000ull;
constexpr std::uint64_t kActB = 0x10000000ull;
constexpr std::uint64_t kWeights = 0x40000000ull;
constexpr std::uint64_t kWeightSpan = 0x40000000ull;
}  // namespace

Accelerator::Accelerator(sc_core::sc_module_name name, const HwConfig& hw)
    : sc_module(name),
      load_dma("load_dma", static_cast<int>(hw.axi.read_ports.size()), 64),
      store_dma("store_dma", static_cast<int>(hw.axi.write_ports.size()), 64),
      layernorm("layernorm", sc_time(1e6 / hw.frequency_mhz, SC_PS)),
      post("post", sc_time(1e6 / hw.frequency_mhz, SC_PS)),
      selector_ctrl("selector_ctrl", sc_time(1e6 / hw.frequency_mhz, SC_PS)),
      load_busy("load_busy"), pe_busy("pe_busy"), store_busy("store_busy"),
      loaded_tiles("loaded_tiles"), pending_stores("pending_stores"), pass_index("pass_index"),
      hw_(hw), clk_(sc_time(1e6 / hw.frequency_mhz, SC_PS)),
      in_slots_(hw.buffer_slots), out_slots_(hw.buffer_slots) {
  SC_THREAD(controller);
  SC_THREAD(load_thread);
  SC_THREAD(compute_thread);
  SC_THREAD(store_thread);
}

void Accelerator::run(const std::vector<const Plan*>& plans, bool trace_events) {
  plans_ = plans;
  next_plan_ = [this, i = std::size_t(0)]() mutable -> const Plan* { return i < plans_.size() ? plans_[i++] : nullptr; };
  trace_on_ = trace_events;
}

void Accelerator::run(std::function<const Plan*()> next, bool trace_events) {
  plans_.clear();
  next_plan_ = std::move(next);
  trace_on_ = trace_events;
}

std::uint64_t Accelerator::activation_address(int pass, bool output, std::int64_t offset) const {
  const bool a = ((pass % 2) == 0) != output;
  return (a ? kActA : kActB) + static_cast<std::uint64_t>(offset) % 0x0F000000ull;
}

void Accelerator::note(const std::string& name, const char* lane, sc_time start) {
  if (!trace_on_) return;
  trace_.push_back({name, lane, start.value(), sc_core::sc_time_stamp().value()});
}

void Accelerator::controller() {
  wait(SC_ZERO_TIME);  // let the workers reach their first wait
  const bool trace_requested = trace_on_;
  while (const Plan* plan = next_plan_ ? next_plan_() : nullptr) {
    trace_on_ = trace_requested && results_.empty();  // events of the first plan only
    PlanTiming pt;
    for (const Pass& p : plan->passes) {
      pass_ = &p;
      pass_index.write(pass_no_);
      compute_done_ = store_done_ = false;
      const sc_time start = sc_core::sc_time_stamp();
      start_load_.notify(SC_ZERO_TIME);
      start_compute_.notify(SC_ZERO_TIME);
      start_store_.notify(SC_ZERO_TIME);
      wait(pass_done_);
      PassTiming t;
      t.cycles = static_cast<std::int64_t>((sc_core::sc_time_stamp() - start) / clk_ + 0.5);
      t.compute_cycles = pass_busy_;
      t.stall_cycles = t.cycles - t.compute_cycles;
      t.ddr_read_bytes = p.ddr_read_bytes();
      t.ddr_write_bytes = p.ddr_write_bytes();
      pt.passes.push_back(t);
      note(p.name, "pass", start);
      ++pass_no_;
      for (const auto& s : p.steps) weight_base_ += static_cast<std::uint64_t>(s.load_b_bytes);
      weight_base_ %= kWeightSpan;
    }
    results_.push_back(std::move(pt));
    if (plan_done_) plan_done_(results_.size());
  }
  sc_core::sc_stop();
}

void Accelerator::load_thread() {
  while (true) {
    wait(start_load_);
    const Pass& p = *pass_;
    std::int64_t a_off = 0, b_off = 0;
    for (std::size_t i = 0; i < p.steps.size(); ++i) {
      const Step& s = p.steps[i];
      in_slots_.wait();
      const sc_time t0 = sc_core::sc_time_stamp();
      load_busy.write(true);
      std::vector<Dma::Segment> segs;
      if (s.load_a_bytes > 0) segs.push_back({activation_address(pass_no_, false, a_off), s.load_a_bytes});
      if (s.load_b_bytes > 0) {
        const std::uint64_t base = p.kind == PassKind::Attention
                                       ? activation_address(pass_no_, false, 0x08000000 + b_off)
                                       : kWeights + (weight_base_ + static_cast<std::uint64_t>(b_off)) % kWeightSpan;
        segs.push_back({base, s.load_b_bytes});
      }
      a_off += s.load_a_bytes;
      b_off += s.load_b_bytes;
      if (!segs.empty()) load_dma.transfer(false, segs);
      // The LayerNorm unit works row by row as the rows arrive: it finishes
      // load_cycles after the load started, or when the DMA is done if later.
      const auto elapsed = static_cast<std::int64_t>((sc_core::sc_time_stamp() - t0) / clk_ + 0.5);
      layernorm.occupy(s.load_cycles - elapsed, s.load_cycles);
      load_busy.write(false);
      if (!segs.empty() || s.load_cycles > 0) note(p.name, "load", t0);
      loaded_.write(static_cast<int>(i));
      loaded_tiles.write(loaded_.num_available());
    }
  }
}

void Accelerator::compute_thread() {
  while (true) {
    wait(start_compute_);
    const Pass& p = *pass_;
    pass_busy_ = 0;
    bool new_tile = true;
    for (std::size_t i = 0; i < p.steps.size(); ++i) {
      int idx = 0;
      loaded_.read(idx);
      const Step& s = p.steps[static_cast<std::size_t>(idx)];
      if (new_tile) out_slots_.wait();
      const sc_time t0 = sc_core::sc_time_stamp();
      if (p.kind == PassKind::Unit) {
        selector_ctrl.occupy(s.compute_cycles);
      } else if (s.compute_cycles > 0) {
        pe_busy.write(true);
        wait(clk_ * static_cast<double>(s.compute_cycles));
        pe_busy.write(false);
        pe_busy_ += s.compute_cycles;
      }
      pass_busy_ += s.compute_cycles;
      note(p.name, "compute", t0);
      in_slots_.post();
      new_tile = s.ends_tile;
      if (s.ends_tile) {
        stores_.write({idx, sc_core::sc_time_stamp() + clk_ * static_cast<double>(p.fill_cycles)});
        pending_stores.write(stores_.num_available());
      }
    }
    compute_done_ = true;
    if (store_done_) pass_done_.notify(SC_ZERO_TIME);
  }
}

void Accelerator::store_thread() {
  while (true) {
    wait(start_store_);
    const Pass& p = *pass_;
    const auto tiles = std::count_if(p.steps.begin(), p.steps.end(), [](const Step& s) { return s.ends_tile; });
    std::int64_t off = 0;
    for (std::int64_t t = 0; t < tiles; ++t) {
      StoreJob job;
      stores_.read(job);
      const Step& s = p.steps[static_cast<std::size_t>(job.step)];
      if (job.ready > sc_core::sc_time_stamp()) wait(job.ready - sc_core::sc_time_stamp());
      const sc_time t0 = sc_core::sc_time_stamp();
      store_busy.write(true);
      // Residual operands are read first; the post-processing unit then streams its
      // results into the write DMA, so it only adds the part the write does not hide.
      if (s.store_read_bytes > 0)
        store_dma.transfer(false, {{activation_address(pass_no_, false, 0x0C000000 + off), s.store_read_bytes}});
      const sc_time w0 = sc_core::sc_time_stamp();
      if (s.store_bytes > 0)
        store_dma.transfer(true, {{activation_address(pass_no_, true, off), s.store_bytes}});
      if (s.post_cycles > 0) {
        const std::int64_t post_total = s.post_cycles + p.post_latency;
        const auto elapsed = static_cast<std::int64_t>((sc_core::sc_time_stamp() - w0) / clk_ + 0.5);
        post.occupy(post_total - elapsed, post_total);
      }
      off += s.store_bytes;
      store_busy.write(false);
      note(p.name, "store", t0);
      out_slots_.post();
      pending_stores.write(stores_.num_available());
    }
    store_done_ = true;
    if (compute_done_) pass_done_.notify(SC_ZERO_TIME);
  }
}

}  // namespace heatvit::sim
