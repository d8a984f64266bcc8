// The fast kernels of compiled models against the float reference.
#include "bnnrt/Kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace ref = bnnrt::reference;
namespace kernels = bnnrt::kernels;
using Q = bnnrt::reference::WeightQuantization;

namespace {

std::vector<float> randomVector(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.5f, 1.5f);
  std::vector<float> values(size);
  for (float &v : values)
    v = uniform(rng);
  return values;
}

void expectNear(const std::vector<float> &actual,
                const std::vector<float> &expected, float tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i], tolerance * (1 + std::fabs(expected[i])))
        << "at " << i;
}

TEST(Gemm, MatchesNaiveProduct) {
  const int64_t m = 7, n = 300, k = 513; // k spans several cache panels
  std::vector<float> a = randomVector(m * k, 1), b = randomVector(k * n, 2),
                     c(m * n), expected(m * n, 0.0f);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += double(a[i * k + p]) * b[p * n + j];
      expected[i * n + j] = float(sum);
    }
  kernels::gemm(a.data(), b.data(), c.data(), m, n, k);
  expectNear(c, expected, 1e-4f);
}

const Q allQuantizations[] = {Q::Real, Q::Binary, Q::BinaryScaled};

const char *nameOf(Q quantization) {
  switch (quantization) {
  case Q::Real: return "real";
  case Q::Binary: return "binary";
  case Q::BinaryScaled: return "binary_scaled";
  }
  return "unknown";
}

class DenseKernels : public ::testing::TestWithParam<std::tuple<Q, int64_t>> {};

