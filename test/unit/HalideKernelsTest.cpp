// The Halide kernels of the execution plan, JIT-compiled, against the float
// reference of bnnrt.
#include "lowering/KernelLibrary.h"

#include "bnnrt/Kernels.h"
#include "bnnrt/Reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace {

using Q = bnnrt::reference::WeightQuantization;

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
Halide::Buffer<T> realizeGuarded(Halide::Pipeline pipeline, int inner, int outer,
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
  kernel.inputs()[0].set(input);
  int words = (length + 63) / 64;
  Halide::Buffer<uint64_t> packed =
      realizeGuarded<uint64_t>(kernel.pipeline(), words, rows, 0x5a5a5a5a5a5a5a5aull);
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
  kernel.inputs()[0].set(a);
  kernel.inputs()[1].set(b);
  Halide::Buffer<float> out = realizeGuarded<float>(kernel.pipeline(), units, rows, 7.0f);

  std::vector<float> signs(x.size()), expected(size_t(rows) * units);
  bnnrt::reference::signForward(x.data(), signs.data(), int64_t(x.size()));
  bnnrt::reference::denseForward(signs.data(), w.data(), nullptr, expected.data(),
                                 rows, length, units, Q::Binary);
  for (int r = 0; r < rows; ++r)
    for (int u = 0; u < units; ++u)
      EXPECT_EQ(out(u, r), expected[size_t(r) * units + u]) << r << ", " << u;
}

// Lengths around word boundaries, and the hidden layers of the MNIST MLP.
INSTANTIATE_TEST_SUITE_P(Lengths, HalideKernels,
                         ::testing::Values(1, 63, 64, 65, 200, 1024));

/// A dense or conv kernel request with weights quantised as `quantization`.
bnnc::KernelRequest quantizedRequest(bnnc::KernelRequest::Kind kind, int length,
                                     int units, Q quantization) {
  bnnc::KernelRequest request{kind, length, units, "", quantization != Q::Real};
  request.scaled = quantization == Q::BinaryScaled;
  return request;
}

const Q allQuantizations[] = {Q::Real, Q::Binary, Q::BinaryScaled};

/// The three float products of a dense layer against the reference.
class HalideDenseKernels
    : public ::testing::TestWithParam<std::tuple<Q, int, int, int>> {};

TEST_P(HalideDenseKernels, MatchReference) {
  auto [quantization, length, units, rows] = GetParam();
  std::vector<float> x = randomVector(size_t(rows) * length, 1);
  std::vector<float> w = randomVector(size_t(units) * length, 2);
  for (size_t i = 0; i < w.size(); i += 7)
    w[i] *= 1.6f; // some latent weights outside the STE window
  std::vector<float> dy = randomVector(size_t(rows) * units, 3);
  using Kind = bnnc::KernelRequest::Kind;
  auto run = [&](Kind kind, std::vector<Halide::Buffer<float>> inputs,
                 std::vector<int> extents) {
    bnnc::Kernel kernel = bnnc::buildKernel(quantizedRequest(kind, length, units, quantization));
    for (size_t i = 0; i < inputs.size(); ++i)
      kernel.inputs()[i].set(inputs[i]);
    Halide::Buffer<float> out =
        realizeGuarded<float>(kernel.pipeline(), extents[0], extents[1], 7.0f);
    std::vector<float> values;
    for (int y = 0; y < extents[1]; ++y)
      for (int x = 0; x < extents[0]; ++x)
        values.push_back(out(x, y));
    return values;
  };
  Halide::Buffer<float> xb(x.data(), length, rows), wb(w.data(), length, units),
      dyb(dy.data(), units, rows);
  std::vector<float> y = run(Kind::DenseForward, {xb, wb}, {units, rows});
  std::vector<float> bias = randomVector(size_t(units), 4);
  bnnc::KernelRequest biasedRequest =
      quantizedRequest(Kind::DenseForward, length, units, quantization);
  biasedRequest.bias = true;
  bnnc::Kernel biased = bnnc::buildKernel(biasedRequest);
  biased.inputs()[0].set(xb);
  biased.inputs()[1].set(wb);
  biased.inputs()[2].set(Halide::Buffer<float>(bias.data(), units));
  Halide::Buffer<float> yBiased = realizeGuarded<float>(biased.pipeline(), units, rows, 7.0f);
  std::vector<float> dx = run(Kind::DenseGradInput, {wb, dyb}, {length, rows});
  std::vector<float> dw = run(Kind::DenseGradWeight, {xb, wb, dyb}, {length, units});

  std::vector<float> yRef(y.size()), dxRef(dx.size()), dwRef(dw.size());
  bnnrt::reference::denseForward(x.data(), w.data(), nullptr, yRef.data(), rows,
                                 length, units, quantization);
  bnnrt::reference::denseBackward(x.data(), w.data(), dy.data(), dxRef.data(),
                                  dwRef.data(), nullptr, rows, length, units,
                                  quantization);
  auto expectNear = [](const std::vector<float> &a, const std::vector<float> &b,
                       const char *what) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(a[i], b[i], 1e-4f * (1 + std::fabs(b[i]))) << what << "[" << i << "]";
  };
  expectNear(y, yRef, "y");
  std::vector<float> yBiasedRef(y.size()), yBiasedValues;
  bnnrt::reference::denseForward(x.data(), w.data(), bias.data(), yBiasedRef.data(),
                                 rows, length, units, quantization);
  for (int r = 0; r < rows; ++r)
    for (int u = 0; u < units; ++u)
      yBiasedValues.push_back(yBiased(u, r));
  expectNear(yBiasedValues, yBiasedRef, "y with bias");
  expectNear(dx, dxRef, "dx");
  expectNear(dw, dwRef, "dw");
}

/// The weight gradient of a layer whose input is ±1 signs, read packed
/// (1 bit an activation), against the reference on the float signs.
TEST_P(HalideDenseKernels, WeightGradientReadsPackedSigns) {
  auto [quantization, length, units, rows] = GetParam();
  std::vector<float> x = randomVector(size_t(rows) * length, 11);
  std::vector<float> w = randomVector(size_t(units) * length, 12);
  std::vector<float> dy = randomVector(size_t(rows) * units, 13);
  std::vector<float> signs(x.size());
  bnnrt::reference::signForward(x.data(), signs.data(), int64_t(x.size()));
  std::vector<uint64_t> packed = packWithHalide(x, rows, length);
  bnnc::KernelRequest request =
      quantizedRequest(bnnc::KernelRequest::Kind::DenseGradWeight, length, units, quantization);
  request.packed = true;
  bnnc::Kernel kernel = bnnc::buildKernel(request);
  kernel.inputs()[0].set(Halide::Buffer<uint64_t>(packed.data(), (length + 63) / 64, rows));
  kernel.inputs()[1].set(Halide::Buffer<float>(w.data(), length, units));
  kernel.inputs()[2].set(Halide::Buffer<float>(dy.data(), units, rows));
  Halide::Buffer<float> dw = realizeGuarded<float>(kernel.pipeline(), length, units, 7.0f);
  std::vector<float> dx(x.size()), dwRef(w.size());
  bnnrt::reference::denseBackward(signs.data(), w.data(), dy.data(), dx.data(), dwRef.data(),
                                  nullptr, rows, length, units, quantization);
  for (int u = 0; u < units; ++u)
    for (int k = 0; k < length; ++k) {
      float expected = dwRef[size_t(u) * length + k];
      ASSERT_NEAR(dw(k, u), expected, 1e-4f * (1 + std::fabs(expected))) << u << ", " << k;
    }
}

