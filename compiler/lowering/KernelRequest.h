//===- KernelRequest.h - A Halide kernel the execution plan calls ---------===//
//
// Plain data, without Halide.h: the C++ plan emitter asks for kernels by
// kind and static size, and the Halide side (KernelLibrary) compiles them
// ahead of time for the host. Identical requests share one kernel.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_LOWERING_KERNELREQUEST_H
#define BNNC_LOWERING_KERNELREQUEST_H

#include <cstdint>
#include <string>
#include <vector>

namespace bnnc {

struct KernelRequest {
  enum class Kind {
    PackSigns, // f32 (length, rows) -> u64 (words, rows): sign bits
    XnorDense, // u64 (words, rows) × u64 (words, units) -> f32 (units, rows)
    // Float products of a dense layer with weight [units, length], q = sign
    // for binary weights:
    DenseForward,    // x (length, rows), w -> y (units, rows) = x·q(w)ᵀ
    DenseGradInput,  // w, dy (units, rows) -> dx (length, rows) = dy·q(w)
    DenseGradWeight, // x, w, dy -> dw (length, units) = dyᵀ·x ⊙ STE(w)
    // Batch normalisation of x (spatial, channels, batch) with
    // length = spatial and units = channels:
    BatchNormSignTrain, // x, γ, β, running mean/var -> signs, mean, inv_std,
                        // new running mean, new running var
    BatchNormSteGrad,   // x, γ, β, dy, mean, inv_std -> dx, dγ, dβ
    BatchNormSign,      // x, γ, β, running mean/var -> signs (thresholds)
    BatchNormTrain,     // like BatchNormSignTrain, normalised values out
    BatchNormGrad,      // x, γ, dy, mean, inv_std -> dx, dγ, dβ
    BatchNormEval,      // x, γ, β, running mean/var -> normalised values
    // Per-channel sum of dy (spatial, channels, batch): the bias gradient.
    BiasGrad,
    // Element-wise over `length` elements:
    Adam,        // param, grad, m, v, lr, step -> param, m, v (in place)
    Sign, HTanh, Relu, // x -> y
    SteGrad, ReluGrad, // x, dy -> dx
    Add,               // a, b -> a + b
    // Losses over logits (units = classes, batch): per-row loss and the
    // gradient of the batch mean.
    CrossEntropy, SquaredHinge, // logits, labels -> row losses, dlogits
    // Images (x, y, channel, batch) with the geometry in `conv`:
    Conv2D,           // input, weight -> output (no bias)
    Conv2DGradInput,  // weight, dy -> dx
    Conv2DGradWeight, // input, weight, dy -> dw ⊙ STE(w)
    MaxPool, AvgPool, // input -> output
    MaxPoolGrad,      // input, dy -> dx
    AvgPoolGrad,      // dy -> dx
    // A binary dense layer in one kernel (length = in features, units =
    // channels): packed input, packed weight, γ, β, running mean/var ->
    XnorDenseBatchNormSignTrain, // signs, product, mean, inv_std, new running
    XnorDenseBatchNormSign,      // signs (evaluation thresholds)
  };
  /// Sizes of a convolution or pooling window (filters = channels for
  /// pooling).
  struct Geometry {
    int64_t channels = 0, height = 0, width = 0, filters = 0;
    int64_t kernelH = 0, kernelW = 0, stride = 1, pad = 0;
    bool operator==(const Geometry &o) const {
      return channels == o.channels && height == o.height && width == o.width &&
             filters == o.filters && kernelH == o.kernelH &&
             kernelW == o.kernelW && stride == o.stride && pad == o.pad;
    }
  };
  Kind kind;
  int64_t length = 0; // signs a row / input features
  int64_t units = 0;  // all but PackSigns
  std::string symbol; // the C function name in the object file
  bool binary = false; // dense kernels: sign-quantised weights; Adam: clip
  double epsilon = 0.0, momentum = 0.0; // the batchnorm kernels
  Geometry conv;                        // convolution and pooling kernels
  bool bias = false; // dense and conv2d forward: a bias input follows the weight

  bool sameKernel(const KernelRequest &other) const {
    return kind == other.kind && length == other.length &&
           units == other.units && binary == other.binary &&
           epsilon == other.epsilon && momentum == other.momentum &&
           conv == other.conv && bias == other.bias;
  }
};

/// Returns the symbol of an equal request in `requests`, adding one if new.
std::string requestKernel(std::vector<KernelRequest> &requests,
                          KernelRequest request);

} // namespace bnnc

#endif // BNNC_LOWERING_KERNELREQUEST_H
