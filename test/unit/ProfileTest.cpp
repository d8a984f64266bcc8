#include "bnnrt/Model.h"
#include "bnnrt/Profile.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <regex>
#include <thread>

using namespace bnnrt;

namespace {

/// A minimal JSON syntax check (the RFC 8259 grammar, nothing more), so the
/// test needs no JSON library.
class JsonChecker {
public:
  explicit JsonChecker(const std::string &text) : text(text) {}
  bool valid() {
    position = 0;
    if (!value())
      return false;
    skipSpace();
    return position == text.size();
  }

private:
  void skipSpace() {
    while (position < text.size() && std::strchr(" \t\r\n", text[position]))
      ++position;
  }
  bool eat(char c) {
    skipSpace();
    if (position >= text.size() || text[position] != c)
      return false;
    ++position;
    return true;
  }
  bool value() {
    skipSpace();
    if (position >= text.size())
      return false;
    switch (text[position]) {
    case '{': return object();
    case '[': return array();
    case '"': return string();
    default:
      return literal("true") || literal("false") || literal("null") || number();
    }
  }
  bool object() {
    ++position;
    if (eat('}'))
      return true;
    do {
      skipSpace();
      if (!string() || !eat(':') || !value())
        return false;
    } while (eat(','));
    return eat('}');
  }
  bool array() {
    ++position;
    if (eat(']'))
      return true;
    do {
      if (!value())
        return false;
    } while (eat(','));
    return eat(']');
  }
  bool string() {
    if (position >= text.size() || text[position] != '"')
      return false;
    for (++position; position < text.size();) {
      char c = text[position++];
      if (c == '"')
        return true;
      if (static_cast<unsigned char>(c) < 0x20)
        return false;
      if (c == '\\' && !escape())
        return false;
    }
    return false;
  }
  bool escape() {
    if (position >= text.size())
      return false;
    char c = text[position++];
    if (c != 'u')
      return std::strchr("\"\\/bfnrt", c) != nullptr;
    static const std::regex hex("[0-9a-fA-F]{4}");
    bool ok = position + 4 <= text.size() &&
              std::regex_match(text.substr(position, 4), hex);
    position += 4;
    return ok;
  }
  bool literal(const char *word) {
    size_t size = std::strlen(word);
    if (text.compare(position, size, word) != 0)
      return false;
    position += size;
    return true;
  }
  bool number() {
    static const std::regex pattern(
        R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
    std::smatch match;
    auto start = text.begin() + long(position);
    if (!std::regex_search(start, text.end(), match, pattern,
                           std::regex_constants::match_continuous))
      return false;
    position += size_t(match.length(0));
    return match.length(0) > 0;
  }

  const std::string &text;
  size_t position = 0;
};

void sleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

/// A plan with two train sites of very different lengths and one eval site,
/// timed as a generated plan times them.
void fakeTrainStep(Params &, Workspace &, const StepInput &in, StepOutput &) {
  { KernelTimer timer(0, in.batch); sleepMs(1); }
  { KernelTimer timer(1, in.batch); sleepMs(20); }
  { KernelTimer timer(7, in.batch); }  // out of range: ignored
  { KernelTimer timer(-1, in.batch); } // likewise
}

void fakeEvalStep(Params &, Workspace &, const StepInput &in, StepOutput &) {
  KernelTimer timer(2, in.batch);
  sleepMs(2);
}

ModelSpec fakeSpec() {
  ModelSpec spec;
  spec.name = "fake";
  spec.trainStep = fakeTrainStep;
  spec.evalStep = fakeEvalStep;
  spec.kernelSites = {
      {"train", "bnn.pack_signs", "m.bnn:3:5", "bnnk_pack_signs_64", 0, 64, false},
      {"train", "bnn.xnor_dense", "m.bnn:4:5", "bnnk_xnor_dense_64x32", 0, 4096, true},
      {"eval", "bnn.dense", "", "bnnk_dense_64x10", 0, 1280, false},
  };
  return spec;
}

/// Runs `steps` steps of `function` the way the runtime does.
void runSteps(const ModelSpec &spec, const char *function, int steps) {
  Params params(spec.params);
  Workspace workspace;
  StepInput in{nullptr, nullptr, 8, 0.0f, 1};
  StepOutput out;
  StepFunction step =
      std::strcmp(function, "train") == 0 ? spec.trainStep : spec.evalStep;
  for (int i = 0; i < steps; ++i) {
    StepTimer timer(function);
    step(params, workspace, in, out);
  }
}

class ProfileTest : public ::testing::Test {
protected:
  ~ProfileTest() override { Profiler::global().stop(); }
};

TEST_F(ProfileTest, TimersCountCallsPerSiteAndSortByTime) {
  ModelSpec spec = fakeSpec();
  Profiler::global().start(spec.kernelSites);
  runSteps(spec, "train", 2);
  runSteps(spec, "eval", 3);
  ProfileReport report = Profiler::global().report();

  ASSERT_GE(report.sections.size(), 2u);
  const ProfileSection &train = report.sections[0];
  EXPECT_EQ(train.function, "train");
  EXPECT_EQ(train.steps, 2);
  ASSERT_EQ(train.rows.size(), 2u);
  EXPECT_EQ(train.rows[0].kernel, "bnnk_xnor_dense_64x32"); // the 20 ms one
  EXPECT_EQ(train.rows[1].kernel, "bnnk_pack_signs_64");
  EXPECT_EQ(train.rows[0].calls, 2);
  EXPECT_EQ(train.rows[1].calls, 2);
  EXPECT_GE(train.rows[0].totalMs, 40.0);
  EXPECT_GE(train.stepMs, train.kernelMs);
  double percent = train.outsidePercent;
  for (const ProfileRow &row : train.rows)
    percent += row.percent;
  EXPECT_LE(percent, 100.0 + 1e-9);
  EXPECT_STREQ(train.rows[0].unit(), "GOP/s");
  EXPECT_STREQ(train.rows[1].unit(), "GFLOP/s");

  const ProfileSection &eval = report.sections[1];
  EXPECT_EQ(eval.function, "eval");
  EXPECT_EQ(eval.steps, 3);
  ASSERT_EQ(eval.rows.size(), 1u);
  EXPECT_EQ(eval.rows[0].calls, 3);
}

TEST_F(ProfileTest, NothingIsRecordedWhenOff) {
  ModelSpec spec = fakeSpec();
  Profiler::global().start(spec.kernelSites);
  Profiler::global().stop();
  runSteps(spec, "train", 1);
  ProfileReport report = Profiler::global().report();
  EXPECT_EQ(report.sections[0].steps, 0);
  EXPECT_TRUE(report.sections[0].rows.empty());
  EXPECT_EQ(formatProfileTable(report), "profile: no steps ran\n");
}

TEST_F(ProfileTest, PlansWithoutSitesTimeOnlyTheSteps) {
  ModelSpec spec = fakeSpec();
  spec.kernelSites.clear(); // an older plan's spec
  Profiler::global().start(spec.kernelSites);
  runSteps(spec, "train", 1);
  ProfileReport report = Profiler::global().report();
  EXPECT_EQ(report.sections[0].steps, 1);
  EXPECT_TRUE(report.sections[0].rows.empty());
  EXPECT_DOUBLE_EQ(report.sections[0].outsideMs, report.sections[0].stepMs);
  EXPECT_NE(formatProfileTable(report).find("(outside kernels)"),
            std::string::npos);
}

/// Sites and totals as if recorded, for the arithmetic.
struct RecordedRun {
  std::vector<KernelSite> sites = {
      {"train", "bnn.xnor_dense", "a\"b\\c.bnn:1:1", "k_xnor", 1e6, 2e6, true},
      {"train", "bnn.dense", "m.bnn:2:1", "k_dense", 0, 3e6, false},
      {"train", "bnn.add", "", "k_add", 0, 0, false},       // no op count
      {"eval", "bnn.dense", "m.bnn:2:1", "k_never", 0, 1, false}, // never called
      {"custom", "bnn.sign", "", "k_sign", 0, 0, false},
  };
  std::vector<SiteTotals> totals = {
      {4, 400, 0.5}, {4, 400, 0.25}, {4, 400, 0.125}, {0, 0, 0}, {1, 1, 0.001}};
  std::map<std::string, StepTotals> steps = {{"train", {4, 1.0}}};