// Partial tiles in every direction (64-wide, 4-high tiles), each quantisation.
INSTANTIATE_TEST_SUITE_P(Shapes, HalideDenseKernels,
                         ::testing::Combine(::testing::ValuesIn(allQuantizations),
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
  train.inputs()[0].set(xb);
  train.inputs()[1].set(vec(gamma));
  train.inputs()[2].set(vec(beta));
  train.inputs()[3].set(vec(runningMean));
  train.inputs()[4].set(vec(runningVar));
  Halide::Buffer<float> signs(spatial, channels, batch), mean(channels),
      invStd(channels), newMean(channels), newVar(channels);
  train.pipeline().realize(Halide::Realization({signs, mean, invStd, newMean, newVar}));
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
  grad.inputs()[0].set(xb);
  grad.inputs()[1].set(vec(gamma));
  grad.inputs()[2].set(vec(beta));
  grad.inputs()[3].set(dyb);
  grad.inputs()[4].set(meanIn);
  grad.inputs()[5].set(invIn);
  Halide::Buffer<float> dx(spatial, channels, batch), dgamma(channels), dbeta(channels);
  grad.pipeline().realize(Halide::Realization({dx, dgamma, dbeta}));
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
  eval.inputs()[0].set(xb);
  eval.inputs()[1].set(vec(gamma));
  eval.inputs()[2].set(vec(beta));
  eval.inputs()[3].set(vec(runningMean));
  eval.inputs()[4].set(vec(runningVar));
  Halide::Buffer<float> evalSigns = eval.pipeline().realize({spatial, channels, batch});
  std::vector<float> evalNormalised(size);
  bnnrt::reference::batchnormEvalForward(x.data(), gamma.data(), beta.data(),
                                         runningMean.data(), runningVar.data(),
                                         evalNormalised.data(), shape, 1e-5f);
  for (int i = 0; i < size; ++i)
    if (std::fabs(evalNormalised[i]) > 1e-5f) { // away from rounding at τ
      ASSERT_EQ(evalSigns.data()[i], evalNormalised[i] >= 0 ? 1.0f : -1.0f) << i;
    }
}

// Spatial 37: the per-channel sums run along vectors of positions (from
// 32), with a tail of 5.
INSTANTIATE_TEST_SUITE_P(Shapes, HalideBatchNormKernels,
                         ::testing::Combine(::testing::Values(1, 5, 37),
                                            ::testing::Values(3, 20)));

using Kind = bnnc::KernelRequest::Kind;

/// Runs a single-output kernel on float inputs laid out (inner, outer).
std::vector<float> runElementwise(Kind kind, std::vector<std::vector<float>> inputs,
                                  int inner, int outer) {
  bnnc::Kernel kernel = bnnc::buildKernel({kind, inner, 0, ""});
  std::vector<Halide::Buffer<float>> buffers;
  for (std::vector<float> &input : inputs)
    buffers.emplace_back(input.data(), inner, outer);
  for (size_t i = 0; i < buffers.size(); ++i)
    kernel.inputs()[i].set(buffers[i]);
  Halide::Buffer<float> out = realizeGuarded<float>(kernel.pipeline(), inner, outer, 7.0f);
  std::vector<float> values;
  for (int y = 0; y < outer; ++y)
    for (int x = 0; x < inner; ++x)
      values.push_back(out(x, y));
  return values;
}

TEST(HalideKernels, ElementwiseOpsMatchReference) {
  namespace ref = bnnrt::reference;
  const int inner = 37, outer = 3, size = inner * outer;
  std::vector<float> x = randomVector(size, 40), dy = randomVector(size, 41);
  for (float &v : x)
    v *= 2.0f; // values on both sides of ±1
  std::vector<float> expected(size);
  ref::signForward(x.data(), expected.data(), size);
  EXPECT_EQ(runElementwise(Kind::Sign, {x}, inner, outer), expected);
  ref::htanhForward(x.data(), expected.data(), size);
  EXPECT_EQ(runElementwise(Kind::HTanh, {x}, inner, outer), expected);
  ref::reluForward(x.data(), expected.data(), size);
  EXPECT_EQ(runElementwise(Kind::Relu, {x}, inner, outer), expected);
  ref::signBackward(x.data(), dy.data(), expected.data(), size);
  EXPECT_EQ(runElementwise(Kind::SteGrad, {x, dy}, inner, outer), expected);
  ref::reluBackward(x.data(), dy.data(), expected.data(), size);
  EXPECT_EQ(runElementwise(Kind::ReluGrad, {x, dy}, inner, outer), expected);
  for (int i = 0; i < size; ++i)
    expected[i] = x[i] + dy[i];
  EXPECT_EQ(runElementwise(Kind::Add, {x, dy}, inner, outer), expected);
}

TEST(HalideKernels, AdamMatchesReferenceOverSteps) {
  for (bool clip : {false, true}) {
    const int length = 5000; // more than one parallel chunk
    std::vector<float> param = randomVector(length, 42), grad = randomVector(length, 43);
    std::vector<float> m(length, 0.0f), v(length, 0.0f);
    std::vector<float> refParam = param, refM = m, refV = v;
    bnnc::Kernel kernel = bnnc::buildKernel({Kind::Adam, length, 0, "", clip});
    Halide::Buffer<float> p(param.data(), length), g(grad.data(), length),
        mb(m.data(), length), vb(v.data(), length);
    kernel.inputs()[0].set(p);
    kernel.inputs()[1].set(g);
    kernel.inputs()[2].set(mb);
    kernel.inputs()[3].set(vb);
    for (int step = 1; step <= 4; ++step) {
      kernel.scalarParam("lr").set(0.05f);
      kernel.scalarParam("step").set(int32_t(step));
      Halide::Buffer<float> newParam(length), newM(length), newV(length);
      kernel.pipeline().realize(Halide::Realization({newParam, newM, newV}));
      std::copy(newParam.data(), newParam.data() + length, param.begin());
      std::copy(newM.data(), newM.data() + length, m.begin());
      std::copy(newV.data(), newV.data() + length, v.begin());
      bnnrt::reference::adamStep(refParam.data(), grad.data(), refM.data(),
                                 refV.data(), length, step, 0.05f, {}, clip);
    }
    for (int i = 0; i < length; ++i) {
      ASSERT_NEAR(param[i], refParam[i], 1e-5) << i;
      ASSERT_NEAR(m[i], refM[i], 1e-6) << i;
      ASSERT_NEAR(v[i], refV[i], 1e-6) << i;
    }
    if (clip) {
      EXPECT_LE(*std::max_element(param.begin(), param.end()), 1.0f);
      EXPECT_GE(*std::min_element(param.begin(), param.end()), -1.0f);
    }
  }
}

TEST(HalideKernels, LossesMatchReference) {
  const int classes = 10, rows = 7;
  std::vector<float> logits = randomVector(classes * rows, 44);
  for (float &z : logits)
    z *= 3.0f;
  std::vector<int32_t> labels{3, 0, 9, 9, 1, 5, 2};
  for (Kind kind : {Kind::CrossEntropy, Kind::SquaredHinge}) {
    bnnc::Kernel kernel = bnnc::buildKernel({kind, 0, classes, ""});
    Halide::Buffer<float> z(logits.data(), classes, rows);
    Halide::Buffer<int32_t> y(labels.data(), rows);
    kernel.inputs()[0].set(z);
    kernel.inputs()[1].set(y);
    Halide::Buffer<float> rowLoss(rows), grad(classes, rows);
    kernel.pipeline().realize(Halide::Realization({rowLoss, grad}));
    std::vector<float> refGrad(classes * rows);
    float refLoss = kind == Kind::CrossEntropy
                        ? bnnrt::reference::crossEntropy(logits.data(), labels.data(),
                                                         refGrad.data(), rows, classes)
                        : bnnrt::reference::squaredHinge(logits.data(), labels.data(),
                                                         refGrad.data(), rows, classes);
    double mean = 0;
    for (int r = 0; r < rows; ++r)
      mean += rowLoss(r) / double(rows);
    EXPECT_NEAR(mean, refLoss, 1e-5 * (1 + std::fabs(refLoss)));
    for (int i = 0; i < classes * rows; ++i)
      ASSERT_NEAR(grad.data()[i], refGrad[i], 1e-6) << i;
  }
}

TEST(HalideKernels, GenericBatchNormAndBiasGradMatchReference) {
  const int spatial = 4, channels = 5, batch = 6, size = spatial * channels * batch;
  std::vector<float> x = randomVector(size, 45), dy = randomVector(size, 46);
  std::vector<float> gamma = randomVector(channels, 47), beta = randomVector(channels, 48);
  std::vector<float> runningMean(channels, 0.0f), runningVar(channels, 1.0f);
  auto vec = [](std::vector<float> &v) { return Halide::Buffer<float>(v.data(), int(v.size())); };
  Halide::Buffer<float> xb(x.data(), spatial, channels, batch), dyb(dy.data(), spatial, channels, batch);
  bnnrt::reference::BatchNormShape shape{batch, channels, spatial};

  bnnc::Kernel train = bnnc::buildKernel({Kind::BatchNormTrain, spatial, channels, "", false, 1e-5, 0.9});
  train.inputs()[0].set(xb);
  train.inputs()[1].set(vec(gamma));
  train.inputs()[2].set(vec(beta));
  train.inputs()[3].set(vec(runningMean));
  train.inputs()[4].set(vec(runningVar));
  Halide::Buffer<float> y(spatial, channels, batch), mean(channels), invStd(channels),
      newMean(channels), newVar(channels);
  train.pipeline().realize(Halide::Realization({y, mean, invStd, newMean, newVar}));
  std::vector<float> refY(size), refMean(channels), refInv(channels);
  std::vector<float> refRm = runningMean, refRv = runningVar;
  bnnrt::reference::batchnormTrainForward(x.data(), gamma.data(), beta.data(), refY.data(),
                                          refMean.data(), refInv.data(), refRm.data(),
                                          refRv.data(), shape, 1e-5f, 0.9f);
  for (int i = 0; i < size; ++i)
    ASSERT_NEAR(y.data()[i], refY[i], 1e-5) << i;

  bnnc::Kernel grad = bnnc::buildKernel({Kind::BatchNormGrad, spatial, channels, ""});
  grad.inputs()[0].set(xb);
  grad.inputs()[1].set(vec(gamma));
  grad.inputs()[2].set(dyb);
  grad.inputs()[3].set(mean);
  grad.inputs()[4].set(invStd);
  Halide::Buffer<float> dx(spatial, channels, batch), dgamma(channels), dbeta(channels);
  grad.pipeline().realize(Halide::Realization({dx, dgamma, dbeta}));
  std::vector<float> refDx(size), refDg(channels), refDb(channels);
  bnnrt::reference::batchnormBackward(x.data(), gamma.data(), dy.data(), refMean.data(),
                                      refInv.data(), refDx.data(), refDg.data(),
                                      refDb.data(), shape);
  for (int i = 0; i < size; ++i)
    ASSERT_NEAR(dx.data()[i], refDx[i], 1e-4 * (1 + std::fabs(refDx[i]))) << i;
  for (int c = 0; c < channels; ++c) {
    EXPECT_NEAR(dgamma(c), refDg[c], 1e-4);
    EXPECT_NEAR(dbeta(c), refDb[c], 1e-4);
  }

  bnnc::Kernel eval = bnnc::buildKernel({Kind::BatchNormEval, spatial, channels, "", false, 1e-5});
  eval.inputs()[0].set(xb);
  eval.inputs()[1].set(vec(gamma));
  eval.inputs()[2].set(vec(beta));
  eval.inputs()[3].set(newMean);
  eval.inputs()[4].set(newVar);
  Halide::Buffer<float> yEval = eval.pipeline().realize({spatial, channels, batch});
  std::vector<float> refEval(size);
  bnnrt::reference::batchnormEvalForward(x.data(), gamma.data(), beta.data(), refRm.data(),
                                         refRv.data(), refEval.data(), shape, 1e-5f);
  for (int i = 0; i < size; ++i)
    ASSERT_NEAR(yEval.data()[i], refEval[i], 1e-4) << i;

  bnnc::Kernel bias = bnnc::buildKernel({Kind::BiasGrad, spatial, channels, ""});
  bias.inputs()[0].set(dyb);
  Halide::Buffer<float> db = bias.pipeline().realize({channels});
  std::vector<float> refBias(channels);
  bnnrt::kernels::biasGrad(dy.data(), refBias.data(), batch, channels, spatial);
  for (int c = 0; c < channels; ++c)
    EXPECT_NEAR(db(c), refBias[c], 1e-5);
}

/// Convolution and pooling kernels on (x, y, channel, batch) images against
/// the NCHW reference (the same memory layout).
void expectConvKernelsMatchReference(const bnnrt::reference::ConvShape &s, Q quantization) {
  const int oh = int(s.outH()), ow = int(s.outW());
  std::vector<float> x = randomVector(s.n * s.c * s.h * s.w, 50);
  std::vector<float> w = randomVector(s.o * s.c * s.kh * s.kw, 51);
  for (size_t i = 0; i < w.size(); i += 5)
    w[i] *= 1.7f; // outside the STE window
  std::vector<float> dy = randomVector(s.n * s.o * oh * ow, 52);
  bnnc::KernelRequest::Geometry g{s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad};
  auto request = [&](Kind kind) {
    bnnc::KernelRequest r = quantizedRequest(kind, 0, 0, quantization);
    r.conv = g;
    return r;
  };
  Halide::Buffer<float> xb(x.data(), int(s.w), int(s.h), int(s.c), int(s.n)),
      wb(w.data(), int(s.kw), int(s.kh), int(s.c), int(s.o)),
      dyb(dy.data(), ow, oh, int(s.o), int(s.n));
  auto flat = [](const Halide::Buffer<float> &b) {
    return std::vector<float>(b.data(), b.data() + b.number_of_elements());
  };
  auto expectNear = [](const std::vector<float> &a, const std::vector<float> &b,
                       const char *what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(a[i], b[i], 1e-4 * (1 + std::fabs(b[i]))) << what << "[" << i << "]";
  };

  bnnc::Kernel forward = bnnc::buildKernel(request(Kind::Conv2D));
  forward.inputs()[0].set(xb);
  forward.inputs()[1].set(wb);
  Halide::Buffer<float> y = forward.pipeline().realize({ow, oh, int(s.o), int(s.n)});
  std::vector<float> refY(y.number_of_elements());
  bnnrt::reference::conv2dForward(x.data(), w.data(), nullptr, refY.data(), s, quantization);
  expectNear(flat(y), refY, "conv2d");

  // With a bias, per output channel.
  std::vector<float> bias = randomVector(s.o, 54);
  bnnc::KernelRequest withBias = request(Kind::Conv2D);
  withBias.bias = true;
  bnnc::Kernel biased = bnnc::buildKernel(withBias);
  biased.inputs()[0].set(xb);
  biased.inputs()[1].set(wb);
  biased.inputs()[2].set(Halide::Buffer<float>(bias.data(), int(s.o)));
  Halide::Buffer<float> yb = biased.pipeline().realize({ow, oh, int(s.o), int(s.n)});
  bnnrt::reference::conv2dForward(x.data(), w.data(), bias.data(), refY.data(), s, quantization);
  expectNear(flat(yb), refY, "conv2d with bias");

  bnnc::Kernel gradInput = bnnc::buildKernel(request(Kind::Conv2DGradInput));
  gradInput.inputs()[0].set(wb);
  gradInput.inputs()[1].set(dyb);
  Halide::Buffer<float> dx = gradInput.pipeline().realize({int(s.w), int(s.h), int(s.c), int(s.n)});
  bnnc::Kernel gradWeight = bnnc::buildKernel(request(Kind::Conv2DGradWeight));
  gradWeight.inputs()[0].set(xb);
  gradWeight.inputs()[1].set(wb);
  gradWeight.inputs()[2].set(dyb);
  Halide::Buffer<float> dw = gradWeight.pipeline().realize({int(s.kw), int(s.kh), int(s.c), int(s.o)});
  std::vector<float> refDx(x.size()), refDw(w.size());
  bnnrt::reference::conv2dBackward(x.data(), w.data(), dy.data(), refDx.data(),
                                   refDw.data(), nullptr, s, quantization);
  expectNear(flat(dx), refDx, "conv2d_grad_input");
  expectNear(flat(dw), refDw, "conv2d_grad_weight");
}

class HalideConvKernels : public ::testing::TestWithParam<std::tuple<Q, int, int>> {};

TEST_P(HalideConvKernels, MatchReference) {
  auto [quantization, stride, pad] = GetParam();
  expectConvKernelsMatchReference({2, 3, 7, 6, 4, 3, 3, stride, pad}, quantization);
}

// More channels and filters than one register tile of the gradients'
// schedules (64 channels, 32 filters), neither a multiple of a tile, and a
// width that is not a multiple of the x tile: the tails of every tile.
TEST(HalideConvKernelsWide, MatchReferenceAcrossTiles) {
  for (int stride : {1, 2})
    for (int pad : {0, 1})
      expectConvKernelsMatchReference({3, 70, 6, 9, 40, 3, 3, stride, pad}, Q::Binary);
}

// A real-input first layer (one channel) wider than the forward
// convolution's register tile (16 x positions × 8 filters), neither a
// multiple of it: tiles shifted inwards at both edges.
TEST(HalideConvKernelsWide, FirstLayerAcrossForwardTiles) {
  for (int stride : {1, 2})
    expectConvKernelsMatchReference({2, 1, 21, 37, 11, 3, 3, stride, 1}, Q::Binary);
}

/// Random ±1 values (never 0, so that sign is unambiguous).
std::vector<float> randomSigns(size_t size, uint32_t seed) {
  std::vector<float> values = randomVector(size, seed);
  for (float &v : values)
    v = v < 0.0f ? -1.0f : 1.0f;
  return values;
}

/// pack_channels of an [items, C, H, W] tensor with the Halide kernel.
Halide::Buffer<uint64_t> packChannelsWithHalide(std::vector<float> &values, int items,
                                                int channels, int height, int width) {
  bnnc::KernelRequest request{Kind::PackChannels, channels, 0, ""};
  request.conv = {channels, height, width, channels, 1, 1, 1, 0};
  bnnc::Kernel kernel = bnnc::buildKernel(request);
  kernel.inputs()[0].set(Halide::Buffer<float>(values.data(), width, height, channels, items));
  return kernel.pipeline().realize({(channels + 63) / 64, width, height, items});
}

// The XNOR-popcount convolution against the float convolution of the same
// ±1 values (bnnrt's reference), zero padding included; its packing
// against bnnrt's C++ packChannels, an independent implementation.
class HalideXnorConv : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(HalideXnorConv, MatchesFloatConvolutionOfSigns) {
  auto [channels, stride, pad] = GetParam();
  bnnrt::reference::ConvShape s{3, channels, 7, 6, 20, 3, 3, stride, pad};
  std::vector<float> x = randomSigns(size_t(s.n * s.c * s.h * s.w), 60);
  std::vector<float> w = randomSigns(size_t(s.o * s.c * s.kh * s.kw), 61);
  Halide::Buffer<uint64_t> px = packChannelsWithHalide(x, int(s.n), int(s.c), int(s.h), int(s.w));
  Halide::Buffer<uint64_t> pw =
      packChannelsWithHalide(w, int(s.o), int(s.c), int(s.kh), int(s.kw));
  const int words = int((s.c + 63) / 64);
  std::vector<uint64_t> expected(size_t(s.n * s.h * s.w * words));
  bnnrt::kernels::packChannels(x.data(), expected.data(), s.n, s.c, s.h * s.w);
  ASSERT_EQ(std::vector<uint64_t>(px.data(), px.data() + px.number_of_elements()), expected);

  bnnc::KernelRequest request{Kind::XnorConv2D, channels, 0, ""};
  request.conv = {s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad};
  bnnc::Kernel xnor = bnnc::buildKernel(request);
  xnor.inputs()[0].set(px);
  xnor.inputs()[1].set(pw);
  const int oh = int(s.outH()), ow = int(s.outW());
  Halide::Buffer<float> y = xnor.pipeline().realize({ow, oh, int(s.o), int(s.n)});
  std::vector<float> reference(y.number_of_elements());
  bnnrt::reference::conv2dForward(x.data(), w.data(), nullptr, reference.data(), s, Q::Real);
  for (size_t i = 0; i < reference.size(); ++i)
    ASSERT_EQ(y.data()[i], reference[i]) << "output " << i;
}

/// `backward = bf16`: the gradients of a binary convolution with products in
/// bfloat16 against the f32 reference. bf16 keeps 8 significant bits, so
/// rounding dy (and a real input) errs by at most u = 2^-8 relatively; the
/// ±1 operand is exact; a bf16 product is exact in f32, and m f32 additions
/// add at most m·2^-24. So each result is within ((1 + u)^k − 1 + m·2^-24)
/// of the sum of its terms' magnitudes (the reference run on |dy|, |x| and
/// |sign w| = 1), k the rounded operands of a product: a bound derived from
/// the arithmetic, not fitted to the output. Some result must also be off
/// by more than 2^-16 of it, which f32 products (about 2^-20 here) are not:
/// the kernel does round. With `packed` the input is ±1 signs, packed along
/// channels as the training plan saves them.
void expectBf16ConvGradientsWithinRounding(const bnnrt::reference::ConvShape &s, bool packed) {
  const int oh = int(s.outH()), ow = int(s.outW());
  std::vector<float> x = packed ? randomSigns(size_t(s.n * s.c * s.h * s.w), 70)
                                : randomVector(size_t(s.n * s.c * s.h * s.w), 70);
  std::vector<float> w = randomVector(size_t(s.o * s.c * s.kh * s.kw), 71);
  for (size_t i = 0; i < w.size(); i += 5)
    w[i] *= 1.7f; // outside the STE window
  std::vector<float> dy = randomVector(size_t(s.n * s.o * oh * ow), 72);
  for (size_t i = 0; i < dy.size(); i += 3)
    dy[i] *= 1e-3f; // magnitudes far apart, as gradients are
  std::vector<float> refDx(x.size()), refDw(w.size()), boundDx(x.size()), boundDw(w.size());
  bnnrt::reference::conv2dBackward(x.data(), w.data(), dy.data(), refDx.data(), refDw.data(),
                                   nullptr, s, Q::Binary);
  auto magnitudes = [](std::vector<float> v) {
    for (float &e : v)
      e = std::fabs(e);
    return v;
  };
  std::vector<float> absX = magnitudes(x), absDy = magnitudes(dy), ones(w.size(), 1.0f);
  bnnrt::reference::conv2dBackward(absX.data(), ones.data(), absDy.data(), boundDx.data(),
                                   boundDw.data(), nullptr, s, Q::Real);
  auto expectWithin = [](const float *got, const std::vector<float> &expected,
                         const std::vector<float> &magnitude, int rounded, int64_t terms,
                         const char *what) {
    double relative = std::pow(1.0 + std::ldexp(1.0, -8), rounded) - 1.0 +
                      double(terms) * std::ldexp(1.0, -24);
    double largest = 0; // the largest error relative to the magnitude
    for (size_t i = 0; i < expected.size(); ++i) {
      double error = std::fabs(double(got[i]) - expected[i]);
      ASSERT_LE(error, relative * magnitude[i] + 1e-7)
          << what << "[" << i << "] = " << got[i] << ", reference " << expected[i];
      if (magnitude[i] > 0)
        largest = std::max(largest, error / magnitude[i]);
    }
    EXPECT_GT(largest, std::ldexp(1.0, -16)) << what << ": no sign of bf16 rounding";
  };
  bnnc::KernelRequest::Geometry g{s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad};
  Halide::Buffer<float> wb(w.data(), int(s.kw), int(s.kh), int(s.c), int(s.o)),
      dyb(dy.data(), ow, oh, int(s.o), int(s.n));
  if (s.stride == 1) {
    bnnc::KernelRequest request = quantizedRequest(Kind::Conv2DGradInput, 0, 0, Q::Binary);
    request.conv = g;
    request.bf16 = true;
    bnnc::Kernel gradInput = bnnc::buildKernel(request);
    gradInput.inputs()[0].set(wb);
    gradInput.inputs()[1].set(dyb);
    Halide::Buffer<float> dx = gradInput.pipeline().realize({int(s.w), int(s.h), int(s.c), int(s.n)});
    expectWithin(dx.data(), refDx, boundDx, 1, s.o * s.kh * s.kw, "conv2d_grad_input bf16");
  }
  bnnc::KernelRequest request = quantizedRequest(Kind::Conv2DGradWeight, 0, 0, Q::Binary);
  request.conv = g;
  request.bf16 = true;
  request.packed = packed;
  bnnc::Kernel gradWeight = bnnc::buildKernel(request);
  Halide::Buffer<uint64_t> px;
  if (packed) {
    px = packChannelsWithHalide(x, int(s.n), int(s.c), int(s.h), int(s.w));
    gradWeight.inputs()[0].set(px);
  } else {
    gradWeight.inputs()[0].set(Halide::Buffer<float>(x.data(), int(s.w), int(s.h), int(s.c), int(s.n)));
  }
  gradWeight.inputs()[1].set(wb);
  gradWeight.inputs()[2].set(dyb);
  Halide::Buffer<float> dw = gradWeight.pipeline().realize({int(s.kw), int(s.kh), int(s.c), int(s.o)});
  expectWithin(dw.data(), refDw, boundDw, packed ? 1 : 2, s.n * oh * ow,
               "conv2d_grad_weight bf16");
}

/// `backward = int8`: the weight gradient of a binary convolution over
/// packed signs, with dy quantised per filter to q = round(dy / scale),
/// scale = max |dy| of the filter / 127. Checked twice: (1) against the f32
/// reference run on the dequantised scale · q, which the kernel's integer
/// sums must match up to f32 rounding — this checks its arithmetic (the
/// quads, the tail of x positions, the padding, T − 2·Σ b·q); (2) against
/// the f32 reference on dy itself, within the quantisation error: at most
/// scale / 2 for each of the result's terms. Some result must differ from
/// the f32 one by more than f32 rounding: the kernel does quantise.
void expectInt8WeightGradientWithinQuantisation(const bnnrt::reference::ConvShape &s) {
  const int oh = int(s.outH()), ow = int(s.outW());
  std::vector<float> x = randomSigns(size_t(s.n * s.c * s.h * s.w), 80);
  std::vector<float> w = randomVector(size_t(s.o * s.c * s.kh * s.kw), 81);
  for (size_t i = 0; i < w.size(); i += 5)
    w[i] *= 1.7f; // outside the STE window
  std::vector<float> dy = randomVector(size_t(s.n * s.o * oh * ow), 82);
  for (size_t i = 0; i < dy.size(); i += 3)
    dy[i] *= 1e-2f;
  // The quantisation, per filter over the batch.
  std::vector<float> scale(size_t(s.o)), dequantised(dy.size());
  for (int64_t o = 0; o < s.o; ++o) {
    float peak = 0;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < oh * ow; ++p)
        peak = std::max(peak, std::fabs(dy[size_t((n * s.o + o) * oh * ow + p)]));
    scale[size_t(o)] = peak > 0 ? peak / 127.0f : 1.0f;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t p = 0; p < oh * ow; ++p) {
        size_t i = size_t((n * s.o + o) * oh * ow + p);
        dequantised[i] = scale[size_t(o)] * std::nearbyint(dy[i] / scale[size_t(o)]);
      }
  }
  std::vector<float> dx(x.size()), refDw(w.size()), quantisedDw(w.size()), terms(w.size());
  bnnrt::reference::conv2dBackward(x.data(), w.data(), dy.data(), dx.data(), refDw.data(),
                                   nullptr, s, Q::Binary);
  bnnrt::reference::conv2dBackward(x.data(), w.data(), dequantised.data(), dx.data(),
                                   quantisedDw.data(), nullptr, s, Q::Binary);
  // The number of terms of each result: inputs inside the image (|x| = 1).
  std::vector<float> ones(dy.size(), 1.0f), unitWeights(w.size(), 1.0f);
  std::vector<float> absX(x.size(), 1.0f);
  bnnrt::reference::conv2dBackward(absX.data(), unitWeights.data(), ones.data(), dx.data(),
                                   terms.data(), nullptr, s, Q::Real);

  bnnc::KernelRequest request = quantizedRequest(Kind::Conv2DGradWeight, 0, 0, Q::Binary);
  request.conv = {s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad};
  request.packed = true;
  request.int8 = true;
  bnnc::Kernel gradWeight = bnnc::buildKernel(request);
  Halide::Buffer<uint64_t> px = packChannelsWithHalide(x, int(s.n), int(s.c), int(s.h), int(s.w));
  gradWeight.inputs()[0].set(px);
  gradWeight.inputs()[1].set(Halide::Buffer<float>(w.data(), int(s.kw), int(s.kh), int(s.c), int(s.o)));
  gradWeight.inputs()[2].set(Halide::Buffer<float>(dy.data(), ow, oh, int(s.o), int(s.n)));
  Halide::Buffer<float> dw = gradWeight.pipeline().realize({int(s.kw), int(s.kh), int(s.c), int(s.o)});
  const int64_t perFilter = s.c * s.kh * s.kw;
  double largest = 0;
  for (size_t i = 0; i < refDw.size(); ++i) {
    float got = dw.data()[i];
    float filterScale = scale[i / size_t(perFilter)];
    // (1) the integer arithmetic: f32 rounding of sums of up to `terms`
    // values of magnitude up to 127 · scale.
    double rounding = 127.0 * filterScale * terms[i] * std::ldexp(1.0, -22) + 1e-9;
    ASSERT_NEAR(got, quantisedDw[i], rounding) << "dw[" << i << "] against the dequantised dy";
    // (2) the quantisation error.
    ASSERT_LE(std::fabs(got - refDw[i]), 0.5 * filterScale * terms[i] + rounding)
        << "dw[" << i << "] = " << got << ", f32 reference " << refDw[i];
    largest = std::max(largest, double(std::fabs(got - refDw[i])) / (filterScale * 1e-3));
  }
  EXPECT_GT(largest, 1.0) << "no sign of int8 quantisation";
}

