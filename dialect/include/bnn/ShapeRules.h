//===- ShapeRules.h - Output shapes of bnn layers -------------------------===//
//
// One place that knows how each layer maps input shapes to output and
// parameter shapes. The model-file front end uses it to report shape errors
// at the offending line, the dialect's verifiers and the bnn-infer-shapes
// pass use it on IR. It depends on nothing but LLVM's ADT.
//
//===----------------------------------------------------------------------===//
#ifndef BNN_SHAPERULES_H
#define BNN_SHAPERULES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <limits>
#include <string>

namespace bnn::shapes {

/// An unknown extent (the batch size, usually). Equal to MLIR's
/// ShapedType::kDynamic, which the dialect checks with a static_assert.
constexpr int64_t kDynamic = std::numeric_limits<int64_t>::min();
/// Largest extent and element count we accept; beyond them a model is a typo.
constexpr int64_t kMaxExtent = (int64_t(1) << 31) - 1;
constexpr int64_t kMaxElements = int64_t(1) << 40;

using Shape = llvm::SmallVector<int64_t, 4>;

/// A shape, or the reason there is none, phrased for the person who wrote
/// the layer ("conv2d kernel 5 is larger than the padded input height 3").
struct ShapeOrError {
  Shape shape;
  std::string error;
  bool ok() const { return error.empty(); }
  static ShapeOrError failure(std::string why) { return {{}, std::move(why)}; }
};

/// "[?, 1, 28, 28]".
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// Checks every extent and the element count against the limits above.
ShapeOrError checkSize(llvm::ArrayRef<int64_t> shape);

/// [batch, in] -> [batch, units]; the weight is [units, in].
ShapeOrError dense(llvm::ArrayRef<int64_t> input, int64_t units);

/// [batch, C, H, W] -> [batch, filters, H', W'] with
/// H' = (H + 2·pad - kernel) / stride + 1; the weight is [filters, C, k, k].
struct Window {
  int64_t kernelH, kernelW, strideH, strideW, padH, padW;
};
ShapeOrError conv2d(llvm::ArrayRef<int64_t> input, int64_t filters,
                    const Window &window);

/// maxpool and avgpool: [batch, C, H, W] -> [batch, C, H', W'].
ShapeOrError pool(llvm::StringRef layer, llvm::ArrayRef<int64_t> input,
                  const Window &window);

/// [batch, d1, d2, ...] -> [batch, d1·d2·...].
ShapeOrError flatten(llvm::ArrayRef<int64_t> input);

/// The per-channel parameter shape [C] of batchnorm on [batch, C] or
/// [batch, C, H, W]; the output has the input's shape.
ShapeOrError batchnormChannels(llvm::ArrayRef<int64_t> input);

/// Element-wise add: both shapes must agree (a dynamic extent agrees with any).
ShapeOrError add(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs);

/// Losses take logits [batch, classes] and produce a scalar.
ShapeOrError loss(llvm::StringRef name, llvm::ArrayRef<int64_t> logits);

/// True when two extents may be equal at run time.
inline bool compatibleExtent(int64_t a, int64_t b) {
  return a == kDynamic || b == kDynamic || a == b;
}

} // namespace bnn::shapes

#endif // BNN_SHAPERULES_H