  ProfileReport report() const {
    return buildProfileReport(sites, totals, steps);
  }
};

TEST(ProfileReportTest, RowsDeriveRatesAndSharesFromTotals) {
  ProfileReport report = RecordedRun().report();
  ASSERT_EQ(report.sections.size(), 3u);
  const ProfileSection &train = report.sections[0];
  EXPECT_EQ(train.steps, 4);
  EXPECT_DOUBLE_EQ(train.stepMs, 1000.0);
  ASSERT_EQ(train.rows.size(), 3u);

  // (1e6 per call · 4 calls + 2e6 per item · 400 items) / 0.5 s.
  const ProfileRow &xnor = train.rows[0];
  EXPECT_EQ(xnor.kernel, "k_xnor");
  ASSERT_TRUE(xnor.gigaOpsPerSecond.has_value());
  EXPECT_DOUBLE_EQ(*xnor.gigaOpsPerSecond, (4e6 + 8e8) / 0.5 / 1e9);
  EXPECT_DOUBLE_EQ(xnor.totalMs, 500.0);
  EXPECT_DOUBLE_EQ(xnor.percent, 50.0);

  const ProfileRow &dense = train.rows[1];
  EXPECT_DOUBLE_EQ(*dense.gigaOpsPerSecond, 3e6 * 400 / 0.25 / 1e9);
  EXPECT_DOUBLE_EQ(dense.percent, 25.0);
  EXPECT_FALSE(train.rows[2].gigaOpsPerSecond.has_value());

  EXPECT_DOUBLE_EQ(train.kernelMs, 875.0);
  EXPECT_DOUBLE_EQ(train.outsideMs, 125.0);
  EXPECT_DOUBLE_EQ(train.outsidePercent, 12.5);

  EXPECT_EQ(report.sections[1].function, "eval");
  EXPECT_TRUE(report.sections[1].rows.empty()); // k_never was never called
  EXPECT_EQ(report.sections[2].function, "custom");
  EXPECT_DOUBLE_EQ(report.sections[2].rows[0].percent, 0.0); // no steps
}

TEST(ProfileReportTest, KernelsLongerThanTheirStepsLeaveNothingOutside) {
  RecordedRun run;
  run.steps["train"].seconds = 0.8; // less than the kernels' 0.875 s
  ProfileSection train = run.report().sections[0];
  EXPECT_DOUBLE_EQ(train.outsideMs, 0.0);
}

TEST(ProfileReportTest, TableListsSitesSlowestFirst) {
  std::string table = formatProfileTable(RecordedRun().report());
  size_t xnor = table.find("k_xnor"), dense = table.find("k_dense"),
         add = table.find("k_add"), outside = table.find("(outside kernels)"),
         total = table.find("total  ");
  ASSERT_NE(xnor, std::string::npos) << table;
  EXPECT_LT(xnor, dense);
  EXPECT_LT(dense, add);
  EXPECT_LT(add, outside);
  EXPECT_LT(outside, total);
  EXPECT_NE(table.find("profile of 'train': 4 steps"), std::string::npos);
  EXPECT_NE(table.find("1.61 GOP/s"), std::string::npos) << table;
  EXPECT_NE(table.find("4.80 GFLOP/s"), std::string::npos) << table;
  EXPECT_NE(table.find("50.0"), std::string::npos);
  EXPECT_EQ(table.find("k_never"), std::string::npos);
  // Sections without steps or calls are left out.
  EXPECT_EQ(table.find("profile of 'eval'"), std::string::npos);
}

TEST(ProfileReportTest, JsonParsesAndHasTheKeys) {
  std::string json = formatProfileJson(RecordedRun().report());
  EXPECT_TRUE(JsonChecker(json).valid()) << json;
  for (const char *key :
       {"\"train\": {", "\"eval\": {", "\"step_ms\": 1000,", "\"steps\": 4",
        "\"sites\": [", "\"op\": \"bnn.xnor_dense\"",
        "\"location\": \"a\\\"b\\\\c.bnn:1:1\"", "\"kernel\": \"k_xnor\"",
        "\"calls\": 4", "\"total_ms\": 500,", "\"percent\": 50,",
        "\"gops\": 1.608,", "\"unit\": \"GOP/s\"", "\"unit\": \"GFLOP/s\"",
        "\"gops\": null", "\"outside_ms\": 125,"})
    EXPECT_NE(json.find(key), std::string::npos) << key << "\n" << json;
  EXPECT_LT(json.find("\"train\""), json.find("\"eval\""));
}

TEST(ProfileReportTest, JsonCheckerRejectsBrokenText) {
  EXPECT_FALSE(JsonChecker("{\"a\": }").valid());
  EXPECT_FALSE(JsonChecker("{\"a\": 1,}").valid());
  EXPECT_FALSE(JsonChecker("{\"a\": nan}").valid());
  EXPECT_TRUE(JsonChecker("{\"a\": [1, -2.5e3, null, \"\\u00e9\"]}").valid());
}

} // namespace