/// The int8 input-gradient kernel (±1 weights) on dy [N, O, outH, outW].
Halide::Buffer<float> runInt8InputGradient(const bnnrt::reference::ConvShape &s,
                                           std::vector<float> &w, std::vector<float> &dy) {
  bnnc::KernelRequest request = quantizedRequest(Kind::Conv2DGradInput, 0, 0, Q::Binary);
  request.conv = {s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad};
  request.int8 = true;
  bnnc::Kernel gradInput = bnnc::buildKernel(request);
  gradInput.inputs()[0].set(
      Halide::Buffer<float>(w.data(), int(s.kw), int(s.kh), int(s.c), int(s.o)));
  gradInput.inputs()[1].set(
      Halide::Buffer<float>(dy.data(), int(s.outW()), int(s.outH()), int(s.o), int(s.n)));
  return gradInput.pipeline().realize({int(s.w), int(s.h), int(s.c), int(s.n)});
}

/// `backward = int8`, the input gradient at stride 1 (±1 weights): dy
/// quantised per image, scale = max |dy| of the image / 127, with
/// stochastic rounding: each term within one step of the f32 reference's
/// (the integer arithmetic is checked with the weight gradient's, which
/// rounds to nearest; the mean is checked below).
void expectInt8InputGradientWithinQuantisation(const bnnrt::reference::ConvShape &s) {
  ASSERT_EQ(s.stride, 1);
  const int oh = int(s.outH()), ow = int(s.outW());
  std::vector<float> w = randomVector(size_t(s.o * s.c * s.kh * s.kw), 91);
  std::vector<float> dy = randomVector(size_t(s.n * s.o * oh * ow), 92);
  for (size_t i = 0; i < dy.size(); i += 3)
    dy[i] *= 1e-2f;
  const int64_t perImage = s.o * oh * ow;
  std::vector<float> scale(size_t(s.n));
  for (int64_t n = 0; n < s.n; ++n) {
    float peak = 0;
    for (int64_t e = 0; e < perImage; ++e)
      peak = std::max(peak, std::fabs(dy[size_t(n * perImage + e)]));
    scale[size_t(n)] = peak > 0 ? peak / 127.0f : 1.0f;
  }
  std::vector<float> x(size_t(s.n * s.c * s.h * s.w), 1.0f), dw(w.size());
  std::vector<float> refDx(x.size()), terms(x.size());
  bnnrt::reference::conv2dBackward(x.data(), w.data(), dy.data(), refDx.data(), dw.data(),
                                   nullptr, s, Q::Binary);
  std::vector<float> ones(dy.size(), 1.0f), unitWeights(w.size(), 1.0f);
  bnnrt::reference::conv2dBackward(x.data(), unitWeights.data(), ones.data(), terms.data(),
                                   dw.data(), nullptr, s, Q::Real);
  Halide::Buffer<float> dx = runInt8InputGradient(s, w, dy);
  const int64_t perItem = s.c * s.h * s.w;
  double largest = 0;
  for (size_t i = 0; i < refDx.size(); ++i) {
    float got = dx.data()[i], imageScale = scale[i / size_t(perItem)];
    double rounding = 127.0 * imageScale * terms[i] * std::ldexp(1.0, -22) + 1e-9;
    // Stochastic rounding errs by less than one step a term.
    ASSERT_LE(std::fabs(got - refDx[i]), imageScale * terms[i] + rounding)
        << "dx[" << i << "] = " << got << ", f32 reference " << refDx[i];
    largest = std::max(largest, double(std::fabs(got - refDx[i])) / (imageScale * 1e-3));
  }
  EXPECT_GT(largest, 1.0) << "no sign of int8 quantisation";
}

