//===- Kernels.h - The operations a compiled model's plan calls -----------===//
//
// One function per bnn op of the training step and the evaluation function,
// on raw row-major buffers. Dense products go through a blocked float GEMM;
// binary products on ±1 inputs use XNOR-popcount on packed words. Each
// kernel is tested against bnnrt::reference.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_KERNELS_H
#define BNNRT_KERNELS_H

#include "bnnrt/Reference.h"

#include <cstdint>

namespace bnnrt::kernels {

/// C[m, n] = A[m, k] · B[k, n], all row-major; rows of C in parallel.
void gemm(const float *a, const float *b, float *c, int64_t m, int64_t n,
          int64_t k);

using reference::WeightQuantization;

/// y = x · q(w)ᵀ + bias, as a float GEMM. (Binary weights on ±1 inputs go
/// through packSigns + xnorDense instead: bnn-bitpack decides.)
void dense(const float *x, const float *w, const float *bias, float *y,
           int64_t n, int64_t k, int64_t u, WeightQuantization quantization);
void denseGradInput(const float *w, const float *dy, float *dx, int64_t n,
                    int64_t k, int64_t u, WeightQuantization quantization);
/// dL/dw from dL/dq(w) = dyᵀ · x (reference::quantizeWeightsBackward).
void denseGradWeight(const float *x, const float *w, const float *dy,
                     float *dw, int64_t n, int64_t k, int64_t u,
                     WeightQuantization quantization);
/// denseGradWeight of ±1 inputs held as signs packed along rows
/// ([n, words], bit set = −1).
void denseGradWeightPacked(const uint64_t *x, const float *w, const float *dy, float *dw,
                           int64_t n, int64_t k, int64_t u, WeightQuantization quantization);
/// Sum of dy over batch and space, per channel.
void biasGrad(const float *dy, float *db, int64_t n, int64_t channels,
              int64_t spatial);

using reference::ConvShape;
void conv2d(const float *x, const float *w, const float *bias, float *y,
            const ConvShape &shape, WeightQuantization quantization);
/// sign(batchnorm_eval(conv2d)) with running statistics: ±1 floats
/// [N, O, H', W'], or packed along channels (packChannels layout).
void conv2dSign(const float *x, const float *w, const float *gamma, const float *beta,
                const float *runningMean, const float *runningVar, float *y,
                const ConvShape &shape, WeightQuantization quantization, float epsilon);
void conv2dSignPacked(const float *x, const float *w, const float *gamma, const float *beta,
                      const float *runningMean, const float *runningVar, uint64_t *y,
                      const ConvShape &shape, WeightQuantization quantization, float epsilon);
void conv2dGradInput(const float *w, const float *dy, float *dx,
                     const ConvShape &shape, WeightQuantization quantization);
void conv2dGradWeight(const float *x, const float *w, const float *dy,
                      float *dw, const ConvShape &shape,
                      WeightQuantization quantization);

//===--- fused and packed kernels (from bnn-fuse and bnn-bitpack) ---------===//

/// Bit i of word j of row r is set when x[r, 64 j + i] < 0; padding is 0.
void packSigns(const float *x, uint64_t *packed, int64_t rows, int64_t length);
/// y[r, u] = length − 2·popcount(a[r] XOR w[u]) over `words` words a row.
void xnorDense(const uint64_t *a, const uint64_t *w, float *y, int64_t n,
               int64_t units, int64_t words, int64_t length);
/// sign(batchnorm_eval(xnorDense)) with running statistics, the signs of
/// the n × units results packed along units (packSigns layout).
void xnorDenseBatchNormSignPacked(const uint64_t *a, const uint64_t *w, const float *gamma,
                                  const float *beta, const float *runningMean,
                                  const float *runningVar, uint64_t *y, int64_t n,
                                  int64_t units, int64_t words, int64_t length, float epsilon);

/// Signs of [items, channels, spatial] packed along channels, words
/// innermost: packed[(item · spatial + p) · words + j] bit i is set when
/// x[item, 64 j + i, p] < 0. Images ([N, C, H, W] -> [N, H, W, words]) and
/// conv weights ([O, C, KH, KW] -> [O, KH, KW, words]) alike.
void packChannels(const float *x, uint64_t *packed, int64_t items, int64_t channels,
                  int64_t spatial);
/// The binary convolution of packed signs (packChannels layouts), zero
/// padding exact: a tap outside the image adds nothing. y is [N, O, H', W'].
void xnorConv2d(const uint64_t *x, const uint64_t *w, float *y, const ConvShape &shape);
/// maxpool(xnorConv2d) in training, a `pool` × `pool` max pool (stride
/// `pool`): the pooled product and each window's winner (index i · pool + j
/// in the window) for reference::maxpoolBackwardFromWinners.
void xnorConv2dMaxPool(const uint64_t *x, const uint64_t *w, float *y, int32_t *winners,
                       const ConvShape &shape, int64_t pool);
/// sign(batchnorm_eval(maxpool(xnorConv2d))), a `pool` × `pool` max pool
/// (stride `pool`; 1: none) and running statistics: ±1 floats [N, O, H',
/// W'], or packed along channels (packChannels layout).
void xnorConv2dSign(const uint64_t *x, const uint64_t *w, const float *gamma, const float *beta,
                    const float *runningMean, const float *runningVar, float *y,
                    const ConvShape &shape, float epsilon, int64_t pool);
void xnorConv2dSignPacked(const uint64_t *x, const uint64_t *w, const float *gamma,
                          const float *beta, const float *runningMean,
                          const float *runningVar, uint64_t *y, const ConvShape &shape,
                          float epsilon, int64_t pool);

/// The inverse of packChannels: ±1 floats [items, channels, spatial].
void unpackChannels(const uint64_t *packed, float *x, int64_t items, int64_t channels,
                    int64_t spatial);
/// Signs packed along channels (packChannels layout, [N, H, W, words]) in
/// the order of the image's flatten, packed as packSigns packs [N, C·H·W].
void flattenSigns(const uint64_t *x, uint64_t *y, const ConvShape &shape);
/// conv2dGradWeight of an input held as signs packed along channels.
void conv2dGradWeightPacked(const uint64_t *x, const float *w, const float *dy, float *dw,
                            const ConvShape &shape, WeightQuantization quantization);

using reference::BatchNormShape;
/// sign(batchnorm_eval(x)) as a per-channel threshold on x.
void batchnormSign(const float *x, const float *gamma, const float *beta,
                   const float *runningMean, const float *runningVar, float *y,
                   const BatchNormShape &shape, float epsilon);
/// sign(batchnorm_train(x)): batch statistics, running update, signs only;
/// `batchSums` as in reference::batchnormTrainForward.
void batchnormSignTrain(const float *x, const float *gamma, const float *beta,
                        float *y, float *mean, float *invStd,
                        float *runningMean, float *runningVar,
                        const BatchNormShape &shape, float epsilon,
                        float momentum, const float *batchSums = nullptr);
/// batchnormSign / batchnormSignTrain writing the signs packed along
/// channels (packChannels layout).
void batchnormSignPacked(const float *x, const float *gamma, const float *beta,
                         const float *runningMean, const float *runningVar, uint64_t *y,
                         const BatchNormShape &shape, float epsilon);
void batchnormSignTrainPacked(const float *x, const float *gamma, const float *beta,
                              uint64_t *y, float *mean, float *invStd, float *runningMean,
                              float *runningVar, const BatchNormShape &shape, float epsilon,
                              float momentum, const float *batchSums = nullptr);
/// batchnorm backward of the STE gradient of sign(batchnorm(x)); the window
/// 1{|γ(x−mean)·inv_std + β| ≤ 1} is recomputed from x. `gradSums` as in
/// reference::batchnormBackward.
void batchnormSteGrad(const float *x, const float *gamma, const float *beta,
                      const float *dy, const float *mean, const float *invStd,
                      float *dx, float *dgamma, float *dbeta,
                      const BatchNormShape &shape, const float *gradSums = nullptr);

/// reference::adamStep in float arithmetic, vectorised and in parallel.
void adamStep(float *param, const float *grad, float *m, float *v,
              int64_t size, int64_t step, float lr,
              const reference::AdamState &adam, bool clip);

/// The mean of `size` floats (per-row losses), summed in double.
float mean(const float *values, int64_t size);

void elementwiseAdd(const float *a, const float *b, float *y, int64_t size);
void copy(const float *x, float *y, int64_t size);

} // namespace bnnrt::kernels

#endif // BNNRT_KERNELS_H
