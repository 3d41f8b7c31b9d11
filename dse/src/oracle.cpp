#include "heatvit/dse/oracle.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "heatvit/core/error.hpp"
#include "heatvit/func/evaluate.hpp"
#include "heatvit/func/parallel.hpp"

namespace heatvit::dse {

using func::Shape;

const char* split_name(Split s) { return s == Split::Validation ? "validation" : "test"; }

int ScheduleOutcome::correct_count(int n) const {
  int c = 0;
  for (int i = 0; i < n && i < static_cast<int>(correct.size()); ++i) c += correct[static_cast<std::size_t>(i)];
  return c;
}

namespace {

/// A trie of selector prefixes. Each node is the stream after its selector; its
/// children are the next selectors (block, threshold), `terminals` the schedules that
/// end there, `collect` the blocks where calibration gathers scores (group ids).
struct Trie {
  struct Node {
    std::vector<std::pair<std::pair<int, std::int32_t>, int>> kids;  // ((block, threshold), node)
    std::vector<int> terminals;
    std::vector<std::pair<int, int>> collect;  // (block, group)
  };
  std::vector<Node> nodes{1};

  /// The node after `sel` (block, threshold) pairs, created when missing.
  int walk(const std::vector<std::pair<int, std::int32_t>>& sel) {
    int cur = 0;
    for (const auto& bt : sel) {
      int found = -1;
      for (const auto& k : nodes[static_cast<std::size_t>(cur)].kids)
        if (k.first == bt) found = k.second;
      if (found < 0) {
        found = static_cast<int>(nodes.size());
        nodes.emplace_back();
        nodes[static_cast<std::size_t>(cur)].kids.push_back({bt, found});
      }
      cur = found;
    }
    return cur;
  }
  void sort() {
    for (auto& n : nodes) {
      std::sort(n.kids.begin(), n.kids.end());
      std::sort(n.collect.begin(), n.collect.end());
    }
  }
};

struct Walker {
  const func::FuncModel& model;
  const Trie& trie;
  func::FuncModel::Scratch& scratch;
  // callbacks
  std::function<void(int group, const std::int32_t* scores, int n)> on_collect;
  std::function<void(int terminal, const func::TokenState& st, int prediction)> on_terminal;