// Stochastic rounding keeps small gradients on average: dy is 0.3 of a
// quantisation step everywhere but one peak an image (which sets the
// step), the weights all +1. Round-to-nearest would make every dx away
// from the peaks 0; the mean of those dx must be within 3 % of the f32
// reference's (65536 roundings, their mean within 0.6 % at one σ).
TEST(HalideConvKernelsInt8, InputGradientKeepsSmallGradientsOnAverage) {
  bnnrt::reference::ConvShape s{4, 32, 16, 16, 64, 3, 3, 1, 1};
  const int oh = int(s.outH()), ow = int(s.outW());
  const float peak = 1.0f, step = peak / 127.0f;
  std::vector<float> w(size_t(s.o * s.c * s.kh * s.kw), 0.5f);
  std::vector<float> dy(size_t(s.n * s.o * oh * ow), 0.3f * step);
  for (int64_t n = 0; n < s.n; ++n)
    dy[size_t(n * s.o * oh * ow)] = peak; // filter 0, x = y = 0
  std::vector<float> x(size_t(s.n * s.c * s.h * s.w), 1.0f), dw(w.size()), refDx(x.size());
  bnnrt::reference::conv2dBackward(x.data(), w.data(), dy.data(), refDx.data(), dw.data(),
                                   nullptr, s, Q::Binary);
  Halide::Buffer<float> dx = runInt8InputGradient(s, w, dy);
  double got = 0, expected = 0;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t y = 2; y < s.h; ++y) // away from the peak at (0, 0)
        for (int64_t x = 2; x < s.w; ++x) {
          got += dx(int(x), int(y), int(c), int(n));
          expected += refDx[size_t(((n * s.c + c) * s.h + y) * s.w + x)];
        }
  ASSERT_GT(expected, 0.0);
  EXPECT_NEAR(got / expected, 1.0, 0.03) << "mean int8 dx " << got << ", f32 " << expected;
}

