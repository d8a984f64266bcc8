//===- Kernels.h - The operations a compiled model's plan calls -----------===//
//
// One function per bnn op of the training step and the evaluation function,
// on raw row-major buffers. Dense products go through a blocked float GEMM,
// and a binary layer whose input is already ±1 uses XNOR-popcount on packed
// bits. Each kernel is tested against bnnrt::reference.
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

/// y = x · q(w)ᵀ + bias. With `binaryInput` (x is ±1, from a sign) and
/// binary weights the product is n − 2·popcount(x XOR w) on packed words.
void dense(const float *x, const float *w, const float *bias, float *y,
           int64_t n, int64_t k, int64_t u, bool binary, bool binaryInput);
void denseGradInput(const float *w, const float *dy, float *dx, int64_t n,
                    int64_t k, int64_t u, bool binary);
void denseGradWeight(const float *x, const float *w, const float *dy,
                     float *dw, int64_t n, int64_t k, int64_t u, bool binary);
/// Sum of dy over batch and space, per channel.
void biasGrad(const float *dy, float *db, int64_t n, int64_t channels,
              int64_t spatial);

using reference::ConvShape;
void conv2d(const float *x, const float *w, const float *bias, float *y,
            const ConvShape &shape, bool binary);
void conv2dGradInput(const float *w, const float *dy, float *dx,
                     const ConvShape &shape, bool binary);
void conv2dGradWeight(const float *x, const float *w, const float *dy,
                      float *dw, const ConvShape &shape, bool binary);

/// reference::adamStep in float arithmetic, vectorised and in parallel.
void adamStep(float *param, const float *grad, float *m, float *v,
              int64_t size, int64_t step, float lr,
              const reference::AdamState &adam, bool clip);

void elementwiseAdd(const float *a, const float *b, float *y, int64_t size);
void copy(const float *x, float *y, int64_t size);

} // namespace bnnrt::kernels

#endif // BNNRT_KERNELS_H
