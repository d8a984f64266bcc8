#include "bnnrt/Checkpoint.h"
#include "bnnrt/Model.h"
#include "bnnrt/PackedWeights.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace bnnrt;

namespace {

/// A binary weight read only by its sign, a batchnorm shift and a real
/// weight: one param of each kind an export meets.
ModelSpec makeSpec(int64_t width, const std::string &name = "mlp") {
  ModelSpec spec;
  spec.name = name;
  spec.params = {
      {"dense0.weight", {width, 30}, InitKind::Uniform, {{-1.0}, {1.0}}},
      {"bn.beta", {width}, InitKind::Uniform, {{-1.0}, {1.0}}},
      {"dense1.weight", {3, width}, InitKind::Uniform, {{-1.0}, {1.0}}}};
  spec.params[0].clip = spec.params[0].signsOnly = true;
  return spec;
}

class PackedWeightsTest : public ::testing::Test {
protected:
  PackedWeightsTest() : spec(makeSpec(4)), params(spec.params) {
    char pattern[] = "/tmp/bnnrt-packed-XXXXXX";
    dir = mkdtemp(pattern);
    path = dir + "/model.bnnw";
    params.initialize({}, 7);
    params.values[0][5] = 0.0f; // sign(0) = +1
    params.values[0][6] = -0.0f;
    params.firstMoments[0][1] = 0.25f; // not exported
  }
  ~PackedWeightsTest() override { std::filesystem::remove_all(dir); }

  void save() {
    std::string error;
    ASSERT_TRUE(savePackedWeights(path, spec, params, error)) << error;
  }
  std::string bytes() {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void write(const std::string &bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  /// loadPackedWeights' error against `model`, or "" if it loads.
  std::string loadError(const ModelSpec &model) {
    Params loaded(model.params);
    std::string error;
    return loadPackedWeights(path, model, loaded, error) ? "" : error;
  }

  ModelSpec spec;
  Params params;
  std::string dir, path;
};

TEST_F(PackedWeightsTest, RoundTripKeepsSignsAndFloatsExactly) {
  save();
  Params loaded(spec.params);
  std::string error;
  ASSERT_TRUE(loadPackedWeights(path, spec, loaded, error)) << error;
  ASSERT_EQ(loaded.values[0].size(), params.values[0].size());
  for (size_t i = 0; i < params.values[0].size(); ++i)
    EXPECT_EQ(loaded.values[0][i], params.values[0][i] < 0 ? -1.0f : 1.0f)
        << "element " << i;
  EXPECT_EQ(loaded.values[0][5], 1.0f);
  EXPECT_EQ(loaded.values[0][6], 1.0f);
  EXPECT_EQ(loaded.values[1], params.values[1]);
  EXPECT_EQ(loaded.values[2], params.values[2]);
  EXPECT_EQ(loaded.firstMoments[0][1], 0.0f);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(PackedWeightsTest, SizeIsOneBitPerSignAndFourBytesPerFloat) {
  save();
  size_t fingerprint = 4 + 3 + 4 + (4 + 13 + 4 + 16) + (4 + 7 + 4 + 8) +
                       (4 + 13 + 4 + 16);
  size_t data = (1 + 120 / 8) + (1 + 4 * 4) + (1 + 12 * 4);
  EXPECT_EQ(bytes().size(), 24 + fingerprint + data);
  // Against the checkpoint of the same params: values and two moments in
  // float32, plus the run state.
  std::string checkpoint = dir + "/checkpoint.bin", error;
  ASSERT_TRUE(saveCheckpoint(checkpoint, spec, params, RunState(), error));
  EXPECT_LT(bytes().size() * 3, std::filesystem::file_size(checkpoint));
}

TEST_F(PackedWeightsTest, EveryFlippedByteIsAnError) {
  save();
  std::string good = bytes();
  for (size_t offset = 0; offset < good.size(); ++offset) {
    std::string bad = good;
    bad[offset] ^= 0x10;
    write(bad);
    std::string error = loadError(spec);
    ASSERT_NE(error, "") << "flipped byte at offset " << offset;
    EXPECT_EQ(error.rfind(path + ": error: ", 0), 0u) << error;
    if (offset >= 24) { // the payload, after the header
      EXPECT_NE(error.find("checksum mismatch"), std::string::npos) << error;
    }
  }
}

TEST_F(PackedWeightsTest, TruncationNamesTheOffset) {
  save();
  std::string good = bytes();
  for (size_t size : {size_t(0), size_t(5), size_t(20), good.size() / 2,
                      good.size() - 1}) {
    write(good.substr(0, size));
    EXPECT_NE(loadError(spec).find("truncated at offset " +
                                   std::to_string(size)),
              std::string::npos)
        << loadError(spec);
  }
  write(good + "x");
  EXPECT_NE(loadError(spec).find("1 bytes after the end of the weights file"),
            std::string::npos)
      << loadError(spec);
}

TEST_F(PackedWeightsTest, UnknownVersionAndOtherFiles) {
  save();
  std::string good = bytes();
  std::string bad = good;
  bad[8] = 2; // the version field, after the magic
  write(bad);
  EXPECT_EQ(loadError(spec), path + ": error: unknown weights file format "
                                    "version 2 (this binary reads version 1)");
  std::string error;
  ASSERT_TRUE(saveCheckpoint(path, spec, params, RunState(), error));
  EXPECT_EQ(loadError(spec), path + ": error: not a bnnc weights file");
  std::filesystem::remove(path);
  EXPECT_NE(loadError(spec).find("cannot open the weights file"),
            std::string::npos);
}

TEST_F(PackedWeightsTest, OtherModelNamesWhatDiffers) {
  save();
  EXPECT_EQ(loadError(makeSpec(8)),
            path + ": error: weights file of model 'mlp' with dense0.weight "
                   "[4, 30]; this binary's is [8, 30]");
  EXPECT_EQ(loadError(makeSpec(4, "cnn")),
            path + ": error: weights file of model 'mlp', not 'cnn'");
  // Same shapes, but the model reads the weight's value, not only its sign.
  ModelSpec scaled = makeSpec(4);
  scaled.params[0].signsOnly = false;
  EXPECT_NE(loadError(scaled).find("dense0.weight stored as signs; this "
                                   "binary's reads floats"),
            std::string::npos)
      << loadError(scaled);
}

TEST_F(PackedWeightsTest, FailedLoadLeavesParamsAlone) {
  save();
  std::string good = bytes();
  write(good.substr(0, good.size() - 1));
  Params loaded(spec.params);
  loaded.values[1][0] = 42.0f;
  std::string error;
  EXPECT_FALSE(loadPackedWeights(path, spec, loaded, error));
  EXPECT_EQ(loaded.values[1][0], 42.0f);
}

} // namespace