// When every dy is an integer multiple of its image's step (peak 127, step
// 1) quantisation loses nothing and stochastic rounding must not move a
// value: dx is the f32 reference's exactly (integer sums below 2^24).
TEST(HalideConvKernelsInt8, InputGradientExactOnQuantisationGrid) {
  bnnrt::reference::ConvShape s{3, 32, 7, 6, 24, 3, 3, 1, 1};
  std::vector<float> w = randomVector(size_t(s.o * s.c * s.kh * s.kw), 93);
  std::vector<float> dy = randomVector(size_t(s.n * s.o * s.outH() * s.outW()), 94);
  for (float &v : dy)
    v = std::round(v * 127.0f); // randomVector is within [-1, 1]
  const size_t perImage = size_t(s.o * s.outH() * s.outW());
  for (int64_t n = 0; n < s.n; ++n)
    dy[size_t(n) * perImage] = n % 2 ? -127.0f : 127.0f;
  std::vector<float> x(size_t(s.n * s.c * s.h * s.w), 1.0f), dw(w.size()), refDx(x.size());
  bnnrt::reference::conv2dBackward(x.data(), w.data(), dy.data(), refDx.data(), dw.data(),
                                   nullptr, s, Q::Binary);
  Halide::Buffer<float> dx = runInt8InputGradient(s, w, dy);
  for (size_t i = 0; i < refDx.size(); ++i)
    ASSERT_EQ(dx.data()[i], refDx[i]) << "dx[" << i << "]";
}

TEST(HalideConvKernelsInt8, InputGradientWithinQuantisationOfReference) {
  expectInt8InputGradientWithinQuantisation({3, 70, 6, 9, 40, 3, 3, 1, 1});
  expectInt8InputGradientWithinQuantisation({2, 70, 7, 7, 33, 3, 3, 1, 0});
  expectInt8InputGradientWithinQuantisation({3, 16, 12, 11, 21, 3, 3, 1, 1});
  expectInt8InputGradientWithinQuantisation({2, 64, 7, 7, 128, 3, 3, 1, 1});
  // 24 channels: a 16-lane tile and a shifted one, never an 8-lane vector
  // (which LLVM encodes as AVX-VNNI, an illegal instruction on Zen 4).
  expectInt8InputGradientWithinQuantisation({2, 24, 6, 6, 20, 3, 3, 1, 1});
}

TEST(HalideConvKernelsInt8, WeightGradientWithinQuantisationOfReference) {
  expectInt8WeightGradientWithinQuantisation({3, 70, 6, 9, 40, 3, 3, 1, 1});
  expectInt8WeightGradientWithinQuantisation({2, 70, 7, 7, 33, 3, 3, 1, 0});
  expectInt8WeightGradientWithinQuantisation({2, 24, 6, 6, 8, 3, 3, 1, 1});
  expectInt8WeightGradientWithinQuantisation({2, 5, 9, 7, 20, 3, 3, 2, 1});
  expectInt8WeightGradientWithinQuantisation({3, 16, 12, 11, 20, 3, 3, 1, 1});
  expectInt8WeightGradientWithinQuantisation({2, 128, 7, 7, 64, 3, 3, 1, 1});
}

