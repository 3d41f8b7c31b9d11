#include "heatvit/func/evaluate.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "heatvit/core/error.hpp"
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
  if (rule == Calibration::Table || schedule.selectors.empty()) return model.resolve(schedule, origin);
  std::vector<SelectorThreshold> sel = model.resolve(schedule, origin);  // schedule errors before any image is read
  if (sel.empty()) return sel;
  const std::vector<int>& idx = calibration_indices(model);
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
  return calibrate_images(model, std::move(sel), images, threads);
}

EvalResult evaluate(const FuncModel& model, const Schedule& schedule, const ImageSet& data, int limit, int threads) {
  return evaluate(model, model.resolve(schedule, schedule.name), data, limit, threads);
}

}  // namespace heatvit::func
