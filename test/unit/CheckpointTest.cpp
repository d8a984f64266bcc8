#include "FileFormat.h"
#include "bnnrt/Checkpoint.h"
#include "bnnrt/Model.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>

using namespace bnnrt;

namespace {

ModelSpec makeSpec(int64_t width, const std::string &name = "mlp") {
  ModelSpec spec;
  spec.name = name;
  spec.params = {{"dense0.weight", {width, 3}, InitKind::Uniform, {{-1.0}, {1.0}}},
                 {"bn.beta", {width}, InitKind::Constant, {{0.5}}}};
  return spec;
}

class CheckpointTest : public ::testing::Test {
protected:
  CheckpointTest() : spec(makeSpec(4)), params(spec.params) {
    char pattern[] = "/tmp/bnnrt-checkpoint-XXXXXX";
    dir = mkdtemp(pattern);
    path = dir + "/checkpoint.bin";
    previous = dir + "/checkpoint.prev.bin";
    params.initialize({}, 7);
    params.firstMoments[0][1] = 0.25f;
    params.secondMoments[1][3] = 2.0f;
  }
  ~CheckpointTest() override { std::filesystem::remove_all(dir); }

  RunState state(int64_t steps) {
    RunState run;
    run.epochsDone = 2;
    run.stepInEpoch = 3;
    run.steps = steps;
    run.seed = 11;
    run.epochLossSum = 1.5;
    run.epochWrong = 4;
    run.hyperParams = {{"lambda", 0.5}};
    return run;
  }

  void save(int64_t steps) {
    std::string error;
    ASSERT_TRUE(saveCheckpointKeepingPrevious(path, previous, spec, params,
                                              state(steps), error))
        << error;
  }

  std::string bytesOf(const std::string &file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void writeBytes(const std::string &file, const std::string &bytes) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  }

  /// loadCheckpoint's error for `file` against `model`, or "" if it loads.
  std::string loadError(const std::string &file, const ModelSpec &model) {
    Params loaded(model.params);
    RunState run;
    std::string error;
    return loadCheckpoint(file, model, loaded, run, error) ? "" : error;
  }

