#include "bnnrt/RunConfig.h"

#include <gtest/gtest.h>

using namespace bnnrt;

namespace {

std::string parseError(const std::string &text) {
  RunConfig config;
  std::string error;
  EXPECT_FALSE(parseRunConfig(text, "run.toml", config, error)) << text;
  return error;
}

TEST(RunConfig, DefaultsAndEverySection) {
  RunConfig config;
  std::string error;
  ASSERT_TRUE(parseRunConfig(R"(
[data]
train = "fashion-mnist:train"
test = "/data/t10k.idx"
[train]
epochs = 3
batch = 64
seed = 7
[optimizer]
kind = "adam"
lr = 0.01
lr_final = 1e-4
[params]
lambda = 2
[sweep]
lambda = [0.0, 1, 2.5]
)",
                             "run.toml", config, error))
      << error;
  EXPECT_EQ(config.data.test, "/data/t10k.idx");
  EXPECT_EQ(config.train.epochs, 3);
  EXPECT_EQ(config.train.batch, 64);
  EXPECT_EQ(config.train.seed, 7u);
  EXPECT_DOUBLE_EQ(config.optimizer.lr, 0.01);
  EXPECT_DOUBLE_EQ(config.optimizer.lrFinal, 1e-4);
  EXPECT_EQ(config.params.at("lambda"), 2.0);
  EXPECT_EQ(config.sweep.at("lambda"), (std::vector<double>{0.0, 1.0, 2.5}));

  RunConfig empty;
  ASSERT_TRUE(parseRunConfig("", "empty.toml", empty, error));
  EXPECT_EQ(empty.train.epochs, 10);
  EXPECT_EQ(empty.data.train, "fashion-mnist:train");
}

TEST(RunConfig, UnknownKeysAreErrorsWithSuggestions) {
  EXPECT_EQ(parseError("[train]\nepoch = 3\n"),
            "run.toml:2:1: error: unknown key 'epoch' in [train]; did you "
            "mean 'epochs'?");
  EXPECT_EQ(parseError("[trian]\n"),
            "run.toml:1:2: error: unknown key 'trian'; did you mean 'train'?");
  EXPECT_NE(parseError("[optimizer]\nmomentum = 0.9\n").find("unknown key 'momentum'"),
            std::string::npos);
}

TEST(RunConfig, WrongTypesAndValuesAreErrors) {
  EXPECT_EQ(parseError("[train]\nepochs = \"ten\"\n"),
            "run.toml:2:10: error: [train] epochs must be an integer");
  EXPECT_EQ(parseError("[train]\nbatch = 0\n"),
            "run.toml:2:9: error: [train] batch must be >= 1, got 0");
  EXPECT_NE(parseError("[optimizer]\nlr = -1.0\n").find("must be positive"),
            std::string::npos);
  EXPECT_NE(parseError("[optimizer]\nkind = \"sgd\"\n").find("must be \"adam\""),
            std::string::npos);
  EXPECT_NE(parseError("[params]\nlambda = \"2\"\n").find("must be a number"),
            std::string::npos);
  EXPECT_NE(parseError("[sweep]\nlambda = []\n").find("non-empty array"),
            std::string::npos);
  EXPECT_NE(parseError("train = 3\n").find("'train' must be a table"),
            std::string::npos);
}

