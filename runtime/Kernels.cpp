#include "bnnrt/Kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace bnnrt::kernels {

namespace {

/// q(w) of [rows, cols] weights (reference::quantizeWeights: rows are units).
std::vector<float> quantized(const float *w, int64_t rows, int64_t cols,
                             WeightQuantization quantization) {
  std::vector<float> q(size_t(rows * cols));
  reference::quantizeWeights(w, q.data(), rows, cols, quantization);
  return q;
}

std::vector<float> quantizedTranspose(const float *w, int64_t rows,
                                      int64_t cols,
                                      WeightQuantization quantization) {
  std::vector<float> q = quantized(w, rows, cols, quantization);
  std::vector<float> t(q.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[c * rows + r] = q[r * cols + c];
  return t;
}

} // namespace

namespace {

// A register-blocked micro-kernel: a 4 × 64 block of C stays in sixteen
// 16-float vector registers while k runs, so every load of B feeds four
// multiply-adds. GCC's vector extensions keep it free of intrinsics; on a
// machine without AVX-512 each vector splits into narrower ones.
typedef float Vec16 __attribute__((vector_size(64)));
constexpr int64_t kRows = 4, kCols = 64, kVecs = kCols / 16;

inline Vec16 load(const float *p) {
  Vec16 v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
inline void store(float *p, Vec16 v) { __builtin_memcpy(p, &v, sizeof(v)); }

void microKernel(const float *a, const float *b, float *c, int64_t n,
                 int64_t k) {
  Vec16 acc[kRows][kVecs] = {};
  for (int64_t p = 0; p < k; ++p) {
    const float *brow = b + p * n;
    Vec16 bv[kVecs];
    for (int64_t v = 0; v < kVecs; ++v)
      bv[v] = load(brow + 16 * v);
    for (int64_t r = 0; r < kRows; ++r) {
      float scale = a[r * k + p];
      for (int64_t v = 0; v < kVecs; ++v)
        acc[r][v] += scale * bv[v];
    }
  }
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t v = 0; v < kVecs; ++v)
      store(c + r * n + 16 * v, acc[r][v]);
}

/// The edges the micro-kernel does not cover, one element at a time.
void edgeBlock(const float *a, const float *b, float *c, int64_t rows,
               int64_t col0, int64_t col1, int64_t n, int64_t k) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = col0; j < col1; ++j) {
      float sum = 0.0f;
      for (int64_t p = 0; p < k; ++p)
        sum += a[r * k + p] * b[p * n + j];
      c[r * n + j] = sum;
    }
}

} // namespace

void gemm(const float *a, const float *b, float *c, int64_t m, int64_t n,
          int64_t k) {
  int64_t fullCols = n - n % kCols;
  int64_t rowBlocks = (m + kRows - 1) / kRows;
#pragma omp parallel for schedule(static)
  for (int64_t block = 0; block < rowBlocks; ++block) {
    int64_t i = block * kRows, rows = std::min(kRows, m - i);
    const float *ai = a + i * k;
    float *ci = c + i * n;
    if (rows == kRows)
      for (int64_t j = 0; j < fullCols; j += kCols)
        microKernel(ai, b + j, ci + j, n, k);
    else
      edgeBlock(ai, b, ci, rows, 0, fullCols, n, k);
    edgeBlock(ai, b, ci, rows, fullCols, n, n, k);
  }
}

void dense(const float *x, const float *w, const float *bias, float *y,
           int64_t n, int64_t k, int64_t u, WeightQuantization quantization) {
  std::vector<float> wt = quantizedTranspose(w, u, k, quantization);
  gemm(x, wt.data(), y, n, u, k);
  if (bias)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < u; ++j)
        y[r * u + j] += bias[j];
}

void denseGradInput(const float *w, const float *dy, float *dx, int64_t n,
                    int64_t k, int64_t u, WeightQuantization quantization) {
  if (quantization == WeightQuantization::Real) {
    gemm(dy, w, dx, n, k, u);
    return;
  }
  std::vector<float> q = quantized(w, u, k, quantization);
  gemm(dy, q.data(), dx, n, k, u);
}