  void dfs(int node, func::TokenState& st) {
    const Trie::Node& nd = trie.nodes[static_cast<std::size_t>(node)];
    std::size_t k = 0, c = 0;
    while (k < nd.kids.size() || c < nd.collect.size()) {
      const int b = std::min(k < nd.kids.size() ? nd.kids[k].first.first : INT_MAX,
                             c < nd.collect.size() ? nd.collect[c].first : INT_MAX);
      model.advance(st, b, scratch);
      std::int32_t sc[Shape::kPatches];
      const int n = model.scores(st, sc, scratch);
      for (; c < nd.collect.size() && nd.collect[c].first == b; ++c) on_collect(nd.collect[c].second, sc, n);
      for (; k < nd.kids.size() && nd.kids[k].first.first == b; ++k) {
        auto child = std::make_unique<func::TokenState>(st);
        model.select(*child, sc, nd.kids[k].first.second, scratch);
        dfs(nd.kids[k].second, *child);
      }
    }
    if (!nd.terminals.empty()) {
      std::int64_t logits[Shape::kClasses];
      const int pred = model.finish(st, logits, scratch);
      for (int t : nd.terminals) on_terminal(t, st, pred);
    }
  }
};

std::string prefix_key(const SchedulePoint& s, std::size_t n) {
  SchedulePoint p;
  p.selectors.assign(s.selectors.begin(), s.selectors.begin() + static_cast<std::ptrdiff_t>(n));
  return p.key();
}

}  // namespace

MicroOracle::MicroOracle(const func::FuncModel& model, const std::string& data_dir, int validation_images,
                         int threads)
    : model_(model), threads_(func::thread_count(threads)) {
  train_ = load_fashion_mnist(data_dir, "train", Shape::kImage, Shape::kImage, Shape::kClasses);
  test_ = load_fashion_mnist(data_dir, "t10k", Shape::kImage, Shape::kImage, Shape::kClasses);
  if (validation_images > train_.count / 2)
    throw InputError("evaluation.validation_images", "",
                     "at most half of the training split (" + std::to_string(train_.count / 2) + ")");
  val_count_ = validation_images;
  val_first_ = train_.count - validation_images;
  for (int i : model_.calibration_indices()) {
    if (i >= train_.count)
      throw InputError(model_.path(), "tensors.calib.index", "image index outside the training split");
    overlap_ += i >= val_first_;
  }
  if (model_.calibration_indices().empty())
    throw InputError(model_.path(), "tensors.calib.index",
                     "missing: the DSE calibrates every schedule sequentially and needs the export's calibration images");
}

int MicroOracle::split_size(Split s) const { return s == Split::Validation ? val_count_ : test_.count; }

json MicroOracle::describe() const {
  return {{"source", "bit-accurate integer model (func/) with the trained selector bank: " + model_.path()},
          {"thresholds", "sequential calibration on the export's " +
                             std::to_string(model_.calibration_indices().size()) + " calibration images (as heatvit eval)"},
          {"validation", "the last " + std::to_string(val_count_) + " images of the Fashion-MNIST training split (" +
                             std::to_string(val_first_) + ".." + std::to_string(train_.count - 1) + ")"},
          {"calibration_validation_overlap", overlap_},
          {"test", "the Fashion-MNIST test split, in order"},
          {"accuracy", "measured"},
          {"latency", "per image, from each image's own token counts"}};
}

void MicroOracle::calibrate(const std::vector<SchedulePoint>& schedules) {
  std::size_t depth = 0;
  for (const auto& s : schedules) depth = std::max(depth, s.selectors.size());
  const std::vector<int>& idx = model_.calibration_indices();
  const int n = static_cast<int>(idx.size());
  for (std::size_t level = 0; level < depth; ++level) {
    // Groups: (prefix before this selector, its block) -> keeps still to calibrate.
    std::map<std::pair<std::string, int>, std::set<int>> need;
    std::map<std::pair<std::string, int>, SchedulePoint> prefix_of;
    for (const auto& s : schedules) {
      if (s.selectors.size() <= level) continue;
      if (threshold_cache_.count(prefix_key(s, level + 1))) continue;
      const auto g = std::make_pair(prefix_key(s, level), s.selectors[level].first);
      need[g].insert(s.selectors[level].second);
      prefix_of[g].selectors.assign(s.selectors.begin(), s.selectors.begin() + static_cast<std::ptrdiff_t>(level));
    }
    if (need.empty()) continue;
    Trie trie;
    std::vector<std::pair<std::string, int>> groups;
    for (const auto& [g, keeps] : need) {
      std::vector<std::pair<int, std::int32_t>> sel;
      const SchedulePoint& p = prefix_of[g];
      for (std::size_t j = 0; j < p.selectors.size(); ++j)
        sel.push_back({p.selectors[j].first, threshold_cache_.at(prefix_key(p, j + 1))});
      const int node = trie.walk(sel);
      trie.nodes[static_cast<std::size_t>(node)].collect.push_back({g.second, static_cast<int>(groups.size())});
      groups.push_back(g);
    }
    trie.sort();
    // Scores per group, gathered per image (then concatenated in image order).
    std::vector<std::vector<std::vector<std::int32_t>>> per_image(groups.size(),
                                                                  std::vector<std::vector<std::int32_t>>(static_cast<std::size_t>(n)));
    std::vector<func::FuncModel::ScratchPtr> scratch(static_cast<std::size_t>(threads_));
    func::parallel_for(n, threads_, [&](int i, int t) {
      auto& sc = scratch[static_cast<std::size_t>(t)];
      if (!sc) sc = model_.make_scratch();
      Walker w{model_, trie, *sc, {}, {}};
      w.on_collect = [&](int g, const std::int32_t* s, int cnt) {
        per_image[static_cast<std::size_t>(g)][static_cast<std::size_t>(i)].assign(s, s + cnt);
      };
      auto st = std::make_unique<func::TokenState>();
      model_.begin(train_.image(idx[static_cast<std::size_t>(i)]), *st, *sc);
      w.dfs(0, *st);
    }, 4);
    image_runs_ += n;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      std::vector<std::int32_t> all;
      for (auto& v : per_image[g]) all.insert(all.end(), v.begin(), v.end());
      std::sort(all.begin(), all.end());
      for (int keep : need[groups[g]]) {
        SchedulePoint q = prefix_of[groups[g]];
        q.selectors.push_back({groups[g].second, keep});
        threshold_cache_[q.key()] = func::quantile_threshold(all, keep);
        new_thresholds_.push_back(q.key());
      }
    }
  }
}

