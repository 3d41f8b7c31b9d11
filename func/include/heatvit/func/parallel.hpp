// A parallel loop over indices for per-image work: chunks of indices are handed out
// from a shared counter; each result goes to its own slot, so outputs do not depend on
// the thread count. The first exception stops the other threads and is rethrown.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace heatvit::func {

/// Calls fn(i, thread) for i in [0, n) on `threads` threads (<= 0: hardware
/// concurrency); `thread` is in [0, threads) and tells per-thread scratch apart.
template <class Fn>
void parallel_for(int n, int threads, Fn fn, int chunk = 32) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::max(1, std::min(threads, std::max(1, (n + chunk - 1) / chunk)));
  std::atomic<int> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto worker = [&](int t) {
    try {
      for (int begin; (begin = next.fetch_add(chunk)) < n;)
        for (int i = begin, end = std::min(n, begin + chunk); i < end; ++i) fn(i, t);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
      next.store(n);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

/// Worker threads parallel_for uses for `threads` (<= 0: hardware concurrency).
inline int thread_count(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace heatvit::func