TEST_P(DenseKernels, ForwardAndBackwardMatchReference) {
  auto [quantization, k] = GetParam();
  const int64_t n = 5, u = 17;
  std::vector<float> x = randomVector(n * k, 3), w = randomVector(u * k, 4),
                     bias = randomVector(u, 5), dy = randomVector(n * u, 6);
  std::vector<float> y(n * u), yRef(n * u);
  kernels::dense(x.data(), w.data(), bias.data(), y.data(), n, k, u, quantization);
  ref::denseForward(x.data(), w.data(), bias.data(), yRef.data(), n, k, u, quantization);
  expectNear(y, yRef, 1e-4f);

  std::vector<float> dx(n * k), dw(u * k), dxRef(n * k), dwRef(u * k);
  kernels::denseGradInput(w.data(), dy.data(), dx.data(), n, k, u, quantization);
  kernels::denseGradWeight(x.data(), w.data(), dy.data(), dw.data(), n, k, u, quantization);
  ref::denseBackward(x.data(), w.data(), dy.data(), dxRef.data(), dwRef.data(),
                     nullptr, n, k, u, quantization);
  expectNear(dx, dxRef, 1e-4f);
  expectNear(dw, dwRef, 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(
    Quantizations, DenseKernels,
    ::testing::Combine(::testing::ValuesIn(allQuantizations),
                       ::testing::Values(1, 64, 100, 784)),
    [](const ::testing::TestParamInfo<DenseKernels::ParamType> &test) {
      return std::string(nameOf(std::get<0>(test.param))) + "_k" +
             std::to_string(std::get<1>(test.param));
    });

//===--- conv2d against a literal convolution -----------------------------===//
//
// bnnrt's conv kernels are built on bnnrt::reference, so they are checked
// here against a convolution written in the test in the most literal way
// (explicit zero padding, then one window sum per output pixel): a bug
// shared by the reference and the kernels still shows.
//
// The gradients are checked with no backward code at all. y = conv(x; q(w))
// is linear in x and in q(w) (q = sign for binary weights, α ⊙ sign for
// binary_scaled), so for the loss L = <y, dy> the definition of the
// derivative gives, entry by entry,
//   dL/dx[i]    = <conv(e_i; q(w)), dy>   (the adjoint at each basis vector)
//   dL/dq(w)[t] = <conv(x; e_t), dy>
// and a latent binary weight gets dL/dq(w)[t] · 1{|w[t]| <= 1} (the STE);
// binary_scaled adds the chain rule through α (chainThroughQuantiser).
// Every entry is checked, not one random dot product: with an honest float
// tolerance, a dot product over hundreds of entries hides one wrong entry.

using ref::ConvShape;

/// A row-major 4-d array of doubles.
struct Tensor4 {
  int64_t d[4];
  std::vector<double> v;
  Tensor4(int64_t a, int64_t b, int64_t c, int64_t e)
      : d{a, b, c, e}, v(size_t(a * b * c * e), 0.0) {}
  double &operator()(int64_t i, int64_t j, int64_t k, int64_t l) {
    return v[size_t(((i * d[1] + j) * d[2] + k) * d[3] + l)];
  }
};

Tensor4 fromFlat(const std::vector<float> &flat, int64_t a, int64_t b,
                 int64_t c, int64_t e) {
  Tensor4 t(a, b, c, e);
  std::copy(flat.begin(), flat.end(), t.v.begin());
  return t;
}

/// The convolution's outputs, and per output the sum of its terms' absolute
/// values: the scale of the rounding error of a float kernel.
struct Convolved {
  Tensor4 y, magnitude;
};

/// y[b, o, r, q] = bias[o] + Σ_{c,i,j} padded(x)[b, c, r·stride + i,
/// q·stride + j] · qw[o, c, i, j], with qw the already quantised weights and
/// `bias` empty for none.
Convolved naiveConv(const std::vector<float> &xFlat,
                    const std::vector<float> &qwFlat,
                    const std::vector<float> &bias, const ConvShape &s) {
  Tensor4 image = fromFlat(xFlat, s.n, s.c, s.h, s.w);
  Tensor4 qw = fromFlat(qwFlat, s.o, s.c, s.kh, s.kw);
  // The zeros of the padding made explicit: every window then lies inside.
  Tensor4 padded(s.n, s.c, s.h + 2 * s.pad, s.w + 2 * s.pad);
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t r = 0; r < s.h; ++r)
        for (int64_t q = 0; q < s.w; ++q)
          padded(b, c, r + s.pad, q + s.pad) = image(b, c, r, q);

  Convolved out{Tensor4(s.n, s.o, s.outH(), s.outW()),
                Tensor4(s.n, s.o, s.outH(), s.outW())};
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t r = 0; r < s.outH(); ++r)
      for (int64_t q = 0; q < s.outW(); ++q)
        for (int64_t o = 0; o < s.o; ++o) {
          double sum = bias.empty() ? 0.0 : bias[size_t(o)];
          double magnitude = std::fabs(sum);
          for (int64_t c = 0; c < s.c; ++c)
            for (int64_t i = 0; i < s.kh; ++i)
              for (int64_t j = 0; j < s.kw; ++j) {
                double term = padded(b, c, r * s.stride + i, q * s.stride + j) *
                              qw(o, c, i, j);
                sum += term;
                magnitude += std::fabs(term);
              }
          out.y(b, o, r, q) = sum;
          out.magnitude(b, o, r, q) = magnitude;
        }
  return out;
}

/// <conv, dy>, and the sum of its terms' absolute values.
std::pair<double, double> pairWith(const Convolved &conv, const std::vector<float> &dy) {
  double value = 0.0, magnitude = 0.0;
  for (size_t i = 0; i < dy.size(); ++i) {
    value += conv.y.v[i] * dy[i];
    magnitude += conv.magnitude.v[i] * std::fabs(dy[i]);
  }
  return {value, magnitude};
}

/// A float kernel may sum K terms in any order and lose up to about K·2⁻²⁴
/// of their absolute sum; K ≤ 150 here, so 2e-5 of it. A missing or wrong
/// term moves a result by ~1/K of that sum, hundreds of times more.
void expectWithinRounding(const std::vector<float> &actual,
                          const std::vector<double> &expected,
                          const std::vector<double> &magnitude) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    ASSERT_NEAR(actual[i], expected[i], 2e-5 * magnitude[i]) << "at " << i;
}