TEST(RunConfig, BadValuesNameTheFileLineAndKey) {
  EXPECT_EQ(parseError("[train]\nbatch = -5\n"),
            "run.toml:2:9: error: [train] batch must be >= 1, got -5");
  EXPECT_EQ(parseError("[train]\nepochs = -1\n"),
            "run.toml:2:10: error: [train] epochs must be >= 1, got -1");
  EXPECT_EQ(parseError("[train]\nepochs = 0\n"),
            "run.toml:2:10: error: [train] epochs must be >= 1, got 0");
  EXPECT_EQ(parseError("[optimizer]\nlr = 0\n"),
            "run.toml:2:6: error: [optimizer] lr must be positive");
  EXPECT_EQ(parseError("[optimizer]\nlr = nan\n"),
            "run.toml:2:6: error: [optimizer] lr must be finite");
  EXPECT_EQ(parseError("[optimizer]\nlr = inf\n"),
            "run.toml:2:6: error: [optimizer] lr must be finite");
  EXPECT_EQ(parseError("[optimizer]\nlr_final = -1e-5\n"),
            "run.toml:2:12: error: [optimizer] lr_final must be positive");
  EXPECT_EQ(parseError("[optimizer]\nlr = 1e-4\nlr_final = 1e-2\n"),
            "run.toml:3:12: error: [optimizer] lr_final must be <= lr (the "
            "rate decays from lr to lr_final), got lr_final = 0.01 > lr = "
            "0.0001");
  RunConfig config;
  std::string error;
  EXPECT_TRUE(parseRunConfig("[optimizer]\nlr = 1e-3\nlr_final = 1e-3\n",
                             "run.toml", config, error))
      << error; // a constant rate is fine
}

// [train] backward: bf16 by default, f32 chosen; int8 (not built yet) and
// anything else refused at the value.
TEST(RunConfig, BackwardArithmetic) {
  RunConfig config;
  std::string error;
  ASSERT_TRUE(parseRunConfig("[train]\nepochs = 1\n", "run.toml", config, error)) << error;
  EXPECT_EQ(config.train.backward, "bf16");
  EXPECT_FALSE(config.train.backwardChosen);
  ASSERT_TRUE(parseRunConfig("[train]\nbackward = \"f32\"\n", "run.toml", config, error))
      << error;
  EXPECT_EQ(config.train.backward, "f32");
  EXPECT_TRUE(config.train.backwardChosen);
  ASSERT_TRUE(parseRunConfig("[train]\nbackward = \"int8\"\n", "run.toml", config, error))
      << error;
  EXPECT_EQ(config.train.backward, "int8");
  EXPECT_EQ(parseError("[train]\nbackward = \"int4\"\n"),
            "run.toml:2:12: error: [train] backward must be \"f32\", \"bf16\" or \"int8\", got "
            "\"int4\"");
  EXPECT_NE(parseError("[train]\nbackward = \"fp16\"\n").find("got \"fp16\""),
            std::string::npos);
}

// [distributed]: per-process batchnorm statistics, overlapped all-reduces
// and a 120 s timeout unless set; wrong types are errors at the value.
TEST(RunConfig, Distributed) {
  RunConfig config;
  std::string error;
  ASSERT_TRUE(parseRunConfig("[train]\nepochs = 1\n", "run.toml", config, error)) << error;
  EXPECT_FALSE(config.distributed.syncBatchnorm);
  EXPECT_TRUE(config.distributed.overlap);
  EXPECT_EQ(config.distributed.timeoutSeconds, 120);
  ASSERT_TRUE(parseRunConfig(
      "[distributed]\nsync_batchnorm = true\noverlap = false\ntimeout_s = 2.5\n",
      "run.toml", config, error))
      << error;
  EXPECT_TRUE(config.distributed.syncBatchnorm);
  EXPECT_FALSE(config.distributed.overlap);
  EXPECT_EQ(config.distributed.timeoutSeconds, 2.5);
  EXPECT_EQ(parseError("[distributed]\nsync_batchnorm = 1\n"),
            "run.toml:2:18: error: [distributed] sync_batchnorm must be true or false");
  EXPECT_EQ(parseError("[distributed]\ntimeout_s = 0\n"),
            "run.toml:2:13: error: [distributed] timeout_s must be positive");
}

TEST(RunConfig, SyntaxErrorsNameTheFileAndLine) {
  std::string error = parseError("[train]\nepochs = = 3\n");
  EXPECT_EQ(error.rfind("run.toml:2:", 0), 0u) << error;
}

TEST(RunConfig, MissingFile) {
  RunConfig config;
  std::string error;
  EXPECT_FALSE(loadRunConfig("/nonexistent/run.toml", config, error));
  EXPECT_EQ(error, "/nonexistent/run.toml: error: cannot open the run configuration");
}

TEST(EditDistance, Basics) {
  EXPECT_EQ(editDistance("epoch", "epochs"), 1u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
}

} // namespace
