// `heatvit eval` end to end on a synthetic model and a small synthetic test set: the
// report, the masks file, and exit status 2 with a message naming the file for bad input.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "heatvit/core/json_config.hpp"
#include "heatvit/models/hvt_file.hpp"
#include "synth.hpp"

using namespace heatvit;

namespace {

struct CliRun {
  int status = -1;
  std::string err;
};

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = heatvit::testing::temp_dir("cli");
    heatvit::testing::make_synth_model().write(dir + "/deit-micro-int8.hvt");
    heatvit::testing::write_fake_fmnist(dir + "/data", 12);
    std::ofstream(dir + "/schedule-default.json") << R"({"selectors": [{"block": 3, "keep": 0.6}, {"block": 7, "keep": 0.5}],
      "note": "exporter note", "stages": []})";
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  CliRun eval(const std::string& args, const std::string& weights = "") {
    const std::string w = weights.empty() ? dir + "/deit-micro-int8.hvt" : weights;
    const std::string cmd = std::string(HEATVIT_EXE) + " eval --model deit-micro --weights " + w + " --data " + dir +
                            "/data " + args + " -q 2>" + dir + "/err.txt";
    CliRun r;
    const int raw = std::system(cmd.c_str());
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    std::ifstream in(dir + "/err.txt");
    std::stringstream ss;
    ss << in.rdbuf();
    r.err = ss.str();
    return r;
  }

  std::string dir;
};

}  // namespace

TEST_F(EvalCli, DenseAndDefaultReports) {
  ASSERT_EQ(eval("--report " + dir + "/dense.json").status, 0);
  const json d = load_json_file(dir + "/dense.json");
  EXPECT_EQ(d["images"], 12);
  EXPECT_EQ(d["predictions"].size(), 12u);
  EXPECT_EQ(d["tokens_mean"].size(), 12u);
  EXPECT_EQ(d["tokens_mean"][11], 50.0);
  EXPECT_EQ(d["macs_per_image"], 33382016.0);
  EXPECT_TRUE(d.contains("accuracy"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/dense.config.json"));

  ASSERT_EQ(eval("--schedule default --limit 7 --threads 2 --report " + dir + "/def.json --masks-out " + dir +
                 "/masks.hvt")
                .status,
            0);
  const json r = load_json_file(dir + "/def.json");
  EXPECT_EQ(r["images"], 7);
  EXPECT_LT(r["macs_per_image"].get<double>(), 33382016.0);
  EXPECT_EQ(r["schedule"]["selectors"].size(), 2u);
  EXPECT_EQ(r["schedule"]["calibration"], "sequential");
  EXPECT_FALSE(r["schedule"]["selectors"][0].contains("table_index"));
  const HvtFile m = HvtFile::read(dir + "/masks.hvt", "token-masks");
  EXPECT_EQ(m.tensor("mask.b3", HvtDtype::Uint8, {7, 49}).numel(), 7 * 49);
  EXPECT_EQ(m.tensor("score.b7", HvtDtype::Int32, {7, 49}).numel(), 7 * 49);
  EXPECT_EQ(m.tensor("tokens", HvtDtype::Int16, {7, 12}).values[0], 50);
  EXPECT_EQ(m.tensor("pred", HvtDtype::Int32, {7}).values[0], r["predictions"][0].get<int>());
}

TEST_F(EvalCli, TableCalibrationAndItsErrors) {
  ASSERT_EQ(eval("--schedule default --calibration table --report " + dir + "/t.json").status, 0);
  const json t = load_json_file(dir + "/t.json");
  EXPECT_EQ(t["schedule"]["calibration"], "table");
  // the synthetic tables: row j holds 300 - 30 j; keep 0.6 -> cumulative 600 -> row 11
  EXPECT_EQ(t["schedule"]["selectors"][0]["table_index"], 11);
  EXPECT_EQ(t["schedule"]["selectors"][0]["threshold"], 300 - 30 * 11);
  EXPECT_EQ(load_json_file(dir + "/t.config.json")["options"]["calibration"], "table");

  CliRun r = eval("--schedule default --calibration median --report " + dir + "/x.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--calibration"), std::string::npos) << r.err;
  // sequential calibration needs the training split
  std::filesystem::remove(dir + "/data/train-images-idx3-ubyte.gz");
  r = eval("--schedule default --report " + dir + "/x.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("train-images-idx3-ubyte"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.json"));
  EXPECT_EQ(eval("--report " + dir + "/dense.json").status, 0) << "a dense run needs no training images";
}

TEST_F(EvalCli, BadInputExitsWithTwo) {
  std::ofstream(dir + "/s11.json") << R"({"selectors": [{"block": 11, "keep": 0.5}]})";
  CliRun r = eval("--schedule " + dir + "/s11.json --report " + dir + "/x.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("s11.json: field 'selectors[0].block'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.json"));

  std::ifstream in(dir + "/deit-micro-int8.hvt", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() / 2);
  std::ofstream(dir + "/cut.hvt", std::ios::binary) << bytes;
  r = eval("--report " + dir + "/x.json", dir + "/cut.hvt");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cut.hvt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;

  std::filesystem::resize_file(dir + "/data/t10k-images-idx3-ubyte.gz", 3000);
  r = eval("--report " + dir + "/x.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("t10k-images-idx3-ubyte.gz"), std::string::npos) << r.err;

  r = eval("--limit 0 --report " + dir + "/x.json");
  EXPECT_EQ(r.status, 2);
  r = eval("");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--report"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.json"));
}

TEST_F(EvalCli, OtherModelRejected) {
  const std::string cmd = std::string(HEATVIT_EXE) + " eval --model deit-tiny --weights " + dir +
                          "/deit-micro-int8.hvt --data " + dir + "/data --report " + dir + "/x.json 2>/dev/null";
  const int raw = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(raw), 2);
}
