#include "heatvit/models/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "heatvit/core/error.hpp"

namespace heatvit {

bool Schedule::has_selector(int block) const {
  return std::any_of(selectors.begin(), selectors.end(),
                     [&](const SelectorPoint& p) { return p.block == block; });
}

double Schedule::keep_at(int block) const {
  for (const auto& p : selectors)
    if (p.block == block) return p.keep;
  return 1.0;
}

Schedule parse_schedule(ConfigReader& r, const ModelShape& model) {
  Schedule s;
  s.name = r.string("name", "");
  // Informational members written by the trainer's schedule search.
  r.string("note", "");
  r.string("source", "");  // where the keep rates come from (configs/schedules/published)
  if (r.has("stages")) r.raw("stages");
  auto items = r.children("selectors");
  for (std::size_t i = 0; i < items.size(); ++i) {
    SelectorPoint p;
    p.block = static_cast<int>(items[i]->integer("block", 0, model.depth - 1));
    p.keep = items[i]->number("keep", 0.0, 1.0, /*min_exclusive=*/true);
    items[i]->finish();
    if (s.has_selector(p.block))
      items[i]->fail("block", "block " + std::to_string(p.block) + " is repeated");
    s.selectors.push_back(p);
  }
  r.finish();
  // Every selector must leave at least one patch token: a keep rate that rounds the
  // tokens reaching it to zero describes no network (selectors in block order).
  std::vector<std::size_t> order(items.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return s.selectors[a].block < s.selectors[b].block; });
  int patches = model.patch_tokens();
  for (std::size_t i : order) {
    const long kept = std::lround(s.selectors[i].keep * patches);
    if (kept < 1)
      items[i]->fail("keep", "keeps no patch token: " + std::to_string(s.selectors[i].keep) + " of the " +
                                 std::to_string(patches) + " reaching block " + std::to_string(s.selectors[i].block) +
                                 " rounds to 0");
    patches = static_cast<int>(kept);
  }
  std::sort(s.selectors.begin(), s.selectors.end(),
            [](const SelectorPoint& a, const SelectorPoint& b) { return a.block < b.block; });
  return s;
}

Schedule load_schedule(const std::string& path, const ModelShape& model) {
  const json j = load_json_file(path);
  ConfigReader r(j, path);
  Schedule s = parse_schedule(r, model);
  if (s.name.empty()) s.name = path;
  return s;
}

json schedule_to_json(const Schedule& s) {
  json arr = json::array();
  for (const auto& p : s.selectors) arr.push_back({{"block", p.block}, {"keep", p.keep}});
  return {{"selectors", arr}};
}

std::vector<int> expected_tokens(const ModelShape& model, const Schedule& s) {
  std::vector<int> tokens(static_cast<std::size_t>(model.depth));
  int patches = model.patch_tokens();
  bool package = false;
  for (int b = 0; b < model.depth; ++b) {
    if (s.has_selector(b)) {
      const int kept = std::max(1, static_cast<int>(std::lround(s.keep_at(b) * patches)));
      if (kept < patches) package = true;
      patches = kept;
    }
    tokens[static_cast<std::size_t>(b)] = 1 + patches + (package ? 1 : 0);
  }
  return tokens;
}

void validate_tokens(const ModelShape& model, const std::vector<int>& tokens, const std::string& origin) {
  if (static_cast<int>(tokens.size()) != model.depth)
    throw InputError(origin, "", "needs one token count per block: " + std::to_string(model.depth) +
                                     " for " + model.name + ", got " + std::to_string(tokens.size()));
  for (std::size_t b = 0; b < tokens.size(); ++b) {
    const std::string f = "block " + std::to_string(b);
    if (tokens[b] < 2 || tokens[b] > model.dense_tokens())
      throw InputError(origin, f, "token count must be in [2, " + std::to_string(model.dense_tokens()) +
                                      "] (CLS + at least one token), got " + std::to_string(tokens[b]));
    if (b > 0 && tokens[b] > tokens[b - 1])
      throw InputError(origin, f, "token count grows from " + std::to_string(tokens[b - 1]) + " to " +
                                      std::to_string(tokens[b]) + " (pruned tokens stay pruned)");
  }
}

}  // namespace heatvit