double signOf(float v) { return v >= 0.0f ? 1.0 : -1.0; } // sign(0) = +1

/// α[o] = mean |w| of each filter's weights.
std::vector<double> filterScales(const std::vector<float> &w, int64_t filters) {
  size_t fanIn = w.size() / size_t(filters);
  std::vector<double> alpha(size_t(filters), 0.0);
  for (size_t t = 0; t < w.size(); ++t)
    alpha[t / fanIn] += std::fabs(w[t]) / double(fanIn);
  return alpha;
}

/// w, sign(w), or α[o] · sign(w).
std::vector<float> quantised(const std::vector<float> &w, int64_t filters,
                             Q quantization) {
  if (quantization == Q::Real)
    return w;
  std::vector<double> alpha = filterScales(w, filters);
  size_t fanIn = w.size() / size_t(filters);
  std::vector<float> q(w.size());
  for (size_t t = 0; t < w.size(); ++t)
    q[t] = float((quantization == Q::BinaryScaled ? alpha[t / fanIn] : 1.0) *
                 signOf(w[t]));
  return q;
}

/// Turns dL/dq(w) (`g`, with `magnitude` its rounding scale) into dL/dw by
/// the chain rule, written out: sign's derivative is the STE window
/// 1{|w| <= 1}; binary_scaled multiplies it by α[o] and adds the path
/// through α[o], dα[o]/dw[t] = sign(w[t]) / n for the n weights of filter o.
void chainThroughQuantiser(const std::vector<float> &w, int64_t filters,
                           Q quantization, std::vector<double> &g,
                           std::vector<double> &magnitude) {
  if (quantization == Q::Real)
    return;
  bool scaled = quantization == Q::BinaryScaled;
  std::vector<double> alpha = filterScales(w, filters);
  size_t fanIn = w.size() / size_t(filters);
  std::vector<double> viaAlpha(size_t(filters), 0.0), viaAlphaScale(size_t(filters), 0.0);
  for (size_t t = 0; t < w.size(); ++t) {
    viaAlpha[t / fanIn] += g[t] * signOf(w[t]) / double(fanIn);
    viaAlphaScale[t / fanIn] += magnitude[t] / double(fanIn);
  }
  for (size_t t = 0; t < w.size(); ++t) {
    size_t o = t / fanIn;
    double local = (std::fabs(w[t]) <= 1.0f ? 1.0 : 0.0) * (scaled ? alpha[o] : 1.0);
    g[t] = local * g[t] + (scaled ? signOf(w[t]) * viaAlpha[o] : 0.0);
    magnitude[t] = local * magnitude[t] + (scaled ? viaAlphaScale[o] : 0.0);
  }
}

/// Random latent weights in (-1.5, 1.5), so some lie outside the STE window,
/// and exactly ±1 (its edges, where Adam's clipping leaves weights) and 0.
std::vector<float> convWeights(const ConvShape &s) {
  std::vector<float> w = randomVector(size_t(s.o * s.c * s.kh * s.kw), 32);
  const float planted[] = {1.0f, -1.0f, 0.0f};
  std::copy(planted, planted + std::min<size_t>(3, w.size()), w.begin());
  return w;
}

std::vector<float> unfilled(int64_t size) {
  return std::vector<float>(size_t(size), std::numeric_limits<float>::quiet_NaN());
}

struct ConvCase {
  const char *name;
  ConvShape shape; // n, c, h, w, o, kh, kw, stride, pad
};

