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

#include <functional>
#include <string>
#include <vector>

namespace bnnc::algorithms {

/// A double constant (Halide does not mix Expr and C++ doubles implicitly).
inline Halide::Expr f64(double value) {
  return Halide::Internal::make_const(Halide::Float(64), value);
}

/// How a dense or conv kernel's weight `weight(e..., unit)` (the output unit
/// or channel last, its fan-in along the leading axes) enters the products,
/// as the request says: real w; binary sign(w) (sign(0) = +1);
/// binary_scaled α(unit) · sign(w) with α = mean |w| over the unit's fan-in
/// (XNOR-Net), the stage "scale". Gradients use the STE for sign.
class WeightQuantizer {
public:
  /// `fanIn`: the extents of the leading axes.
  WeightQuantizer(Kernel &k, Halide::ImageParam weight, std::vector<int> fanIn);

  bool scaled() const { return scaled_; }
  /// q(w) at `at` (the unit last).
  Halide::Expr operator()(const std::vector<Halide::Expr> &at) const;
  /// The elementwise part of d q(w) / d w: 1, the STE window 1{|w| <= 1},
  /// or α(unit) times it. Unless scaled() it is the whole derivative, and
  /// dL/dw = g · localGradient needs no stage of its own.
  Halide::Expr localGradient(const std::vector<Halide::Expr> &at) const;
  /// dL/dw as the Func `name` over the weight's axes, from g = dL/dq(w) over
  /// the same axes. Scaled, every weight of a unit also moves α: the stage
  /// "scale_grad"(unit) = Σ g · sign(w) / n over the unit, times sign(w).
  Halide::Func gradient(Kernel &k, Halide::Func g, const std::string &name) const;

private:
  using Term = std::function<Halide::Expr(const std::vector<Halide::Expr> &)>;
  /// The mean of `term(position)` over the fan-in of `unit`, summed in
  /// double (the reference's precision), as a float.
  Halide::Expr meanOverFanIn(Halide::Expr unit, const std::string &name,
                             const Term &term) const;

  Halide::ImageParam weight;
  std::vector<int> fanIn;
  bool binary, scaled_;
  Halide::Func scale; // α(unit), when scaled
};

/// Fixes dimension `d` of a buffer (input or output) to [0, extent).
inline void setExtent(Halide::OutputImageParam buffer, int d, int64_t extent) {
  buffer.dim(d).set_min(0).set_extent(int(extent));
}

// Binary (packed) kernels: BinaryKernels.cpp.
void definePackSigns(Kernel &k);
void defineXnorDense(Kernel &k);
void definePackChannels(Kernel &k);
void defineFlattenSigns(Kernel &k);
void defineXnorDenseBatchNormSign(Kernel &k, bool training);

// Float products of dense layers: DenseKernels.cpp.
void defineDenseForward(Kernel &k);
void defineDenseGradInput(Kernel &k);
void defineDenseGradWeight(Kernel &k);

// Batch normalisation and the per-channel bias gradient: BatchNormKernels.cpp.
void defineBatchNormTrain(Kernel &k, bool signs);
void defineBatchNormGrad(Kernel &k, bool steWindow);
void defineBatchNormSums(Kernel &k);
void defineBatchNormGradSums(Kernel &k);
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
void defineXnorConv2D(Kernel &k);
void definePool(Kernel &k);
void definePoolGrad(Kernel &k);

} // namespace bnnc::algorithms

#endif // BNNC_LOWERING_ALGORITHMS_H
