// The reference ops against finite differences (real-valued ops) and
// against independently written formulas (binary ops and the STE).
#include "bnnrt/Reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bitset>
#include <cmath>
#include <functional>
#include <random>

namespace ref = bnnrt::reference;
using Q = ref::WeightQuantization;

namespace {

std::vector<float> randomVector(size_t size, uint32_t seed, float low = -1.0f,
                                float high = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(low, high);
  std::vector<float> values(size);
  for (float &v : values)
    v = uniform(rng);
  return values;
}

double dot(const std::vector<float> &a, const std::vector<float> &b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    sum += double(a[i]) * b[i];
  return sum;
}

/// Checks `analytic` against central differences of `objective` with
/// respect to each entry of `values`.
void expectGradient(std::vector<float> &values, const std::vector<float> &analytic,
                    const std::function<double()> &objective, const char *what,
                    float step = 1e-2f, double tolerance = 2e-3) {
  ASSERT_EQ(values.size(), analytic.size());
  for (size_t i = 0; i < values.size(); ++i) {
    float saved = values[i];
    values[i] = saved + step;
    double up = objective();
    values[i] = saved - step;
    double down = objective();
    values[i] = saved;
    double numeric = (up - down) / (2.0 * step);
    EXPECT_NEAR(analytic[i], numeric, tolerance * (1.0 + std::fabs(numeric)))
        << what << "[" << i << "]";
  }
}

TEST(ReferenceDense, RealGradientsMatchFiniteDifferences) {
  const int64_t n = 3, k = 5, u = 4;
  std::vector<float> x = randomVector(n * k, 1), w = randomVector(u * k, 2),
                     b = randomVector(u, 3), cotangent = randomVector(n * u, 4);
  std::vector<float> y(n * u), dx(n * k), dw(u * k), db(u);
  auto objective = [&] {
    ref::denseForward(x.data(), w.data(), b.data(), y.data(), n, k, u, Q::Real);
    return dot(y, cotangent);
  };
  ref::denseBackward(x.data(), w.data(), cotangent.data(), dx.data(), dw.data(),
                     db.data(), n, k, u, Q::Real);
  expectGradient(x, dx, objective, "dx");
  expectGradient(w, dw, objective, "dw");
  expectGradient(b, db, objective, "db");
}

TEST(ReferenceDense, BinaryForwardIsXnorPopcount) {
  const int64_t n = 4, k = 100, u = 3;
  std::vector<float> x = randomVector(n * k, 5), w = randomVector(u * k, 6);
  for (float &v : x)
    v = ref::sign(v); // binary activations
  std::vector<float> y(n * u);
  ref::denseForward(x.data(), w.data(), nullptr, y.data(), n, k, u, Q::Binary);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t unit = 0; unit < u; ++unit) {
      std::bitset<128> a, b;
      for (int64_t i = 0; i < k; ++i) {
        a[i] = x[row * k + i] < 0;
        b[i] = w[unit * k + i] < 0;
      }
      float expected = float(k - 2 * int64_t((a ^ b).count()));
      EXPECT_EQ(y[row * u + unit], expected);
    }
}

TEST(ReferenceDense, BinaryBackwardIsTheStraightThroughEstimator) {
  const int64_t n = 2, k = 6, u = 3;
  std::vector<float> x = randomVector(n * k, 7), w = randomVector(u * k, 8, -2, 2),
                     dy = randomVector(n * u, 9);
  std::vector<float> dx(n * k), dw(u * k);
  ref::denseBackward(x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                     nullptr, n, k, u, Q::Binary);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t i = 0; i < k; ++i) {
      float expected = 0.0f;
      for (int64_t unit = 0; unit < u; ++unit)
        expected += dy[row * u + unit] * (w[unit * k + i] >= 0 ? 1.0f : -1.0f);
      EXPECT_NEAR(dx[row * k + i], expected, 1e-6);
    }
  for (int64_t unit = 0; unit < u; ++unit)
    for (int64_t i = 0; i < k; ++i) {
      float expected = 0.0f;
      for (int64_t row = 0; row < n; ++row)
        expected += dy[row * u + unit] * x[row * k + i];
      if (std::fabs(w[unit * k + i]) > 1.0f)
        expected = 0.0f; // outside the STE window the latent weight is frozen
      EXPECT_NEAR(dw[unit * k + i], expected, 1e-6);
    }
}

