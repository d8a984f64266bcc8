//===- Reference.h - Plain float implementations of every bnn op ----------===//
//
// The independent reference the generated kernels are tested against: each
// op written in the most obvious way, forward and backward, with no attempt
// at speed. Layouts: activations [N, C, H, W] or [N, K] row-major, dense
// weights [U, K], conv weights [O, C, KH, KW].
//
// Binary semantics (BinaryNet): sign(x) = +1 for x >= 0, else -1. The
// straight-through estimator passes a gradient through sign where |x| <= 1.
// A binary layer computes with sign(w); the gradient reaches the latent real
// weight w as grad(sign(w)) · 1{|w| <= 1}. A binary_scaled layer (XNOR-Net)
// computes with α ⊙ sign(w), α = mean |w| per output unit; its gradient is
// exact through α and the STE through sign.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_REFERENCE_H
#define BNNRT_REFERENCE_H

#include <cstdint>

namespace bnnrt::reference {

inline float sign(float x) { return x >= 0.0f ? 1.0f : -1.0f; }

//===--- weight quantisation ----------------------------------------------===//

/// How a dense or conv2d layer's weights enter its products (#bnn.quant).
enum class WeightQuantization {
  Real,        // q(w) = w
  Binary,      // q(w) = sign(w)
  BinaryScaled // q(w)[u, j] = α[u] · sign(w[u, j]), α[u] = mean_j |w[u, j]|
};

/// q = Ŵ of `units` rows (output units or channels) of `fanIn` weights each.
void quantizeWeights(const float *w, float *q, int64_t units, int64_t fanIn,
                     WeightQuantization quantization);

/// Turns g = dL/dŴ into dL/dw, in place. Binary: g · 1{|w| <= 1} (the
/// STE). BinaryScaled, with s = sign(w) and n = fanIn:
///   dL/dw[u, j] = (1/n) · s[u, j] · Σ_k g[u, k] · s[u, k]   (through α)
///               + α[u] · 1{|w[u, j]| <= 1} · g[u, j]         (through sign)
void quantizeWeightsBackward(const float *w, float *g, int64_t units,
                             int64_t fanIn, WeightQuantization quantization);

//===--- dense ------------------------------------------------------------===//

/// y[n, u] = Σ_k x[n, k] · q(w)[u, k] + b[u]. `bias` may be null.
void denseForward(const float *x, const float *w, const float *bias, float *y,
                  int64_t n, int64_t k, int64_t u,
                  WeightQuantization quantization);

/// dx = dy · q(w); dw = quantizeWeightsBackward(dyᵀ · x); db = Σ_n dy.
/// `dbias` may be null.
void denseBackward(const float *x, const float *w, const float *dy, float *dx,
                   float *dw, float *dbias, int64_t n, int64_t k, int64_t u,
                   WeightQuantization quantization);

//===--- conv2d -----------------------------------------------------------===//

struct ConvShape {
  int64_t n, c, h, w;    // input
  int64_t o, kh, kw;     // filters and kernel
  int64_t stride, pad;   // same for both axes
  int64_t outH() const { return (h + 2 * pad - kh) / stride + 1; }
  int64_t outW() const { return (w + 2 * pad - kw) / stride + 1; }
};

/// Quantised as dense weights of `o` units with c · kh · kw weights each.
void conv2dForward(const float *x, const float *w, const float *bias, float *y,
                   const ConvShape &shape, WeightQuantization quantization);
void conv2dBackward(const float *x, const float *w, const float *dy, float *dx,
                    float *dw, float *dbias, const ConvShape &shape,
                    WeightQuantization quantization);

//===--- batchnorm --------------------------------------------------------===//

/// Per-channel normalisation of [n, c, spatial] (spatial = 1 for rank 2).
struct BatchNormShape {
  int64_t n, c, spatial;
};

/// Training: batch statistics (biased variance), saved for the backward
/// pass as mean and 1/sqrt(var + eps); running statistics updated as
/// running = momentum · running + (1 - momentum) · batch (unbiased var).
///
/// Synchronised batchnorm (data-parallel runs): with `batchSums` ([3][c]:
/// Σx, Σx² and the count per channel, summed over the processes) the
/// statistics are those of the sums, not of x; with `gradSums` ([2][c]:
/// Σdy and Σdy·x̂, averaged over the processes) the backward pass takes
/// its two sums from there.
void batchnormTrainForward(const float *x, const float *gamma,
                           const float *beta, float *y, float *savedMean,
                           float *savedInvStd, float *runningMean,
                           float *runningVar, const BatchNormShape &shape,
                           float epsilon, float momentum,
                           const float *batchSums = nullptr);
/// The batch statistics of channel `c`: mean, Σ(x − mean)² and the count
/// of values, from x or (when not null) from `batchSums`.
struct ChannelStatistics {
  double mean, squares, count;
};
ChannelStatistics channelStatistics(const float *x, const BatchNormShape &shape, int64_t c,
                                    const float *batchSums);
/// Σx, Σx² and the count of each channel of x, as [3][c].
void batchnormSums(const float *x, float *sums, const BatchNormShape &shape);
/// Σdy and Σdy·x̂ of each channel as [2][c]; with `beta` (not null) of the
/// gradient windowed by the STE of sign(γ·x̂ + β).
void batchnormGradSums(const float *x, const float *gamma, const float *beta,
                       const float *dy, const float *savedMean, const float *savedInvStd,
                       float *sums, const BatchNormShape &shape);
/// Evaluation: running statistics.
void batchnormEvalForward(const float *x, const float *gamma, const float *beta,
                          const float *runningMean, const float *runningVar,
                          float *y, const BatchNormShape &shape, float epsilon);
void batchnormBackward(const float *x, const float *gamma, const float *dy,
                       const float *savedMean, const float *savedInvStd,
                       float *dx, float *dgamma, float *dbeta,
                       const BatchNormShape &shape, const float *gradSums = nullptr);

//===--- pooling ----------------------------------------------------------===//

struct PoolShape {
  int64_t n, c, h, w, kernel, stride, pad;
  int64_t outH() const { return (h + 2 * pad - kernel) / stride + 1; }
  int64_t outW() const { return (w + 2 * pad - kernel) / stride + 1; }
};

/// Padding never wins a max; ties go to the first element in scan order.
void maxpoolForward(const float *x, float *y, const PoolShape &shape);
void maxpoolBackward(const float *x, const float *dy, float *dx,
                     const PoolShape &shape);
/// maxpoolForward that also writes each window's winner as its index in
/// the window, i · kernel + j (row i, column j; -1 if only padding), for
/// maxpoolBackwardFromWinners.
void maxpoolWithWinners(const float *x, float *y, int32_t *winners, const PoolShape &shape);
/// maxpoolBackward given the winners instead of the input.
void maxpoolBackwardFromWinners(const int32_t *winners, const float *dy, float *dx,
                                const PoolShape &shape);
/// Averages over the whole window, padding counted as zeros.
void avgpoolForward(const float *x, float *y, const PoolShape &shape);
void avgpoolBackward(const float *dy, float *dx, const PoolShape &shape);

//===--- element-wise -----------------------------------------------------===//

void signForward(const float *x, float *y, int64_t size);
/// dx = dy · 1{|x| <= 1}: the straight-through estimator.
void signBackward(const float *x, const float *dy, float *dx, int64_t size);
void htanhForward(const float *x, float *y, int64_t size);
void htanhBackward(const float *x, const float *dy, float *dx, int64_t size);
void reluForward(const float *x, float *y, int64_t size);
void reluBackward(const float *x, const float *dy, float *dx, int64_t size);

//===--- losses (mean over the batch) -------------------------------------===//

/// Softmax cross-entropy; returns the loss, writes d loss / d logits.
float crossEntropy(const float *logits, const int32_t *labels, float *dlogits,
                   int64_t n, int64_t classes);
/// Σ_k max(0, 1 - t_k y_k)² with t = +1 for the label, -1 elsewhere.
float squaredHinge(const float *logits, const int32_t *labels, float *dlogits,
                   int64_t n, int64_t classes);

//===--- optimizer --------------------------------------------------------===//

struct AdamState {
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
};

/// One Adam step (bias-corrected, `step` counts from 1); with `clip`, the
/// parameter is clipped to [-1, 1] afterwards (latent binary weights).
void adamStep(float *param, const float *grad, float *m, float *v,
              int64_t size, int64_t step, float lr, const AdamState &adam,
              bool clip);

} // namespace bnnrt::reference

#endif // BNNRT_REFERENCE_H
