#include "bnnrt/Reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace bnnrt::reference {

//===--- weight quantisation ----------------------------------------------===//

namespace {
/// The straight-through estimator of sign: the gradient passes where |w| <= 1.
float steWindow(float w) { return std::fabs(w) <= 1.0f ? 1.0f : 0.0f; }

/// α of one unit: the mean |w| of its weights.
double meanAbs(const float *w, int64_t size) {
  double sum = 0.0;
  for (int64_t i = 0; i < size; ++i)
    sum += std::fabs(w[i]);
  return sum / double(size);
}

std::vector<float> quantized(const float *w, int64_t units, int64_t fanIn,
                             WeightQuantization quantization) {
  std::vector<float> q(size_t(units * fanIn));
  quantizeWeights(w, q.data(), units, fanIn, quantization);
  return q;
}
} // namespace

void quantizeWeights(const float *w, float *q, int64_t units, int64_t fanIn,
                     WeightQuantization quantization) {
  for (int64_t unit = 0; unit < units; ++unit) {
    const float *row = w + unit * fanIn;
    float scale = quantization == WeightQuantization::BinaryScaled
                      ? float(meanAbs(row, fanIn))
                      : 1.0f;
    for (int64_t i = 0; i < fanIn; ++i)
      q[unit * fanIn + i] = quantization == WeightQuantization::Real
                                ? row[i]
                                : scale * sign(row[i]);
  }
}

void quantizeWeightsBackward(const float *w, float *g, int64_t units,
                             int64_t fanIn, WeightQuantization quantization) {
  if (quantization == WeightQuantization::Real)
    return;
  bool scaled = quantization == WeightQuantization::BinaryScaled;
  for (int64_t unit = 0; unit < units; ++unit) {
    const float *row = w + unit * fanIn;
    float *grad = g + unit * fanIn;
    if (!scaled) {
      for (int64_t i = 0; i < fanIn; ++i)
        grad[i] *= steWindow(row[i]);
      continue;
    }
    // Every weight of the unit moves α = mean |w|: d α / d w[i] = s[i] / n.
    double throughScale = 0.0;
    for (int64_t i = 0; i < fanIn; ++i)
      throughScale += double(grad[i]) * sign(row[i]);
    throughScale /= double(fanIn);
    double alpha = meanAbs(row, fanIn);
    for (int64_t i = 0; i < fanIn; ++i)
      grad[i] = float(sign(row[i]) * throughScale +
                      alpha * steWindow(row[i]) * grad[i]);
  }
}

//===--- dense ------------------------------------------------------------===//

void denseForward(const float *x, const float *w, const float *bias, float *y,
                  int64_t n, int64_t k, int64_t u,
                  WeightQuantization quantization) {
  std::vector<float> q = quantized(w, u, k, quantization);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t unit = 0; unit < u; ++unit) {
      double sum = bias ? bias[unit] : 0.0;
      for (int64_t i = 0; i < k; ++i)
        sum += double(x[row * k + i]) * q[size_t(unit * k + i)];
      y[row * u + unit] = float(sum);
    }
}

void denseBackward(const float *x, const float *w, const float *dy, float *dx,
                   float *dw, float *dbias, int64_t n, int64_t k, int64_t u,
                   WeightQuantization quantization) {
  std::vector<float> q = quantized(w, u, k, quantization);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t i = 0; i < k; ++i) {
      double sum = 0.0;
      for (int64_t unit = 0; unit < u; ++unit)
        sum += double(dy[row * u + unit]) * q[size_t(unit * k + i)];
      dx[row * k + i] = float(sum);
    }
  for (int64_t unit = 0; unit < u; ++unit)
    for (int64_t i = 0; i < k; ++i) {
      double sum = 0.0;
      for (int64_t row = 0; row < n; ++row)
        sum += double(dy[row * u + unit]) * x[row * k + i];
      dw[unit * k + i] = float(sum);
    }
  quantizeWeightsBackward(w, dw, u, k, quantization);
  if (dbias)
    for (int64_t unit = 0; unit < u; ++unit) {
      double sum = 0.0;
      for (int64_t row = 0; row < n; ++row)
        sum += dy[row * u + unit];
      dbias[unit] = float(sum);
    }
}

