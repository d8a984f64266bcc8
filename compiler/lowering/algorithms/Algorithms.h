//===- Algorithms.h - The math of each kernel family, without schedules ---===//
//
// Each function defines the outputs of one family (or of a few families
// that differ in one flag) on a Kernel whose parameters come from the
// family's signature, and names the stages its schedules refer to. No
// function here says how anything runs: that is schedules/.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_LOWERING_ALGORITHMS_H
#define BNNC_LOWERING_ALGORITHMS_H

#include "lowering/Kernel.h"

namespace bnnc::algorithms {

/// A double constant (Halide does not mix Expr and C++ doubles implicitly).
inline Halide::Expr f64(double value) {
  return Halide::Internal::make_const(Halide::Float(64), value);
}

/// q(w): sign for binary weights (sign(0) = +1), else w.
inline Halide::Expr quantize(Halide::Expr w, bool binary) {
  return binary ? Halide::select(w >= 0.0f, 1.0f, -1.0f) : w;
}

/// Fixes dimension `d` of a buffer (input or output) to [0, extent).
inline void setExtent(Halide::OutputImageParam buffer, int d, int64_t extent) {
  buffer.dim(d).set_min(0).set_extent(int(extent));
}

// Binary (packed) kernels: BinaryKernels.cpp.
void definePackSigns(Kernel &k);
void defineXnorDense(Kernel &k);
void defineXnorDenseBatchNormSign(Kernel &k, bool training);

// Float products of dense layers: DenseKernels.cpp.
void defineDenseForward(Kernel &k);
void defineDenseGradInput(Kernel &k);
void defineDenseGradWeight(Kernel &k);

// Batch normalisation and the per-channel bias gradient: BatchNormKernels.cpp.
void defineBatchNormTrain(Kernel &k, bool signs);
void defineBatchNormGrad(Kernel &k, bool steWindow);
void defineBatchNormEval(Kernel &k);
void defineBatchNormSign(Kernel &k);
void defineBiasGrad(Kernel &k);

/// The batchnorm stages over values (spatial, channel, batch) that the
/// fused binary layer computes in the same kernel.
struct BatchNormValues {
  Halide::Func x;         // (s, c, n)
  Halide::Expr batch;     // extent of n
  int64_t spatial, channels;
};
void defineBatchNormTrainStages(Kernel &k, const BatchNormValues &in, bool signs);
void defineBatchNormSignStages(Kernel &k, const BatchNormValues &in);

// Element-wise ops, Adam and losses: ElementwiseKernels.cpp.
void defineElementwise(Kernel &k);
void defineAdam(Kernel &k);
void defineLoss(Kernel &k);

// Convolution and pooling: ConvKernels.cpp.
void defineConv2D(Kernel &k);
void defineConv2DGradInput(Kernel &k);
void defineConv2DGradWeight(Kernel &k);
void definePool(Kernel &k);
void definePoolGrad(Kernel &k);

} // namespace bnnc::algorithms

#endif // BNNC_LOWERING_ALGORITHMS_H