void denseGradWeight(const float *x, const float *w, const float *dy,
                     float *dw, int64_t n, int64_t k, int64_t u,
                     WeightQuantization quantization) {
  std::vector<float> dyT(size_t(u * n));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < u; ++j)
      dyT[j * n + r] = dy[r * u + j];
  gemm(dyT.data(), x, dw, u, k, n);
  switch (quantization) {
  case WeightQuantization::Real:
    break;
  case WeightQuantization::Binary:
    for (int64_t i = 0; i < u * k; ++i)
      if (w[i] > 1.0f || w[i] < -1.0f)
        dw[i] = 0.0f; // the STE window of the weight quantiser
    break;
  case WeightQuantization::BinaryScaled:
    // O(u·k) next to the GEMM's O(n·u·k): the reference's loops will do.
    reference::quantizeWeightsBackward(w, dw, u, k, quantization);
    break;
  }
}

void biasGrad(const float *dy, float *db, int64_t n, int64_t channels,
              int64_t spatial) {
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0.0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t p = 0; p < spatial; ++p)
        sum += dy[(b * channels + c) * spatial + p];
    db[c] = float(sum);
  }
}

// Convolutions use the reference loops for now: correct, and fast enough
// for small models; the Halide conv kernels replace them.
void conv2d(const float *x, const float *w, const float *bias, float *y,
            const ConvShape &shape, WeightQuantization quantization) {
  reference::conv2dForward(x, w, bias, y, shape, quantization);
}

void conv2dGradInput(const float *w, const float *dy, float *dx,
                     const ConvShape &shape, WeightQuantization quantization) {
  std::vector<float> dw(size_t(shape.o * shape.c * shape.kh * shape.kw));
  std::vector<float> x(size_t(shape.n * shape.c * shape.h * shape.w), 0.0f);
  reference::conv2dBackward(x.data(), w, dy, dx, dw.data(), nullptr, shape,
                            quantization);
}

void conv2dGradWeight(const float *x, const float *w, const float *dy,
                      float *dw, const ConvShape &shape,
                      WeightQuantization quantization) {
  std::vector<float> dx(size_t(shape.n * shape.c * shape.h * shape.w));
  reference::conv2dBackward(x, w, dy, dx.data(), dw, nullptr, shape,
                            quantization);
}

void adamStep(float *param, const float *grad, float *m, float *v,
              int64_t size, int64_t step, float lr,
              const reference::AdamState &adam, bool clip) {
  const float correction1 = float(1.0 - std::pow(double(adam.beta1), double(step)));
  const float correction2 = float(1.0 - std::pow(double(adam.beta2), double(step)));
  const float b1 = adam.beta1, b2 = adam.beta2, eps = adam.epsilon;
  const float low = clip ? -1.0f : -INFINITY, high = clip ? 1.0f : INFINITY;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < size; ++i) {
    float g = grad[i];
    float mi = b1 * m[i] + (1.0f - b1) * g;
    float vi = b2 * v[i] + (1.0f - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float updated = param[i] - lr * (mi / correction1) /
                                   (std::sqrt(vi / correction2) + eps);
    param[i] = std::min(high, std::max(low, updated));
  }
}

void packSigns(const float *x, uint64_t *packed, int64_t rows, int64_t length) {
  int64_t words = (length + 63) / 64;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * length;
    for (int64_t word = 0; word < words; ++word) {
      uint64_t bits = 0;
      int64_t end = std::min<int64_t>(64, length - 64 * word);
      for (int64_t i = 0; i < end; ++i)
        bits |= uint64_t(row[64 * word + i] < 0.0f) << i;
      packed[r * words + word] = bits;
    }
  }
}

void xnorDense(const uint64_t *a, const uint64_t *w, float *y, int64_t n,
               int64_t units, int64_t words, int64_t length) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r)
    for (int64_t u = 0; u < units; ++u) {
      const uint64_t *x = a + r * words, *v = w + u * words;
      int64_t differing = 0;
      for (int64_t word = 0; word < words; ++word)
        differing += __builtin_popcountll(x[word] ^ v[word]);
      y[r * units + u] = float(length - 2 * differing);
    }
}