//===--- conv2d -----------------------------------------------------------===//

namespace {
/// Visits every (output position, weight tap) pair that reads a real
/// (unpadded) input element, so forward and backward share one traversal.
template <typename Visit>
void forEachTap(const ConvShape &s, Visit visit) {
  int64_t oh = s.outH(), ow = s.outW();
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t o = 0; o < s.o; ++o)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t x = 0; x < ow; ++x)
          for (int64_t c = 0; c < s.c; ++c)
            for (int64_t i = 0; i < s.kh; ++i)
              for (int64_t j = 0; j < s.kw; ++j) {
                int64_t iy = y * s.stride - s.pad + i;
                int64_t ix = x * s.stride - s.pad + j;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w)
                  continue;
                int64_t out = ((b * s.o + o) * oh + y) * ow + x;
                int64_t in = ((b * s.c + c) * s.h + iy) * s.w + ix;
                int64_t tap = ((o * s.c + c) * s.kh + i) * s.kw + j;
                visit(out, in, tap);
              }
}
} // namespace

void conv2dForward(const float *x, const float *w, const float *bias, float *y,
                   const ConvShape &s, WeightQuantization quantization) {
  std::vector<float> q = quantized(w, s.o, s.c * s.kh * s.kw, quantization);
  int64_t plane = s.outH() * s.outW();
  std::vector<double> sums(size_t(s.n * s.o * plane), 0.0);
  forEachTap(s, [&](int64_t out, int64_t in, int64_t tap) {
    sums[out] += double(x[in]) * q[size_t(tap)];
  });
  for (int64_t i = 0; i < int64_t(sums.size()); ++i)
    y[i] = float(sums[i] + (bias ? bias[(i / plane) % s.o] : 0.0f));
}

void conv2dBackward(const float *x, const float *w, const float *dy, float *dx,
                    float *dw, float *dbias, const ConvShape &s,
                    WeightQuantization quantization) {
  int64_t fanIn = s.c * s.kh * s.kw;
  std::vector<float> q = quantized(w, s.o, fanIn, quantization);
  std::vector<double> dxSum(size_t(s.n * s.c * s.h * s.w), 0.0);
  std::vector<double> dwSum(size_t(s.o * fanIn), 0.0);
  forEachTap(s, [&](int64_t out, int64_t in, int64_t tap) {
    dxSum[in] += double(dy[out]) * q[size_t(tap)];
    dwSum[tap] += double(dy[out]) * x[in];
  });
  for (size_t i = 0; i < dxSum.size(); ++i)
    dx[i] = float(dxSum[i]);
  for (size_t i = 0; i < dwSum.size(); ++i)
    dw[i] = float(dwSum[i]);
  quantizeWeightsBackward(w, dw, s.o, fanIn, quantization);
  if (dbias) {
    int64_t plane = s.outH() * s.outW();
    for (int64_t o = 0; o < s.o; ++o) {
      double sum = 0.0;
      for (int64_t b = 0; b < s.n; ++b)
        for (int64_t p = 0; p < plane; ++p)
          sum += dy[(b * s.o + o) * plane + p];
      dbias[o] = float(sum);
    }
  }
}

//===--- batchnorm --------------------------------------------------------===//

namespace {
int64_t bnIndex(const BatchNormShape &s, int64_t b, int64_t c, int64_t p) {
  return (b * s.c + c) * s.spatial + p;
}
} // namespace

ChannelStatistics channelStatistics(const float *x, const BatchNormShape &s, int64_t c,
                                    const float *batchSums) {
  if (batchSums) {
    double count = batchSums[2 * s.c + c];
    double mean = batchSums[c] / count;
    return {mean, std::max(double(batchSums[s.c + c]) - mean * mean * count, 0.0), count};
  }
  double count = double(s.n * s.spatial), sum = 0.0;
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t p = 0; p < s.spatial; ++p)
      sum += x[bnIndex(s, b, c, p)];
  double mean = sum / count, squares = 0.0;
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t p = 0; p < s.spatial; ++p) {
      double d = x[bnIndex(s, b, c, p)] - mean;
      squares += d * d;
    }
  return {mean, squares, count};
}

