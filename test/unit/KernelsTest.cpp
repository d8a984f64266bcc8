// The fast kernels of compiled models against the float reference.
#include "bnnrt/Kernels.h"

#include <gtest/gtest.h>

#include <random>

namespace ref = bnnrt::reference;
namespace kernels = bnnrt::kernels;

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

class DenseKernels : public ::testing::TestWithParam<std::tuple<bool, int64_t>> {};

TEST_P(DenseKernels, ForwardAndBackwardMatchReference) {
  auto [binary, k] = GetParam();
  const int64_t n = 5, u = 17;
  std::vector<float> x = randomVector(n * k, 3), w = randomVector(u * k, 4),
                     bias = randomVector(u, 5), dy = randomVector(n * u, 6);
  std::vector<float> y(n * u), yRef(n * u);
  kernels::dense(x.data(), w.data(), bias.data(), y.data(), n, k, u, binary);
  ref::denseForward(x.data(), w.data(), bias.data(), yRef.data(), n, k, u, binary);
  expectNear(y, yRef, 1e-4f);

  std::vector<float> dx(n * k), dw(u * k), dxRef(n * k), dwRef(u * k);
  kernels::denseGradInput(w.data(), dy.data(), dx.data(), n, k, u, binary);
  kernels::denseGradWeight(x.data(), w.data(), dy.data(), dw.data(), n, k, u, binary);
  ref::denseBackward(x.data(), w.data(), dy.data(), dxRef.data(), dwRef.data(),
                     nullptr, n, k, u, binary);
  expectNear(dx, dxRef, 1e-4f);
  expectNear(dw, dwRef, 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(RealAndBinary, DenseKernels,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Values(1, 64, 100, 784)));

TEST(ConvKernels, MatchReference) {
  ref::ConvShape s{2, 3, 6, 5, 4, 3, 3, 1, 1};
  std::vector<float> x = randomVector(s.n * s.c * s.h * s.w, 9),
                     w = randomVector(s.o * s.c * s.kh * s.kw, 10),
                     dy = randomVector(s.n * s.o * s.outH() * s.outW(), 11);
  std::vector<float> dx(x.size()), dw(w.size()), dxRef(x.size()), dwRef(w.size());
  kernels::conv2dGradInput(w.data(), dy.data(), dx.data(), s, true);
  kernels::conv2dGradWeight(x.data(), w.data(), dy.data(), dw.data(), s, true);
  ref::conv2dBackward(x.data(), w.data(), dy.data(), dxRef.data(), dwRef.data(),
                      nullptr, s, true);
  expectNear(dx, dxRef, 1e-5f);
  expectNear(dw, dwRef, 1e-5f);
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
    ref::denseForward(signs.data(), w.data(), nullptr, yRef.data(), n, k, u, true);
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