TEST(ReferenceConv2D, GradientsMatchFiniteDifferences) {
  ref::ConvShape s{2, 3, 5, 4, 2, 3, 3, 2, 1};
  std::vector<float> x = randomVector(s.n * s.c * s.h * s.w, 10),
                     w = randomVector(s.o * s.c * s.kh * s.kw, 11),
                     b = randomVector(s.o, 12),
                     cotangent = randomVector(s.n * s.o * s.outH() * s.outW(), 13);
  EXPECT_EQ(s.outH(), 3);
  EXPECT_EQ(s.outW(), 2);
  std::vector<float> y(cotangent.size()), dx(x.size()), dw(w.size()), db(s.o);
  auto objective = [&] {
    ref::conv2dForward(x.data(), w.data(), b.data(), y.data(), s, Q::Real);
    return dot(y, cotangent);
  };
  ref::conv2dBackward(x.data(), w.data(), cotangent.data(), dx.data(), dw.data(),
                      db.data(), s, Q::Real);
  expectGradient(x, dx, objective, "dx");
  expectGradient(w, dw, objective, "dw");
  expectGradient(b, db, objective, "db");
}

TEST(ReferenceConv2D, OneByOneConvolutionIsADensePerPixel) {
  ref::ConvShape s{1, 4, 2, 2, 3, 1, 1, 1, 0};
  std::vector<float> x = randomVector(16, 14), w = randomVector(12, 15);
  std::vector<float> y(12);
  ref::conv2dForward(x.data(), w.data(), nullptr, y.data(), s, Q::Binary);
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t p = 0; p < 4; ++p) {
      float expected = 0.0f;
      for (int64_t c = 0; c < 4; ++c)
        expected += x[c * 4 + p] * ref::sign(w[o * 4 + c]);
      EXPECT_NEAR(y[o * 4 + p], expected, 1e-6);
    }
}

//===--- binary_scaled weights (XNOR-Net) ---------------------------------===//

/// α per unit, written out: the mean |w| of each of `units` rows.
std::vector<float> meanMagnitudes(const std::vector<float> &w, int64_t units) {
  size_t fanIn = w.size() / size_t(units);
  std::vector<float> alpha;
  for (size_t unit = 0; unit < size_t(units); ++unit) {
    double sum = 0.0;
    for (size_t i = 0; i < fanIn; ++i)
      sum += std::fabs(w[unit * fanIn + i]);
    alpha.push_back(float(sum / double(fanIn)));
  }
  return alpha;
}

/// α[u] · sign(w[u, i]), written out.
std::vector<float> scaledSigns(const std::vector<float> &w, int64_t units) {
  std::vector<float> alpha = meanMagnitudes(w, units), q(w.size());
  size_t fanIn = w.size() / size_t(units);
  for (size_t i = 0; i < w.size(); ++i)
    q[i] = alpha[i / fanIn] * (w[i] >= 0.0f ? 1.0f : -1.0f);
  return q;
}

/// Latent weights of magnitude in [0.1, 0.9] or [1.1, 1.4], either sign:
/// a finite-difference step of 1e-2 neither flips a sign nor crosses an
/// edge of the STE window.
std::vector<float> latentWeights(size_t size, uint32_t seed) {
  std::vector<float> w = randomVector(size, seed, -1.2f, 1.2f);
  for (float &v : w) {
    float magnitude = std::fabs(v) < 0.1f ? std::fabs(v) + 0.1f : std::fabs(v);
    magnitude += magnitude > 0.9f ? 0.2f : 0.0f;
    v = std::copysign(magnitude, v);
  }
  return w;
}