// Tails of every tile (70 channels, 40 or 33 filters, odd widths), an odd
// filter count (a pair of filters padded with 0), stride 2 for the weight
// gradient, real and packed inputs; images of at least 100 positions (the
// weight gradient sums parts of the batch in parallel) with an odd batch
// and a batch of one, fewer images than parts.
TEST(HalideConvKernelsBf16, GradientsWithinBf16RoundingOfReference) {
  for (bool packed : {false, true}) {
    expectBf16ConvGradientsWithinRounding({3, 70, 6, 9, 40, 3, 3, 1, 1}, packed);
    expectBf16ConvGradientsWithinRounding({2, 70, 7, 7, 33, 3, 3, 1, 0}, packed);
    expectBf16ConvGradientsWithinRounding({2, 5, 9, 7, 20, 3, 3, 2, 1}, packed);
    expectBf16ConvGradientsWithinRounding({3, 16, 12, 11, 20, 3, 3, 1, 1}, packed);
    expectBf16ConvGradientsWithinRounding({1, 16, 12, 11, 20, 3, 3, 1, 1}, packed);
    // Fewer channels than a 16-lane vector at stride 1 (bf16 has no
    // 16-lane rule, unlike int8).
    expectBf16ConvGradientsWithinRounding({2, 5, 9, 7, 20, 3, 3, 1, 1}, packed);
  }
}

// The f32 weight gradient on images of at least 100 positions (parts of the
// batch summed in parallel): an odd batch, and one image (fewer than parts).
TEST(HalideConvKernelsWide, WeightGradientAcrossBatchParts) {
  expectConvKernelsMatchReference({3, 16, 12, 11, 20, 3, 3, 1, 1}, Q::Binary);
  expectConvKernelsMatchReference({1, 16, 12, 11, 20, 3, 3, 1, 1}, Q::Binary);
}

// The fused evaluation kernel, sign(batchnorm(maxpool(xnor_conv2d))), its
// pooling done on signs, against bnnrt's C++ composition of the separate
// steps (float product, max pool, threshold), with γ > 0, γ < 0 (where max
// pooling turns into min pooling of signs) and γ = 0; ±1 floats and packed.
// Pool 3 leaves a partial last window on both axes (8 × 6 → 2 × 2), which
// is dropped, as bnn.maxpool drops it.
void expectFusedSignMatchesSeparateSteps(const bnnrt::reference::ConvShape &s,
                                         std::initializer_list<int> pools) {
  std::vector<float> x = randomSigns(size_t(s.n * s.c * s.h * s.w), 70);
  std::vector<float> w = randomSigns(size_t(s.o * s.c * s.kh * s.kw), 71);
  std::vector<float> gamma = randomVector(size_t(s.o), 72), beta = randomVector(size_t(s.o), 73);
  std::vector<float> mean = randomVector(size_t(s.o), 74), var = randomVector(size_t(s.o), 75);
  for (size_t c = 0; c < gamma.size(); ++c) {
    mean[c] *= 20.0f; // thresholds across the range of the products
    var[c] = 30.0f * std::fabs(var[c]) + 1.0f;
  }
  gamma[3] = 0.0f;
  Halide::Buffer<uint64_t> px = packChannelsWithHalide(x, int(s.n), int(s.c), int(s.h), int(s.w));
  Halide::Buffer<uint64_t> pw = packChannelsWithHalide(w, int(s.o), int(s.c), int(s.kh), int(s.kw));
  const float epsilon = 1e-5f;
  const int words = int((s.o + 63) / 64);
  for (int pool : pools)
    for (bool packed : {false, true}) {
      bnnc::KernelRequest request{Kind::XnorConv2D, s.c, 0, ""};
      request.conv = {s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad};
      request.fusedSign = true;
      request.pool = pool;
      request.packed = packed;
      request.epsilon = epsilon;
      bnnc::Kernel fused = bnnc::buildKernel(request);
      std::vector<Halide::ImageParam> inputs = fused.inputs();
      inputs[0].set(px);
      inputs[1].set(pw);
      std::vector<float> *perChannel[] = {&gamma, &beta, &mean, &var};
      for (int i = 0; i < 4; ++i)
        inputs[size_t(2 + i)].set(Halide::Buffer<float>(perChannel[i]->data(), int(s.o)));
      const int oh = int(s.outH()) / pool, ow = int(s.outW()) / pool;
      const int inWords = int((s.c + 63) / 64);
      std::vector<uint64_t> xw(size_t(s.n * s.h * s.w * inWords)),
          ww(size_t(s.o * s.kh * s.kw * inWords));
      bnnrt::kernels::packChannels(x.data(), xw.data(), s.n, s.c, s.h * s.w);
      bnnrt::kernels::packChannels(w.data(), ww.data(), s.o, s.c, s.kh * s.kw);
      std::vector<float> signs(size_t(s.n * s.o * oh * ow));
      bnnrt::kernels::xnorConv2dSign(xw.data(), ww.data(), gamma.data(), beta.data(), mean.data(),
                                     var.data(), signs.data(), s, epsilon, pool);
      if (!packed) {
        Halide::Buffer<float> y = fused.pipeline().realize({ow, oh, int(s.o), int(s.n)});
        for (size_t i = 0; i < signs.size(); ++i)
          ASSERT_EQ(y.data()[i], signs[i]) << "pool " << pool << ", output " << i;
        continue;
      }
      Halide::Buffer<uint64_t> y = fused.pipeline().realize({words, ow, oh, int(s.n)});
      std::vector<uint64_t> expected(size_t(s.n * oh * ow * words));
      bnnrt::kernels::packChannels(signs.data(), expected.data(), s.n, s.o, oh * ow);
      ASSERT_EQ(std::vector<uint64_t>(y.data(), y.data() + y.number_of_elements()), expected)
          << "pool " << pool;
    }
}

TEST(HalideXnorConvFused, SignOfBatchNormAfterPoolingMatchesSeparateSteps) {
  expectFusedSignMatchesSeparateSteps({2, 70, 8, 6, 67, 3, 3, 1, 1}, {1, 2, 3});
  // Fewer filters than a vector of signs (a partial word, summed bit by
  // bit), odd 5 × 5 products, a 1 × 1 output, stride 2.
  expectFusedSignMatchesSeparateSteps({2, 16, 5, 5, 12, 3, 3, 1, 1}, {1, 2});
  expectFusedSignMatchesSeparateSteps({2, 12, 2, 2, 8, 2, 2, 1, 0}, {1});
  expectFusedSignMatchesSeparateSteps({2, 70, 9, 9, 16, 3, 3, 2, 1}, {1, 2});
  // Whole words (their bits summed in vectors): one and two a pixel.
  expectFusedSignMatchesSeparateSteps({2, 64, 6, 5, 64, 3, 3, 1, 1}, {1, 2});
  expectFusedSignMatchesSeparateSteps({1, 70, 5, 5, 128, 3, 3, 1, 1}, {1, 2});
}

// Training's fused XNOR convolution: with `pool`, the pooled product and
// each window's winner, which maxpool_grad routes dy through; with
// `batchSums`, the batchnorm's Σx, Σx² and count of the (pooled) product.
// Against the float convolution of the ±1 values, then the reference max
// pool, its backward pass (which finds the winners again in the unpooled
// product) and batchnorm sums. XNOR products are integers, so windows tie
// often: the first maximum in scan order must win in both.
void expectTrainingXnorConvMatchesReference(const bnnrt::reference::ConvShape &s, int pool,
                                            bool batchSums = true) {
  ASSERT_TRUE(pool > 1 || batchSums) << "without either it is the plain XNOR convolution";
  std::vector<float> x = randomSigns(size_t(s.n * s.c * s.h * s.w), 90);
  std::vector<float> w = randomSigns(size_t(s.o * s.c * s.kh * s.kw), 91);
  bnnc::KernelRequest request{Kind::XnorConv2D, s.c, 0, ""};
  request.conv = {s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad};
  request.pool = pool;
  request.winners = pool > 1;
  request.batchSums = batchSums;
  bnnc::Kernel fused = bnnc::buildKernel(request);
  fused.inputs()[0].set(packChannelsWithHalide(x, int(s.n), int(s.c), int(s.h), int(s.w)));
  fused.inputs()[1].set(packChannelsWithHalide(w, int(s.o), int(s.c), int(s.kh), int(s.kw)));
  const int oh = int(s.outH()) / pool, ow = int(s.outW()) / pool;
  Halide::Buffer<float> y(ow, oh, int(s.o), int(s.n)), sums(int(s.o), 3);
  Halide::Buffer<int32_t> winners(ow, oh, int(s.o), int(s.n));
  if (pool > 1 && batchSums)
    fused.pipeline().realize({y, winners, sums});
  else if (pool > 1)
    fused.pipeline().realize({y, winners});
  else
    fused.pipeline().realize({y, sums});

  std::vector<float> product(size_t(s.n * s.o * s.outH() * s.outW()));
  bnnrt::reference::conv2dForward(x.data(), w.data(), nullptr, product.data(), s, Q::Real);
  bnnrt::reference::PoolShape window{s.n, s.o, s.outH(), s.outW(), pool, pool, 0};
  std::vector<float> refY(y.number_of_elements());
  bnnrt::reference::maxpoolForward(product.data(), refY.data(), window);
  for (size_t i = 0; i < refY.size(); ++i)
    ASSERT_EQ(y.data()[i], refY[i]) << "pooled output " << i;
  if (batchSums) {
    std::vector<float> refSums(size_t(3 * s.o));
    bnnrt::reference::batchnormSums(refY.data(), refSums.data(), {s.n, s.o, int64_t(oh) * ow});
    for (size_t i = 0; i < refSums.size(); ++i) // both exact sums of integers, rounded once
      ASSERT_EQ(sums.data()[i], refSums[i]) << "sums row " << i / size_t(s.o);
  }
  if (pool == 1)
    return;

  size_t ties = 0;
  for (size_t i = 0; i < refY.size(); ++i) {
    ASSERT_GE(winners.data()[i], 0);
    ASSERT_LT(winners.data()[i], pool * pool);
  }
  for (float v : product) // values that occur more than once somewhere
    ties += size_t(std::count(product.begin(), product.end(), v) > 1);
  ASSERT_GT(ties, 0u) << "the test needs ties";

  bnnc::KernelRequest gradRequest{Kind::MaxPoolGrad, 0, 0, ""};
  gradRequest.conv = {s.o, s.outH(), s.outW(), s.o, pool, pool, pool, 0};
  gradRequest.winners = true;
  bnnc::Kernel grad = bnnc::buildKernel(gradRequest);
  std::vector<float> dy = randomVector(refY.size(), 92);
  grad.inputs()[0].set(winners);
  grad.inputs()[1].set(Halide::Buffer<float>(dy.data(), ow, oh, int(s.o), int(s.n)));
  Halide::Buffer<float> dx =
      grad.pipeline().realize({int(s.outW()), int(s.outH()), int(s.o), int(s.n)});
  std::vector<float> refDx(product.size());
  bnnrt::reference::maxpoolBackward(product.data(), dy.data(), refDx.data(), window);
  for (size_t i = 0; i < refDx.size(); ++i)
    ASSERT_EQ(dx.data()[i], refDx[i]) << "input gradient " << i;
}