const ConvCase convCases[] = {
    {"1x1", {2, 3, 5, 4, 5, 1, 1, 1, 0}},
    {"1x1_s2_p1", {1, 9, 5, 6, 2, 1, 1, 2, 1}}, // border outputs: padding only
    {"3x3_p1", {2, 3, 7, 6, 5, 3, 3, 1, 1}},
    {"3x3_s2_p1", {2, 5, 9, 7, 3, 3, 3, 2, 1}},
    {"3x3_s2_p2", {2, 3, 6, 6, 4, 3, 3, 2, 2}}, // last padded row unread
    {"3x3_p1_wider_than_image", {3, 2, 2, 1, 3, 3, 3, 1, 1}},
    {"3x3_c10_o9", {2, 10, 6, 5, 9, 3, 3, 1, 1}},
    {"5x3_p2", {1, 3, 8, 6, 4, 5, 3, 1, 2}},
    {"5x3_s2", {2, 3, 9, 7, 6, 5, 3, 2, 0}},
};

void PrintTo(const ConvCase &convCase, std::ostream *os) { *os << convCase.name; }

class ConvKernels : public ::testing::TestWithParam<std::tuple<ConvCase, Q>> {
protected:
  const ConvShape s = std::get<0>(GetParam()).shape;
  const Q quantization = std::get<1>(GetParam());
  const int64_t outSize = s.n * s.o * s.outH() * s.outW();
  const std::vector<float> x = randomVector(size_t(s.n * s.c * s.h * s.w), 31),
                           w = convWeights(s), qw = quantised(w, s.o, quantization),
                           bias = randomVector(size_t(s.o), 33),
                           dy = randomVector(size_t(outSize), 34);
};

TEST_P(ConvKernels, ForwardIsTheLiteralConvolution) {
  for (bool withBias : {false, true}) {
    SCOPED_TRACE(withBias ? "with bias" : "without bias");
    std::vector<float> y = unfilled(outSize);
    kernels::conv2d(x.data(), w.data(), withBias ? bias.data() : nullptr,
                    y.data(), s, quantization);
    Convolved expected = naiveConv(x, qw, withBias ? bias : std::vector<float>{}, s);
    expectWithinRounding(y, expected.y.v, expected.magnitude.v);
  }
}

TEST_P(ConvKernels, GradInputIsTheAdjoint) {
  std::vector<float> dx = unfilled(int64_t(x.size()));
  kernels::conv2dGradInput(w.data(), dy.data(), dx.data(), s, quantization);
  std::vector<double> expected(x.size()), magnitude(x.size());
  std::vector<float> basis(x.size(), 0.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    basis[i] = 1.0f;
    std::tie(expected[i], magnitude[i]) = pairWith(naiveConv(basis, qw, {}, s), dy);
    basis[i] = 0.0f;
  }
  expectWithinRounding(dx, expected, magnitude);
}

TEST_P(ConvKernels, GradWeightIsTheDerivativeInTheWeights) {
  std::vector<float> dw = unfilled(int64_t(w.size()));
  kernels::conv2dGradWeight(x.data(), w.data(), dy.data(), dw.data(), s,
                            quantization);
  std::vector<double> expected(w.size()), magnitude(w.size());
  std::vector<float> basis(w.size(), 0.0f);
  for (size_t t = 0; t < w.size(); ++t) {
    basis[t] = 1.0f;
    std::tie(expected[t], magnitude[t]) = pairWith(naiveConv(x, basis, {}, s), dy);
    basis[t] = 0.0f;
  }
  // Binary: exactly 0 outside the STE window (magnitude 0 there).
  chainThroughQuantiser(w, s.o, quantization, expected, magnitude);
  expectWithinRounding(dw, expected, magnitude);
}

INSTANTIATE_TEST_SUITE_P(
    ConvGeometries, ConvKernels,
    ::testing::Combine(::testing::ValuesIn(convCases),
                       ::testing::ValuesIn(allQuantizations)),
    [](const ::testing::TestParamInfo<ConvKernels::ParamType> &test) {
      return std::string(std::get<0>(test.param).name) + "_" +
             nameOf(std::get<1>(test.param));
    });

