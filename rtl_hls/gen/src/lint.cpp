// Synthesizability lint of the emitted firmware (docs/hls.md, "Checks").
//
// A source-level check, not a compiler: comments and string literals are blanked,
// code only compiled for C simulation (#ifndef __SYNTHESIS__ blocks, the #else of
// #ifdef __SYNTHESIS__) is skipped, and constexpr functions (evaluated by the
// compiler) are exempt from the loop rules.
#include <cctype>
#include <regex>
#include <set>
#include <sstream>

#include "heatvit/hls/hls.hpp"

namespace heatvit::hls {

namespace {

/// Blanks comments and string/char literals, keeping newlines (line numbers).
std::string strip_comments(const std::string& s) {
  std::string o = s;
  enum { Code, Line, Block, Str, Chr } st = Code;
  for (std::size_t i = 0; i < o.size(); ++i) {
    const char c = s[i], n = i + 1 < s.size() ? s[i + 1] : '\0';
    switch (st) {
      case Code:
        if (c == '/' && n == '/') st = Line, o[i] = ' ';
        else if (c == '/' && n == '*') st = Block, o[i] = ' ';
        else if (c == '"') st = Str;
        else if (c == '\'') st = Chr;
        break;
      case Line:
        if (c == '\n') st = Code;
        else o[i] = ' ';
        break;
      case Block:
        if (c == '*' && n == '/') {
          o[i] = o[i + 1] = ' ';
          ++i;
          st = Code;
        } else if (c != '\n') {
          o[i] = ' ';
        }
        break;
      case Str:
      case Chr:
        if (c == '\\') {
          o[i] = ' ';
          if (i + 1 < o.size() && s[i + 1] != '\n') o[++i] = ' ';
        } else if ((st == Str && c == '"') || (st == Chr && c == '\'')) {
          st = Code;
        } else if (c != '\n') {
          o[i] = ' ';
        }
        break;
    }
  }
  return o;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> v;
  std::string cur;
  for (char c : s) {
    if (c == '\n') {
      v.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  v.push_back(cur);
  return v;
}

std::string trim(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

/// Blanks lines compiled only for C simulation.
void drop_csim_only(std::vector<std::string>& lines) {
  struct Frame {
    bool drop_then, drop_else, in_else;
  };
  std::vector<Frame> st;
  auto dropping = [&] {
    for (const auto& f : st)
      if (f.in_else ? f.drop_else : f.drop_then) return true;
    return false;
  };
  for (auto& l : lines) {
    const std::string t = trim(l);
    if (t.rfind("#if", 0) == 0) {
      // Only the exact guards (a condition that merely mentions __SYNTHESIS__ may still
      // be true under synthesis); #if 0 is dead code either way.
      const bool not_syn = t == "#ifndef __SYNTHESIS__" || t == "#if !defined(__SYNTHESIS__)" || t == "#if 0";
      const bool syn = t == "#ifdef __SYNTHESIS__" || t == "#if defined(__SYNTHESIS__)";
      st.push_back({not_syn, syn, false});
      l.clear();
      continue;
    }
    if (t.rfind("#else", 0) == 0 || t.rfind("#elif", 0) == 0) {
      if (!st.empty()) st.back().in_else = true;
      l.clear();
      continue;
    }
    if (t.rfind("#endif", 0) == 0) {
      if (!st.empty()) st.pop_back();
      l.clear();
      continue;
    }
    if (dropping()) l.clear();
  }
}

bool is_const_expr(const std::string& e, const std::set<std::string>& consts) {
  // literals, operators and constant names only
  std::size_t i = 0;
  while (i < e.size()) {
    const char c = e[i];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < e.size() && (std::isalnum(static_cast<unsigned char>(e[j])) || e[j] == '_')) ++j;
      const std::string id = e.substr(i, j - i);
      bool upper = true;
      for (char ch : id)
        if (std::islower(static_cast<unsigned char>(ch))) upper = false;
      if (!upper && !consts.count(id)) return false;
      if (upper && !consts.count(id)) return false;
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || std::isspace(static_cast<unsigned char>(c)) ||
               std::string("+-*/%()").find(c) != std::string::npos) {
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

std::size_t match_close(const std::string& s, std::size_t open, char o, char c) {
  int depth = 0;
  for (std::size_t i = open; i < s.size(); ++i) {
    if (s[i] == o) ++depth;
    if (s[i] == c && --depth == 0) return i;
  }
  return std::string::npos;
}

int line_of(const std::string& s, std::size_t pos) {
  int l = 1;
  for (std::size_t i = 0; i < pos && i < s.size(); ++i)
    if (s[i] == '\n') ++l;
  return l;
}

}  // namespace

std::vector<LintIssue> lint_firmware(const std::map<std::string, std::string>& sources, const std::string& defines,
                                     const std::string& top_file, const std::string& top) {
  std::vector<LintIssue> out;
  // Names defined by defines.h.
  std::set<std::string> macros;
  {
    static const std::regex def(R"(^\s*#define\s+([A-Za-z_]\w*))");
    for (const auto& l : split_lines(defines)) {
      std::smatch m;
      if (std::regex_search(l, m, def)) macros.insert(m[1]);
    }
  }
  static const std::regex heap(R"(\b(new|delete|malloc|calloc|realloc|free)\b\s*[\(\[A-Za-z_])");
  static const std::regex stl(
      R"(\bstd\s*::\s*(vector|map|multimap|set|multiset|list|deque|string|unordered_\w+|array|function|shared_ptr|unique_ptr|make_shared|make_unique)\b|#\s*include\s*<(vector|map|set|list|deque|string|unordered_map|unordered_set|array|functional|memory)>)");
  static const std::regex exc(R"(\b(throw|try|catch)\b)");
  static const std::regex virt(R"(\bvirtual\b)");
  static const std::regex tparam(R"(\b(?:int|typename|class)\s+([A-Z][A-Z0-9_]*)\b)");
  static const std::regex cexpr(R"(\bconstexpr\s+(?:int|long|unsigned|i64|i32|bool)\s+([A-Za-z_]\w*)\s*=)");
  static const std::regex pragma(R"(HEATVIT_HLS\(([^)]*)\)|#\s*pragma\s+HLS\s+(.*))");
  static const std::regex kv(R"(\b(\w+)\s*=\s*([^\s]+))");
  static const std::regex arr(
      R"((?:^|[;{(,]\s*|\s)(?:static\s+|const\s+)*([A-Za-z_][\w:]*)\s+\**\s*([A-Za-z_]\w*)\s*((?:\[[^\]]*\])+)\s*([;=,){]))");
  static const std::regex fndef(R"(\b([A-Za-z_]\w*)\s*\([^;{}]*\)\s*(?:const\s*)?\{)");
  static const std::set<std::string> not_types = {"return", "else", "case", "do", "goto", "sizeof", "typedef",
                                                   "delete", "new", "using", "namespace"};
  static const std::set<std::string> keywords = {"if", "for", "while", "switch", "return", "sizeof", "catch"};

  for (const auto& src : sources) {
    const std::string& file = src.first;  // (not a structured binding: lambdas below capture it)
    const std::string& raw = src.second;
    if (file.size() < 2) continue;
    const bool code = file.find(".h") != std::string::npos || file.find(".cpp") != std::string::npos;
    if (!code) continue;
    auto lines = split_lines(strip_comments(raw));
    drop_csim_only(lines);
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    auto issue = [&](int line, const std::string& rule, const std::string& msg) {
      out.push_back({file, line, rule, msg});
    };

    // Constants of this file: template parameters and constexpr names.
    std::set<std::string> consts = macros;
    static const std::regex tmpl(R"(\btemplate\s*<([^>]*)>)");
    for (std::sregex_iterator it(text.begin(), text.end(), tmpl), e; it != e; ++it) {
      const std::string params = (*it)[1];
      for (std::sregex_iterator pt(params.begin(), params.end(), tparam), pe; pt != pe; ++pt) consts.insert((*pt)[1]);
    }
    for (std::sregex_iterator it(text.begin(), text.end(), cexpr), e; it != e; ++it) consts.insert((*it)[1]);

    // constexpr function bodies are exempt from the loop rules.
    std::vector<std::pair<std::size_t, std::size_t>> exempt;
    for (std::size_t p = text.find("constexpr"); p != std::string::npos; p = text.find("constexpr", p + 1)) {
      const std::size_t paren = text.find('(', p), semi = text.find(';', p), brace = text.find('{', p);
      if (paren == std::string::npos || brace == std::string::npos || semi < brace) continue;
      const std::size_t end = match_close(text, brace, '{', '}');
      if (end != std::string::npos) exempt.emplace_back(brace, end);
    }
    auto is_exempt = [&](std::size_t pos) {
      for (const auto& [a, b] : exempt)
        if (pos > a && pos < b) return true;
      return false;
    };

    for (std::size_t li = 0; li < lines.size(); ++li) {
      const std::string& l = lines[li];
      const int ln = static_cast<int>(li) + 1;
      std::smatch m;
      if (std::regex_search(l, m, heap)) issue(ln, "heap", "dynamic memory: '" + trim(m[0]) + "'");
      if (std::regex_search(l, m, stl)) issue(ln, "stl", "standard container or allocation: '" + trim(m[0]) + "'");
      if (std::regex_search(l, m, exc)) issue(ln, "exceptions", "'" + std::string(m[1]) + "'");
      if (std::regex_search(l, m, virt)) issue(ln, "virtual", "virtual function");
      // pragma arguments
      for (std::sregex_iterator it(l.begin(), l.end(), pragma), e; it != e; ++it) {
        const std::string body = (*it)[1].matched ? std::string((*it)[1]) : std::string((*it)[2]);
        for (std::sregex_iterator kt(body.begin(), body.end(), kv), ke; kt != ke; ++kt) {
          const std::string key = (*kt)[1], val = (*kt)[2];
          if (key == "port" || key == "variable" || key == "offset" || key == "type" || key == "dim" ||
              key == "mode" || key == "instances")
            continue;
          if (key == "bundle") {
            if (val != "control" && !macros.count(val))
              issue(ln, "pragma", "bundle=" + val + " is not a defines.h constant");
            continue;
          }
          if (!is_const_expr(val, consts))
            issue(ln, "pragma", key + "=" + val + " is not a literal, template parameter or defines.h constant");
        }
      }
      // arrays (every declarator of a declaration: `T a[N], b[M];`)
      auto check_dims = [&](const std::string& name, const std::string& dims, bool param_ok) {
        std::size_t p = 0;
        while ((p = dims.find('[', p)) != std::string::npos) {
          const std::size_t q = dims.find(']', p);
          const std::string ex = trim(dims.substr(p + 1, q - p - 1));
          if (ex.empty() && p == 0 && param_ok) break;  // `T a[]` as a function parameter is a pointer
          if (ex.empty() || !is_const_expr(ex, consts))
            issue(ln, "array", "array " + name + " sized by '" + ex + "', not a compile-time constant");
          p = q;
        }
      };
      for (std::sregex_iterator it(l.begin(), l.end(), arr), e; it != e; ++it) {
        const std::string type = (*it)[1];
        if (not_types.count(type) || keywords.count(type)) continue;
        if (std::string((*it)[4]) == ",") {
          // more declarators of the same declaration, up to its ';'
          const std::size_t from = static_cast<std::size_t>(it->position() + it->length());
          const std::size_t semi = l.find(';', from);
          const std::size_t paren = l.find(')', from);
          if (semi != std::string::npos && (paren == std::string::npos || semi < paren)) {
            const std::string rest = l.substr(from, semi - from);
            static const std::regex more(R"((?:^|,)\s*\**\s*([A-Za-z_]\w*)\s*((?:\[[^\]]*\])*))");
            for (std::sregex_iterator mt(rest.begin(), rest.end(), more), me; mt != me; ++mt)
              if ((*mt)[2].length() > 0) check_dims((*mt)[1], (*mt)[2], false);
          }
        }
        const std::string term = (*it)[4];
        check_dims((*it)[2], (*it)[3], term == "," || term == ")");
      }
    }

    // loops
    for (std::size_t p = 0; (p = text.find("for", p)) != std::string::npos; p += 3) {
      if ((p > 0 && (std::isalnum(static_cast<unsigned char>(text[p - 1])) || text[p - 1] == '_')) ||
          (p + 3 < text.size() && (std::isalnum(static_cast<unsigned char>(text[p + 3])) || text[p + 3] == '_')))
        continue;
      std::size_t q = p + 3;
      while (q < text.size() && std::isspace(static_cast<unsigned char>(text[q]))) ++q;
      if (q >= text.size() || text[q] != '(') continue;
      if (is_exempt(p)) continue;
      const std::size_t close = match_close(text, q, '(', ')');
      if (close == std::string::npos) continue;
      const std::string hdr = text.substr(q + 1, close - q - 1);
      const std::size_t s1 = hdr.find(';'), s2 = hdr.find(';', s1 + 1);
      const std::string cond = s1 == std::string::npos || s2 == std::string::npos ? "" : trim(hdr.substr(s1 + 1, s2 - s1 - 1));
      static const std::regex simple(R"(^[A-Za-z_]\w*\s*(<|<=)\s*(.+)$)");
      std::smatch cm;
      bool bounded = std::regex_match(cond, cm, simple) && is_const_expr(trim(cm[2]), consts);
      if (!bounded) {
        // the body must start with a LOOP_TRIPCOUNT before any nested loop
        std::size_t b = close + 1;
        while (b < text.size() && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
        if (b < text.size() && text[b] == '{') {
          const std::size_t end = match_close(text, b, '{', '}');
          std::string body = text.substr(b, end == std::string::npos ? std::string::npos : end - b);
          const std::size_t nested = body.find("for (");
          const std::size_t tc = body.find("LOOP_TRIPCOUNT");
          bounded = tc != std::string::npos && (nested == std::string::npos || tc < nested);
        }
      }
      if (!bounded)
        issue(line_of(text, p), "loop-bound",
              "loop 'for (" + trim(hdr) + ")' has no compile-time bound and no LOOP_TRIPCOUNT");
    }
    for (const char* kw : {"while", "do"}) {
      const std::regex re(std::string(R"(\b)") + kw + (std::string(kw) == "do" ? R"(\s*\{)" : R"(\s*\()"));
      for (std::sregex_iterator it(text.begin(), text.end(), re), e; it != e; ++it) {
        const auto pos = static_cast<std::size_t>(it->position());
        if (is_exempt(pos)) continue;
        // `} while (...)` of a do loop is reported at its `do`
        if (std::string(kw) == "while") {
          std::size_t b = pos;
          while (b > 0 && std::isspace(static_cast<unsigned char>(text[b - 1]))) --b;
          if (b > 0 && text[b - 1] == '}') continue;
        }
        issue(line_of(text, pos), "loop-bound", std::string("'") + kw + "' loop: use a for loop with a constant bound");
      }
    }

    // recursion: a function whose body calls itself
    for (std::sregex_iterator it(text.begin(), text.end(), fndef), e; it != e; ++it) {
      const std::string name = (*it)[1];
      if (keywords.count(name)) continue;
      const std::size_t brace = static_cast<std::size_t>(it->position() + it->length() - 1);
      const std::size_t end = match_close(text, brace, '{', '}');
      if (end == std::string::npos) continue;
      const std::string body = text.substr(brace + 1, end - brace - 1);
      const std::regex call("\\b" + name + "\\s*(<[^;()]*>)?\\s*\\(");
      if (std::regex_search(body, call)) issue(line_of(text, brace), "recursion", "function " + name + " calls itself");
    }

    // interfaces of the top function
    if (file == top_file) {
      const std::regex topre("\\bvoid\\s+" + top + "\\s*\\(([^)]*)\\)\\s*\\{");
      std::smatch tm;
      if (!std::regex_search(text, tm, topre)) {
        issue(1, "interface", "top function " + top + " not defined here");
      } else {
        std::stringstream ps(tm[1].str());
        std::string arg;
        std::vector<std::string> args;
        while (std::getline(ps, arg, ',')) {
          static const std::regex last(R"(([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*$)");
          std::smatch am;
          const std::string a = trim(arg);
          if (std::regex_search(a, am, last)) args.push_back(am[1]);
        }
        args.push_back("return");
        for (const auto& a : args) {
          const std::regex ifc("INTERFACE\\s+\\w+\\s+port\\s*=\\s*" + a + "\\b");
          if (!std::regex_search(text, ifc))
            issue(line_of(text, static_cast<std::size_t>(tm.position())), "interface",
                  "argument '" + a + "' of " + top + " has no INTERFACE pragma");
        }
      }
    }
  }
  return out;
}

}  // namespace heatvit::hls