  ModelSpec spec;
  Params params;
  std::string dir, path, previous;
};

TEST_F(CheckpointTest, RoundTrip) {
  save(9);
  Params loaded(spec.params);
  RunState run;
  std::string error;
  ASSERT_TRUE(loadCheckpoint(path, spec, loaded, run, error)) << error;
  EXPECT_EQ(loaded.values, params.values);
  EXPECT_EQ(loaded.firstMoments, params.firstMoments);
  EXPECT_EQ(loaded.secondMoments, params.secondMoments);
  EXPECT_EQ(run.epochsDone, 2);
  EXPECT_EQ(run.stepInEpoch, 3);
  EXPECT_EQ(run.steps, 9);
  EXPECT_EQ(run.seed, 11u);
  EXPECT_EQ(run.epochLossSum, 1.5);
  EXPECT_EQ(run.epochWrong, 4);
  EXPECT_EQ(run.hyperParams, (std::map<std::string, double>{{"lambda", 0.5}}));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(CheckpointTest, EveryFlippedByteIsAnError) {
  save(1);
  std::string good = bytesOf(path);
  for (size_t offset = 0; offset < good.size(); ++offset) {
    std::string bad = good;
    bad[offset] ^= 0x10;
    writeBytes(path, bad);
    std::string error = loadError(path, spec);
    ASSERT_NE(error, "") << "flipped byte at offset " << offset;
    EXPECT_EQ(error.rfind(path + ": error: ", 0), 0u) << error;
    if (offset >= 24) { // the payload, after the header
      EXPECT_NE(error.find("checksum mismatch"), std::string::npos) << error;
    }
  }
}

TEST_F(CheckpointTest, TruncationNamesTheOffset) {
  save(1);
  std::string good = bytesOf(path);
  for (size_t size : {size_t(0), size_t(5), size_t(20), good.size() / 2,
                      good.size() - 1}) {
    writeBytes(path, good.substr(0, size));
    EXPECT_NE(loadError(path, spec).find("truncated at offset " +
                                         std::to_string(size)),
              std::string::npos)
        << loadError(path, spec);
  }
  writeBytes(path, good + "x");
  EXPECT_NE(loadError(path, spec).find("1 bytes after the end"),
            std::string::npos);
}

TEST_F(CheckpointTest, UnknownVersion) {
  save(1);
  std::string bytes = bytesOf(path);
  bytes[8] = 3; // the version field, after the magic
  writeBytes(path, bytes);
  EXPECT_NE(loadError(path, spec).find("unknown checkpoint format version 3"),
            std::string::npos);
}

TEST_F(CheckpointTest, OldFormatIsUnsupported) {
  writeBytes(path, std::string("BNNCKPT1\x03\0\0\0mlp", 15));
  EXPECT_NE(loadError(path, spec).find("unsupported checkpoint format"),
            std::string::npos)
      << loadError(path, spec);
  writeBytes(path, "hello, world");
  EXPECT_EQ(loadError(path, spec), path + ": error: not a bnnc checkpoint");
}

TEST_F(CheckpointTest, FingerprintMismatchNamesTheParam) {
  save(1);
  EXPECT_EQ(loadError(path, makeSpec(8)),
            path + ": error: checkpoint of model 'mlp' with dense0.weight "
                   "[4, 3]; this binary's is [8, 3]");
  EXPECT_EQ(loadError(path, makeSpec(4, "cnn")),
            path + ": error: checkpoint of model 'mlp', not 'cnn'");
  ModelSpec renamed = makeSpec(4);
  renamed.params[1].name = "bn.gamma";
  EXPECT_EQ(loadError(path, renamed),
            path + ": error: checkpoint of model 'mlp' with param 1 "
                   "'bn.beta'; this binary's is 'bn.gamma'");
}

// Found by fuzz_checkpoint: a payload (with a correct checksum) that ends
// in the run state, after a param of 3 * 2^34 elements, made the reader
// allocate 192 GiB for the param's values after it had seen the error.
TEST_F(CheckpointTest, PayloadEndingEarlyAllocatesNothing) {
  fileformat::Writer payload;
  payload.string("tiny");
  payload.scalar<uint32_t>(1);
  payload.string("w0");
  payload.scalar<uint32_t>(2);
  payload.scalar<int64_t>(int64_t(1) << 34);
  payload.scalar<int64_t>(3);
  payload.scalar<int64_t>(1); // the run state, cut after one field
  const fileformat::Format format = {{'B', 'N', 'N', 'C', 'H', 'K', 'P', 'T'},
                                     2, "checkpoint"};
  writeBytes(path, fileformat::frame(format, payload.buffer));
  CheckpointContents contents;
  std::string error;
  EXPECT_FALSE(readCheckpoint(path, contents, error));
  EXPECT_EQ(error, path + ": error: at offset 70: the payload ends in the "
                          "run state");
}

// Found by fuzz_checkpoint (under UndefinedBehaviorSanitizer): a param of
// shape [4, 0] was read with memcpy into the null buffer of an empty vector.
TEST_F(CheckpointTest, ZeroSizedParamRoundTrips) {
  ModelSpec empty = makeSpec(0);
  Params none(empty.params);
  std::string error;
  ASSERT_TRUE(saveCheckpoint(path, empty, none, state(1), error)) << error;
  CheckpointContents contents;
  ASSERT_TRUE(readCheckpoint(path, contents, error)) << error;
  ASSERT_EQ(contents.params.size(), 2u);
  EXPECT_EQ(contents.params[0].shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(contents.params[0].value.empty());
  EXPECT_TRUE(contents.params[1].secondMoment.empty());
  EXPECT_EQ(contents.state.steps, 1);
}

class FallbackTest : public CheckpointTest {
protected:
  /// loadLatestCheckpoint: the steps of what it loaded, or -1.
  int64_t latestSteps() {
    Params loaded(spec.params);
    RunState run;
    loaded.values[0][0] = 42.0f;
    if (!loadLatestCheckpoint(path, previous, spec, loaded, run, used,
                              warning, error))
      return -1;
    EXPECT_EQ(loaded.values, params.values);
    return run.steps;
  }
  std::string used, warning, error;
};

TEST_F(FallbackTest, KeepsThePreviousCheckpoint) {
  save(1);
  EXPECT_FALSE(std::filesystem::exists(previous));
  save(2);
  EXPECT_EQ(latestSteps(), 2);
  EXPECT_EQ(used, path);
  EXPECT_EQ(warning, "");
  Params loaded(spec.params);
  RunState run;
  ASSERT_TRUE(loadCheckpoint(previous, spec, loaded, run, error)) << error;
  EXPECT_EQ(run.steps, 1);
}

TEST_F(FallbackTest, DamagedCurrentFallsBackToPrevious) {
  save(1);
  save(2);
  std::string bytes = bytesOf(path);
  bytes[bytes.size() - 3] ^= 1;
  writeBytes(path, bytes);
  EXPECT_EQ(latestSteps(), 1) << error;
  EXPECT_EQ(used, previous);
  EXPECT_EQ(warning.rfind("warning: " + path + ": checksum mismatch", 0), 0u)
      << warning;
  EXPECT_NE(warning.find("resuming from the previous checkpoint " + previous),
            std::string::npos);
}

TEST_F(FallbackTest, MissingCurrentFallsBackToPrevious) {
  // A kill between the two renames leaves only the previous checkpoint.
  save(1);
  save(2);
  std::filesystem::remove(path);
  EXPECT_EQ(latestSteps(), 1) << error;
  EXPECT_NE(warning.find("cannot open"), std::string::npos) << warning;
}

TEST_F(FallbackTest, NeitherUsableIsAnError) {
  save(1);
  save(2);
  writeBytes(path, "BNNCHKPT");
  writeBytes(previous, "");
  EXPECT_EQ(latestSteps(), -1);
  EXPECT_NE(error.find(path + ": error: truncated at offset 8"),
            std::string::npos) << error;
  EXPECT_NE(error.find(previous + ": error: truncated at offset 0"),
            std::string::npos) << error;
  EXPECT_NE(error.find("error: no usable checkpoint to resume from"),
            std::string::npos);
}

// A full disk, simulated by a file-size limit below the checkpoint's size
// (SIGXFSZ ignored, so the write fails with EFBIG as it would with
// ENOSPC): the save fails, saying so, and both checkpoints stay as they were.
TEST_F(FallbackTest, FullDiskLeavesBothCheckpoints) {
  save(1);
  save(2);
  std::string current = bytesOf(path), before = bytesOf(previous);
  rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  rlimit small = old;
  small.rlim_cur = 64;
  void (*handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error;
  bool saved = saveCheckpointKeepingPrevious(path, previous, spec, params,
                                             state(3), error);
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, handler);
  EXPECT_FALSE(saved);
  EXPECT_EQ(error, path + ".tmp: error: writing failed: File too large");
  EXPECT_EQ(bytesOf(path), current);
  EXPECT_EQ(bytesOf(previous), before);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(latestSteps(), 2) << error;
}

// Where the new checkpoint cannot be created at all (here a folder in the
// way; file permissions do not stop root), the old ones are untouched.
TEST_F(FallbackTest, UnwritableTemporaryLeavesBothCheckpoints) {
  save(1);
  save(2);
  std::filesystem::create_directory(path + ".tmp");
  std::string error;
  EXPECT_FALSE(saveCheckpointKeepingPrevious(path, previous, spec, params,
                                             state(3), error));
  EXPECT_EQ(error, path + ".tmp: error: cannot write: Is a directory");
  EXPECT_EQ(latestSteps(), 2) << error;
  EXPECT_EQ(used, path);
}

TEST_F(FallbackTest, OtherModelDoesNotFallBack) {
  save(1);
  ModelSpec wide = makeSpec(8);
  Params wideParams(wide.params);
  ASSERT_TRUE(saveCheckpoint(path, wide, wideParams, state(5), error)) << error;
  EXPECT_EQ(latestSteps(), -1);
  EXPECT_NE(error.find("this binary's is [4, 3]"), std::string::npos) << error;
}

} // namespace