// A conv's bias gradient is kernels::biasGrad over the output plane.
TEST(ConvBiasGrad, IsTheDerivativeInTheBias) {
  for (const ConvCase &convCase : convCases) {
    SCOPED_TRACE(convCase.name);
    const ConvShape &s = convCase.shape;
    const int64_t plane = s.outH() * s.outW();
    std::vector<float> dy = randomVector(size_t(s.n * s.o * plane), 35);
    std::vector<float> db = unfilled(s.o);
    kernels::biasGrad(dy.data(), db.data(), s.n, s.o, plane);
    // With x = 0 the output is the bias alone: dL/dbias[o] = <conv(0; bias = e_o), dy>.
    std::vector<float> zeroX(size_t(s.n * s.c * s.h * s.w), 0.0f),
        zeroW(size_t(s.o * s.c * s.kh * s.kw), 0.0f), basis(size_t(s.o), 0.0f);
    std::vector<double> expected(basis.size()), magnitude(basis.size());
    for (size_t o = 0; o < basis.size(); ++o) {
      basis[o] = 1.0f;
      std::tie(expected[o], magnitude[o]) = pairWith(naiveConv(zeroX, zeroW, basis, s), dy);
      basis[o] = 0.0f;
    }
    expectWithinRounding(db, expected, magnitude);
  }
}

TEST(AdamKernel, MatchesReferenceOverSeveralSteps) {
  for (bool clip : {false, true}) {
    std::vector<float> param = randomVector(1000, 12), grad = randomVector(1000, 13);
    std::vector<float> paramRef = param, m(1000, 0.0f), v(1000, 0.0f),
                       mRef = m, vRef = v;
    for (int64_t step = 1; step <= 5; ++step) {
      kernels::adamStep(param.data(), grad.data(), m.data(), v.data(), 1000,
                        step, 0.05f, {}, clip);
      ref::adamStep(paramRef.data(), grad.data(), mRef.data(), vRef.data(),
                    1000, step, 0.05f, {}, clip);
    }
    expectNear(param, paramRef, 1e-5f);
    expectNear(m, mRef, 1e-6f);
    expectNear(v, vRef, 1e-6f);
  }
}

TEST(PackedKernels, PackSignsAndXnorDenseMatchReference) {
  for (int64_t k : {1, 64, 100, 1024}) {
    const int64_t n = 4, u = 7, words = (k + 63) / 64;
    std::vector<float> x = randomVector(n * k, 14), w = randomVector(u * k, 15);
    std::vector<uint64_t> px(n * words), pw(u * words);
    kernels::packSigns(x.data(), px.data(), n, k);
    kernels::packSigns(w.data(), pw.data(), u, k);
    std::vector<float> y(n * u), signs(n * k), yRef(n * u);
    kernels::xnorDense(px.data(), pw.data(), y.data(), n, u, words, k);
    ref::signForward(x.data(), signs.data(), n * k);
    ref::denseForward(signs.data(), w.data(), nullptr, yRef.data(), n, k, u, Q::Binary);
    EXPECT_EQ(y, yRef) << "k = " << k;
  }
}

/// sign(batchnorm(x)) from the reference, for the fused kernels.
std::vector<float> referenceSignOfBatchNorm(const std::vector<float> &normalised) {
  std::vector<float> signs(normalised.size());
  ref::signForward(normalised.data(), signs.data(), int64_t(signs.size()));
  return signs;
}

