#include "bnn/ShapeRules.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

namespace bnn::shapes {

std::string formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::interleave(
      shape,
      [&](int64_t extent) {
        text += extent == kDynamic ? std::string("?") : std::to_string(extent);
      },
      [&] { text += ", "; });
  return text + "]";
}

ShapeOrError checkSize(llvm::ArrayRef<int64_t> shape) {
  int64_t elements = 1;
  for (int64_t extent : shape) {
    if (extent == kDynamic)
      continue;
    if (extent < 1 || extent > kMaxExtent)
      return ShapeOrError::failure(llvm::formatv(
          "extent {0} in shape {1} is out of range [1, {2}]", extent,
          formatShape(shape), kMaxExtent));
    if (llvm::MulOverflow(elements, extent, elements) ||
        elements > kMaxElements)
      return ShapeOrError::failure(llvm::formatv(
          "shape {0} has more than 2^40 elements", formatShape(shape)));
  }
  return {Shape(shape.begin(), shape.end()), {}};
}

static ShapeOrError requireRank(llvm::StringRef layer,
                                llvm::ArrayRef<int64_t> input, size_t rank,
                                llvm::StringRef layout) {
  if (input.size() == rank)
    return {Shape(input.begin(), input.end()), {}};
  return ShapeOrError::failure(
      llvm::formatv("{0} expects a rank-{1} input {2}, got {3}", layer, rank,
                    layout, formatShape(input)));
}

ShapeOrError dense(llvm::ArrayRef<int64_t> input, int64_t units) {
  ShapeOrError ranked = requireRank("dense", input, 2, "[batch, features]");
  if (!ranked.ok()) {
    if (input.size() > 2)
      ranked.error += "; flatten it first (`|> flatten`)";
    return ranked;
  }
  if (units < 1)
    return ShapeOrError::failure(
        llvm::formatv("dense needs at least one unit, got {0}", units));
  return checkSize({input[0], units});
}

/// One spatial extent of a sliding window, or an error naming the axis.
static ShapeOrError windowExtent(llvm::StringRef layer, llvm::StringRef axis,
                                 int64_t size, int64_t kernel, int64_t stride,
                                 int64_t pad) {
  if (kernel < 1 || stride < 1 || pad < 0)
    return ShapeOrError::failure(llvm::formatv(
        "{0} needs kernel >= 1, stride >= 1 and pad >= 0, got kernel {1}, "
        "stride {2}, pad {3}",
        layer, kernel, stride, pad));
  if (size == kDynamic)
    return {{kDynamic}, {}};
  if (pad > kMaxExtent || kernel > kMaxExtent)
    return ShapeOrError::failure(
        llvm::formatv("{0} kernel or pad is out of range", layer));
  int64_t padded = size + 2 * pad;
  if (kernel > padded)
    return ShapeOrError::failure(llvm::formatv(
        "{0} kernel {1} is larger than the padded input {2} {3}", layer,
        kernel, axis, padded));
  return {{(padded - kernel) / stride + 1}, {}};
}

static ShapeOrError slide(llvm::StringRef layer, llvm::ArrayRef<int64_t> input,
                          int64_t channels, const Window &window) {
  ShapeOrError ranked =
      requireRank(layer, input, 4, "[batch, channels, height, width]");
  if (!ranked.ok())
    return ranked;
  ShapeOrError height = windowExtent(layer, "height", input[2], window.kernelH,
                                     window.strideH, window.padH);
  if (!height.ok())
    return height;
  ShapeOrError width = windowExtent(layer, "width", input[3], window.kernelW,
                                    window.strideW, window.padW);
  if (!width.ok())
    return width;
  return checkSize({input[0], channels, height.shape[0], width.shape[0]});
}

ShapeOrError conv2d(llvm::ArrayRef<int64_t> input, int64_t filters,
                    const Window &window) {
  if (filters < 1)
    return ShapeOrError::failure(
        llvm::formatv("conv2d needs at least one filter, got {0}", filters));
  return slide("conv2d", input, filters, window);
}

ShapeOrError pool(llvm::StringRef layer, llvm::ArrayRef<int64_t> input,
                  const Window &window) {
  int64_t channels = input.size() == 4 ? input[1] : 0;
  return slide(layer, input, channels, window);
}

ShapeOrError flatten(llvm::ArrayRef<int64_t> input) {
  if (input.size() < 2)
    return ShapeOrError::failure(llvm::formatv(
        "flatten expects an input with a batch axis and at least one more, "
        "got {0}",
        formatShape(input)));
  int64_t features = 1;
  for (int64_t extent : input.drop_front()) {
    if (extent == kDynamic)
      return {{input[0], kDynamic}, {}};
    if (llvm::MulOverflow(features, extent, features))
      return ShapeOrError::failure("flatten: too many features");
  }
  return checkSize({input[0], features});
}

ShapeOrError batchnormChannels(llvm::ArrayRef<int64_t> input) {
  if (input.size() != 2 && input.size() != 4)
    return ShapeOrError::failure(llvm::formatv(
        "batchnorm expects [batch, features] or [batch, channels, height, "
        "width], got {0}",
        formatShape(input)));
  return {{input[1]}, {}};
}

ShapeOrError add(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs) {
  bool compatible = lhs.size() == rhs.size();
  for (size_t axis = 0; compatible && axis < lhs.size(); ++axis)
    compatible = compatibleExtent(lhs[axis], rhs[axis]);
  if (!compatible)
    return ShapeOrError::failure(
        llvm::formatv("add needs operands of one shape, got {0} and {1}",
                      formatShape(lhs), formatShape(rhs)));
  Shape result(lhs.begin(), lhs.end());
  for (size_t axis = 0; axis < lhs.size(); ++axis)
    if (result[axis] == kDynamic)
      result[axis] = rhs[axis];
  return {result, {}};
}

ShapeOrError loss(llvm::StringRef name, llvm::ArrayRef<int64_t> logits) {
  ShapeOrError ranked = requireRank(name, logits, 2, "[batch, classes]");
  if (!ranked.ok())
    return ranked;
  if (logits[1] != kDynamic && logits[1] < 2)
    return ShapeOrError::failure(llvm::formatv(
        "{0} needs at least 2 classes, got {1}", name, logits[1]));
  return {{}, {}};
}

} // namespace bnn::shapes
