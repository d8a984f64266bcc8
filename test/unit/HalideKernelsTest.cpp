// The Halide kernels of the execution plan, JIT-compiled, against the float
// reference of bnnrt.
#include "lowering/KernelLibrary.h"

#include "bnnrt/Reference.h"

#include <gtest/gtest.h>

#include <random>

namespace {

std::vector<float> randomVector(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(size);
  for (float &v : values)
    v = uniform(rng);
  return values;
}

/// Packs signs with the Halide kernel.
std::vector<uint64_t> packWithHalide(std::vector<float> &values, int rows,
                                     int length) {
  bnnc::KernelRequest request{bnnc::KernelRequest::Kind::PackSigns, length, 0, ""};
  bnnc::Kernel kernel = bnnc::buildKernel(request);
  Halide::Buffer<float> input(values.data(), length, rows);
  kernel.inputs[0].set(input);
  int words = (length + 63) / 64;
  Halide::Buffer<uint64_t> packed = kernel.pipeline.realize({words, rows});
  return std::vector<uint64_t>(packed.data(), packed.data() + words * rows);
}

class HalideKernels : public ::testing::TestWithParam<int> {};

TEST_P(HalideKernels, PackSignsSetsTheBitsOfNegativeValues) {
  const int length = GetParam(), rows = 3, words = (length + 63) / 64;
  std::vector<float> values = randomVector(size_t(rows) * length, length);
  values[0] = 0.0f; // +1: bit clear
  std::vector<uint64_t> packed = packWithHalide(values, rows, length);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < words * 64; ++i) {
      bool bit = (packed[size_t(r) * words + i / 64] >> (i % 64)) & 1;
      bool negative = i < length && values[size_t(r) * length + i] < 0.0f;
      ASSERT_EQ(bit, negative) << "row " << r << " element " << i;
    }
}

TEST_P(HalideKernels, XnorDenseMatchesFloatReferenceExactly) {
  const int length = GetParam(), rows = 5, units = 13;
  std::vector<float> x = randomVector(size_t(rows) * length, 100 + length);
  std::vector<float> w = randomVector(size_t(units) * length, 200 + length);
  std::vector<uint64_t> packedX = packWithHalide(x, rows, length);
  std::vector<uint64_t> packedW = packWithHalide(w, units, length);
  int words = (length + 63) / 64;

  bnnc::KernelRequest request{bnnc::KernelRequest::Kind::XnorDense, length, units, ""};
  bnnc::Kernel kernel = bnnc::buildKernel(request);
  Halide::Buffer<uint64_t> a(packedX.data(), words, rows), b(packedW.data(), words, units);
  kernel.inputs[0].set(a);
  kernel.inputs[1].set(b);
  Halide::Buffer<float> out = kernel.pipeline.realize({units, rows});

  std::vector<float> signs(x.size()), expected(size_t(rows) * units);
  bnnrt::reference::signForward(x.data(), signs.data(), int64_t(x.size()));
  bnnrt::reference::denseForward(signs.data(), w.data(), nullptr, expected.data(),
                                 rows, length, units, /*binary=*/true);
  for (int r = 0; r < rows; ++r)
    for (int u = 0; u < units; ++u)
      EXPECT_EQ(out(u, r), expected[size_t(r) * units + u]) << r << ", " << u;
}

// Lengths around word boundaries, and the hidden layers of the MNIST MLP.
INSTANTIATE_TEST_SUITE_P(Lengths, HalideKernels,
                         ::testing::Values(1, 63, 64, 65, 200, 1024));

TEST(HalideKernels, LoweredStatementsNameEachKernel) {
  std::vector<bnnc::KernelRequest> requests;
  std::string pack = bnnc::requestKernel(requests, {bnnc::KernelRequest::Kind::PackSigns, 100, 0, ""});
  std::string again = bnnc::requestKernel(requests, {bnnc::KernelRequest::Kind::PackSigns, 100, 0, ""});
  std::string xnor = bnnc::requestKernel(requests, {bnnc::KernelRequest::Kind::XnorDense, 100, 8, ""});
  EXPECT_EQ(pack, again); // equal requests share a kernel
  EXPECT_EQ(requests.size(), 2u);
  std::string text, error;
  ASSERT_TRUE(bnnc::lowerKernels(requests, text, error)) << error;
  EXPECT_NE(text.find("// kernel " + pack), std::string::npos);
  EXPECT_NE(text.find("// kernel " + xnor), std::string::npos);
  EXPECT_NE(text.find("popcount"), std::string::npos);
  EXPECT_NE(text.find("parallel"), std::string::npos);
}

} // namespace