json MicroOracle::saved_state() const {
  return {{"weights", model_.path()}, {"calibration_images", model_.calibration_indices().size()},
          {"thresholds", threshold_cache_}};
}

json MicroOracle::take_new_state() {
  if (new_thresholds_.empty()) return json();
  json t = json::object();
  for (const std::string& k : new_thresholds_) t[k] = threshold_cache_.at(k);
  new_thresholds_.clear();
  return {{"weights", model_.path()}, {"calibration_images", model_.calibration_indices().size()}, {"thresholds", t}};
}

void MicroOracle::load_state(const json& j) {
  if (!j.is_object() || !j.contains("thresholds") || j.value("weights", std::string()) != model_.path()) return;
  for (const auto& [k, v] : j["thresholds"].items()) threshold_cache_[k] = v.get<std::int32_t>();
}

std::vector<std::int32_t> MicroOracle::thresholds(const SchedulePoint& s) {
  calibrate({s});
  std::vector<std::int32_t> t;
  for (std::size_t j = 0; j < s.selectors.size(); ++j) t.push_back(threshold_cache_.at(prefix_key(s, j + 1)));
  return t;
}

void MicroOracle::evaluate_range(const std::vector<ScheduleOutcome*>& todo, const ImageSet& data, int first_image,
                                 int begin, int end) {
  if (begin >= end || todo.empty()) return;
  const int depth = Shape::kDepth;
  Trie trie;
  for (std::size_t i = 0; i < todo.size(); ++i) {
    const SchedulePoint& p = point_of_.at(todo[i]);
    std::vector<std::pair<int, std::int32_t>> sel;
    for (std::size_t j = 0; j < p.selectors.size(); ++j) sel.push_back({p.selectors[j].first, todo[i]->thresholds[j]});
    trie.nodes[static_cast<std::size_t>(trie.walk(sel))].terminals.push_back(static_cast<int>(i));
  }
  trie.sort();
  const int count = end - begin;
  for (ScheduleOutcome* o : todo) {
    o->correct.resize(static_cast<std::size_t>(end));
    o->tokens.resize(static_cast<std::size_t>(end) * depth);
  }
  std::vector<func::FuncModel::ScratchPtr> scratch(static_cast<std::size_t>(threads_));
  func::parallel_for(count, threads_, [&](int j, int t) {
    auto& sc = scratch[static_cast<std::size_t>(t)];
    if (!sc) sc = model_.make_scratch();
    const int img = begin + j;
    const int label = data.labels[static_cast<std::size_t>(first_image + img)];
    Walker w{model_, trie, *sc, {}, {}};
    w.on_terminal = [&](int term, const func::TokenState& st, int pred) {
      ScheduleOutcome& o = *todo[static_cast<std::size_t>(term)];
      o.correct[static_cast<std::size_t>(img)] = pred == label;
      for (int b = 0; b < depth; ++b)
        o.tokens[static_cast<std::size_t>(img) * depth + static_cast<std::size_t>(b)] =
            static_cast<std::uint16_t>(st.tokens[b]);
    };
    auto st = std::make_unique<func::TokenState>();
    model_.begin(data.image(first_image + img), *st, *sc);
    w.dfs(0, *st);
  }, 2);
  image_runs_ += static_cast<std::int64_t>(count) * static_cast<std::int64_t>(todo.size());
  for (ScheduleOutcome* o : todo) {
    o->images = end;
    o->accuracy = static_cast<double>(o->correct_count(end)) / end;
  }
}