void packChannels(const float *x, uint64_t *packed, int64_t items, int64_t channels,
                  int64_t spatial) {
  int64_t words = (channels + 63) / 64;
#pragma omp parallel for schedule(static)
  for (int64_t item = 0; item < items; ++item)
    for (int64_t p = 0; p < spatial; ++p) {
      uint64_t *out = packed + (item * spatial + p) * words;
      std::fill(out, out + words, uint64_t(0));
      for (int64_t c = 0; c < channels; ++c)
        out[c / 64] |= uint64_t(x[(item * channels + c) * spatial + p] < 0.0f) << (c % 64);
    }
}

void xnorConv2d(const uint64_t *x, const uint64_t *w, float *y, const ConvShape &s) {
  int64_t words = (s.c + 63) / 64, outH = s.outH(), outW = s.outW();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t o = 0; o < s.o; ++o)
      for (int64_t oy = 0; oy < outH; ++oy)
        for (int64_t ox = 0; ox < outW; ++ox) {
          int64_t total = 0;
          for (int64_t i = 0; i < s.kh; ++i)
            for (int64_t j = 0; j < s.kw; ++j) {
              int64_t iy = oy * s.stride - s.pad + i, ix = ox * s.stride - s.pad + j;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w)
                continue; // zero padding: the tap adds nothing
              const uint64_t *a = x + ((b * s.h + iy) * s.w + ix) * words;
              const uint64_t *v = w + ((o * s.kh + i) * s.kw + j) * words;
              int64_t differing = 0;
              for (int64_t word = 0; word < words; ++word)
                differing += __builtin_popcountll(a[word] ^ v[word]);
              total += s.c - 2 * differing;
            }
          y[((b * s.o + o) * outH + oy) * outW + ox] = float(total);
        }
}

namespace {
int64_t channelIndex(const BatchNormShape &s, int64_t b, int64_t c, int64_t p) {
  return (b * s.c + c) * s.spatial + p;
}
} // namespace

void batchnormSign(const float *x, const float *gamma, const float *beta,
                   const float *runningMean, const float *runningVar, float *y,
                   const BatchNormShape &s, float epsilon) {
  for (int64_t c = 0; c < s.c; ++c) {
    float sigma = std::sqrt(runningVar[c] + epsilon);
    // γ(x − μ)/σ + β ≥ 0  ⇔  x ≥ τ (γ > 0) or x ≤ τ (γ < 0), τ = μ − βσ/γ.
    float threshold = gamma[c] != 0.0f ? runningMean[c] - beta[c] * sigma / gamma[c] : 0.0f;
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t p = 0; p < s.spatial; ++p) {
        int64_t i = channelIndex(s, b, c, p);
        bool positive = gamma[c] > 0.0f   ? x[i] >= threshold
                        : gamma[c] < 0.0f ? x[i] <= threshold
                                          : beta[c] >= 0.0f;
        y[i] = positive ? 1.0f : -1.0f;
      }
  }
}

void batchnormSignTrain(const float *x, const float *gamma, const float *beta,
                        float *y, float *mean, float *invStd,
                        float *runningMean, float *runningVar,
                        const BatchNormShape &s, float epsilon,
                        float momentum, const float *batchSums) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < s.c; ++c) {
    reference::ChannelStatistics stats = reference::channelStatistics(x, s, c, batchSums);
    double mu = stats.mean, squares = stats.squares, count = stats.count;
    double variance = squares / count;
    double inv = 1.0 / std::sqrt(variance + epsilon);
    mean[c] = float(mu);
    invStd[c] = float(inv);
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t p = 0; p < s.spatial; ++p) {
        int64_t i = channelIndex(s, b, c, p);
        float normalised = float(gamma[c] * (x[i] - mu) * inv + beta[c]);
        y[i] = reference::sign(normalised);
      }
    double unbiased = count > 1 ? squares / (count - 1) : variance;
    runningMean[c] = float(momentum * runningMean[c] + (1 - momentum) * mu);
    runningVar[c] = float(momentum * runningVar[c] + (1 - momentum) * unbiased);
  }
}

