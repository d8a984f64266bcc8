// The Halide XNOR-popcount dense kernel against a plain float dot product.
#include "lowering/BinaryDense.h"

#include <gtest/gtest.h>

#include <random>

namespace {

/// Reference: the dot product of sign(a) and sign(w) in floats, with
/// sign(0) = +1 as in the bnn dialect.
float signDot(const float *a, const float *w, int length) {
  float sum = 0.0f;
  for (int i = 0; i < length; ++i)
    sum += (a[i] < 0 ? -1.0f : 1.0f) * (w[i] < 0 ? -1.0f : 1.0f);
  return sum;
}

class BinaryDenseTest : public ::testing::TestWithParam<int> {};

TEST_P(BinaryDenseTest, MatchesFloatReferenceExactly) {
  const int length = GetParam(), rows = 5, units = 13;
  std::mt19937 rng(length);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> activations(size_t(rows) * length),
      weights(size_t(units) * length);
  for (float &v : activations)
    v = uniform(rng);
  for (float &v : weights)
    v = uniform(rng);
  activations[0] = 0.0f; // sign(0) = +1

  std::vector<uint64_t> packedA = bnnc::packSigns(activations.data(), rows, length);
  std::vector<uint64_t> packedW = bnnc::packSigns(weights.data(), units, length);
  int words = bnnc::wordsPerRow(length);

  bnnc::BinaryDenseForward kernel = bnnc::defineBinaryDenseForward();
  bnnc::scheduleBinaryDenseForwardCPU(kernel);
  Halide::Buffer<uint64_t> a(packedA.data(), words, rows);
  Halide::Buffer<uint64_t> w(packedW.data(), words, units);
  kernel.activations.set(a);
  kernel.weights.set(w);
  kernel.length.set(length);
  Halide::Buffer<int32_t> out = kernel.output.realize({units, rows});

  for (int r = 0; r < rows; ++r)
    for (int u = 0; u < units; ++u)
      EXPECT_EQ(float(out(u, r)),
                signDot(&activations[size_t(r) * length],
                        &weights[size_t(u) * length], length))
          << "row " << r << " unit " << u;
}

// Lengths around word boundaries, and the first layer of the MNIST MLP.
INSTANTIATE_TEST_SUITE_P(Lengths, BinaryDenseTest,
                         ::testing::Values(1, 63, 64, 65, 200, 784));

TEST(PackSigns, BitLayout) {
  std::vector<float> values(70, 1.0f);
  values[0] = -1.0f;
  values[63] = -0.5f;
  values[64] = -2.0f;
  values[69] = 0.0f; // +1: bit stays 0
  std::vector<uint64_t> packed = bnnc::packSigns(values.data(), 1, 70);
  ASSERT_EQ(packed.size(), 2u);
  EXPECT_EQ(packed[0], (uint64_t(1) << 63) | 1u);
  EXPECT_EQ(packed[1], 1u);
}

} // namespace