std::vector<OutcomePtr> MicroOracle::run(const std::vector<SchedulePoint>& schedules, Split split, int images) {
  const int size = split_size(split);
  if (images > size) images = size;
  calibrate(schedules);
  std::vector<OutcomePtr> out;
  std::map<int, std::vector<ScheduleOutcome*>> by_have;  // images already covered -> outcomes to extend
  for (const auto& s : schedules) {
    auto& slot = cache_[{s.key(), static_cast<int>(split)}];
    if (!slot) {
      slot = std::make_shared<ScheduleOutcome>();
      slot->has_accuracy = true;
      for (std::size_t j = 0; j < s.selectors.size(); ++j)
        slot->thresholds.push_back(threshold_cache_.at(prefix_key(s, j + 1)));
      point_of_[slot.get()] = s;
    }
    if (slot->images < images) {
      auto& v = by_have[slot->images];
      if (std::find(v.begin(), v.end(), slot.get()) == v.end()) v.push_back(slot.get());
    }
    out.push_back(slot);
  }
  const ImageSet& data = split == Split::Validation ? train_ : test_;
  const int first = split == Split::Validation ? val_first_ : 0;
  for (auto& [have, todo] : by_have) evaluate_range(todo, data, first, have, images);
  return out;
}

// ---- expected tokens ----

ExpectedOracle::ExpectedOracle(const ModelShape& model, const std::string& accuracy_csv)
    : model_(model), csv_(accuracy_csv) {
  if (csv_.empty()) return;
  std::ifstream in(csv_);
  if (!in) throw InputError(csv_, "", "cannot be read");
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (lineno == 1 && line.rfind("schedule", 0) == 0) continue;  // header
    // schedule,top1 where the schedule itself holds commas: split at the last comma;
    // a schedule with commas may also be quoted.
    const auto comma = line.rfind(',');
    const std::string where = "line " + std::to_string(lineno);
    if (comma == std::string::npos) throw InputError(csv_, where, "expected schedule,top1");
    std::string key = line.substr(0, comma);
    if (key.size() >= 2 && key.front() == '"' && key.back() == '"') key = key.substr(1, key.size() - 2);
    const std::string val = line.substr(comma + 1);
    double acc = 0;
    try {
      std::size_t used = 0;
      acc = std::stod(val, &used);
      if (used != val.size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      throw InputError(csv_, where, "top1 '" + val + "' is not a number");
    }
    if (acc > 1.0 && acc <= 100.0) acc /= 100.0;  // percent
    if (!(acc >= 0.0 && acc <= 1.0)) throw InputError(csv_, where, "top1 must be a fraction or a percentage");
    const SchedulePoint p = parse_schedule_key(key, csv_ + " " + where);
    if (!acc_.emplace(p.key(), acc).second) throw InputError(csv_, where, "schedule '" + key + "' repeats");
  }
}

json ExpectedOracle::describe() const {
  return {{"source", "expected token counts of the keep rates (no trained weights for " + model_.name + ")"},
          {"accuracy", csv_.empty() ? "not measured" : "user-supplied: " + csv_},
          {"latency", "one token vector per schedule (each selector keeps round(keep x tokens))"}};
}

std::vector<OutcomePtr> ExpectedOracle::run(const std::vector<SchedulePoint>& schedules, Split, int) {
  std::vector<OutcomePtr> out;
  for (const auto& s : schedules) {
    auto o = std::make_shared<ScheduleOutcome>();
    o->images = 1;
    const std::vector<int> t = expected_tokens(model_, s.to_schedule());
    o->tokens.assign(t.begin(), t.end());
    const auto it = acc_.find(s.key());
    o->has_accuracy = it != acc_.end();
    if (o->has_accuracy) o->accuracy = it->second;
    out.push_back(o);
  }
  return out;
}

}  // namespace heatvit::dse