void batchnormSteGrad(const float *x, const float *gamma, const float *beta,
                      const float *dy, const float *mean, const float *invStd,
                      float *dx, float *dgamma, float *dbeta,
                      const BatchNormShape &s, const float *gradSums) {
  int64_t count = s.n * s.spatial;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < s.c; ++c) {
    auto windowed = [&](int64_t i, double xhat) {
      float normalised = float(gamma[c] * xhat + beta[c]);
      return std::fabs(normalised) <= 1.0f ? double(dy[i]) : 0.0;
    };
    double sumDy = 0.0, sumDyXhat = 0.0;
    if (gradSums) {
      sumDy = gradSums[c];
      sumDyXhat = gradSums[s.c + c];
    }
    for (int64_t b = 0; b < s.n && !gradSums; ++b)
      for (int64_t p = 0; p < s.spatial; ++p) {
        int64_t i = channelIndex(s, b, c, p);
        double xhat = (double(x[i]) - mean[c]) * invStd[c];
        double g = windowed(i, xhat);
        sumDy += g;
        sumDyXhat += g * xhat;
      }
    dbeta[c] = float(sumDy);
    dgamma[c] = float(sumDyXhat);
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t p = 0; p < s.spatial; ++p) {
        int64_t i = channelIndex(s, b, c, p);
        double xhat = (double(x[i]) - mean[c]) * invStd[c];
        double g = windowed(i, xhat);
        dx[i] = float(gamma[c] * invStd[c] / double(count) *
                      (double(count) * g - sumDy - xhat * sumDyXhat));
      }
  }
}

float mean(const float *values, int64_t size) {
  double sum = 0.0;
  for (int64_t i = 0; i < size; ++i)
    sum += values[i];
  return float(sum / double(size));
}

void elementwiseAdd(const float *a, const float *b, float *y, int64_t size) {
  for (int64_t i = 0; i < size; ++i)
    y[i] = a[i] + b[i];
}

void copy(const float *x, float *y, int64_t size) {
  if (x != y)
    std::memcpy(y, x, size_t(size) * sizeof(float));
}

void xnorConv2dMaxPool(const uint64_t *x, const uint64_t *w, float *y, int32_t *winners,
                       const ConvShape &s, int64_t pool) {
  std::vector<float> product(size_t(s.n * s.o * s.outH() * s.outW()));
  xnorConv2d(x, w, product.data(), s);
  reference::maxpoolWithWinners(product.data(), y, winners,
                                {s.n, s.o, s.outH(), s.outW(), pool, pool, 0});
}

void xnorConv2dSign(const uint64_t *x, const uint64_t *w, const float *gamma, const float *beta,
                    const float *runningMean, const float *runningVar, float *y,
                    const ConvShape &s, float epsilon, int64_t pool) {
  std::vector<float> product(size_t(s.n * s.o * s.outH() * s.outW()));
  xnorConv2d(x, w, product.data(), s);
  reference::PoolShape window{s.n, s.o, s.outH(), s.outW(), pool, pool, 0};
  std::vector<float> pooled(size_t(s.n * s.o * window.outH() * window.outW()));
  reference::maxpoolForward(product.data(), pooled.data(), window);
  batchnormSign(pooled.data(), gamma, beta, runningMean, runningVar, y,
                {s.n, s.o, window.outH() * window.outW()}, epsilon);
}

void conv2dSign(const float *x, const float *w, const float *gamma, const float *beta,
                const float *runningMean, const float *runningVar, float *y,
                const ConvShape &s, WeightQuantization quantization, float epsilon) {
  std::vector<float> product(size_t(s.n * s.o * s.outH() * s.outW()));
  conv2d(x, w, nullptr, product.data(), s, quantization);
  batchnormSign(product.data(), gamma, beta, runningMean, runningVar, y,
                {s.n, s.o, s.outH() * s.outW()}, epsilon);
}

void conv2dSignPacked(const float *x, const float *w, const float *gamma, const float *beta,
                      const float *runningMean, const float *runningVar, uint64_t *y,
                      const ConvShape &s, WeightQuantization quantization, float epsilon) {
  std::vector<float> signs(size_t(s.n * s.o * s.outH() * s.outW()));
  conv2dSign(x, w, gamma, beta, runningMean, runningVar, signs.data(), s, quantization, epsilon);
  packChannels(signs.data(), y, s.n, s.o, s.outH() * s.outW());
}

