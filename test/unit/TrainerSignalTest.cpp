// SIGINT/SIGTERM during `train`, on a fake model whose train step raises
// the signals itself, so each arrives at a known step.
#include "bnnrt/Checkpoint.h"
#include "bnnrt/Model.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace bnnrt;

namespace {

/// The signals the fake train step raises at Adam step `atStep`.
struct {
  int64_t atStep = -1;
  std::vector<int> signals;
} plan;

/// logits 0 and 1 for every item, loss 1; w += lr. Raises the planned
/// signals at the planned step.
void fakeStep(Params &params, Workspace &workspace, const StepInput &in,
              StepOutput &out) {
  float *logits = workspace.get(0, in.batch * 2);
  for (int64_t i = 0; i < in.batch * 2; ++i)
    logits[i] = float(i % 2);
  params.value(0)[0] += in.lr;
  out.loss = 1.0f;
  out.logits = logits;
  if (in.step == plan.atStep)
    for (int signal : plan.signals)
      std::raise(signal);
}

class TrainerSignalTest : public ::testing::Test {
protected:
  TrainerSignalTest() {
    char pattern[] = "/tmp/bnnrt-signal-XXXXXX";
    dir = mkdtemp(pattern);
    spec.name = "fake";
    spec.inputShape = {1};
    spec.classes = 2;
    spec.params = {{"w", {1}, InitKind::Constant, {{0.5, 0, ""}}, false, false}};
    spec.trainStep = fakeStep;
    spec.evalStep = fakeStep;
    writeIdx("images", {0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4});
    writeIdx("labels", {0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 0, 1});
    std::string data = "\"idx:" + dir + "/images," + dir + "/labels\"";
    std::ofstream(dir + "/run.toml") << "[data]\ntrain = " << data
                                     << "\ntest = " << data
                                     << "\n[train]\nepochs = 2\nbatch = 1\n";
  }
  ~TrainerSignalTest() override { std::filesystem::remove_all(dir); }

  void writeIdx(const std::string &name, const std::vector<uint8_t> &bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary)
        .write(reinterpret_cast<const char *>(bytes.data()), long(bytes.size()));
  }

  /// `train` with the planned signals; its exit status.
  int runTrain(int64_t atStep, std::vector<int> signals) {
    plan.atStep = atStep;
    plan.signals = std::move(signals);
    std::vector<std::string> args = {"fake", "train", "--config",
                                     dir + "/run.toml", "--checkpoint-dir",
                                     dir + "/ckpt"};
    std::vector<char *> argv;
    for (std::string &arg : args)
      argv.push_back(arg.data());
    return runCli(int(argv.size()), argv.data(), spec);
  }

  /// runTrain, its stderr into stderrText.
  int train(int64_t atStep, std::vector<int> signals) {
    testing::internal::CaptureStderr();
    testing::internal::CaptureStdout();
    int status = runTrain(atStep, std::move(signals));
    testing::internal::GetCapturedStdout();
    stderrText = testing::internal::GetCapturedStderr();
    return status;
  }

  std::string dir, stderrText;
  ModelSpec spec;
};

TEST_F(TrainerSignalTest, SigintStopsAtTheNextStepWithACheckpoint) {
  ASSERT_EQ(train(6, {SIGINT}), 130) << stderrText;
  EXPECT_NE(stderrText.find("stopped by SIGINT in epoch 2 after step 2 of 4; "
                            "checkpoint " + dir + "/ckpt/checkpoint.bin written"),
            std::string::npos)
      << stderrText;
  Params params(spec.params);
  RunState state;
  std::string error;
  ASSERT_TRUE(loadCheckpoint(dir + "/ckpt/checkpoint.bin", spec, params, state,
                             error))
      << error;
  EXPECT_EQ(state.epochsDone, 1);
  EXPECT_EQ(state.stepInEpoch, 2);
  EXPECT_EQ(state.steps, 6);
  // The handlers are gone with the run: the default action is back.
  struct sigaction current;
  sigaction(SIGINT, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

TEST_F(TrainerSignalTest, SigtermExitsWith143) {
  EXPECT_EQ(train(3, {SIGTERM}), 143) << stderrText;
  EXPECT_NE(stderrText.find("stopped by SIGTERM in epoch 1 after step 3 of 4"),
            std::string::npos)
      << stderrText;
}

TEST_F(TrainerSignalTest, SecondSignalStopsAtOnce) {
  EXPECT_EXIT(runTrain(2, {SIGINT, SIGTERM}), testing::ExitedWithCode(143),
              "second signal: stopping at once");
}

// Not a signal, but the same fake run: a batch larger than the training
// set is an error before the first step, not an epoch of zero steps.
TEST_F(TrainerSignalTest, BatchLargerThanTheDataSetIsAnError) {
  std::string config = dir + "/run.toml";
  std::ofstream(config) << "[data]\ntrain = \"idx:" << dir << "/images," << dir
                        << "/labels\"\ntest = \"idx:" << dir << "/images,"
                        << dir << "/labels\"\n[train]\nbatch = 5\n";
  EXPECT_EQ(train(-1, {}), 1);
  EXPECT_NE(stderrText.find("error: the training set (4 images) is smaller "
                            "than one batch (5)"),
            std::string::npos)
      << stderrText;
  EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt/checkpoint.bin"));
}

} // namespace
