#include "heatvit/core/json_config.hpp"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "heatvit/core/error.hpp"
#include "heatvit/core/input_file.hpp"

namespace heatvit {

namespace {

// Builds the document through nlohmann's SAX interface so that every limit is checked
// while reading, before anything deep or huge exists in memory: nesting depth,
// numbers a double cannot hold, integers wider than 64 bits, duplicate keys. Errors
// name the origin and the dotted path of the offending value.
class StrictBuilder : public nlohmann::json_sax<json> {
 public:
  StrictBuilder(json& root, const std::string& text, const std::string& origin)
      : root_(root), text_(text), origin_(origin) {}

  bool null() override { return put(json(nullptr)); }
  bool boolean(bool v) override { return put(json(v)); }
  bool number_integer(number_integer_t v) override { return put(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(json(v)); }
  bool number_float(number_float_t v, const string_t& text) override {
    // The lexer falls back to a double for integers that overflow 64 bits.
    const bool integer_literal = text.find_first_of(".eE") == string_t::npos;
    if (integer_literal)
      fail(here(), "integer " + abbreviate(text) + " does not fit in 64 bits");
    if (!std::isfinite(v)) fail(here(), "number " + abbreviate(text) + " is out of the range of a double");
    return put(json(v));
  }
  bool string(string_t& v) override { return put(json(std::move(v))); }
  bool binary(binary_t&) override { return put(json(nullptr)); }  // not produced by JSON text

  bool start_object(std::size_t) override { return open(json::object()); }
  bool key(string_t& k) override {
    Level& l = levels_.back();
    if (l.node->contains(k)) fail(join(l.path, k), "duplicate key (each key may appear once per object)");
    l.key = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_array() override { return close(); }

  bool parse_error(std::size_t byte, const std::string& token, const nlohmann::detail::exception& e) override {
    // 406: a number literal that overflows a double (1e309).
    if (e.id == 406) fail(here(), "number " + abbreviate(token) + " is out of the range of a double");
    // Translate the byte offset into a line number for the message.
    std::size_t line = 1;
    for (std::size_t i = 0; i < text_.size() && i < byte; ++i)
      if (text_[i] == '\n') ++line;
    fail("", "invalid JSON at line " + std::to_string(line) + ": " + e.what());
  }

 private:
  struct Level {
    json* node;
    std::string path;  // dotted path of this container
    std::string key;   // pending key (objects)
  };

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string abbreviate(const std::string& t) {
    return t.size() > 24 ? t.substr(0, 12) + "..." + t.substr(t.size() - 8) + " (" + std::to_string(t.size()) + " digits)" : t;
  }
  // The dotted path of the value about to be stored.
  std::string here() const {
    if (levels_.empty()) return "";
    const Level& l = levels_.back();
    if (l.node->is_object()) return join(l.path, l.key);
    return l.path + "[" + std::to_string(l.node->size()) + "]";
  }
  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    // A path thousands of levels deep is not worth printing in full.
    throw InputError(origin_, field.size() > 80 ? field.substr(0, 36) + "..." + field.substr(field.size() - 36) : field,
                     what);
  }
  json* store(json v) {
    if (levels_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Level& l = levels_.back();
    if (l.node->is_object()) return &((*l.node)[l.key] = std::move(v));
    l.node->push_back(std::move(v));
    return &l.node->back();
  }
  bool put(json v) {
    store(std::move(v));
    return true;
  }
  bool open(json container) {
    if (levels_.size() >= static_cast<std::size_t>(kMaxJsonDepth))
      fail(here(), "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    const std::string path = here();
    json* node = store(std::move(container));
    levels_.push_back({node, path, ""});
    return true;
  }
  bool close() {
    levels_.pop_back();
    return true;
  }

  json& root_;
  const std::string& text_;
  const std::string& origin_;
  std::vector<Level> levels_;
};

}  // namespace

json load_json_file(const std::string& path) {
  return parse_json_text(read_input_file(path, kMaxJsonFileBytes), path);
}

json parse_json_text(const std::string& text, const std::string& origin) {
  json out;
  StrictBuilder b(out, text, origin);
  json::sax_parse(text, &b, json::input_format_t::json, /*strict=*/true);
  return out;
}

bool is_json_syntax(const std::string& text) { return json::accept(text); }

Override parse_override(const std::string& text) {
  const std::string origin = "--set " + text;
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(origin, "", "expected path.to.key=value");
  Override o;
  o.path = text.substr(0, eq);
  o.origin = origin;
  const std::string v = text.substr(eq + 1);
  if (v.empty()) throw InputError(origin, o.path, "empty value");
  for (std::size_t i = 0, start = 0; i <= o.path.size(); ++i) {
    if (i == o.path.size() || o.path[i] == '.') {
      if (i == start) throw InputError(origin, o.path, "empty key in dotted path");
      start = i + 1;
    }
  }
  // JSON text (numbers, true/false, arrays, quoted strings) is held to the limits of
  // every other JSON input; anything else is a bare word: a string value.
  const bool numeric = v.find_first_not_of("0123456789+-.eE") == std::string::npos &&
                       v.find_first_of("0123456789") != std::string::npos;
  if (numeric || is_json_syntax(v)) {
    o.value = parse_json_text(v, origin);
  } else {
    o.value = v;
    // JSON strings are UTF-8; a bare word that is not could not be reported back.
    try {
      (void)o.value.dump();
    } catch (const json::type_error&) {
      throw InputError(origin, o.path, "value is not valid UTF-8");
    }
  }
  return o;
}

std::string Provenance::origin_of(const std::string& path) const {
  std::string p = path;
  while (true) {
    auto it = origins_.find(p);
    if (it != origins_.end()) return it->second;
    if (p.empty()) return "<config>";
    auto dot = p.rfind('.');
    p = (dot == std::string::npos) ? std::string() : p.substr(0, dot);
  }
}

std::string Provenance::field_in_origin(const std::string& path) const {
  std::string p = path;
  while (true) {
    auto it = origins_.find(p);
    if (it != origins_.end()) {
      if (it->second.rfind("--set", 0) == 0 || p.empty()) return path;
      return path.size() > p.size() ? path.substr(p.size() + 1) : path;
    }
    if (p.empty()) return path;
    auto dot = p.rfind('.');
    p = (dot == std::string::npos) ? std::string() : p.substr(0, dot);
  }
}

std::vector<std::pair<std::string, std::string>> Provenance::overrides_under(const std::string& prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [p, o] : origins_) {
    if (o.rfind("--set", 0) != 0) continue;
    if (prefix.empty() || p == prefix || p.rfind(prefix + ".", 0) == 0) out.emplace_back(p, o);
  }
  return out;
}

void apply_overrides(json& root, const std::vector<Override>& overrides, Provenance& prov) {
  for (const auto& o : overrides) {
    json* node = &root;
    std::size_t start = 0;
    while (true) {
      auto dot = o.path.find('.', start);
      std::string key = o.path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!node->is_object())
        throw InputError(o.origin, o.path.substr(0, start ? start - 1 : 0), "is not an object");
      if (dot == std::string::npos) {
        (*node)[key] = o.value;
        break;
      }
      node = &(*node)[key];
      if (node->is_null()) {
        // An object the override creates comes from the override (its unknown keys
        // must name the --set, not the file of the enclosing section).
        *node = json::object();
        prov.set(o.path.substr(0, dot), o.origin);
      }
      start = dot + 1;
    }
    prov.set(o.path, o.origin);
  }
}

ConfigReader::ConfigReader(const json& node, std::shared_ptr<const Provenance> prov, std::string path)
    : node_(&node), prov_(std::move(prov)), path_(std::move(path)) {
  if (!node_->is_object()) {
    if (!prov_) throw InputError("<config>", path_, std::string("must be a JSON object, got ") + node_->type_name());
    throw InputError(prov_->origin_of(path_), prov_->field_in_origin(path_),
                     std::string("must be a JSON object, got ") + node_->type_name());
  }
}

ConfigReader::ConfigReader(const json& node, const std::string& file)
    : ConfigReader(node, [&] {
        auto p = std::make_shared<Provenance>();
        p->set("", file);
        return p;
      }()) {}

std::string ConfigReader::field(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

std::string ConfigReader::origin() const { return prov_ ? prov_->origin_of(path_) : "<config>"; }

void ConfigReader::fail(const std::string& key, const std::string& what) const {
  const std::string f = field(key);
  if (!prov_) throw InputError("<config>", f, what);
  const std::string origin = prov_->origin_of(f);
  if (origin.rfind("--set", 0) != 0) {
    // A check across fields (tRC >= tRAS + tRP) can fail on a field from a file
    // because a --set changed its neighbour: the option is the cause and is named.
    const auto here = prov_->overrides_under(path_);
    for (const auto& [p, o] : here)
      if (p.rfind('.') == path_.size() || (path_.empty() && p.find('.') == std::string::npos))
        throw InputError(o, f, what + " (" + prov_->field_in_origin(f) + " as given in " + origin + ")");
    if (!here.empty()) {
      std::string sets;
      for (const auto& po : here) sets += (sets.empty() ? "" : ", ") + po.second;
      throw InputError(origin, prov_->field_in_origin(f), what + " (with " + sets + ")");
    }
  }
  throw InputError(origin, prov_->field_in_origin(f), what);
}

bool ConfigReader::has(const std::string& key) const { return node_->contains(key); }

const json& ConfigReader::get(const std::string& key) const {
  read_.insert(key);
  auto it = node_->find(key);
  if (it == node_->end()) fail(key, "is required but missing");
  return *it;
}

namespace {
std::string show(const json& v) {
  // Replacement characters for invalid UTF-8: a message never fails to be made.
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}
}  // namespace

std::int64_t ConfigReader::integer(const std::string& key, std::int64_t min, std::int64_t max) {
  const json& v = get(key);
  std::int64_t x = 0;
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    // Never shown through a signed conversion (2^63 would read as negative).
    fail(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                  std::to_string(v.get<std::uint64_t>()));
  } else if (v.is_number_integer()) {
    x = v.get<std::int64_t>();
  } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
             std::fabs(v.get<double>()) < 9e15) {
    x = static_cast<std::int64_t>(v.get<double>());
  } else {
    fail(key, "must be an integer, got " + show(v));
  }
  if (x < min || x > max)
    fail(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                  std::to_string(x));
  resolved_[key] = x;
  return x;
}

std::int64_t ConfigReader::integer(const std::string& key, std::int64_t def, std::int64_t min,
                                   std::int64_t max) {
  if (!has(key)) {
    read_.insert(key);
    resolved_[key] = def;
    return def;
  }
  return integer(key, min, max);
}

double ConfigReader::number(const std::string& key, double min, double max, bool min_exclusive) {
  const json& v = get(key);
  if (!v.is_number()) fail(key, "must be a number, got " + show(v));
  const double x = v.get<double>();
  const bool low = min_exclusive ? !(x > min) : !(x >= min);
  if (!std::isfinite(x) || low || x > max) {
    std::ostringstream os;
    os << "must be in " << (min_exclusive ? "(" : "[") << min << ", " << max << "], got " << x;
    fail(key, os.str());
  }
  resolved_[key] = x;
  return x;
}

double ConfigReader::number(const std::string& key, double def, double min, double max,
                            bool min_exclusive) {
  if (!has(key)) {
    read_.insert(key);
    resolved_[key] = def;
    return def;
  }
  return number(key, min, max, min_exclusive);
}

bool ConfigReader::boolean(const std::string& key) {
  const json& v = get(key);
  if (!v.is_boolean()) fail(key, "must be true or false, got " + show(v));
  resolved_[key] = v.get<bool>();
  return v.get<bool>();
}

bool ConfigReader::boolean(const std::string& key, bool def) {
  if (!has(key)) {
    read_.insert(key);
    resolved_[key] = def;
    return def;
  }
  return boolean(key);
}

std::string ConfigReader::string(const std::string& key) {
  const json& v = get(key);
  if (!v.is_string()) fail(key, "must be a string, got " + show(v));
  resolved_[key] = v.get<std::string>();
  return v.get<std::string>();
}

std::string ConfigReader::string(const std::string& key, const std::string& def) {
  if (!has(key)) {
    read_.insert(key);
    resolved_[key] = def;
    return def;
  }
  return string(key);
}

std::string ConfigReader::one_of(const std::string& key, const std::vector<std::string>& allowed) {
  std::string s = string(key);
  for (const auto& a : allowed)
    if (a == s) return s;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail(key, "must be one of {" + list + "}, got \"" + s + "\"");
}

std::string ConfigReader::one_of(const std::string& key, const std::string& def,
                                 const std::vector<std::string>& allowed) {
  if (!has(key)) {
    read_.insert(key);
    resolved_[key] = def;
    return def;
  }
  return one_of(key, allowed);
}

std::vector<std::int64_t> ConfigReader::integer_list(const std::string& key, std::int64_t min,
                                                     std::int64_t max) {
  const json& v = get(key);
  if (!v.is_array()) fail(key, "must be an array of integers, got " + show(v));
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const json& e = v[i];
    const std::string k = key + "[" + std::to_string(i) + "]";
    if (!e.is_number_integer()) fail(k, "must be an integer, got " + show(e));
    if (e.is_number_unsigned() && e.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      fail(k, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                  std::to_string(e.get<std::uint64_t>()));
    const auto x = e.get<std::int64_t>();
    if (x < min || x > max)
      fail(k, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                  std::to_string(x));
    out.push_back(x);
  }
  resolved_[key] = out;
  return out;
}

ConfigReader& ConfigReader::child(const std::string& key) {
  const json& v = get(key);
  if (!v.is_object()) fail(key, std::string("must be an object, got ") + v.type_name());
  auto r = std::make_shared<ConfigReader>(v, prov_, field(key));
  kids_.emplace_back(key, r);
  return *r;
}

std::vector<ConfigReader*> ConfigReader::children(const std::string& key) {
  const json& v = get(key);
  if (!v.is_array()) fail(key, std::string("must be an array, got ") + v.type_name());
  std::vector<std::shared_ptr<ConfigReader>> list;
  std::vector<ConfigReader*> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string k = key + "[" + std::to_string(i) + "]";
    if (!v[i].is_object()) fail(k, std::string("must be an object, got ") + v[i].type_name());
    list.push_back(std::make_shared<ConfigReader>(v[i], prov_, field(k)));
    out.push_back(list.back().get());
  }
  kid_lists_.emplace_back(key, std::move(list));
  return out;
}

const json& ConfigReader::raw(const std::string& key) {
  const json& v = get(key);
  resolved_[key] = v;
  return v;
}

void ConfigReader::finish() const {
  for (auto it = node_->begin(); it != node_->end(); ++it) {
    if (!read_.count(it.key())) {
      const std::string f = field(it.key());
      if (!prov_) throw InputError("<config>", f, "unknown field");
      throw InputError(prov_->origin_of(f), prov_->field_in_origin(f), "unknown field");
    }
  }
  for (const auto& k : kids_) k.second->finish();
  for (const auto& l : kid_lists_)
    for (const auto& k : l.second) k->finish();
}

json ConfigReader::resolved() const {
  json out = resolved_;
  for (const auto& k : kids_) out[k.first] = k.second->resolved();
  for (const auto& l : kid_lists_) {
    json arr = json::array();
    for (const auto& k : l.second) arr.push_back(k->resolved());
    out[l.first] = arr;
  }
  return out;
}

}  // namespace heatvit