/// A layer's forward pass on (x, w) in the given mode, into y.
using Forward =
    std::function<void(const float *x, const float *w, float *y, ref::WeightQuantization)>;

/// Checks a binary_scaled layer's dx and dw against central differences.
/// dx: the layer is linear in x. dw: the STE takes sign's derivative to be
/// htanh's, so by the product rule the gradient of α(w) ⊙ sign(w) at w₀ is
/// the derivative at w₀ of α(w) ⊙ sign(w) (sign locally constant: only α
/// moves) plus α(w₀) ⊙ htanh(w); the objective adds the layer with those
/// real weights.
void expectScaledGradients(std::vector<float> &x, std::vector<float> &w,
                           int64_t units, const std::vector<float> &cotangent,
                           const Forward &forward, const std::vector<float> &dx,
                           const std::vector<float> &dw) {
  std::vector<float> y(cotangent.size());
  auto layer = [&] {
    forward(x.data(), w.data(), y.data(), Q::BinaryScaled);
    return dot(y, cotangent);
  };
  expectGradient(x, dx, layer, "dx");

  const std::vector<float> alpha0 = meanMagnitudes(w, units);
  const size_t fanIn = w.size() / size_t(units);
  std::vector<float> surrogate(w.size());
  auto layerAndSurrogate = [&] {
    double value = layer();
    for (size_t i = 0; i < w.size(); ++i)
      surrogate[i] = alpha0[i / fanIn] * std::clamp(w[i], -1.0f, 1.0f);
    forward(x.data(), surrogate.data(), y.data(), Q::Real);
    return value + dot(y, cotangent);
  };
  expectGradient(w, dw, layerAndSurrogate, "dw");
}

TEST(ReferenceDense, BinaryScaledForwardScalesSignsByMeanMagnitude) {
  const int64_t n = 3, k = 7, u = 4;
  std::vector<float> x = randomVector(n * k, 30), w = randomVector(u * k, 31, -1.5, 1.5),
                     y(n * u);
  w[0] = 0.0f; // sign(0) = +1
  ref::denseForward(x.data(), w.data(), nullptr, y.data(), n, k, u, Q::BinaryScaled);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t unit = 0; unit < u; ++unit) {
      double alpha = 0.0;
      for (int64_t i = 0; i < k; ++i)
        alpha += std::fabs(w[unit * k + i]) / double(k);
      double expected = 0.0;
      for (int64_t i = 0; i < k; ++i)
        expected += x[row * k + i] * alpha * (w[unit * k + i] >= 0 ? 1.0 : -1.0);
      EXPECT_NEAR(y[row * u + unit], expected, 1e-5) << row << ", " << unit;
    }
}

TEST(ReferenceDense, BinaryScaledGradientsMatchFiniteDifferences) {
  const int64_t n = 3, k = 5, u = 4;
  std::vector<float> x = randomVector(n * k, 32), w = latentWeights(u * k, 33),
                     cotangent = randomVector(n * u, 34), dx(n * k), dw(u * k);
  ref::denseBackward(x.data(), w.data(), cotangent.data(), dx.data(), dw.data(),
                     nullptr, n, k, u, Q::BinaryScaled);
  expectScaledGradients(x, w, u, cotangent,
                        [&](const float *xs, const float *ws, float *y, Q q) {
                          ref::denseForward(xs, ws, nullptr, y, n, k, u, q);
                        },
                        dx, dw);
}

TEST(ReferenceConv2D, BinaryScaledForwardScalesEachFilter) {
  ref::ConvShape s{2, 3, 5, 4, 2, 3, 3, 2, 1};
  std::vector<float> x = randomVector(s.n * s.c * s.h * s.w, 35),
                     w = randomVector(s.o * s.c * s.kh * s.kw, 36, -1.5, 1.5),
                     b = randomVector(s.o, 37);
  w[0] = 0.0f;
  size_t outSize = size_t(s.n * s.o * s.outH() * s.outW());
  std::vector<float> y(outSize), expected(outSize), q = scaledSigns(w, s.o);
  ref::conv2dForward(x.data(), w.data(), b.data(), y.data(), s, Q::BinaryScaled);
  ref::conv2dForward(x.data(), q.data(), b.data(), expected.data(), s, Q::Real);
  for (size_t i = 0; i < outSize; ++i)
    EXPECT_NEAR(y[i], expected[i], 1e-5) << i;
}