void batchnormTrainForward(const float *x, const float *gamma,
                           const float *beta, float *y, float *savedMean,
                           float *savedInvStd, float *runningMean,
                           float *runningVar, const BatchNormShape &s,
                           float epsilon, float momentum, const float *batchSums) {
  for (int64_t c = 0; c < s.c; ++c) {
    ChannelStatistics stats = channelStatistics(x, s, c, batchSums);
    double mean = stats.mean, count = stats.count;
    double variance = stats.squares / count;
    double invStd = 1.0 / std::sqrt(variance + epsilon);
    savedMean[c] = float(mean);
    savedInvStd[c] = float(invStd);
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t p = 0; p < s.spatial; ++p) {
        int64_t i = bnIndex(s, b, c, p);
        y[i] = float(gamma[c] * (x[i] - mean) * invStd + beta[c]);
      }
    double unbiased = count > 1 ? stats.squares / (count - 1) : variance;
    runningMean[c] = float(momentum * runningMean[c] + (1 - momentum) * mean);
    runningVar[c] = float(momentum * runningVar[c] + (1 - momentum) * unbiased);
  }
}

void batchnormSums(const float *x, float *sums, const BatchNormShape &s) {
  for (int64_t c = 0; c < s.c; ++c) {
    double sum = 0.0, squares = 0.0;
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t p = 0; p < s.spatial; ++p) {
        double v = x[bnIndex(s, b, c, p)];
        sum += v;
        squares += v * v;
      }
    sums[c] = float(sum);
    sums[s.c + c] = float(squares);
    sums[2 * s.c + c] = float(s.n * s.spatial);
  }
}

void batchnormGradSums(const float *x, const float *gamma, const float *beta,
                       const float *dy, const float *savedMean, const float *savedInvStd,
                       float *sums, const BatchNormShape &s) {
  for (int64_t c = 0; c < s.c; ++c) {
    double sumDy = 0.0, sumDyXhat = 0.0;
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t p = 0; p < s.spatial; ++p) {
        int64_t i = bnIndex(s, b, c, p);
        double xhat = (double(x[i]) - savedMean[c]) * savedInvStd[c];
        double g = dy[i];
        if (beta && std::fabs(float(gamma[c] * xhat + beta[c])) > 1.0f)
          g = 0.0; // outside the STE window
        sumDy += g;
        sumDyXhat += g * xhat;
      }
    sums[c] = float(sumDy);
    sums[s.c + c] = float(sumDyXhat);
  }
}

void batchnormEvalForward(const float *x, const float *gamma, const float *beta,
                          const float *runningMean, const float *runningVar,
                          float *y, const BatchNormShape &s, float epsilon) {
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t c = 0; c < s.c; ++c) {
      double invStd = 1.0 / std::sqrt(double(runningVar[c]) + epsilon);
      for (int64_t p = 0; p < s.spatial; ++p) {
        int64_t i = bnIndex(s, b, c, p);
        y[i] = float(gamma[c] * (x[i] - runningMean[c]) * invStd + beta[c]);
      }
    }
}

void batchnormBackward(const float *x, const float *gamma, const float *dy,
                       const float *savedMean, const float *savedInvStd,
                       float *dx, float *dgamma, float *dbeta,
                       const BatchNormShape &s, const float *gradSums) {
  int64_t count = s.n * s.spatial;
  for (int64_t c = 0; c < s.c; ++c) {
    double sumDy = 0.0, sumDyXhat = 0.0;
    if (gradSums) {
      sumDy = gradSums[c];
      sumDyXhat = gradSums[s.c + c];
    } else {
      for (int64_t b = 0; b < s.n; ++b)
        for (int64_t p = 0; p < s.spatial; ++p) {
          int64_t i = bnIndex(s, b, c, p);
          double xhat = (x[i] - savedMean[c]) * savedInvStd[c];
          sumDy += dy[i];
          sumDyXhat += dy[i] * xhat;
        }
    }
    dbeta[c] = float(sumDy);
    dgamma[c] = float(sumDyXhat);
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t p = 0; p < s.spatial; ++p) {
        int64_t i = bnIndex(s, b, c, p);
        double xhat = (x[i] - savedMean[c]) * savedInvStd[c];
        dx[i] = float(gamma[c] * savedInvStd[c] / count *
                      (count * dy[i] - sumDy - xhat * sumDyXhat));
      }
  }
}

