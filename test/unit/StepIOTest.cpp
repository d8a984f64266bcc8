#include "bnnrt/Checkpoint.h"
#include "bnnrt/Files.h"
#include "bnnrt/Model.h"
#include "bnnrt/StepIO.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace bnnrt;

namespace {

template <typename T> void append(std::vector<char> &bytes, T value) {
  const char *data = reinterpret_cast<const char *>(&value);
  bytes.insert(bytes.end(), data, data + sizeof(T));
}

/// The batch file of 2 items of 3 features, labels 1 and `secondLabel`,
/// written byte by byte as the format says.
std::vector<char> batchBytes(int32_t secondLabel = 0) {
  std::vector<char> bytes;
  append<int64_t>(bytes, 2);
  append<int64_t>(bytes, 3);
  for (int i = 0; i < 6; ++i)
    append<float>(bytes, 0.5f * float(i));
  append<int32_t>(bytes, 1);
  append<int32_t>(bytes, secondLabel);
  return bytes;
}

class StepIOTest : public ::testing::Test {
protected:
  StepIOTest() {
    char pattern[] = "/tmp/bnnrt-stepio-XXXXXX";
    dir = mkdtemp(pattern);
  }
  ~StepIOTest() override { std::filesystem::remove_all(dir); }

  std::string write(const std::string &name, const std::vector<char> &bytes) {
    std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary).write(bytes.data(), long(bytes.size()));
    return path;
  }

  /// readBatch's error for a file of `bytes`, or "" if it reads.
  std::string readError(const std::vector<char> &bytes) {
    Batch batch;
    std::string error;
    readBatch(write("batch.bin", bytes), batch, error);
    return error;
  }

  std::string dir;
};

