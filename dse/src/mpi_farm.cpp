#include "heatvit/dse/mpi_farm.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <list>
#include <stdexcept>
#include <thread>
#include <algorithm>

#include "heatvit/core/error.hpp"
#include "heatvit/dse/run.hpp"

#ifdef HEATVIT_HAVE_MPI
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>
#include <boost/mpi/request.hpp>
#include <boost/mpi/status.hpp>
#endif

namespace heatvit::dse {

namespace {
int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return (end && *end == 0 && x >= 0 && x < (1L << 30)) ? static_cast<int>(x) : -1;
}
}  // namespace

int launcher_world_size() {
  if (const int n = env_int("OMPI_COMM_WORLD_SIZE"); n > 0) return n;  // Open MPI's mpirun
  if (env_int("PMIX_RANK") >= 0)                                         // srun --mpi=pmix
    if (const int n = env_int("SLURM_NTASKS"); n > 0) return n;
  if (const int n = env_int("PMI_SIZE"); n > 0) return n;  // srun --mpi=pmi2
  return 0;
}

bool mpi_available() {
#ifdef HEATVIT_HAVE_MPI
  return true;
#else
  return false;
#endif
}

#ifdef HEATVIT_HAVE_MPI

namespace mpi = boost::mpi;

namespace {
enum Tag : int { kHello = 1, kState = 2, kWork = 3, kResult = 4, kError = 5, kStop = 6, kBye = 7, kSim = 8, kSimResult = 9 };
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// Polling instead of Open MPI's blocking calls, which spin a core that the ranks
/// sharing this machine need (rank 0's own work runs while workers wait): sleeps of
/// 20 us doubling up to `max_us`, back to the shortest after any progress.
class Backoff {
 public:
  explicit Backoff(int max_us = 1000) : max_us_(max_us) {}
  void wait() {
    us_ = std::min(us_ == 0 ? 20 : us_ * 2, max_us_);
    std::this_thread::sleep_for(std::chrono::microseconds(us_));
  }
  void reset() { us_ = 0; }
  /// wait(), returning the seconds it took.
  double timed_wait() {
    const auto t0 = Clock::now();
    wait();
    return since(t0);
  }

 private:
  int max_us_, us_ = 0;
};

/// A message in flight: the text stays alive until the send completes.
struct Outgoing {
  std::string text;
  mpi::request req;
};
/// A message being received (rank 0 never blocks in a receive: over TCP a large
/// message only moves while its sender is inside MPI, and a worker is not while it
/// evaluates).
struct Incoming {
  std::string text;
  mpi::request req;
  int source = 0, tag = 0;
};
}  // namespace

struct MpiSession::Impl {
  mpi::environment env{mpi::threading::funneled, false};
  mpi::communicator world;
};

MpiSession::MpiSession() : impl_(std::make_unique<Impl>()) {
  rank_ = impl_->world.rank();
  size_ = impl_->world.size();
}
MpiSession::~MpiSession() = default;

struct MpiFarm::Impl {
  mpi::communicator world;
  std::list<Outgoing> out;  // sends not yet known to be complete
  std::list<Incoming> in;   // receives posted, not yet complete

  /// Posts a receive for every message that has arrived (or started to).
  void post_arrived() {
    while (auto st = world.iprobe(mpi::any_source, mpi::any_tag)) {
      in.push_back({std::string(static_cast<std::size_t>(st->count<char>().value_or(0)), '\0'), {}, st->source(),
                    st->tag()});
      Incoming& m = in.back();
      m.req = world.irecv(m.source, m.tag, m.text.data(), static_cast<int>(m.text.size()));
    }
  }
  /// A completed receive, if any (moved to `m`).
  bool completed(Incoming& m) {
    for (auto it = in.begin(); it != in.end(); ++it)
      if (it->req.test()) {
        m = std::move(*it);
        in.erase(it);
        return true;
      }
    return false;
  }

  void send(int dest, int tag, std::string text) {
    out.push_back({std::move(text), {}});
    Outgoing& o = out.back();
    o.req = world.isend(dest, tag, o.text.data(), static_cast<int>(o.text.size()));
  }
  void reap() {
    for (auto it = out.begin(); it != out.end();) it = it->req.test() ? out.erase(it) : std::next(it);
  }
  /// Waits until every send has completed, polling.
  void flush() {
    Backoff b;
    for (reap(); !out.empty(); reap()) b.wait();
  }
  /// The next message from `source` (any tag), polled.
  mpi::status wait_for(int source) {
    Backoff b(2000);
    for (;;) {
      if (auto st = world.iprobe(source, mpi::any_tag)) return *st;
      b.wait();
    }
  }
  std::string recv(const mpi::status& st) {
    const int n = st.count<char>().value_or(0);
    std::string s(static_cast<std::size_t>(n), '\0');
    world.recv(st.source(), st.tag(), s.data(), n);
    return s;
  }
};

