//===- ExperimentTest.cpp - Experiment files, grids, summaries ------------===//

#include "experiment/Experiment.h"
#include "experiment/Summary.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace bnnc::experiment;

namespace {

/// Writes `text` to a fresh temporary experiment file and loads it.
bool loadText(const std::string &text, Experiment &experiment, std::string &error) {
  llvm::SmallString<128> path;
  llvm::sys::fs::createTemporaryFile("experiment", "toml", path);
  {
    std::error_code ec;
    llvm::raw_fd_ostream file(path, ec);
    file << text;
  }
  bool loaded = loadExperiment(std::string(path), "out", experiment, error);
  llvm::sys::fs::remove(path);
  return loaded;
}

TEST(ExperimentTest, GridPerVariantInFileOrderSeedLast) {
  Experiment experiment;
  std::string error;
  ASSERT_TRUE(loadText("[train]\nepochs = 4\n[sweep]\nseed = [0, 1]\nlambda = [0.0]\n"
                       "[variants.zeta]\nmodel = \"/m/z.bnn\"\n"
                       "sweep = { lambda = [0.5, 2.0] }\n"
                       "[variants.alpha]\nmodel = \"/m/a.bnn\"\nset = { hidden = 64 }\n",
                       experiment, error))
      << error;
  EXPECT_EQ(experiment.resultsDir, "out");
  EXPECT_EQ(experiment.epochs, 4);
  ASSERT_EQ(experiment.variants.size(), 2u);
  EXPECT_EQ(experiment.variants[0].name, "zeta"); // as written, not sorted
  EXPECT_EQ(experiment.variants[1].sets, std::vector<std::string>{"hidden=64"});
  std::vector<std::string> dirs;
  for (const Point &point : experiment.points)
    dirs.push_back(point.dir);
  EXPECT_EQ(dirs, (std::vector<std::string>{
                      "zeta/lambda=0.5,seed=0", "zeta/lambda=0.5,seed=1",
                      "zeta/lambda=2,seed=0", "zeta/lambda=2,seed=1",
                      "alpha/lambda=0,seed=0", "alpha/lambda=0,seed=1"}));
  const std::string &run = experiment.points[3].runConfig;
  EXPECT_NE(run.find("lambda = 2.0"), std::string::npos) << run;
  EXPECT_NE(run.find("seed = 1"), std::string::npos) << run;
  EXPECT_EQ(run.find("[sweep]"), std::string::npos) << run;
  EXPECT_EQ(run.find("variants"), std::string::npos) << run;
}

TEST(ExperimentTest, WithoutSweepOnePointWithTheTrainSeed) {
  Experiment experiment;
  std::string error;
  ASSERT_TRUE(loadText("[train]\nseed = 7\n[variants.a]\nmodel = \"/a.bnn\"\n",
                       experiment, error))
      << error;
  ASSERT_EQ(experiment.points.size(), 1u);
  EXPECT_EQ(experiment.points[0].dir, "a/seed=7");
  EXPECT_EQ(settingName(experiment.points[0]), "");
}

TEST(ExperimentTest, ModelPathsRelativeToTheFile) {
  Experiment experiment;
  std::string error;
  ASSERT_TRUE(loadText("[variants.a]\nmodel = \"m.bnn\"\n", experiment, error)) << error;
  llvm::StringRef path = experiment.variants[0].modelPath;
  EXPECT_TRUE(path.endswith("/m.bnn")) << path.str();
  EXPECT_NE(path, "m.bnn");
}

TEST(ExperimentTest, FormatValueIsShortAndExact) {
  EXPECT_EQ(formatValue(0.5), "0.5");
  EXPECT_EQ(formatValue(2), "2");
  EXPECT_EQ(formatValue(0.1), "0.1");
  EXPECT_EQ(formatValue(1e-5), "1e-05");
  EXPECT_EQ(formatValue(1.0 / 3), "0.3333333333333333"); // 16 digits read back exactly
}

TEST(SummaryTest, MeanAndSampleStandardDeviation) {
  EXPECT_EQ(meanStd({}).count, 0u);
  MeanStd one = meanStd({5});
  EXPECT_DOUBLE_EQ(one.mean, 5);
  EXPECT_DOUBLE_EQ(one.std, 0);
  MeanStd two = meanStd({12, 11});
  EXPECT_DOUBLE_EQ(two.mean, 11.5);
  EXPECT_NEAR(two.std, 0.70710678, 1e-8);
}

PointResult point(const std::string &variant, double lambda, double seed,
                  std::vector<double> errors, const char *status, double seconds) {
  PointResult result;
  result.variant = variant;
  result.values = {{"lambda", lambda}, {"seed", seed}};
  for (size_t i = 0; i < errors.size(); ++i)
    result.epochs.push_back({int64_t(i + 1), errors[i], 0, 0, 0});
  result.status = status;
  result.wallSeconds = seconds;
  return result;
}

TEST(SummaryTest, SettingsOverSeedsOnlyFinishedRunsCount) {
  ResultsFolder results;
  results.epochs = 2;
  results.variants = {{"b", "binary"}};
  results.points = {point("b", 0, 0, {14, 12}, "done", 10),
                    point("b", 2, 0, {13, 10}, "done", 20),
                    point("b", 0, 1, {13, 11}, "done", 30),
                    point("b", 2, 1, {12}, "interrupted", 5)};
  std::vector<SettingSummary> rows = summarize(results);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].label, "binary");
  EXPECT_EQ(rows[0].values, (std::vector<std::pair<std::string, double>>{{"lambda", 0}}));
  EXPECT_EQ(rows[0].finished, 2u);
  EXPECT_DOUBLE_EQ(rows[0].finalError.mean, 11.5);
  EXPECT_DOUBLE_EQ(rows[0].bestError.mean, 11.5);
  EXPECT_DOUBLE_EQ(rows[0].wallSeconds.mean, 20);
  EXPECT_EQ(rows[1].seeds, 2u);
  EXPECT_EQ(rows[1].finished, 1u);
  EXPECT_EQ(rows[1].mostEpochs, 2);
  ASSERT_EQ(rows[1].curve.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[1].curve[0].error.mean, 12.5); // both seeds at epoch 1
  EXPECT_DOUBLE_EQ(rows[1].curve[0].min, 12);
  EXPECT_DOUBLE_EQ(rows[1].curve[0].max, 13);
  EXPECT_EQ(rows[1].curve[1].error.count, 1u); // one seed reached epoch 2
}

} // namespace