TEST(ReferenceConv2D, BinaryScaledGradientsMatchFiniteDifferences) {
  ref::ConvShape s{2, 3, 5, 4, 2, 3, 3, 2, 1};
  std::vector<float> x = randomVector(s.n * s.c * s.h * s.w, 38),
                     w = latentWeights(size_t(s.o * s.c * s.kh * s.kw), 39),
                     cotangent = randomVector(s.n * s.o * s.outH() * s.outW(), 40);
  std::vector<float> dx(x.size()), dw(w.size());
  ref::conv2dBackward(x.data(), w.data(), cotangent.data(), dx.data(), dw.data(),
                      nullptr, s, Q::BinaryScaled);
  expectScaledGradients(x, w, s.o, cotangent,
                        [&](const float *xs, const float *ws, float *y, Q q) {
                          ref::conv2dForward(xs, ws, nullptr, y, s, q);
                        },
                        dx, dw);
}

class ReferenceBatchNorm : public ::testing::TestWithParam<int64_t> {};

TEST_P(ReferenceBatchNorm, TrainingGradientsMatchFiniteDifferences) {
  ref::BatchNormShape s{4, 3, GetParam()};
  size_t size = size_t(s.n * s.c * s.spatial);
  std::vector<float> x = randomVector(size, 16, -2, 2), gamma = randomVector(3, 17),
                     beta = randomVector(3, 18), cotangent = randomVector(size, 19);
  std::vector<float> y(size), mean(3), invStd(3), dx(size), dgamma(3), dbeta(3);
  auto objective = [&] {
    std::vector<float> runningMean(3, 0.0f), runningVar(3, 1.0f);
    ref::batchnormTrainForward(x.data(), gamma.data(), beta.data(), y.data(),
                               mean.data(), invStd.data(), runningMean.data(),
                               runningVar.data(), s, 1e-5f, 0.9f);
    return dot(y, cotangent);
  };
  objective();
  ref::batchnormBackward(x.data(), gamma.data(), cotangent.data(), mean.data(),
                         invStd.data(), dx.data(), dgamma.data(), dbeta.data(), s);
  expectGradient(x, dx, objective, "dx", 1e-2f, 5e-3);
  expectGradient(gamma, dgamma, objective, "dgamma");
  expectGradient(beta, dbeta, objective, "dbeta");
}

INSTANTIATE_TEST_SUITE_P(Spatial, ReferenceBatchNorm, ::testing::Values(1, 5));

TEST(ReferenceBatchNormStats, NormalisesAndUpdatesRunningStatistics) {
  ref::BatchNormShape s{4, 1, 1};
  std::vector<float> x{1, 2, 3, 6}, gamma{1}, beta{0}, y(4), mean(1), invStd(1);
  std::vector<float> runningMean{0}, runningVar{1};
  ref::batchnormTrainForward(x.data(), gamma.data(), beta.data(), y.data(),
                             mean.data(), invStd.data(), runningMean.data(),
                             runningVar.data(), s, 0.0f, 0.9f);
  EXPECT_FLOAT_EQ(mean[0], 3.0f);
  EXPECT_NEAR(invStd[0], 1.0 / std::sqrt(3.5), 1e-6); // biased variance 14/4
  EXPECT_NEAR(runningMean[0], 0.3f, 1e-6);
  EXPECT_NEAR(runningVar[0], 0.9f + 0.1f * 14.0f / 3.0f, 1e-5); // unbiased
  double sum = 0, squares = 0;
  for (float v : y) {
    sum += v;
    squares += v * v;
  }
  EXPECT_NEAR(sum, 0.0, 1e-5);
  EXPECT_NEAR(squares / 4, 1.0, 1e-5);
  // Evaluation uses the running statistics.
  std::vector<float> yEval(4);
  ref::batchnormEvalForward(x.data(), gamma.data(), beta.data(),
                            runningMean.data(), runningVar.data(), yEval.data(),
                            s, 0.0f);
  EXPECT_NEAR(yEval[0], (1 - 0.3) / std::sqrt(runningVar[0]), 1e-5);
}