MpiFarm::MpiFarm(MpiSession& session, Hooks hooks, double unit_target_s, std::size_t max_unit_cands)
    : impl_(std::make_unique<Impl>()),
      hooks_(std::move(hooks)),
      sizer_(unit_target_s, max_unit_cands),
      rank_(session.rank()),
      size_(session.size()),
      per_rank_(static_cast<std::size_t>(session.size())),
      state_cursor_(static_cast<std::size_t>(session.size()), 0) {}

MpiFarm::~MpiFarm() {
  if (master()) {
    try {
      stop_workers();
    } catch (...) {
    }
  }
}

void MpiFarm::meet_workers(const std::string& identity_hash) {
  std::string failed;
  for (int w = 1; w < size_; ++w) {
    const mpi::status st = impl_->wait_for(w);  // HELLO is a worker's first message
    if (st.tag() != kHello) throw std::runtime_error("rank " + std::to_string(w) + " did not say HELLO first");
    const json j = json::parse(impl_->recv(st));
    if (j.contains("error")) {
      if (failed.empty()) failed = "rank " + std::to_string(w) + ": " + j["error"].get<std::string>();
    } else if (j.value("identity", std::string()) != identity_hash && failed.empty()) {
      failed = "rank " + std::to_string(w) + " sees other inputs (space hash " + j.value("identity", std::string()) +
               ", rank 0 has " + identity_hash + "): every rank must read the same space, model, hw config " +
               "and weights";
    }
  }
  if (!failed.empty()) throw InputError("mpirun", "", failed);
}

void MpiFarm::send_state(const json& state) {
  if (state.is_null()) return;
  const std::string text = state.dump();
  for (int w = 1; w < size_; ++w) impl_->send(w, kState, text);
}