TEST(FusedKernels, BatchNormSignTrainMatchesReference) {
  ref::BatchNormShape s{6, 3, 4};
  size_t size = size_t(s.n * s.c * s.spatial);
  std::vector<float> x = randomVector(size, 16), gamma = randomVector(3, 17),
                     beta = randomVector(3, 18);
  std::vector<float> y(size), mean(3), invStd(3), rm(3, 0.1f), rv(3, 0.9f);
  std::vector<float> yRef(size), meanRef(3), invStdRef(3), rmRef = rm, rvRef = rv;
  kernels::batchnormSignTrain(x.data(), gamma.data(), beta.data(), y.data(),
                              mean.data(), invStd.data(), rm.data(), rv.data(),
                              s, 1e-5f, 0.9f);
  ref::batchnormTrainForward(x.data(), gamma.data(), beta.data(), yRef.data(),
                             meanRef.data(), invStdRef.data(), rmRef.data(),
                             rvRef.data(), s, 1e-5f, 0.9f);
  EXPECT_EQ(y, referenceSignOfBatchNorm(yRef));
  expectNear(mean, meanRef, 1e-6f);
  expectNear(invStd, invStdRef, 1e-6f);
  expectNear(rm, rmRef, 1e-6f);
  expectNear(rv, rvRef, 1e-6f);
}

TEST(FusedKernels, BatchNormSignEvalIsAThresholdOnX) {
  ref::BatchNormShape s{50, 4, 3};
  size_t size = size_t(s.n * s.c * s.spatial);
  std::vector<float> x = randomVector(size, 19), beta = randomVector(4, 20);
  std::vector<float> gamma{0.7f, -1.3f, 0.0f, 2.0f}; // negative and zero γ too
  std::vector<float> rm = randomVector(4, 21), rv{0.5f, 1.5f, 1.0f, 0.2f};
  std::vector<float> y(size), normalised(size);
  kernels::batchnormSign(x.data(), gamma.data(), beta.data(), rm.data(),
                         rv.data(), y.data(), s, 1e-5f);
  ref::batchnormEvalForward(x.data(), gamma.data(), beta.data(), rm.data(),
                            rv.data(), normalised.data(), s, 1e-5f);
  std::vector<float> expected = referenceSignOfBatchNorm(normalised);
  int mismatches = 0;
  for (size_t i = 0; i < size; ++i)
    if (y[i] != expected[i]) {
      ++mismatches;
      EXPECT_NEAR(normalised[i], 0.0f, 1e-5f) << "at " << i;
    }
  EXPECT_LE(mismatches, 1); // only values within rounding of the threshold
}

TEST(FusedKernels, BatchNormSteGradMatchesReferenceComposite) {
  ref::BatchNormShape s{8, 3, 2};
  size_t size = size_t(s.n * s.c * s.spatial);
  std::vector<float> x = randomVector(size, 22), gamma{1.5f, -0.8f, 2.5f},
                     beta = randomVector(3, 23), dy = randomVector(size, 24);
  std::vector<float> normalised(size), mean(3), invStd(3), rm(3), rv(3, 1.0f);
  ref::batchnormTrainForward(x.data(), gamma.data(), beta.data(),
                             normalised.data(), mean.data(), invStd.data(),
                             rm.data(), rv.data(), s, 1e-5f, 0.9f);
  std::vector<float> dn(size), dxRef(size), dgRef(3), dbRef(3);
  ref::signBackward(normalised.data(), dy.data(), dn.data(), int64_t(size));
  ref::batchnormBackward(x.data(), gamma.data(), dn.data(), mean.data(),
                         invStd.data(), dxRef.data(), dgRef.data(), dbRef.data(), s);
  std::vector<float> dx(size), dg(3), db(3);
  kernels::batchnormSteGrad(x.data(), gamma.data(), beta.data(), dy.data(),
                            mean.data(), invStd.data(), dx.data(), dg.data(),
                            db.data(), s);
  expectNear(dx, dxRef, 1e-5f);
  expectNear(dg, dgRef, 1e-5f);
  expectNear(db, dbRef, 1e-5f);
}

TEST(BiasGrad, SumsOverBatchAndSpace) {
  std::vector<float> dy{1, 2, 3, 4, 5, 6, 7, 8}; // n=2, c=2, spatial=2
  std::vector<float> db(2);
  kernels::biasGrad(dy.data(), db.data(), 2, 2, 2);
  EXPECT_EQ(db, (std::vector<float>{1 + 2 + 5 + 6, 3 + 4 + 7 + 8}));
}

} // namespace