/// Synchronised batchnorm on two halves of a batch: the forward pass with
/// the halves' sums added, the backward pass with their gradient sums
/// averaged, gives each half the whole batch's outputs, statistics and
/// input gradients (with and without the STE window).
TEST(ReferenceBatchNormSync, HalvesWithReducedSumsComputeTheWholeBatch) {
  ref::BatchNormShape whole{8, 3, 5}, half{4, 3, 5};
  size_t size = size_t(whole.n * whole.c * whole.spatial), halfSize = size / 2;
  std::vector<float> x = randomVector(size, 31, -1, 3), gamma = randomVector(3, 32, 0.5f, 1.5f),
                     beta = randomVector(3, 33), dy = randomVector(size, 34);
  std::vector<float> y(size), mean(3), invStd(3), dx(size), dgamma(3), dbeta(3);
  std::vector<float> runningMean{0.1f, 0.2f, 0.3f}, runningVar{1.0f, 2.0f, 0.5f};
  std::vector<float> wholeRunningMean = runningMean, wholeRunningVar = runningVar;
  ref::batchnormTrainForward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                             invStd.data(), wholeRunningMean.data(), wholeRunningVar.data(),
                             whole, 1e-5f, 0.9f);
  ref::batchnormBackward(x.data(), gamma.data(), dy.data(), mean.data(), invStd.data(),
                         dx.data(), dgamma.data(), dbeta.data(), whole);

  // Σx, Σx², count of each half, summed "over the processes".
  std::vector<float> sums(9, 0.0f), halfSums(9);
  for (size_t h = 0; h < 2; ++h) {
    ref::batchnormSums(x.data() + h * halfSize, halfSums.data(), half);
    for (size_t i = 0; i < sums.size(); ++i)
      sums[i] += halfSums[i];
  }
  EXPECT_EQ(sums[6], 40.0f); // the count: 8 items × 5 positions
  std::vector<float> gradSums(6, 0.0f), halfGradSums(6);
  for (size_t h = 0; h < 2; ++h) {
    SCOPED_TRACE("half " + std::to_string(h));
    std::vector<float> hy(halfSize), hmean(3), hinv(3), hdx(halfSize), hdg(3), hdb(3);
    std::vector<float> hrm = runningMean, hrv = runningVar;
    const float *hx = x.data() + h * halfSize;
    ref::batchnormTrainForward(hx, gamma.data(), beta.data(), hy.data(), hmean.data(),
                               hinv.data(), hrm.data(), hrv.data(), half, 1e-5f, 0.9f,
                               sums.data());
    for (size_t c = 0; c < 3; ++c) {
      EXPECT_NEAR(hmean[c], mean[c], 1e-5);
      EXPECT_NEAR(hinv[c], invStd[c], 1e-4 * invStd[c]);
      EXPECT_NEAR(hrm[c], wholeRunningMean[c], 1e-5);
      EXPECT_NEAR(hrv[c], wholeRunningVar[c], 1e-4);
    }
    for (size_t i = 0; i < halfSize; ++i)
      EXPECT_NEAR(hy[i], y[h * halfSize + i], 1e-4);
    // Gradient sums: every half computes them, their mean goes back.
    std::vector<float> both(6, 0.0f);
    for (size_t g = 0; g < 2; ++g) {
      ref::batchnormGradSums(x.data() + g * halfSize, gamma.data(), nullptr,
                             dy.data() + g * halfSize, mean.data(), invStd.data(),
                             halfGradSums.data(), half);
      for (size_t i = 0; i < 6; ++i)
        both[i] += 0.5f * halfGradSums[i];
    }
    ref::batchnormBackward(hx, gamma.data(), dy.data() + h * halfSize, mean.data(),
                           invStd.data(), hdx.data(), hdg.data(), hdb.data(), half,
                           both.data());
    for (size_t i = 0; i < halfSize; ++i)
      EXPECT_NEAR(hdx[i], dx[h * halfSize + i], 1e-5);
    for (size_t c = 0; c < 3; ++c) { // the mean over the processes
      EXPECT_NEAR(hdb[c], dbeta[c] / 2, 1e-5);
      EXPECT_NEAR(hdg[c], dgamma[c] / 2, 1e-5);
    }
  }

  // With the STE window (beta given), the sums are those of the windowed
  // gradient: equal to plain sums of dy zeroed outside |γ·x̂ + β| ≤ 1.
  std::vector<float> windowed(size);
  for (int64_t b = 0; b < whole.n; ++b)
    for (int64_t c = 0; c < whole.c; ++c)
      for (int64_t p = 0; p < whole.spatial; ++p) {
        size_t i = size_t((b * whole.c + c) * whole.spatial + p);
        float normalised = float(gamma[c] * ((double(x[i]) - mean[c]) * invStd[c]) + beta[c]);
        windowed[i] = std::fabs(normalised) <= 1.0f ? dy[i] : 0.0f;
      }
  std::vector<float> steSums(6), plainSums(6);
  ref::batchnormGradSums(x.data(), gamma.data(), beta.data(), dy.data(), mean.data(),
                         invStd.data(), steSums.data(), whole);
  ref::batchnormGradSums(x.data(), gamma.data(), nullptr, windowed.data(), mean.data(),
                         invStd.data(), plainSums.data(), whole);
  EXPECT_NE(std::count(windowed.begin(), windowed.end(), 0.0f), 0) << "the window cuts nothing";
  for (size_t i = 0; i < 6; ++i)
    EXPECT_NEAR(steSums[i], plainSums[i], 1e-5);
}

