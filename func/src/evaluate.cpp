#include "heatvit/func/evaluate.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "heatvit/core/atomic_file.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/json_config.hpp"
#include "heatvit/func/parallel.hpp"
#include "heatvit/core/progress.hpp"
#include "heatvit/models/workload.hpp"

namespace heatvit::func {

namespace {

/// Runs fn(i, scratch) for i in [0, n) on `threads` threads (parallel_for), each thread
/// with its own ImageResult scratch.
template <class Fn>
void for_each_image(int n, int threads, Fn fn) {
  std::vector<std::unique_ptr<ImageResult>> scratch(static_cast<std::size_t>(thread_count(threads)));
  parallel_for(n, threads, [&](int i, int t) {
    auto& res = scratch[static_cast<std::size_t>(t)];
    if (!res) res = std::make_unique<ImageResult>();
    fn(i, *res);
  });
}

}  // namespace

std::vector<int> EvalResult::kept_patches(int image, int s) const {
  std::vector<int> out;
  const std::uint64_t m = kept_masks.at(static_cast<std::size_t>(image)).at(static_cast<std::size_t>(s));
  for (int p = 0; p < Shape::kPatches; ++p)
    if ((m >> p) & 1u) out.push_back(p);
  return out;
}

double EvalResult::accuracy() const {
  if (images == 0) return 0.0;
  int ok = 0;
  for (int i = 0; i < images; ++i) ok += predictions[static_cast<std::size_t>(i)] == labels[static_cast<std::size_t>(i)];
  return static_cast<double>(ok) / images;
}

std::vector<double> EvalResult::tokens_mean() const {
  std::vector<double> m(Shape::kDepth, 0.0);
  if (images == 0) return m;
  for (const auto& t : tokens_per_block)
    for (std::size_t b = 0; b < m.size(); ++b) m[b] += t[b];
  for (auto& v : m) v /= images;
  return m;
}

double EvalResult::macs_mean() const {
  if (images == 0) return 0.0;
  double s = 0;
  for (auto v : macs) s += static_cast<double>(v);
  return s / images;
}

double EvalResult::achieved_keep(int s) const {
  if (images == 0) return 0.0;
  double sum = 0;
  for (int i = 0; i < images; ++i) {
    const auto ii = static_cast<std::size_t>(i);
    const auto si = static_cast<std::size_t>(s);
    const int in = reached[ii][si];
    const int kept = static_cast<int>(kept_patches(i, s).size());
    sum += static_cast<double>(kept) / std::max(in, 1);
  }
  return sum / images;
}

EvalResult evaluate(const FuncModel& model, const std::vector<SelectorThreshold>& selectors, const ImageSet& data,
                    int limit, int threads, Progress* progress) {
  if (data.rows != Shape::kImage || data.cols != Shape::kImage)
    throw InputError(data.images_path, "dims", "images must be 28x28");
  const int n = (limit <= 0 || limit > data.count) ? data.count : limit;

  EvalResult r;
  r.images = n;
  r.selectors = selectors;
  const std::size_t ns = selectors.size();
  const auto N = static_cast<std::size_t>(n);
  r.labels.resize(N);
  r.predictions.resize(N);
  r.logits.assign(N, std::vector<std::int64_t>(Shape::kClasses));
  r.tokens_per_block.assign(N, std::vector<int>(Shape::kDepth));
  r.kept_masks.assign(N, std::vector<std::uint64_t>(ns));
  r.reached.assign(N, std::vector<int>(ns));
  r.scores.assign(N, std::vector<std::int32_t>(ns * Shape::kPatches));

  // Each result goes to its own slot, so the output does not depend on the thread count.
  for_each_image(n, threads, [&](int i, ImageResult& res) {
    const auto ii = static_cast<std::size_t>(i);
    model.run(data.image(i), selectors, res);
    r.labels[ii] = data.labels[ii];
    r.predictions[ii] = res.prediction;
    std::copy(res.logits, res.logits + Shape::kClasses, r.logits[ii].begin());
    std::copy(res.tokens, res.tokens + Shape::kDepth, r.tokens_per_block[ii].begin());
    for (std::size_t s = 0; s < ns; ++s) {
      r.kept_masks[ii][s] = res.kept[s];
      r.reached[ii][s] = res.reached[s];
      std::copy(res.score[s], res.score[s] + Shape::kPatches,
                r.scores[ii].begin() + static_cast<std::ptrdiff_t>(s * Shape::kPatches));
    }
    if (progress) progress->advance();
  });

  // MACs per image from the workload library (memoised: many images share a token count list).
  std::vector<int> blocks;
  for (const auto& s : selectors) blocks.push_back(s.block);
  std::map<std::vector<int>, std::int64_t> memo;
  r.macs.resize(N);
  for (std::size_t i = 0; i < N; ++i) {
    auto it = memo.find(r.tokens_per_block[i]);
    if (it == memo.end())
      it = memo.emplace(r.tokens_per_block[i], build_workload(model.shape(), r.tokens_per_block[i], blocks).total_macs()).first;
    r.macs[i] = it->second;
  }
  return r;
}

Calibration parse_calibration(const std::string& name, const std::string& origin) {
  if (name == "sequential") return Calibration::Sequential;
  if (name == "table") return Calibration::Table;
  throw InputError(origin, "", "'" + name + "' is not a calibration rule (sequential or table)");
}

const char* calibration_name(Calibration c) { return c == Calibration::Sequential ? "sequential" : "table"; }

std::int32_t quantile_threshold(const std::vector<std::int32_t>& s, int keep_milli) {
  const auto n = static_cast<std::int64_t>(s.size());
  const std::int64_t keep_n = (n * keep_milli + 500) / 1000;
  const std::int64_t m = n - keep_n;
  if (m <= 0) return INT32_MIN;
  const std::int32_t t = s[static_cast<std::size_t>(m - 1)];
  const std::int64_t above = n - (std::upper_bound(s.begin(), s.end(), t) - s.begin());
  const std::int64_t with_ties = n - (std::lower_bound(s.begin(), s.end(), t) - s.begin());
  const bool keep_ties = std::abs(with_ties - keep_n) < std::abs(keep_n - above) && t > INT32_MIN;
  return keep_ties ? t - 1 : t;
}

namespace {

const std::vector<int>& calibration_indices(const FuncModel& model) {
  const std::vector<int>& idx = model.calibration_indices();
  if (idx.empty())
    throw InputError(model.path(), "tensors.calib.index",
                     "missing: this export does not record its calibration images, so a schedule cannot be "
                     "calibrated sequentially (re-export it, or use --calibration table)");
  return idx;
}

[[noreturn]] void calibration_index_outside(const FuncModel& model, int index, const std::string& images_path,
                                            int count) {
  throw InputError(model.path(), "tensors.calib.index",
                   "image index " + std::to_string(index) + " is outside the training split " + images_path + " (" +
                       std::to_string(count) + " images)");
}

/// The sequential rule on the calibration images `images` (28 x 28 each): `sel` as
/// resolved, thresholds replaced.
std::vector<SelectorThreshold> calibrate_images(const FuncModel& model, std::vector<SelectorThreshold> sel,
                                                const std::vector<const std::uint8_t*>& images, int threads) {
  const int n = static_cast<int>(images.size());

  // Each calibration image's token stream is carried from selector to selector: the
  // blocks before selector s run once, not once per later selector. Identical to
  // FuncModel::run with selectors 0..s-1 at their calibrated thresholds (TokenState
  // runs are bit-identical to run()); the scores are pooled and sorted, so their order
  // within an image does not matter.
  const int workers = thread_count(threads);
  std::vector<FuncModel::ScratchPtr> scratch(static_cast<std::size_t>(workers));
  std::vector<std::unique_ptr<TokenState>> state(static_cast<std::size_t>(n));
  std::vector<std::vector<std::int32_t>> scores(static_cast<std::size_t>(n));
  for (std::size_t s = 0; s < sel.size(); ++s) {
    parallel_for(n, workers, [&](int i, int t) {
      auto& sc = scratch[static_cast<std::size_t>(t)];
      if (!sc) sc = model.make_scratch();
      auto& st = state[static_cast<std::size_t>(i)];
      if (!st) {
        st = std::make_unique<TokenState>();
        model.begin(images[static_cast<std::size_t>(i)], *st, *sc);
      } else {
        model.select(*st, scores[static_cast<std::size_t>(i)].data(), sel[s - 1].threshold, *sc);
      }
      model.advance(*st, sel[s].block, *sc);
      auto& out = scores[static_cast<std::size_t>(i)];
      out.resize(static_cast<std::size_t>(Shape::kPatches));
      out.resize(static_cast<std::size_t>(model.scores(*st, out.data(), *sc)));
    }, 4);
    std::vector<std::int32_t> all;
    for (const auto& v : scores) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    const auto keep_milli = static_cast<int>(std::nearbyint(sel[s].keep * 1000.0));
    sel[s].threshold = quantile_threshold(all, keep_milli);
    sel[s].table_index = -1;
  }
  return sel;
}

}  // namespace

std::vector<SelectorThreshold> calibrate_sequential(const FuncModel& model, const Schedule& schedule,
                                                    const std::string& origin, const ImageSet& train,
                                                    int threads) {
  std::vector<SelectorThreshold> sel = model.resolve(schedule, origin);  // validates; table values replaced
  if (sel.empty()) return sel;
  const std::vector<int>& idx = calibration_indices(model);
  if (train.rows != Shape::kImage || train.cols != Shape::kImage)
    throw InputError(train.images_path, "dims", "images must be 28x28");
  std::vector<const std::uint8_t*> images;
  for (int i : idx) {
    if (i < 0 || i >= train.count) calibration_index_outside(model, i, train.images_path, train.count);
    images.push_back(train.image(i));
  }
  return calibrate_images(model, std::move(sel), images, threads);
}

std::vector<SelectorThreshold> schedule_thresholds(const FuncModel& model, const Schedule& schedule,
                                                   const std::string& origin, Calibration rule,
                                                   const std::string& data_dir, int threads) {
  return schedule_thresholds(model, schedule, origin, rule, data_dir, threads, "");
}

namespace {

/// A 128-bit hash of a byte stream, in two 64-bit lanes over its 8-byte words (the
/// last one zero-padded) and its length. Not cryptographic: it tells apart the files
/// and settings a cache entry was made from, which nobody crafts to collide. (Not the
/// DSE's fnv1a_hex: that takes the whole text in memory a byte at a time, and a run
/// hashes 30 MB here before its first image.)
class Hasher {
 public:
  void add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    bytes_ += n;
    while (n > 0) {
      const std::size_t k = std::min(n, sizeof(std::uint64_t) - fill_);
      std::memcpy(reinterpret_cast<unsigned char*>(&word_) + fill_, p, k);
      fill_ += k;
      p += k;
      n -= k;
      if (fill_ == sizeof(std::uint64_t)) flush();
    }
  }
  void add_u64(std::uint64_t v) { add(&v, sizeof v); }
  /// Appends a file's bytes (and its length, so that files added one after another
  /// cannot shift into each other); false when it cannot be read.
  bool add_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    std::vector<char> buf(std::size_t(1) << 20);
    std::uint64_t total = 0;
    while (f) {
      f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      const auto got = static_cast<std::size_t>(f.gcount());
      add(buf.data(), got);
      total += got;
    }
    if (f.bad()) return false;
    add_u64(total);
    return true;
  }
  std::string hex() {
    const std::uint64_t n = bytes_;
    if (fill_ > 0) flush();
    std::uint64_t x = mix(a_ ^ n), y = mix(b_ + mix(n ^ a_));
    char out[33];
    std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(x),
                  static_cast<unsigned long long>(y));
    return out;
  }

 private:
  static std::uint64_t mix(std::uint64_t v) {
    v ^= v >> 31;
    v *= 0x7FB5D329728EA185ull;
    v ^= v >> 27;
    v *= 0x81DADEF4BC2DD44Dull;
    v ^= v >> 33;
    return v;
  }
  void flush() {
    const std::uint64_t w = word_;
    a_ = (a_ ^ w) * 0x9E3779B97F4A7C15ull;
    a_ ^= a_ >> 29;
    b_ = (b_ + (w ^ 0xD6E8FEB86659FD93ull)) * 0xC2B2AE3D27D4EB4Full;
    b_ ^= b_ >> 32;
    word_ = 0;
    fill_ = 0;
  }
  std::uint64_t a_ = 0x243F6A8885A308D3ull, b_ = 0x13198A2E03707344ull;
  std::uint64_t word_ = 0, bytes_ = 0;
  std::size_t fill_ = 0;
};