TEST_F(StepIOTest, ReadsAGoodBatchFile) {
  std::string path = write("batch.bin", batchBytes(2));
  Batch batch;
  std::string error;
  ASSERT_TRUE(readBatch(path, batch, error)) << error;
  EXPECT_EQ(batch.size, 2);
  EXPECT_EQ(batch.features, 3);
  EXPECT_EQ(batch.x, (std::vector<float>{0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 2.5f}));
  EXPECT_EQ(batch.labels, (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(checkBatchShape(path, batch, 3, 10, error)) << error;

  // writeBatch writes the same bytes.
  std::string copy = dir + "/copy.bin";
  ASSERT_TRUE(writeBatch(copy, batch, error)) << error;
  std::ifstream file(copy, std::ios::binary);
  std::vector<char> written((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
  EXPECT_EQ(written, batchBytes(2));
}

TEST_F(StepIOTest, TruncatedFilesNameWhereTheyEnd) {
  std::vector<char> bytes = batchBytes();
  EXPECT_EQ(readError({bytes.begin(), bytes.begin() + 10}),
            dir + "/batch.bin: error: at offset 10: file ends in the header: "
                  "16 bytes expected");
  EXPECT_EQ(readError({bytes.begin(), bytes.end() - 2}),
            dir + "/batch.bin: error: at offset 46: file ends in the labels: "
                  "the header implies 48 bytes, the file has 46");
  EXPECT_EQ(readError({bytes.begin(), bytes.begin() + 20}),
            dir + "/batch.bin: error: at offset 20: file ends in the inputs: "
                  "the header implies 48 bytes, the file has 20");
  bytes.push_back(0);
  EXPECT_EQ(readError(bytes),
            dir + "/batch.bin: error: at offset 48: 1 bytes after the end: "
                  "the header implies exactly 48 bytes");
}

TEST_F(StepIOTest, ImplausibleHeadersAreErrorsNotCrashes) {
  std::vector<char> bytes;
  append<int64_t>(bytes, int64_t(1) << 62);
  append<int64_t>(bytes, int64_t(1) << 62);
  EXPECT_NE(readError(bytes).find("at offset 0: the sizes in the header are "
                                  "implausibly large"),
            std::string::npos);
  bytes.clear();
  append<int64_t>(bytes, 0);
  append<int64_t>(bytes, 3);
  EXPECT_NE(readError(bytes).find("at offset 0: the batch size is 0"),
            std::string::npos);
  bytes.clear();
  append<int64_t>(bytes, 1);
  append<int64_t>(bytes, -3);
  EXPECT_NE(readError(bytes).find("at offset 8: the feature count is -3"),
            std::string::npos);
  Batch batch;
  std::string error;
  EXPECT_FALSE(readBatch(dir + "/missing.bin", batch, error));
  EXPECT_NE(error.find("missing.bin: error: cannot open"), std::string::npos);
}

TEST_F(StepIOTest, WrongFeatureCountForTheModel) {
  std::string path = write("batch.bin", batchBytes());
  Batch batch;
  std::string error;
  ASSERT_TRUE(readBatch(path, batch, error)) << error;
  EXPECT_FALSE(checkBatchShape(path, batch, 784, 10, error));
  EXPECT_EQ(error, path + ": error: at offset 8: the batch has 3 features per "
                          "item; the model takes 784");
}

TEST_F(StepIOTest, LabelsOutOfRange) {
  // Item 1's label sits after the header (16), the inputs (24) and item 0's.
  std::string path = write("batch.bin", batchBytes(10));
  Batch batch;
  std::string error;
  ASSERT_TRUE(readBatch(path, batch, error)) << error;
  EXPECT_FALSE(checkBatchShape(path, batch, 3, 10, error));
  EXPECT_EQ(error, path + ": error: at offset 44: the label of item 1 is 10; "
                          "the model has 10 classes (0 to 9)");
  EXPECT_EQ(readError(batchBytes(-1)),
            dir + "/batch.bin: error: at offset 44: the label of item 1 is "
                  "-1; labels are >= 0");
}

TEST_F(StepIOTest, StepOutputsRoundTrip) {
  std::string path = dir + "/eval.bin", error;
  std::vector<float> logits = {1, -2, 3.5f, 4, 5, 6};
  ASSERT_TRUE(writeStepOutputs(path, 2, 3, 0.25f, logits.data(), error)) << error;
  StepOutputs out;
  ASSERT_TRUE(readStepOutputs(path, out, error)) << error;
  EXPECT_EQ(out.batch, 2);
  EXPECT_EQ(out.classes, 3);
  EXPECT_EQ(out.loss, 0.25f);
  EXPECT_EQ(out.logits, logits);
  struct stat info;
  EXPECT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_size, 20 + 6 * 4);
  EXPECT_NE(stat((path + ".tmp").c_str(), &info), 0); // renamed away

  ASSERT_EQ(truncate(path.c_str(), 30), 0);
  EXPECT_FALSE(readStepOutputs(path, out, error));
  EXPECT_NE(error.find("at offset 30: file ends in the logits"),
            std::string::npos);
}

TEST_F(StepIOTest, MakeDirectoriesCreatesParents) {
  std::string error;
  ASSERT_TRUE(makeDirectories(dir + "/a/b/c", error)) << error;
  ASSERT_TRUE(makeDirectories(dir + "/a/b/c/", error)) << error; // exists
  struct stat info;
  EXPECT_EQ(stat((dir + "/a/b/c").c_str(), &info), 0);
  write("file", {'x'});
  EXPECT_FALSE(makeDirectories(dir + "/file/sub", error));
  EXPECT_NE(error.find("/file: error: cannot create the folder"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// The `step` command, on a fake model
//===----------------------------------------------------------------------===//

/// What the fake steps saw, to check what the runtime passes them.
struct SeenByTrainStep {
  int64_t adamStep = -1;
  float lr = -1;
} seen;

/// logits[r][c] = Σ x[r] · w + c; loss = 1.5.
void fakeEvalStep(Params &params, Workspace &workspace, const StepInput &in,
                  StepOutput &out) {
  KernelTimer timer(1, in.batch);
  float *logits = workspace.get(0, in.batch * 2);
  for (int64_t r = 0; r < in.batch; ++r) {
    float sum = 0;
    for (int64_t j = 0; j < 3; ++j)
      sum += in.x[r * 3 + j] * params.value(0)[j];
    for (int64_t c = 0; c < 2; ++c)
      logits[r * 2 + c] = sum + float(c);
  }
  out.loss = 1.5f;
  out.logits = logits;
}

/// The evaluation's logits negated, into the same buffer; w += lr; loss 2.5.
void fakeTrainStep(Params &params, Workspace &workspace, const StepInput &in,
                   StepOutput &out) {
  KernelTimer timer(0, in.batch);
  fakeEvalStep(params, workspace, in, out);
  float *logits = workspace.get(0, in.batch * 2);
  for (int64_t i = 0; i < in.batch * 2; ++i)
    logits[i] = -logits[i];
  for (int64_t j = 0; j < 3; ++j)
    params.value(0)[j] += in.lr;
  seen = {in.step, in.lr};
  out.loss = 2.5f;
}

class StepCommandTest : public StepIOTest {
protected:
  StepCommandTest() {
    spec.name = "fake";
    spec.inputShape = {3};
    spec.classes = 2;
    spec.params = {{"w", {3}, InitKind::Constant, {{0.5, 0, ""}}, false, false}};
    spec.hyperParams = {{"lambda", 1.0}};
    spec.trainStep = fakeTrainStep;
    spec.evalStep = fakeEvalStep;
    spec.kernelSites = {{"train", "bnn.fake", "", "k_train", 0, 6, false},
                        {"eval", "bnn.fake", "", "k_eval", 0, 6, false}};
  }

  int run(std::vector<std::string> args) {
    args.insert(args.begin(), "fake");
    std::vector<char *> argv;
    for (std::string &arg : args)
      argv.push_back(arg.data());
    return runCli(int(argv.size()), argv.data(), spec);
  }

  /// A checkpoint of w = 0.5 after `steps` Adam steps.
  std::string checkpoint(int64_t steps) {
    Params params(spec.params);
    params.initialize({{"lambda", 1.0}}, 0);
    RunState state;
    state.steps = steps;
    std::string path = dir + "/in.bin", error;
    EXPECT_TRUE(saveCheckpoint(path, spec, params, state, error)) << error;
    return path;
  }

  ModelSpec spec;
};

TEST_F(StepCommandTest, WritesEvaluationTrainStepAndCheckpoint) {
  std::string in = checkpoint(7), batch = write("batch.bin", batchBytes(1)),
              out = dir + "/out/nested";
  ASSERT_EQ(run({"step", "--checkpoint", in, "--batch", batch, "--out", out,
                 "--lr", "0.25", "--set", "lambda=3"}),
            0);
  EXPECT_EQ(seen.adamStep, 8); // continues the checkpoint's 7 steps
  EXPECT_EQ(seen.lr, 0.25f);

  StepOutputs eval, train;
  std::string error;
  ASSERT_TRUE(readStepOutputs(out + "/eval.bin", eval, error)) << error;
  ASSERT_TRUE(readStepOutputs(out + "/train.bin", train, error)) << error;
  // Item 0: (0 + 0.5 + 1) · 0.5 = 0.75; item 1: (1.5 + 2 + 2.5) · 0.5 = 3.
  EXPECT_EQ(eval.logits, (std::vector<float>{0.75f, 1.75f, 3.0f, 4.0f}));
  EXPECT_EQ(eval.loss, 1.5f);
  EXPECT_EQ(train.logits, (std::vector<float>{-0.75f, -1.75f, -3.0f, -4.0f}));
  EXPECT_EQ(train.loss, 2.5f);

  Params params(spec.params);
  RunState state;
  ASSERT_TRUE(loadCheckpoint(out + "/checkpoint.bin", spec, params, state, error))
      << error;
  EXPECT_EQ(state.steps, 8);
  EXPECT_EQ(params.values[0], (std::vector<float>{0.75f, 0.75f, 0.75f}));
  EXPECT_EQ(state.hyperParams["lambda"], 3.0);
}

TEST_F(StepCommandTest, BadBatchIsAnErrorExit) {
  std::string in = checkpoint(0);
  std::string batch = write("batch.bin", batchBytes(5)); // 2 classes
  testing::internal::CaptureStderr();
  EXPECT_EQ(run({"step", "--checkpoint", in, "--batch", batch, "--out",
                 dir + "/out"}),
            1);
  std::string stderrText = testing::internal::GetCapturedStderr();
  EXPECT_EQ(stderrText, batch + ": error: at offset 44: the label of item 1 "
                                "is 5; the model has 2 classes (0 to 1)\n");
  testing::internal::CaptureStderr();
  EXPECT_EQ(run({"step", "--checkpoint", in}), 1);
  EXPECT_NE(testing::internal::GetCapturedStderr().find(
                "error: step needs --checkpoint FILE --batch FILE --out DIR"),
            std::string::npos);
}

TEST_F(StepCommandTest, ProfileWritesJson) {
  std::string in = checkpoint(0), batch = write("batch.bin", batchBytes(1));
  std::string json = dir + "/profile.json";
  testing::internal::CaptureStdout();
  ASSERT_EQ(run({"step", "--checkpoint", in, "--batch", batch, "--out",
                 dir + "/out", "--profile=" + json}),
            0);
  std::string table = testing::internal::GetCapturedStdout();
  EXPECT_NE(table.find("profile of 'train': 1 step,"), std::string::npos)
      << table;
  EXPECT_NE(table.find("k_train"), std::string::npos) << table;
  std::ifstream file(json);
  std::stringstream text;
  text << file.rdbuf();
  // The evaluation's two (the second as a later batch, reusing what it
  // computed from the params alone) and the one inside the train step.
  EXPECT_NE(text.str().find("\"kernel\": \"k_eval\", \"calls\": 3"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("\"kernel\": \"k_train\", \"calls\": 1"),
            std::string::npos);
  EXPECT_FALSE(Profiler::global().isOn());
}

} // namespace