void xnorDenseBatchNormSignPacked(const uint64_t *a, const uint64_t *w, const float *gamma,
                                  const float *beta, const float *runningMean,
                                  const float *runningVar, uint64_t *y, int64_t n,
                                  int64_t units, int64_t words, int64_t length, float epsilon) {
  std::vector<float> product(size_t(n * units)), signs(product.size());
  xnorDense(a, w, product.data(), n, units, words, length);
  batchnormSign(product.data(), gamma, beta, runningMean, runningVar, signs.data(),
                {n, units, 1}, epsilon);
  packSigns(signs.data(), y, n, units);
}

void xnorConv2dSignPacked(const uint64_t *x, const uint64_t *w, const float *gamma,
                          const float *beta, const float *runningMean,
                          const float *runningVar, uint64_t *y, const ConvShape &s,
                          float epsilon, int64_t pool) {
  int64_t spatial = (s.outH() / pool) * (s.outW() / pool);
  std::vector<float> signs(size_t(s.n * s.o * spatial));
  xnorConv2dSign(x, w, gamma, beta, runningMean, runningVar, signs.data(), s, epsilon, pool);
  packChannels(signs.data(), y, s.n, s.o, spatial);
}

//===--- packed signs in and out ------------------------------------------===//

void unpackChannels(const uint64_t *packed, float *x, int64_t items, int64_t channels,
                    int64_t spatial) {
  int64_t words = (channels + 63) / 64;
  for (int64_t item = 0; item < items; ++item)
    for (int64_t p = 0; p < spatial; ++p) {
      const uint64_t *in = packed + (item * spatial + p) * words;
      for (int64_t c = 0; c < channels; ++c)
        x[(item * channels + c) * spatial + p] = (in[c / 64] >> (c % 64)) & 1 ? -1.0f : 1.0f;
    }
}

void flattenSigns(const uint64_t *x, uint64_t *y, const ConvShape &s) {
  int64_t spatial = s.h * s.w, words = (s.c + 63) / 64;
  int64_t flatWords = (s.c * spatial + 63) / 64;
  std::fill(y, y + s.n * flatWords, uint64_t(0));
  for (int64_t item = 0; item < s.n; ++item)
    for (int64_t p = 0; p < spatial; ++p)
      for (int64_t c = 0; c < s.c; ++c) {
        uint64_t bit = (x[(item * spatial + p) * words + c / 64] >> (c % 64)) & 1;
        int64_t element = c * spatial + p;
        y[item * flatWords + element / 64] |= bit << (element % 64);
      }
}

void denseGradWeightPacked(const uint64_t *x, const float *w, const float *dy, float *dw,
                           int64_t n, int64_t k, int64_t u, WeightQuantization quantization) {
  std::vector<float> input(size_t(n * k));
  unpackChannels(x, input.data(), n, k, 1);
  denseGradWeight(input.data(), w, dy, dw, n, k, u, quantization);
}

void conv2dGradWeightPacked(const uint64_t *x, const float *w, const float *dy, float *dw,
                            const ConvShape &s, WeightQuantization quantization) {
  std::vector<float> input(size_t(s.n * s.c * s.h * s.w));
  unpackChannels(x, input.data(), s.n, s.c, s.h * s.w);
  conv2dGradWeight(input.data(), w, dy, dw, s, quantization);
}

void batchnormSignPacked(const float *x, const float *gamma, const float *beta,
                         const float *runningMean, const float *runningVar, uint64_t *y,
                         const BatchNormShape &s, float epsilon) {
  std::vector<float> signs(size_t(s.n * s.c * s.spatial));
  batchnormSign(x, gamma, beta, runningMean, runningVar, signs.data(), s, epsilon);
  packChannels(signs.data(), y, s.n, s.c, s.spatial);
}

void batchnormSignTrainPacked(const float *x, const float *gamma, const float *beta,
                              uint64_t *y, float *mean, float *invStd, float *runningMean,
                              float *runningVar, const BatchNormShape &s, float epsilon,
                              float momentum, const float *batchSums) {
  std::vector<float> signs(size_t(s.n * s.c * s.spatial));
  batchnormSignTrain(x, gamma, beta, signs.data(), mean, invStd, runningMean, runningVar, s,
                     epsilon, momentum, batchSums);
  packChannels(signs.data(), y, s.n, s.c, s.spatial);
}

} // namespace bnnrt::kernels