void MpiFarm::run(const FarmBatch& batch, const UnitDone& done) {
  const std::size_t G = batch.groups();
  if (G == 0) return;
  ++batches_;
  const int workers = size_ - 1;
  const bool master_works = this->master_works();
  const int evaluating = workers + (master_works ? 1 : 0);
  const int split = batch.split == Split::Test ? 1 : 0;
  // Each schedule goes back to the rank that evaluated it before (its outcome is cached
  // there: a longer rung only runs the new images). The others are cut into one
  // contiguous stripe per evaluating rank: neighbouring schedules share selector
  // prefixes, whose calibration a rank then does once and keeps, where handing out
  // neighbouring units to different ranks at the same time had both calibrate them. A
  // rank takes units from the front of its own list and, once that is empty, from the
  // end of the longest list.
  std::vector<std::deque<std::size_t>> own(static_cast<std::size_t>(size_));
  std::vector<std::size_t> fresh;
  for (std::size_t g = 0; g < G; ++g) {
    const auto it = home_.find({split, batch.cands[batch.group_begin[g]].schedule});
    if (it == home_.end() || (it->second == 0 && !master_works))
      fresh.push_back(g);
    else
      own[static_cast<std::size_t>(it->second)].push_back(g);
  }
  {
    std::vector<int> evaluators;
    for (int r = master_works ? 0 : 1; r < size_; ++r) evaluators.push_back(r);
    const std::size_t E = evaluators.size(), F = fresh.size();
    for (std::size_t k = 0; k < E; ++k) {
      auto& mine = own[static_cast<std::size_t>(evaluators[k])];
      mine.insert(mine.end(), fresh.begin() + static_cast<std::ptrdiff_t>(F * k / E),
                  fresh.begin() + static_cast<std::ptrdiff_t>(F * (k + 1) / E));
      std::sort(mine.begin(), mine.end());
    }
  }
  std::size_t left = G;
  auto take = [&](int r) {
    const double per_group = static_cast<double>(batch.cands.size()) / static_cast<double>(G);
    const std::size_t n = sizer_.groups(left, G, per_group, evaluating);
    std::vector<std::size_t> u;
    auto& mine = own[static_cast<std::size_t>(r)];
    while (u.size() < n && !mine.empty()) u.push_back(mine.front()), mine.pop_front();
    if (u.empty()) {
      std::size_t best = 0;
      for (std::size_t k = 1; k < own.size(); ++k)
        if (own[k].size() > own[best].size()) best = k;
      auto& other = own[best];
      const std::size_t m = std::min(n, other.size());
      u.assign(other.end() - static_cast<std::ptrdiff_t>(m), other.end());
      other.erase(other.end() - static_cast<std::ptrdiff_t>(m), other.end());
    }
    std::sort(u.begin(), u.end());
    left -= u.size();
    for (std::size_t g : u) home_[{split, batch.cands[batch.group_begin[g]].schedule}] = r;
    return u;
  };
  // Thresholds a rank learns go to the others with their next unit (a STATE message
  // just before it), merged from the log since that rank's last unit. With many
  // workers the forwarding would cost rank 0 more than the calibrations it saves.
  const bool forwarding = workers <= 64;
  auto learned = [&](const json& st, int from) {
    if (st.is_null()) return;
    if (hooks_.load_state && from != 0) hooks_.load_state(st);
    if (forwarding) state_log_.push_back({from, st});
  };
  auto state_for = [&](int w) {
    json merged;
    std::size_t& cur = state_cursor_[static_cast<std::size_t>(w)];
    for (; cur < state_log_.size(); ++cur)
      if (state_log_[cur].first != w) {
        if (merged.is_null())
          merged = state_log_[cur].second;
        else
          merged.merge_patch(state_log_[cur].second);
      }
    return merged;
  };
  std::map<std::int64_t, std::pair<std::vector<std::size_t>, int>> inflight;  // unit -> (groups, rank)
  std::vector<int> queued(static_cast<std::size_t>(size_), 0);
  auto handle = [&](const Incoming& msg) {
    const std::string& text = msg.text;
    if (msg.tag == kError) throw std::runtime_error("rank " + std::to_string(msg.source) + ": " + text);
    if (msg.tag != kResult)
      throw std::runtime_error("rank " + std::to_string(msg.source) + " sent an unexpected message (tag " +
                               std::to_string(msg.tag) + ")");
    WireResult r = decode_result(text);
    const auto it = inflight.find(r.id);
    if (it == inflight.end()) throw std::runtime_error("rank " + std::to_string(msg.source) + ": unknown unit");
    const std::vector<std::size_t> groups = std::move(it->second.first);
    const int rank = it->second.second;
    inflight.erase(it);
    --queued[static_cast<std::size_t>(rank)];
    if (r.metrics.size() != batch.candidates_of(groups).size())
      throw std::runtime_error("rank " + std::to_string(rank) + ": a unit came back with the wrong count");
    sizer_.observe(r.metrics.size(), r.seconds);
    per_rank_[static_cast<std::size_t>(rank)].seconds += r.seconds;
    remote_image_runs_ += r.image_runs;
    learned(r.state, rank);
    done(groups, std::move(r.metrics));
  };
  Backoff idle;
  while (left > 0 || !inflight.empty()) {
    if (g_interrupted) throw Interrupted();
    // Keep two units queued on every worker.
    for (int w = 1; w <= workers && left > 0; ++w)
      while (queued[static_cast<std::size_t>(w)] < 2 && left > 0) {
        std::vector<std::size_t> groups = take(w);
        const std::int64_t id = next_unit_++;
        const std::vector<Candidate> c = batch.candidates_of(groups);
        if (forwarding)
          if (json st = state_for(w); !st.is_null()) impl_->send(w, kState, st.dump());
        impl_->send(w, kWork, encode_unit(id, batch.split, batch.images, c, batch.added_base, batch.added));
        inflight[id] = {std::move(groups), w};
        ++queued[static_cast<std::size_t>(w)];
        RankStats& rs = per_rank_[static_cast<std::size_t>(w)];
        ++rs.units;
        rs.candidates += static_cast<std::int64_t>(c.size());
      }
    // Record what has come back.
    bool got = false;
    impl_->post_arrived();
    for (Incoming m; impl_->completed(m);) {
      handle(m);
      got = true;
    }
    impl_->reap();
    if (got) {
      idle.reset();
      continue;
    }
    if (left > 0 && master_works) {  // rank 0's own unit
      const std::vector<std::size_t> groups = take(0);
      const std::vector<Candidate> c = batch.candidates_of(groups);
      const auto t0 = Clock::now();
      std::vector<Metrics> ms = hooks_.evaluate(c, batch.split, batch.images);
      const double sec = since(t0);
      sizer_.observe(c.size(), sec);
      RankStats& rs = per_rank_[0];
      ++rs.units;
      rs.candidates += static_cast<std::int64_t>(c.size());
      rs.seconds += sec;
      if (hooks_.take_state) learned(hooks_.take_state(), 0);
      done(groups, std::move(ms));
      impl_->reap();
      idle.reset();
    } else if (!inflight.empty()) {
      // Waiting for workers: poll with a short sleep (Open MPI's blocking probe spins,
      // which would take a core from the ranks sharing this machine).
      master_wait_s_ += idle.timed_wait();
    }
  }
  impl_->reap();
  if (!master_works && hooks_.take_state) (void)hooks_.take_state();  // known here already
}