constexpr const char* kCacheFormat = "heatvit sequential thresholds 1";

/// The entry in `file` for `key`, read into `sel` (read_threshold_cache_entry).
bool read_cached(const std::filesystem::path& file, const std::string& key, std::vector<SelectorThreshold>& sel) {
  std::ifstream f(file, std::ios::binary);
  if (!f) return false;
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return false;
  return read_threshold_cache_entry(text, key, sel);
}

/// Writes the entry atomically (concurrent runs each write a whole entry); a failure
/// is ignored: the cache only saves time.
void write_cached(const std::filesystem::path& dir, const std::filesystem::path& file, const std::string& key,
                  const std::vector<SelectorThreshold>& sel, const FuncModel& model, const std::string& origin) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  json th = json::array();
  for (const SelectorThreshold& s : sel) th.push_back({{"block", s.block}, {"keep", s.keep}, {"threshold", s.threshold}});
  const json j = {{"format", kCacheFormat}, {"key", key}, {"weights", model.path()}, {"schedule", origin},
                  {"thresholds", th}};
  try {
    write_file_atomic(file.string(), j.dump(1) + "\n");
  } catch (const std::exception&) {
  }
}

}  // namespace

bool read_threshold_cache_entry(const std::string& text, const std::string& key,
                                std::vector<SelectorThreshold>& selectors) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  const auto format = j.find("format"), k = j.find("key"), it = j.find("thresholds");
  if (format == j.end() || !format->is_string() || format->get<std::string>() != kCacheFormat || k == j.end() ||
      !k->is_string() || k->get<std::string>() != key || it == j.end() || !it->is_array() ||
      it->size() != selectors.size())
    return false;
  std::vector<std::int32_t> t;
  for (std::size_t i = 0; i < selectors.size(); ++i) {
    const json& e = (*it)[i];
    if (!e.is_object()) return false;
    const auto b = e.find("block"), v = e.find("threshold");
    if (b == e.end() || v == e.end() || !b->is_number_integer() || !v->is_number_integer()) return false;
    // (unsigned: JSON integers above the int64 range, which a cast would wrap)
    if (b->is_number_unsigned() ? b->get<std::uint64_t>() != std::uint64_t(selectors[i].block)
                                : b->get<std::int64_t>() != selectors[i].block)
      return false;
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > std::uint64_t(INT32_MAX)) return false;
    const auto x = v->get<std::int64_t>();
    if (x < INT32_MIN || x > INT32_MAX) return false;
    t.push_back(static_cast<std::int32_t>(x));
  }
  for (std::size_t i = 0; i < selectors.size(); ++i) {
    selectors[i].threshold = t[i];
    selectors[i].table_index = -1;  // as calibrate_images() leaves it
  }
  return true;
}

