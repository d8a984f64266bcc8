// The Halide kernels of the execution plan, JIT-compiled, against the float
// reference of bnnrt.
#include "lowering/KernelLibrary.h"

#include "bnnrt/Reference.h"

#include <gtest/gtest.h>

#include <cmath>
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

/// Realizes `pipeline` into a (inner × outer) window of a larger buffer
/// whose other elements hold a canary, and fails the test if any of them
/// changed: a kernel must not write outside its output.
template <typename T>
Halide::Buffer<T> realizeGuarded(Halide::Pipeline &pipeline, int inner, int outer,
                                 T canary) {
  Halide::Buffer<T> whole(inner + 37, outer + 3);
  whole.fill(canary);
  Halide::Buffer<T> window = whole;
  window.crop(0, 0, inner);
  window.crop(1, 0, outer);
  pipeline.realize(window);
  for (int y = 0; y < outer + 3; ++y)
    for (int x = 0; x < inner + 37; ++x)
      if (x >= inner || y >= outer) {
        EXPECT_EQ(whole(x, y), canary) << "written outside the output at " << x << ", " << y;
      }
  return window;
}

/// Packs signs with the Halide kernel.
std::vector<uint64_t> packWithHalide(std::vector<float> &values, int rows,
                                     int length) {
  bnnc::KernelRequest request{bnnc::KernelRequest::Kind::PackSigns, length, 0, ""};
  bnnc::Kernel kernel = bnnc::buildKernel(request);
  Halide::Buffer<float> input(values.data(), length, rows);
  kernel.inputs[0].set(input);
  int words = (length + 63) / 64;
  Halide::Buffer<uint64_t> packed =
      realizeGuarded<uint64_t>(kernel.pipeline, words, rows, 0x5a5a5a5a5a5a5a5aull);
  std::vector<uint64_t> result;
  for (int r = 0; r < rows; ++r)
    for (int w = 0; w < words; ++w)
      result.push_back(packed(w, r));
  return result;
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
  Halide::Buffer<float> out = realizeGuarded<float>(kernel.pipeline, units, rows, 7.0f);

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

/// The three float products of a dense layer against the reference.
class HalideDenseKernels
    : public ::testing::TestWithParam<std::tuple<bool, int, int, int>> {};

TEST_P(HalideDenseKernels, MatchReference) {
  auto [binary, length, units, rows] = GetParam();
  std::vector<float> x = randomVector(size_t(rows) * length, 1);
  std::vector<float> w = randomVector(size_t(units) * length, 2);
  for (size_t i = 0; i < w.size(); i += 7)
    w[i] *= 1.6f; // some latent weights outside the STE window
  std::vector<float> dy = randomVector(size_t(rows) * units, 3);
  using Kind = bnnc::KernelRequest::Kind;
  auto run = [&](Kind kind, std::vector<Halide::Buffer<float>> inputs,
                 std::vector<int> extents) {
    bnnc::KernelRequest request{kind, length, units, "", binary};
    bnnc::Kernel kernel = bnnc::buildKernel(request);
    for (size_t i = 0; i < inputs.size(); ++i)
      kernel.inputs[i].set(inputs[i]);
    Halide::Buffer<float> out =
        realizeGuarded<float>(kernel.pipeline, extents[0], extents[1], 7.0f);
    std::vector<float> values;
    for (int y = 0; y < extents[1]; ++y)
      for (int x = 0; x < extents[0]; ++x)
        values.push_back(out(x, y));
    return values;
  };
  Halide::Buffer<float> xb(x.data(), length, rows), wb(w.data(), length, units),
      dyb(dy.data(), units, rows);
  std::vector<float> y = run(Kind::DenseForward, {xb, wb}, {units, rows});
  std::vector<float> dx = run(Kind::DenseGradInput, {wb, dyb}, {length, rows});
  std::vector<float> dw = run(Kind::DenseGradWeight, {xb, wb, dyb}, {length, units});

  std::vector<float> yRef(y.size()), dxRef(dx.size()), dwRef(dw.size());
  bnnrt::reference::denseForward(x.data(), w.data(), nullptr, yRef.data(), rows,
                                 length, units, binary);
  bnnrt::reference::denseBackward(x.data(), w.data(), dy.data(), dxRef.data(),
                                  dwRef.data(), nullptr, rows, length, units, binary);
  auto expectNear = [](const std::vector<float> &a, const std::vector<float> &b,
                       const char *what) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(a[i], b[i], 1e-4f * (1 + std::fabs(b[i]))) << what << "[" << i << "]";
  };
  expectNear(y, yRef, "y");
  expectNear(dx, dxRef, "dx");
  expectNear(dw, dwRef, "dw");
}

// Partial tiles in every direction (64-wide, 4-high tiles), binary and real.
INSTANTIATE_TEST_SUITE_P(Shapes, HalideDenseKernels,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Values(1, 100, 784),
                                            ::testing::Values(10, 32, 130),
                                            ::testing::Values(5, 100)));

