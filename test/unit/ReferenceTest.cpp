// The reference ops against finite differences (real-valued ops) and
// against independently written formulas (binary ops and the STE).
#include "bnnrt/Reference.h"

#include <gtest/gtest.h>

#include <bitset>
#include <cmath>
#include <functional>
#include <random>

namespace ref = bnnrt::reference;

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
    ref::denseForward(x.data(), w.data(), b.data(), y.data(), n, k, u, false);
    return dot(y, cotangent);
  };
  ref::denseBackward(x.data(), w.data(), cotangent.data(), dx.data(), dw.data(),
                     db.data(), n, k, u, false);
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
  ref::denseForward(x.data(), w.data(), nullptr, y.data(), n, k, u, true);
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
                     nullptr, n, k, u, true);
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
    ref::conv2dForward(x.data(), w.data(), b.data(), y.data(), s, false);
    return dot(y, cotangent);
  };
  ref::conv2dBackward(x.data(), w.data(), cotangent.data(), dx.data(), dw.data(),
                      db.data(), s, false);
  expectGradient(x, dx, objective, "dx");
  expectGradient(w, dw, objective, "dw");
  expectGradient(b, db, objective, "db");
}

TEST(ReferenceConv2D, OneByOneConvolutionIsADensePerPixel) {
  ref::ConvShape s{1, 4, 2, 2, 3, 1, 1, 1, 0};
  std::vector<float> x = randomVector(16, 14), w = randomVector(12, 15);
  std::vector<float> y(12);
  ref::conv2dForward(x.data(), w.data(), nullptr, y.data(), s, true);
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t p = 0; p < 4; ++p) {
      float expected = 0.0f;
      for (int64_t c = 0; c < 4; ++c)
        expected += x[c * 4 + p] * ref::sign(w[o * 4 + c]);
      EXPECT_NEAR(y[o * 4 + p], expected, 1e-6);
    }
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