std::string threshold_cache_key(const FuncModel& model, const std::vector<SelectorThreshold>& selectors,
                                const std::string& data_dir) {
  Hasher h;
  h.add(kCacheFormat, std::strlen(kCacheFormat));
  for (const std::string& f : {std::string("/proc/self/exe"), model.path(), fashion_mnist_file(data_dir, "train", false),
                               fashion_mnist_file(data_dir, "train", true)})
    if (!h.add_file(f)) return "";
  h.add_u64(selectors.size());
  for (const SelectorThreshold& s : selectors) {
    h.add_u64(static_cast<std::uint64_t>(s.block));
    std::uint64_t keep_bits;
    std::memcpy(&keep_bits, &s.keep, sizeof keep_bits);
    h.add_u64(keep_bits);
  }
  return h.hex();
}

std::string default_threshold_cache_dir() {
  if (const char* d = std::getenv("HEATVIT_CACHE_DIR")) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (std::filesystem::path(x) / "heatvit").string();
  if (const char* home = std::getenv("HOME"); home && *home)
    return (std::filesystem::path(home) / ".cache" / "heatvit").string();
  return "";
}

std::vector<SelectorThreshold> schedule_thresholds(const FuncModel& model, const Schedule& schedule,
                                                   const std::string& origin, Calibration rule,
                                                   const std::string& data_dir, int threads,
                                                   const std::string& cache_dir) {
  if (rule == Calibration::Table || schedule.selectors.empty()) return model.resolve(schedule, origin);
  std::vector<SelectorThreshold> sel = model.resolve(schedule, origin);  // schedule errors before any image is read
  if (sel.empty()) return sel;
  const std::vector<int>& idx = calibration_indices(model);
  // A remembered entry, when there is a cache and the files it is keyed by can be read.
  const std::string key = cache_dir.empty() ? std::string() : threshold_cache_key(model, sel, data_dir);
  const std::filesystem::path dir(cache_dir), file = dir / ("thresholds-" + key + ".json");
  if (!key.empty() && read_cached(file, key, sel)) return sel;
  // Only the calibration images are kept of the training split (the same checks of its
  // files as a whole load).
  const ImageSet cal = load_fashion_mnist_images(
      data_dir, "train", idx,
      [&](int index, int count, const std::string& images_path) {
        calibration_index_outside(model, index, images_path, count);
      },
      Shape::kImage, Shape::kImage, Shape::kClasses);
  std::vector<const std::uint8_t*> images;
  for (int i = 0; i < cal.count; ++i) images.push_back(cal.image(i));
  sel = calibrate_images(model, std::move(sel), images, threads);
  if (!key.empty()) write_cached(dir, file, key, sel, model, origin);
  return sel;
}

EvalResult evaluate(const FuncModel& model, const Schedule& schedule, const ImageSet& data, int limit, int threads) {
  return evaluate(model, model.resolve(schedule, schedule.name), data, limit, threads);
}

}  // namespace heatvit::func