/// The batchnorm kernels on x (spatial, channels, batch) against the
/// reference composites (batchnorm, then sign; sign's STE, then batchnorm's
/// backward).
class HalideBatchNormKernels
    : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(HalideBatchNormKernels, MatchReference) {
  auto [spatial, channels] = GetParam();
  const int batch = 6, size = spatial * channels * batch;
  std::vector<float> x = randomVector(size, 30), dy = randomVector(size, 31);
  std::vector<float> gamma = randomVector(channels, 32), beta = randomVector(channels, 33);
  gamma[0] = -1.4f; // a negative scale flips the threshold's direction
  std::vector<float> runningMean = randomVector(channels, 34),
                     runningVar(channels, 0.7f);
  using Kind = bnnc::KernelRequest::Kind;
  auto vec = [](std::vector<float> &v) { return Halide::Buffer<float>(v.data(), int(v.size())); };
  Halide::Buffer<float> xb(x.data(), spatial, channels, batch),
      dyb(dy.data(), spatial, channels, batch);
  bnnrt::reference::BatchNormShape shape{batch, channels, spatial};

  // Training forward: signs, statistics and the running update.
  bnnc::Kernel train = bnnc::buildKernel(
      {Kind::BatchNormSignTrain, spatial, channels, "", false, 1e-5, 0.9});
  train.inputs[0].set(xb);
  train.inputs[1].set(vec(gamma));
  train.inputs[2].set(vec(beta));
  train.inputs[3].set(vec(runningMean));
  train.inputs[4].set(vec(runningVar));
  Halide::Buffer<float> signs(spatial, channels, batch), mean(channels),
      invStd(channels), newMean(channels), newVar(channels);
  train.pipeline.realize(Halide::Realization({signs, mean, invStd, newMean, newVar}));
  std::vector<float> normalised(size), refMean(channels), refInvStd(channels);
  std::vector<float> refRunningMean = runningMean, refRunningVar = runningVar;
  bnnrt::reference::batchnormTrainForward(
      x.data(), gamma.data(), beta.data(), normalised.data(), refMean.data(),
      refInvStd.data(), refRunningMean.data(), refRunningVar.data(), shape, 1e-5f, 0.9f);
  for (int i = 0; i < size; ++i)
    ASSERT_EQ(signs.data()[i], normalised[i] >= 0 ? 1.0f : -1.0f) << i;
  for (int ch = 0; ch < channels; ++ch) {
    EXPECT_NEAR(mean(ch), refMean[ch], 1e-6);
    EXPECT_NEAR(invStd(ch), refInvStd[ch], 1e-5 * refInvStd[ch]);
    EXPECT_NEAR(newMean(ch), refRunningMean[ch], 1e-6);
    EXPECT_NEAR(newVar(ch), refRunningVar[ch], 1e-5);
  }

  // Backward: the STE window and batchnorm's backward, fused.
  bnnc::Kernel grad = bnnc::buildKernel({Kind::BatchNormSteGrad, spatial, channels, ""});
  Halide::Buffer<float> meanIn = mean.copy(), invIn = invStd.copy();
  grad.inputs[0].set(xb);
  grad.inputs[1].set(vec(gamma));
  grad.inputs[2].set(vec(beta));
  grad.inputs[3].set(dyb);
  grad.inputs[4].set(meanIn);
  grad.inputs[5].set(invIn);
  Halide::Buffer<float> dx(spatial, channels, batch), dgamma(channels), dbeta(channels);
  grad.pipeline.realize(Halide::Realization({dx, dgamma, dbeta}));
  std::vector<float> dn(size), refDx(size), refDgamma(channels), refDbeta(channels);
  bnnrt::reference::signBackward(normalised.data(), dy.data(), dn.data(), size);
  bnnrt::reference::batchnormBackward(x.data(), gamma.data(), dn.data(),
                                      refMean.data(), refInvStd.data(), refDx.data(),
                                      refDgamma.data(), refDbeta.data(), shape);
  for (int i = 0; i < size; ++i)
    ASSERT_NEAR(dx.data()[i], refDx[i], 1e-4 * (1 + std::fabs(refDx[i]))) << i;
  for (int ch = 0; ch < channels; ++ch) {
    EXPECT_NEAR(dgamma(ch), refDgamma[ch], 1e-4);
    EXPECT_NEAR(dbeta(ch), refDbeta[ch], 1e-4);
  }

  // Evaluation: a threshold on x equals the sign of the normalised value.
  bnnc::Kernel eval = bnnc::buildKernel({Kind::BatchNormSign, spatial, channels, "", false, 1e-5});
  eval.inputs[0].set(xb);
  eval.inputs[1].set(vec(gamma));
  eval.inputs[2].set(vec(beta));
  eval.inputs[3].set(vec(runningMean));
  eval.inputs[4].set(vec(runningVar));
  Halide::Buffer<float> evalSigns = eval.pipeline.realize({spatial, channels, batch});
  std::vector<float> evalNormalised(size);
  bnnrt::reference::batchnormEvalForward(x.data(), gamma.data(), beta.data(),
                                         runningMean.data(), runningVar.data(),
                                         evalNormalised.data(), shape, 1e-5f);
  for (int i = 0; i < size; ++i)
    if (std::fabs(evalNormalised[i]) > 1e-5f) // away from rounding at τ
      ASSERT_EQ(evalSigns.data()[i], evalNormalised[i] >= 0 ? 1.0f : -1.0f) << i;
}

INSTANTIATE_TEST_SUITE_P(Shapes, HalideBatchNormKernels,
                         ::testing::Combine(::testing::Values(1, 5),
                                            ::testing::Values(3, 20)));

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