TEST(HalideXnorConvFused, TrainingPoolWinnersAndBatchSumsMatchReference) {
  // The example CNN's layers in small: 2 × 2 windows over even and odd
  // products (5 × 5 and 7 × 7 leave their last row and column out), and
  // no pooling (the sums alone), across filter vectors.
  expectTrainingXnorConvMatchesReference({2, 64, 6, 6, 16, 3, 3, 1, 1}, 2);
  expectTrainingXnorConvMatchesReference({2, 16, 5, 5, 12, 3, 3, 1, 1}, 2);
  expectTrainingXnorConvMatchesReference({3, 130, 7, 7, 70, 3, 3, 1, 1}, 2);
  expectTrainingXnorConvMatchesReference({2, 70, 9, 9, 8, 3, 3, 1, 1}, 3);
  expectTrainingXnorConvMatchesReference({3, 64, 6, 5, 20, 3, 3, 1, 1}, 1);
  expectTrainingXnorConvMatchesReference({2, 70, 9, 9, 16, 3, 3, 2, 1}, 1);
  // A product 7 high and 6 wide (pooled 3 × 3), and the winners alone (a
  // pool whose product no batchnorm reads).
  expectTrainingXnorConvMatchesReference({2, 32, 7, 6, 16, 3, 3, 1, 1}, 2);
  expectTrainingXnorConvMatchesReference({2, 32, 7, 6, 16, 3, 3, 1, 1}, 2, false);
  expectTrainingXnorConvMatchesReference({2, 64, 6, 6, 16, 3, 3, 1, 1}, 2, false);
}

// A first layer at evaluation: sign(batchnorm(conv2d)) of a real image in
// one kernel (binary weights), ±1 floats and packed, against bnnrt's C++
// composition (the float reference convolution, then the threshold); with
// γ > 0, γ < 0 and γ = 0 channels, 70 filters (a partial word), stride 2.
void expectConvSignMatchesSeparateSteps(const bnnrt::reference::ConvShape &s) {
  std::vector<float> x = randomVector(size_t(s.n * s.c * s.h * s.w), 80);
  std::vector<float> w = randomVector(size_t(s.o * s.c * s.kh * s.kw), 81);
  std::vector<float> gamma = randomVector(size_t(s.o), 82), beta = randomVector(size_t(s.o), 83);
  std::vector<float> mean = randomVector(size_t(s.o), 84), var = randomVector(size_t(s.o), 85);
  for (float &v : var)
    v = std::fabs(v) + 0.5f;
  gamma[1] = 0.0f;
  const float epsilon = 1e-5f;
  const int oh = int(s.outH()), ow = int(s.outW()), words = int((s.o + 63) / 64);
  std::vector<float> signs(size_t(s.n * s.o * oh * ow));
  bnnrt::kernels::conv2dSign(x.data(), w.data(), gamma.data(), beta.data(), mean.data(),
                             var.data(), signs.data(), s, bnnrt::kernels::WeightQuantization::Binary,
                             epsilon);
  for (bool packed : {false, true}) {
    bnnc::KernelRequest request = quantizedRequest(Kind::Conv2D, 0, 0, Q::Binary);
    request.conv = {s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad};
    request.fusedSign = true;
    request.packed = packed;
    request.epsilon = epsilon;
    bnnc::Kernel fused = bnnc::buildKernel(request);
    std::vector<Halide::ImageParam> inputs = fused.inputs();
    inputs[0].set(Halide::Buffer<float>(x.data(), int(s.w), int(s.h), int(s.c), int(s.n)));
    inputs[1].set(Halide::Buffer<float>(w.data(), int(s.kw), int(s.kh), int(s.c), int(s.o)));
    std::vector<float> *perChannel[] = {&gamma, &beta, &mean, &var};
    for (int i = 0; i < 4; ++i)
      inputs[size_t(2 + i)].set(Halide::Buffer<float>(perChannel[i]->data(), int(s.o)));
    if (!packed) {
      Halide::Buffer<float> y = fused.pipeline().realize({ow, oh, int(s.o), int(s.n)});
      for (size_t i = 0; i < signs.size(); ++i)
        ASSERT_EQ(y.data()[i], signs[i]) << "output " << i;
      continue;
    }
    Halide::Buffer<uint64_t> y = fused.pipeline().realize({words, ow, oh, int(s.n)});
    std::vector<uint64_t> expected(size_t(s.n * oh * ow * words));
    bnnrt::kernels::packChannels(signs.data(), expected.data(), s.n, s.o, oh * ow);
    ASSERT_EQ(std::vector<uint64_t>(y.data(), y.data() + y.number_of_elements()), expected);
  }
}

TEST(HalideConvFused, SignOfBatchNormOfRealImageMatchesSeparateSteps) {
  expectConvSignMatchesSeparateSteps({3, 1, 28, 28, 64, 3, 3, 1, 1});
  expectConvSignMatchesSeparateSteps({2, 3, 9, 9, 70, 3, 3, 2, 1});
  expectConvSignMatchesSeparateSteps({1, 1, 6, 6, 8, 3, 3, 1, 1});
}

INSTANTIATE_TEST_SUITE_P(ChannelsStridesPads, HalideXnorConv,
                         ::testing::Combine(::testing::Values(5, 64, 70),
                                            ::testing::Values(1, 2),
                                            ::testing::Values(0, 1)));

// flatten_signs repacks an image's channel-packed signs in the order of its
// flatten: against the bits read straight off the ±1 floats (bit i of row r
// set where element i of the NCHW row is −1), and against bnnrt's C++
// flattenSigns. 70 channels straddle a word a pixel; 5 × 5 × 5 = 125 signs
// end mid-word, so the padding bits must stay clear.
class HalideFlattenSigns : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(HalideFlattenSigns, MatchesBitsOfTheFlattenedFloats) {
  auto [channels, height, width] = GetParam();
  const int items = 3, length = channels * height * width, words = (length + 63) / 64;
  std::vector<float> x = randomSigns(size_t(items) * length, 90 + channels);
  Halide::Buffer<uint64_t> image = packChannelsWithHalide(x, items, channels, height, width);

  bnnc::KernelRequest request{Kind::FlattenSigns, channels, 0, ""};
  request.conv = {channels, height, width, channels, 1, 1, 1, 0};
  bnnc::Kernel flatten = bnnc::buildKernel(request);
  flatten.inputs()[0].set(image);
  Halide::Buffer<uint64_t> packed =
      realizeGuarded<uint64_t>(flatten.pipeline(), words, items, 0x5a5a5a5a5a5a5a5aull);