//===--- pooling ----------------------------------------------------------===//

namespace {
/// Calls visit(outIndex, inIndex or -1 for padding) for each window tap.
template <typename Visit>
void forEachWindow(const PoolShape &s, Visit visit) {
  int64_t oh = s.outH(), ow = s.outW();
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t x = 0; x < ow; ++x) {
          int64_t out = ((b * s.c + c) * oh + y) * ow + x;
          for (int64_t i = 0; i < s.kernel; ++i)
            for (int64_t j = 0; j < s.kernel; ++j) {
              int64_t iy = y * s.stride - s.pad + i;
              int64_t ix = x * s.stride - s.pad + j;
              bool inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
              visit(out, inside ? ((b * s.c + c) * s.h + iy) * s.w + ix : -1);
            }
        }
}

/// The input index that wins each max window.
std::vector<int64_t> argmaxes(const float *x, const PoolShape &s) {
  std::vector<int64_t> winner(size_t(s.n * s.c * s.outH() * s.outW()), -1);
  forEachWindow(s, [&](int64_t out, int64_t in) {
    if (in >= 0 && (winner[out] < 0 || x[in] > x[winner[out]]))
      winner[out] = in;
  });
  return winner;
}
} // namespace

void maxpoolForward(const float *x, float *y, const PoolShape &s) {
  std::vector<int64_t> winner = argmaxes(x, s);
  for (size_t i = 0; i < winner.size(); ++i)
    y[i] = winner[i] >= 0 ? x[winner[i]] : 0.0f;
}

void maxpoolBackward(const float *x, const float *dy, float *dx,
                     const PoolShape &s) {
  std::fill(dx, dx + s.n * s.c * s.h * s.w, 0.0f);
  std::vector<int64_t> winner = argmaxes(x, s);
  for (size_t i = 0; i < winner.size(); ++i)
    if (winner[i] >= 0)
      dx[winner[i]] += dy[i];
}

void maxpoolWithWinners(const float *x, float *y, int32_t *winners, const PoolShape &s) {
  int64_t oh = s.outH(), ow = s.outW();
  std::vector<int64_t> winner = argmaxes(x, s);
  for (size_t out = 0; out < winner.size(); ++out) {
    y[out] = winner[out] >= 0 ? x[winner[out]] : 0.0f;
    winners[out] = -1;
    if (winner[out] < 0)
      continue;
    // The winner's row and column in the image, then in its window.
    int64_t iy = (winner[out] / s.w) % s.h, ix = winner[out] % s.w;
    int64_t oy = int64_t(out / size_t(ow)) % oh, ox = int64_t(out % size_t(ow));
    winners[out] = int32_t((iy - (oy * s.stride - s.pad)) * s.kernel +
                           (ix - (ox * s.stride - s.pad)));
  }
}

void maxpoolBackwardFromWinners(const int32_t *winners, const float *dy, float *dx,
                                const PoolShape &s) {
  std::fill(dx, dx + s.n * s.c * s.h * s.w, 0.0f);
  int64_t window = s.kernel * s.kernel;
  std::vector<int64_t> position(size_t(s.n * s.c * s.outH() * s.outW()), 0);
  // The k-th tap of each window in forEachWindow's order is index k.
  forEachWindow(s, [&](int64_t out, int64_t in) {
    int64_t tap = position[size_t(out)]++;
    if (in >= 0 && tap < window && winners[out] == tap)
      dx[in] += dy[out];
  });
}

