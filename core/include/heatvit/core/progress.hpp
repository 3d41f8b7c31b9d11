// Progress of a long run on stderr: a bar with count, rate and ETA when stderr is a
// terminal, a plain line every few seconds when it is not (logs, CI), nothing when
// quiet. Safe to advance from several threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace heatvit {

class Progress {
 public:
  /// `label` starts every line (e.g. "eval"), `unit` names what is counted (e.g.
  /// "images"), `total` is the count at completion (0 when unknown). With `quiet`,
  /// nothing is ever printed. `out` is for tests; stderr otherwise.
  Progress(std::string label, std::string unit, std::int64_t total, bool quiet, std::FILE* out = nullptr);
  /// Ends the line (finish()).
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Adds `n` finished units; redraws at most every 0.2 s (terminal) or 5 s (other).
  void advance(std::int64_t n = 1);
  /// Final line (terminal: the finished bar; other: the count and time, only when
  /// something was printed before). Idempotent.
  void finish();

  std::int64_t done() const { return done_.load(); }
  /// Overrides the seconds between lines (tests).
  void set_interval(double s) { interval_s_ = s; }
  /// Seconds between lines when stderr is not a terminal.
  static constexpr double kLogIntervalS = 5.0;

 private:
  using Clock = std::chrono::steady_clock;
  void draw(bool final);
  std::string line(double elapsed_s, bool final) const;

  std::string label_, unit_;
  std::int64_t total_;
  bool enabled_;
  bool tty_ = false;
  double interval_s_;
  std::FILE* out_;
  std::atomic<std::int64_t> done_{0};
  std::mutex mu_;
  Clock::time_point start_, last_;
  bool printed_ = false;
  bool finished_ = false;
};

}  // namespace heatvit
