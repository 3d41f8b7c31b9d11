#include "heatvit/core/progress.hpp"

#include <unistd.h>

#include <cmath>

namespace heatvit {

namespace {

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  const long t = std::lround(s);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

}  // namespace

Progress::Progress(std::string label, std::string unit, std::int64_t total, bool quiet, std::FILE* out)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total < 0 ? 0 : total), enabled_(!quiet),
      out_(out ? out : stderr) {
  tty_ = out == nullptr && ::isatty(STDERR_FILENO) == 1;
  interval_s_ = tty_ ? 0.2 : kLogIntervalS;
  start_ = last_ = Clock::now();
}

Progress::~Progress() { finish(); }

void Progress::advance(std::int64_t n) {
  done_ += n;
  if (!enabled_) return;
  const auto now = Clock::now();
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;  // another thread is drawing
  if (std::chrono::duration<double>(now - last_).count() < interval_s_) return;
  last_ = now;
  draw(false);
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  // A short run that never printed stays silent.
  if (printed_) draw(true);
}

std::string Progress::line(double elapsed_s, bool final) const {
  const std::int64_t d = done_.load();
  const double rate = elapsed_s > 0 ? d / elapsed_s : 0.0;
  char buf[256];
  std::string s = label_ + ": ";
  if (tty_ && total_ > 0) {
    constexpr int kWidth = 30;
    const double frac = std::min(1.0, static_cast<double>(d) / static_cast<double>(total_));
    const int fill = static_cast<int>(frac * kWidth);
    s += "[" + std::string(static_cast<std::size_t>(fill), '#') + std::string(static_cast<std::size_t>(kWidth - fill), '.') + "] ";
  }
  if (total_ > 0)
    std::snprintf(buf, sizeof buf, "%lld/%lld %s (%.0f%%), %.1f %s/s", static_cast<long long>(d),
                  static_cast<long long>(total_), unit_.c_str(), 100.0 * static_cast<double>(d) / static_cast<double>(total_),
                  rate, unit_.c_str());
  else
    std::snprintf(buf, sizeof buf, "%lld %s, %.1f %s/s", static_cast<long long>(d), unit_.c_str(), rate, unit_.c_str());
  s += buf;
  if (final) s += ", done in " + duration(elapsed_s);
  else if (total_ > 0 && rate > 0) s += ", ETA " + duration(static_cast<double>(total_ - d) / rate);
  else s += ", " + duration(elapsed_s) + " elapsed";
  return s;
}

void Progress::draw(bool final) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const std::string l = line(elapsed, final);
  if (tty_) std::fprintf(out_, "\r\033[K%s%s", l.c_str(), final ? "\n" : "");
  else std::fprintf(out_, "%s\n", l.c_str());
  std::fflush(out_);
  printed_ = true;
}

}  // namespace heatvit