void avgpoolForward(const float *x, float *y, const PoolShape &s) {
  std::vector<double> sums(size_t(s.n * s.c * s.outH() * s.outW()), 0.0);
  forEachWindow(s, [&](int64_t out, int64_t in) {
    if (in >= 0)
      sums[out] += x[in];
  });
  double area = double(s.kernel * s.kernel);
  for (size_t i = 0; i < sums.size(); ++i)
    y[i] = float(sums[i] / area);
}

void avgpoolBackward(const float *dy, float *dx, const PoolShape &s) {
  std::fill(dx, dx + s.n * s.c * s.h * s.w, 0.0f);
  float area = float(s.kernel * s.kernel);
  forEachWindow(s, [&](int64_t out, int64_t in) {
    if (in >= 0)
      dx[in] += dy[out] / area;
  });
}

//===--- element-wise -----------------------------------------------------===//

void signForward(const float *x, float *y, int64_t size) {
  for (int64_t i = 0; i < size; ++i)
    y[i] = sign(x[i]);
}
void signBackward(const float *x, const float *dy, float *dx, int64_t size) {
  for (int64_t i = 0; i < size; ++i)
    dx[i] = std::fabs(x[i]) <= 1.0f ? dy[i] : 0.0f;
}
void htanhForward(const float *x, float *y, int64_t size) {
  for (int64_t i = 0; i < size; ++i)
    y[i] = std::clamp(x[i], -1.0f, 1.0f);
}
void htanhBackward(const float *x, const float *dy, float *dx, int64_t size) {
  signBackward(x, dy, dx, size); // the same window: |x| <= 1
}
void reluForward(const float *x, float *y, int64_t size) {
  for (int64_t i = 0; i < size; ++i)
    y[i] = std::max(x[i], 0.0f);
}
void reluBackward(const float *x, const float *dy, float *dx, int64_t size) {
  for (int64_t i = 0; i < size; ++i)
    dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

//===--- losses -----------------------------------------------------------===//

float crossEntropy(const float *logits, const int32_t *labels, float *dlogits,
                   int64_t n, int64_t classes) {
  double total = 0.0;
  for (int64_t row = 0; row < n; ++row) {
    const float *z = logits + row * classes;
    double top = *std::max_element(z, z + classes);
    double sum = 0.0;
    for (int64_t k = 0; k < classes; ++k)
      sum += std::exp(z[k] - top);
    double logSum = top + std::log(sum);
    total += logSum - z[labels[row]];
    for (int64_t k = 0; k < classes; ++k) {
      double p = std::exp(z[k] - logSum);
      dlogits[row * classes + k] =
          float((p - (k == labels[row] ? 1.0 : 0.0)) / n);
    }
  }
  return float(total / n);
}

float squaredHinge(const float *logits, const int32_t *labels, float *dlogits,
                   int64_t n, int64_t classes) {
  double total = 0.0;
  for (int64_t row = 0; row < n; ++row)
    for (int64_t k = 0; k < classes; ++k) {
      double target = k == labels[row] ? 1.0 : -1.0;
      double margin = std::max(0.0, 1.0 - target * logits[row * classes + k]);
      total += margin * margin;
      dlogits[row * classes + k] = float(-2.0 * margin * target / n);
    }
  return float(total / n);
}

//===--- optimizer --------------------------------------------------------===//

void adamStep(float *param, const float *grad, float *m, float *v,
              int64_t size, int64_t step, float lr, const AdamState &adam,
              bool clip) {
  double correction1 = 1.0 - std::pow(double(adam.beta1), double(step));
  double correction2 = 1.0 - std::pow(double(adam.beta2), double(step));
  for (int64_t i = 0; i < size; ++i) {
    m[i] = adam.beta1 * m[i] + (1 - adam.beta1) * grad[i];
    v[i] = adam.beta2 * v[i] + (1 - adam.beta2) * grad[i] * grad[i];
    double mHat = m[i] / correction1, vHat = v[i] / correction2;
    param[i] -= float(lr * mHat / (std::sqrt(vHat) + adam.epsilon));
    if (clip)
      param[i] = std::clamp(param[i], -1.0f, 1.0f);
  }
}

} // namespace bnnrt::reference