TEST(ReferencePooling, GradientsMatchFiniteDifferences) {
  for (int64_t pad : {0, 1}) {
    ref::PoolShape s{2, 2, 5, 5, 2, 2, pad};
    size_t in = size_t(s.n * s.c * s.h * s.w), out = size_t(s.n * s.c * s.outH() * s.outW());
    // Distinct values spaced more than the step, so no max changes hands.
    std::vector<float> x(in);
    for (size_t i = 0; i < in; ++i)
      x[i] = float((i * 37) % in) * 0.1f - 2.0f;
    std::vector<float> cotangent = randomVector(out, 20), y(out), dx(in);
    auto maxObjective = [&] {
      ref::maxpoolForward(x.data(), y.data(), s);
      return dot(y, cotangent);
    };
    ref::maxpoolBackward(x.data(), cotangent.data(), dx.data(), s);
    expectGradient(x, dx, maxObjective, "maxpool dx", 1e-3f);
    auto avgObjective = [&] {
      ref::avgpoolForward(x.data(), y.data(), s);
      return dot(y, cotangent);
    };
    ref::avgpoolBackward(cotangent.data(), dx.data(), s);
    expectGradient(x, dx, avgObjective, "avgpool dx", 1e-3f);
    // The same gradient through the winners written at the forward pass.
    std::vector<float> pooled(out), viaWinners(in);
    std::vector<int32_t> winners(out);
    ref::maxpoolWithWinners(x.data(), pooled.data(), winners.data(), s);
    ref::maxpoolBackwardFromWinners(winners.data(), cotangent.data(), viaWinners.data(), s);
    ref::maxpoolForward(x.data(), y.data(), s);
    EXPECT_EQ(pooled, y);
    ref::maxpoolBackward(x.data(), cotangent.data(), dx.data(), s);
    EXPECT_EQ(viaWinners, dx);
  }
}

