// The limits every reader of outside input enforces and the all-or-nothing output
// writer (docs/robustness.md).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "heatvit/core/atomic_file.hpp"
#include "heatvit/core/error.hpp"
#include "heatvit/core/input_file.hpp"
#include "heatvit/core/json_config.hpp"
#include "heatvit/core/progress.hpp"

using namespace heatvit;
namespace fs = std::filesystem;

namespace {

std::string parse_error(const std::string& text) {
  try {
    parse_json_text(text, "in.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string temp_dir() {
  const fs::path d = fs::temp_directory_path() / ("heatvit-limits-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d.string();
}

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& p, const std::string& s) { std::ofstream(p) << s; }

}  // namespace

TEST(JsonLimits, DepthIsBounded) {
  EXPECT_EQ(parse_error(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')), "");
  const std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  EXPECT_NE(parse_error(deep).find("nested deeper than 512"), std::string::npos);
  // far beyond: no stack overflow, the same message
  const std::string very = "{\"a\": " + std::string(200000, '[') + std::string(200000, ']') + "}";
  const std::string e = parse_error(very);
  EXPECT_NE(e.find("in.json: field 'a"), std::string::npos) << e.substr(0, 200);
}

TEST(JsonLimits, DuplicateKeysNamed) {
  const std::string e = parse_error(R"({"a": {"b": 1, "c": 2, "b": 3}})");
  EXPECT_NE(e.find("in.json: field 'a.b': duplicate key"), std::string::npos) << e;
  EXPECT_EQ(parse_error(R"({"a": {"b": 1}, "c": {"b": 1}})"), "");  // same key in two objects
}

TEST(JsonLimits, NumbersThatDoNotFit) {
  EXPECT_NE(parse_error(R"({"x": [1, 1e309]})").find("field 'x[1]': number 1e309 is out of the range of a double"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"x": -1e400})").find("field 'x'"), std::string::npos);
  EXPECT_NE(parse_error(R"({"x": 1234567890123456789012345678901234567890})").find("does not fit in 64 bits"),
            std::string::npos);
  EXPECT_EQ(parse_error(R"({"x": 18446744073709551615, "y": -9223372036854775808, "z": 1e308})"), "");
}

TEST(JsonLimits, UnsignedBeyondInt64IsNotShownNegative) {
  const json j = parse_json_text(R"({"n": 9223372036854775808, "l": [18446744073709551615]})", "in.json");
  ConfigReader r(j, "in.json");
  try {
    r.integer("n", 0, 10);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("got 9223372036854775808"), std::string::npos) << e.what();
  }
  try {
    r.integer_list("l", 0, 10);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("got 18446744073709551615"), std::string::npos) << e.what();
  }
}

TEST(JsonLimits, SetValuesHeldToTheSameLimits) {
  EXPECT_THROW(parse_override("a.b=1e309"), InputError);
  EXPECT_THROW(parse_override("a.b={\"x\":1,\"x\":2}"), InputError);
  EXPECT_EQ(parse_override("a.b=3dnet").value, "3dnet");  // a bare word stays a string
  EXPECT_EQ(parse_override("a.b=-2.5").value, -2.5);
}

// Found by fuzz_json_config: a --set bare word with invalid UTF-8 made dump() throw a
// json::type_error (exit 1) when a message showed it.
TEST(JsonLimits, SetValueThatIsNotUtf8) {
  try {
    parse_override("model.name=\xff\xfe");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
  }
  const json j = {{"n", std::string("\xff")}};
  ConfigReader r(j, "in.json");
  EXPECT_THROW(r.integer("n", 0, 1), InputError);  // the message shows the value safely
}

TEST(JsonLimits, CrossFieldErrorNamesTheSetOption) {
  json doc = {{"timing", {{"a", 1}, {"b", 2}}}};
  auto prov = std::make_shared<Provenance>();
  prov->set("", "preset.json");
  apply_overrides(doc, {parse_override("timing.a=5")}, *prov);
  ConfigReader r(doc, prov);
  ConfigReader& t = r.child("timing");
  try {
    t.fail("b", "must be at least a");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "--set timing.a=5");
    EXPECT_NE(std::string(e.what()).find("as given in preset.json"), std::string::npos) << e.what();
  }
}

TEST(InputFile, OnlyRegularFilesWithinTheLimit) {
  const std::string d = temp_dir();
  auto err = [](const std::string& p, std::uint64_t max) {
    try {
      read_input_file(p, max);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err(d, 100).find("is a directory"), std::string::npos);
  EXPECT_NE(err("/dev/zero", 100).find("not a regular file"), std::string::npos);
  EXPECT_NE(err(d + "/absent.json", 100).find("No such file or directory"), std::string::npos);
  spit(d + "/big.json", std::string(101, ' '));
  EXPECT_NE(err(d + "/big.json", 100).find("more than the limit of 100 bytes"), std::string::npos);
  EXPECT_EQ(read_input_file(d + "/big.json", 101).size(), 101u);
  fs::remove_all(d);
}

TEST(Outputs, PathsCheckedBeforeWork) {
  const std::string d = temp_dir();
  auto err = [](const std::string& p) {
    try {
      check_output_path(p);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(err(d + "/new.json"), "");
  EXPECT_NE(err("/dev/null").find("not a regular file"), std::string::npos);
  EXPECT_NE(err(d).find("is a directory"), std::string::npos);
  EXPECT_NE(err(d + "/no/such/r.json").find("does not exist"), std::string::npos);
  spit(d + "/file", "x");
  EXPECT_NE(err(d + "/file/r.json").find("Not a directory"), std::string::npos);  // strerror(ENOTDIR)
  fs::remove_all(d);
}

TEST(Outputs, FailedRunLeavesOldFilesUntouched) {
  const std::string d = temp_dir();
  spit(d + "/r.json", "old report");
  spit(d + "/r.config.json", "old config");
  fs::create_directories(d + "/t.json");  // a later output that cannot be written
  OutputSet out;
  out.add(d + "/r.json", "new report");
  out.add(d + "/r.config.json", "new config");
  out.add(d + "/t.json", "timeline");
  EXPECT_THROW(out.commit(), InputError);
  EXPECT_EQ(slurp(d + "/r.json"), "old report");
  EXPECT_EQ(slurp(d + "/r.config.json"), "old config");
  // no temporary file left behind
  int files = 0;
  for (const auto& e : fs::directory_iterator(d)) files += e.is_regular_file();
  EXPECT_EQ(files, 2);

  OutputSet ok;
  ok.add(d + "/r.json", "new report");
  ok.add(d + "/r.config.json", "new config");
  ok.commit();
  EXPECT_EQ(slurp(d + "/r.json"), "new report");
  EXPECT_EQ(slurp(d + "/r.config.json"), "new config");
  files = 0;
  for (const auto& e : fs::directory_iterator(d)) files += e.is_regular_file();
  EXPECT_EQ(files, 2);

  OutputSet twice;
  twice.add(d + "/r.json", "a");
  twice.add(d + "/./r.json", "b");
  EXPECT_THROW(twice.commit(), InputError);
  EXPECT_EQ(slurp(d + "/r.json"), "new report");
  fs::remove_all(d);
}

TEST(Progress, LinesWhenNotATerminalNothingWhenQuiet) {
  std::FILE* f = std::tmpfile();
  {
    Progress p("eval", "images", 10, /*quiet=*/false, f);
    p.set_interval(0.0);
    for (int i = 0; i < 10; ++i) p.advance();
  }
  std::rewind(f);
  char buf[4096] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  const std::string text(buf, n);
  EXPECT_NE(text.find("eval: 1/10 images (10%)"), std::string::npos) << text;
  EXPECT_NE(text.find("10/10 images (100%)"), std::string::npos) << text;
  EXPECT_NE(text.find("done in"), std::string::npos) << text;
  std::fclose(f);

  std::FILE* q = std::tmpfile();
  {
    Progress p("eval", "images", 10, /*quiet=*/true, q);
    p.set_interval(0.0);
    for (int i = 0; i < 10; ++i) p.advance();
  }
  EXPECT_EQ(std::ftell(q), 0);
  std::fclose(q);

  std::FILE* s = std::tmpfile();
  {
    Progress p("eval", "images", 10, false, s);  // default interval: a short run prints nothing
    p.advance(10);
  }
  EXPECT_EQ(std::ftell(s), 0);
  std::fclose(s);
}