bool MpiFarm::master_works() const {
  // Rank 0 evaluates too while the workers are few: with two units queued on each of
  // them, a unit of its own never leaves a worker idle. With many workers its time goes
  // to dispatching and recording.
  const int workers = size_ - 1;
  return workers == 0 || (master_evaluates_ < 0 ? workers <= 7 : master_evaluates_ == 1);
}

void MpiFarm::simulate(const SimBatch& batch, const SimDone& done, const SimTick& tick) {
  const std::size_t n = batch.cands.size();
  if (n == 0) return;
  if (!hooks_.simulate) throw std::logic_error("MpiFarm: no SystemC runner");
  const int workers = size_ - 1;
  const bool master_works = this->master_works();
  const int test = 1;  // home_'s split key of the test set
  // A point goes first to the rank that holds its schedule's test outcome (the SystemC
  // images' tokens are its first images); any rank takes the rest.
  std::list<std::size_t> todo;
  for (std::size_t i = 0; i < n; ++i) todo.push_back(i);
  auto pick = [&](int r) {
    auto it = std::find_if(todo.begin(), todo.end(), [&](std::size_t i) {
      const auto h = home_.find({test, batch.cands[i].schedule});
      return h != home_.end() && h->second == r;
    });
    if (it == todo.end()) it = r == 0 ? std::prev(todo.end()) : todo.begin();
    const std::size_t i = *it;
    todo.erase(it);
    return i;
  };
  std::map<std::int64_t, std::pair<std::size_t, int>> inflight;  // unit -> (index, rank)
  std::vector<int> queued(static_cast<std::size_t>(size_), 0);
  // After a failure nothing more is sent, and what is still running is received and
  // reported before the error is rethrown (a resume reuses it).
  std::exception_ptr failed;
  auto finished = [&](std::size_t i, int rank, json&& result) {
    ++per_rank_[static_cast<std::size_t>(rank)].systemc_runs;
    if (tick) tick();
    done(i, std::move(result));
  };
  Backoff idle;
  while ((!failed && !todo.empty()) || !inflight.empty()) {
    if (g_interrupted) throw Interrupted();
    for (int w = 1; w <= workers && !failed && !todo.empty(); ++w)
      while (queued[static_cast<std::size_t>(w)] < 2 && !todo.empty()) {
        const std::size_t i = pick(w);
        const std::int64_t id = next_unit_++;
        impl_->send(w, kSim, encode_unit(id, Split::Test, batch.images, {batch.cands[i]}, batch.added_base, batch.added));
        inflight[id] = {i, w};
        ++queued[static_cast<std::size_t>(w)];
      }
    bool got = false;
    impl_->post_arrived();
    for (Incoming m; impl_->completed(m);) {
      got = true;
      try {
        if (m.tag == kError) throw std::runtime_error("rank " + std::to_string(m.source) + ": " + m.text);
        if (m.tag != kSimResult)
          throw std::runtime_error("rank " + std::to_string(m.source) + " sent an unexpected message (tag " +
                                   std::to_string(m.tag) + ")");
        SimWireResult r = decode_sim_result(m.text);
        const auto it = inflight.find(r.id);
        if (it == inflight.end() || it->second.second != m.source)
          throw std::runtime_error("rank " + std::to_string(m.source) + ": unknown unit");
        const std::size_t i = it->second.first;
        --queued[static_cast<std::size_t>(m.source)];
        inflight.erase(it);
        remote_image_runs_ += r.image_runs;
        finished(i, m.source, std::move(r.result));
      } catch (const std::exception&) {
        if (!failed) failed = std::current_exception();
        // A worker that reported an error answers nothing more: none of its units is
        // waited for (a late answer is then an unknown unit, ignored after the error).
        for (auto it = inflight.begin(); it != inflight.end();)
          if (it->second.second == m.source) {
            --queued[static_cast<std::size_t>(m.source)];
            it = inflight.erase(it);
          } else {
            ++it;
          }
      }
    }
    impl_->reap();
    if (got) {
      idle.reset();
      continue;
    }
    if (!failed && !todo.empty() && master_works) {  // rank 0's own run
      const std::size_t i = pick(0);
      try {
        json result = hooks_.simulate(batch.cands[i], batch.images)();
        finished(i, 0, std::move(result));
      } catch (const Interrupted&) {
        throw;
      } catch (...) {
        failed = std::current_exception();
      }
      impl_->reap();
      idle.reset();
    } else if (!inflight.empty()) {
      master_wait_s_ += idle.timed_wait();
    }
  }
  impl_->reap();
  if (failed) std::rethrow_exception(failed);
}