  std::vector<uint64_t> fromCpp(size_t(items) * words);
  bnnrt::kernels::flattenSigns(image.data(), fromCpp.data(),
                               {items, channels, height, width, channels, 1, 1, 1, 0});
  for (int r = 0; r < items; ++r)
    for (int i = 0; i < words * 64; ++i) {
      bool negative = i < length && x[size_t(r) * length + i] < 0.0f;
      ASSERT_EQ(bool((packed(i / 64, r) >> (i % 64)) & 1), negative)
          << "image " << r << " element " << i;
      ASSERT_EQ(bool((fromCpp[size_t(r) * words + i / 64] >> (i % 64)) & 1), negative)
          << "C++ kernel, image " << r << " element " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, HalideFlattenSigns,
                         ::testing::Values(std::make_tuple(4, 3, 3), std::make_tuple(5, 5, 5),
                                           std::make_tuple(64, 2, 3), std::make_tuple(70, 3, 3),
                                           std::make_tuple(256, 3, 3)));

INSTANTIATE_TEST_SUITE_P(Windows, HalideConvKernels,
                         ::testing::Combine(::testing::ValuesIn(allQuantizations),
                                            ::testing::Values(1, 2),
                                            ::testing::Values(0, 1)));

// Pad 0 (windows that tile the image, the odd height leaving a row out of
// every window) and pad 1; distinct values, and values with ties (as the
// integer outputs of XNOR convolutions have), where the first maximum in
// scan order gets the gradient.
TEST(HalideKernels, PoolingMatchesReference) {
  for (int pad : {0, 1})
    for (bool ties : {false, true}) {
    bnnrt::reference::PoolShape s{2, 3, 7, 6, 2, 2, pad};
    const int oh = int(s.outH()), ow = int(s.outW());
    std::vector<float> x(s.n * s.c * s.h * s.w);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = ties ? float((i * 7) % 3) : float((i * 37) % x.size()) * 0.01f - 1.0f;
    std::vector<float> dy = randomVector(s.n * s.c * oh * ow, 53);
    Halide::Buffer<float> xb(x.data(), int(s.w), int(s.h), int(s.c), int(s.n)),
        dyb(dy.data(), ow, oh, int(s.c), int(s.n));
    bnnc::KernelRequest::Geometry g{s.c, s.h, s.w, s.c, s.kernel, s.kernel, s.stride, s.pad};
    for (bool max : {true, false}) {
      bnnc::KernelRequest forwardRequest{max ? Kind::MaxPool : Kind::AvgPool, 0, 0, ""};
      forwardRequest.conv = g;
      bnnc::Kernel forward = bnnc::buildKernel(forwardRequest);
      forward.inputs()[0].set(xb);
      Halide::Buffer<float> y = forward.pipeline().realize({ow, oh, int(s.c), int(s.n)});
      std::vector<float> refY(y.number_of_elements());
      if (max)
        bnnrt::reference::maxpoolForward(x.data(), refY.data(), s);
      else
        bnnrt::reference::avgpoolForward(x.data(), refY.data(), s);
      for (size_t i = 0; i < refY.size(); ++i)
        ASSERT_NEAR(y.data()[i], refY[i], 1e-6) << (max ? "max" : "avg") << i;

      bnnc::KernelRequest gradRequest{max ? Kind::MaxPoolGrad : Kind::AvgPoolGrad, 0, 0, ""};
      gradRequest.conv = g;
      bnnc::Kernel grad = bnnc::buildKernel(gradRequest);
      if (max) {
        grad.inputs()[0].set(xb);
        grad.inputs()[1].set(dyb);
      } else {
        grad.inputs()[0].set(dyb);
      }
      Halide::Buffer<float> dx = grad.pipeline().realize({int(s.w), int(s.h), int(s.c), int(s.n)});
      std::vector<float> refDx(x.size());
      if (max)
        bnnrt::reference::maxpoolBackward(x.data(), dy.data(), refDx.data(), s);
      else
        bnnrt::reference::avgpoolBackward(dy.data(), refDx.data(), s);
      for (size_t i = 0; i < refDx.size(); ++i)
        ASSERT_NEAR(dx.data()[i], refDx[i], 1e-6) << (max ? "max grad " : "avg grad ") << i;
    }
  }
}

/// A whole binary dense layer in one kernel against xnor_dense followed by
/// the batchnorm kernels (each tested against the reference above).
TEST(HalideKernels, FusedBinaryLayerMatchesItsParts) {
  const int length = 200, units = 24, rows = 9, words = 4;
  std::vector<float> x = randomVector(size_t(rows) * length, 60);
  std::vector<float> w = randomVector(size_t(units) * length, 61);
  std::vector<uint64_t> packedX = packWithHalide(x, rows, length);
  std::vector<uint64_t> packedW = packWithHalide(w, units, length);
  std::vector<float> gamma = randomVector(units, 62), beta = randomVector(units, 63);
  std::vector<float> runningMean = randomVector(units, 64), runningVar(units, 0.8f);
  Halide::Buffer<uint64_t> a(packedX.data(), words, rows), b(packedW.data(), words, units);
  auto vec = [](std::vector<float> &v) { return Halide::Buffer<float>(v.data(), int(v.size())); };
  auto setParams = [&](bnnc::Kernel &kernel, size_t first) {
    kernel.inputs()[first].set(vec(gamma));
    kernel.inputs()[first + 1].set(vec(beta));
    kernel.inputs()[first + 2].set(vec(runningMean));
    kernel.inputs()[first + 3].set(vec(runningVar));
  };

  // The parts: the product, then batchnorm_sign_train / batchnorm_sign.
  bnnc::Kernel xnor = bnnc::buildKernel({Kind::XnorDense, length, units, ""});
  xnor.inputs()[0].set(a);
  xnor.inputs()[1].set(b);
  Halide::Buffer<float> product = xnor.pipeline().realize({units, rows});
  Halide::Buffer<float> product3(product.data(), 1, units, rows);
  bnnc::Kernel train = bnnc::buildKernel({Kind::BatchNormSignTrain, 1, units, "", false, 1e-5, 0.9});
  train.inputs()[0].set(product3);
  setParams(train, 1);
  Halide::Buffer<float> signs(1, units, rows), mean(units), inv(units), rm(units), rv(units);
  train.pipeline().realize(Halide::Realization({signs, mean, inv, rm, rv}));
  bnnc::Kernel eval = bnnc::buildKernel({Kind::BatchNormSign, 1, units, "", false, 1e-5});
  eval.inputs()[0].set(product3);
  setParams(eval, 1);
  Halide::Buffer<float> evalSigns = eval.pipeline().realize({1, units, rows});

  // The whole layer in one kernel.
  bnnc::Kernel fused = bnnc::buildKernel(
      {Kind::XnorDenseBatchNormSignTrain, length, units, "", false, 1e-5, 0.9});
  fused.inputs()[0].set(a);
  fused.inputs()[1].set(b);
  setParams(fused, 2);
  Halide::Buffer<float> fSigns(1, units, rows), fProduct(units, rows), fMean(units),
      fInv(units), fRm(units), fRv(units);
  fused.pipeline().realize(Halide::Realization({fSigns, fProduct, fMean, fInv, fRm, fRv}));
  bnnc::Kernel fusedEval = bnnc::buildKernel(
      {Kind::XnorDenseBatchNormSign, length, units, "", false, 1e-5});
  fusedEval.inputs()[0].set(a);
  fusedEval.inputs()[1].set(b);
  setParams(fusedEval, 2);
  Halide::Buffer<float> fEval = fusedEval.pipeline().realize({1, units, rows});
  // Training, writing the signs packed (bit set = −1, one word here).
  bnnc::KernelRequest packedRequest{Kind::XnorDenseBatchNormSignTrain, length, units, "",
                                    false, 1e-5, 0.9};
  packedRequest.packed = true;
  bnnc::Kernel fusedPacked = bnnc::buildKernel(packedRequest);
  fusedPacked.inputs()[0].set(a);
  fusedPacked.inputs()[1].set(b);
  setParams(fusedPacked, 2);
  Halide::Buffer<uint64_t> pSigns(1, 1, rows);
  Halide::Buffer<float> pProduct(units, rows), pMean(units), pInv(units), pRm(units), pRv(units);
  fusedPacked.pipeline().realize(Halide::Realization({pSigns, pProduct, pMean, pInv, pRm, pRv}));

  for (int r = 0; r < rows; ++r)
    for (int u = 0; u < units; ++u) {
      ASSERT_EQ(fProduct(u, r), product(u, r));
      ASSERT_EQ(fSigns(0, u, r), signs(0, u, r));
      ASSERT_EQ(fEval(0, u, r), evalSigns(0, u, r));
      ASSERT_EQ((pSigns(0, 0, r) >> u) & 1, signs(0, u, r) < 0 ? 1u : 0u) << r << ", " << u;
    }
  for (int r = 0; r < rows; ++r)
    ASSERT_EQ(pSigns(0, 0, r) >> units, 0u) << "padding bits of row " << r;
  for (int u = 0; u < units; ++u) {
    EXPECT_EQ(fMean(u), mean(u));
    EXPECT_EQ(fInv(u), inv(u));
    EXPECT_EQ(fRm(u), rm(u));
    EXPECT_EQ(fRv(u), rv(u));
  }
}

// binary_scaled kernels are kernels of their own, named so.
TEST(HalideKernels, ScaledWeightsGetTheirOwnKernel) {
  std::vector<bnnc::KernelRequest> requests;
  std::string binary = bnnc::requestKernel(
      requests, quantizedRequest(Kind::DenseForward, 100, 8, Q::Binary));
  std::string scaled = bnnc::requestKernel(
      requests, quantizedRequest(Kind::DenseForward, 100, 8, Q::BinaryScaled));
  EXPECT_EQ(binary, "bnnk_dense_binary_100x8");
  EXPECT_EQ(scaled, "bnnk_dense_binary_scaled_100x8");
  EXPECT_EQ(requests.size(), 2u);
}

TEST(HalideKernels, LoweredStatementsNameEachKernel) {
  std::vector<bnnc::KernelRequest> requests;
  std::string pack = bnnc::requestKernel(requests, {bnnc::KernelRequest::Kind::PackSigns, 100, 0, ""});
  std::string again = bnnc::requestKernel(requests, {bnnc::KernelRequest::Kind::PackSigns, 100, 0, ""});
  std::string xnor = bnnc::requestKernel(requests, {bnnc::KernelRequest::Kind::XnorDense, 100, 8, ""});
  EXPECT_EQ(pack, again); // equal requests share a kernel
  EXPECT_EQ(requests.size(), 2u);
  std::string text;
  std::vector<std::string> errors;
  ASSERT_TRUE(bnnc::lowerKernels(requests, bnnc::ScheduleOptions(), text, errors))
      << (errors.empty() ? "" : errors[0]);
  EXPECT_NE(text.find("// kernel " + pack), std::string::npos);
  EXPECT_NE(text.find("// kernel " + xnor), std::string::npos);
  EXPECT_NE(text.find("popcount"), std::string::npos);
  EXPECT_NE(text.find("parallel"), std::string::npos);
}

} // namespace