TEST(ReferenceActivations, SignIsBinaryWithStraightThroughGradient) {
  std::vector<float> x{-2.0f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
  std::vector<float> y(7), dx(7), dy(7, 3.0f);
  ref::signForward(x.data(), y.data(), 7);
  EXPECT_EQ(y, (std::vector<float>{-1, -1, -1, 1, 1, 1, 1}));
  ref::signBackward(x.data(), dy.data(), dx.data(), 7);
  EXPECT_EQ(dx, (std::vector<float>{0, 3, 3, 3, 3, 3, 0}));
  ref::htanhForward(x.data(), y.data(), 7);
  EXPECT_EQ(y, (std::vector<float>{-1, -1, -0.5f, 0, 0.5f, 1, 1}));
  ref::reluBackward(x.data(), dy.data(), dx.data(), 7);
  EXPECT_EQ(dx, (std::vector<float>{0, 0, 0, 0, 3, 3, 3}));
}

TEST(ReferenceActivations, HTanhAndReluMatchFiniteDifferencesAwayFromKinks) {
  std::vector<float> x{-1.7f, -0.6f, 0.3f, 0.8f, 1.4f, -0.2f};
  std::vector<float> cotangent = randomVector(6, 21), y(6), dx(6);
  auto htanh = [&] {
    ref::htanhForward(x.data(), y.data(), 6);
    return dot(y, cotangent);
  };
  ref::htanhBackward(x.data(), cotangent.data(), dx.data(), 6);
  expectGradient(x, dx, htanh, "htanh", 1e-3f);
  auto relu = [&] {
    ref::reluForward(x.data(), y.data(), 6);
    return dot(y, cotangent);
  };
  ref::reluBackward(x.data(), cotangent.data(), dx.data(), 6);
  expectGradient(x, dx, relu, "relu", 1e-3f);
}

TEST(ReferenceLosses, GradientsMatchFiniteDifferences) {
  const int64_t n = 3, classes = 4;
  std::vector<float> logits = randomVector(n * classes, 22, -2, 2);
  std::vector<int32_t> labels{2, 0, 3};
  std::vector<float> grad(n * classes), scratch(n * classes);
  ref::crossEntropy(logits.data(), labels.data(), grad.data(), n, classes);
  expectGradient(logits, grad, [&] {
    return double(ref::crossEntropy(logits.data(), labels.data(), scratch.data(), n, classes));
  }, "cross_entropy", 1e-2f);
  ref::squaredHinge(logits.data(), labels.data(), grad.data(), n, classes);
  expectGradient(logits, grad, [&] {
    return double(ref::squaredHinge(logits.data(), labels.data(), scratch.data(), n, classes));
  }, "squared_hinge", 1e-3f);
  // Uniform logits: the cross-entropy is log(classes).
  std::vector<float> zeros(n * classes, 0.0f);
  EXPECT_NEAR(ref::crossEntropy(zeros.data(), labels.data(), grad.data(), n, classes),
              std::log(4.0), 1e-6);
}

TEST(ReferenceAdam, FirstStepMovesByTheLearningRateAndClips) {
  std::vector<float> param{0.5f, -0.9995f, 0.2f}, grad{0.1f, 3.0f, -1e-3f};
  std::vector<float> m(3, 0.0f), v(3, 0.0f);
  ref::adamStep(param.data(), grad.data(), m.data(), v.data(), 3, 1, 0.01f, {}, true);
  // After bias correction the first step is lr · g / (|g| + eps) ≈ lr · sign(g).
  EXPECT_NEAR(param[0], 0.49f, 1e-5);
  EXPECT_FLOAT_EQ(param[1], -1.0f); // -1.0095 clipped to the latent range
  EXPECT_NEAR(param[2], 0.21f, 1e-5);
  EXPECT_NEAR(m[0], 0.01f, 1e-7);
  EXPECT_NEAR(v[0], 1e-5f, 1e-9);
}

} // namespace