void MpiFarm::stop_workers() {
  if (!master() || stopped_) return;
  stopped_ = true;
  for (int w = 1; w < size_; ++w) impl_->send(w, kStop, "");
  // Drain until every worker said BYE: a worker may be finishing a unit and sending
  // its result, which must be received for its send to complete.
  int byes = 0;
  Backoff idle;
  while (byes < size_ - 1) {
    impl_->post_arrived();
    bool got = false;
    for (Incoming m; impl_->completed(m);) {
      got = true;
      if (m.tag == kBye) ++byes;
      if (m.tag == kError) std::fprintf(stderr, "heatvit dse: rank %d: %s\n", m.source, m.text.c_str());
    }
    impl_->reap();
    if (got)
      idle.reset();
    else
      idle.wait();
  }
  for (Incoming m; !impl_->in.empty(); idle.wait())  // receives posted before the BYEs (senders are flushing)
    while (impl_->completed(m)) {
    }
  impl_->flush();
}

json MpiFarm::stats() const {
  json r = json::array();
  for (std::size_t i = 0; i < per_rank_.size(); ++i)
    r.push_back({{"rank", i}, {"units", per_rank_[i].units}, {"candidates", per_rank_[i].candidates},
                 {"evaluation_s", per_rank_[i].seconds}, {"systemc_runs", per_rank_[i].systemc_runs}});
  return {{"ranks", size_}, {"batches", batches_}, {"units", next_unit_}, {"per_rank", r},
          {"rank0_waiting_s", master_wait_s_}, {"seconds_per_candidate", sizer_.per_candidate()}};
}

void MpiFarm::serve(const std::string& identity_hash, const std::string& setup_error) {
  // The schedules outside the space that a unit names, before it is evaluated.
  auto add_schedules = [&](const WireUnit& u) {
    if (u.added.empty()) return;
    if (!hooks_.add_schedules) throw std::runtime_error("a unit names schedules outside the space");
    hooks_.add_schedules(u.added_base, u.added);
  };
  impl_->send(0, kHello, setup_error.empty() ? json{{"identity", identity_hash}}.dump() : json{{"error", setup_error}}.dump());
  bool broken = !setup_error.empty();  // after a failure: only wait for STOP
  for (;;) {
    // Every message is received in order (so rank 0's sends all complete); a pending
    // STOP makes the units queued before it be skipped.
    const mpi::status st = impl_->wait_for(0);
    if (st.tag() == kStop) break;
    const std::string text = impl_->recv(st);
    if (broken || impl_->world.iprobe(0, kStop)) continue;
    try {
      if (st.tag() == kState) {
        if (hooks_.load_state) hooks_.load_state(json::parse(text));
      } else if (st.tag() == kWork) {
        const WireUnit u = decode_unit(text);
        add_schedules(u);
        const std::int64_t runs0 = hooks_.image_runs ? hooks_.image_runs() : 0;
        const auto t0 = Clock::now();
        WireResult r;
        r.id = u.id;
        r.metrics = hooks_.evaluate(u.cands, u.split, u.images);
        r.seconds = since(t0);
        r.image_runs = (hooks_.image_runs ? hooks_.image_runs() : 0) - runs0;
        if (hooks_.take_state) r.state = hooks_.take_state();
        impl_->send(0, kResult, encode_result(r));
        impl_->reap();
      } else if (st.tag() == kSim) {
        const WireUnit u = decode_unit(text);
        if (u.cands.size() != 1) throw std::runtime_error("a SystemC unit names " + std::to_string(u.cands.size()) + " candidates");
        add_schedules(u);
        if (!hooks_.simulate) throw std::runtime_error("this rank cannot run SystemC");
        const std::int64_t runs0 = hooks_.image_runs ? hooks_.image_runs() : 0;
        const json result = hooks_.simulate(u.cands[0], u.images)();
        impl_->send(0, kSimResult,
                    encode_sim_result(u.id, result, (hooks_.image_runs ? hooks_.image_runs() : 0) - runs0));
        impl_->reap();
      }
    } catch (const std::exception& e) {
      impl_->send(0, kError, e.what());
      impl_->flush();
      broken = true;
    }
  }
  // Consume the STOP, then say BYE.
  impl_->recv(impl_->world.probe(0, kStop));
  impl_->send(0, kBye, "");
  impl_->flush();
}

#endif

}  // namespace heatvit::dse
