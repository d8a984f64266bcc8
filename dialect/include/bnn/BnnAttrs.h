#ifndef BNN_BNNATTRS_H
#define BNN_BNNATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/bit.h"

namespace bnn {

/// One argument of an init policy: `offset + scale * @param`, or just
/// `offset` when `param` is null. Keeping it symbolic lets a compiled model
/// change run-time hyper-parameters such as λ without compiling again.
struct InitBound {
  double offset = 0.0;
  double scale = 0.0;
  mlir::StringAttr param; // null for a constant

  static InitBound constant(double value) { return {value, 0.0, {}}; }
  bool isConstant() const { return !param; }
  /// The value with `param` bound to `paramValue`.
  double evaluate(double paramValue) const {
    return isConstant() ? offset : offset + scale * paramValue;
  }
  bool operator==(const InitBound &other) const {
    return offset == other.offset && scale == other.scale &&
           param == other.param;
  }
};

inline llvm::hash_code hash_value(const InitBound &bound) {
  return llvm::hash_combine(llvm::bit_cast<uint64_t>(bound.offset),
                            llvm::bit_cast<uint64_t>(bound.scale),
                            bound.param);
}

/// Prints `number` so that parsing it back gives the same double, in the
/// shortest such form ("2.0", "0.1", "1e-05").
std::string formatExactDouble(double number);

} // namespace bnn

#include "bnn/BnnEnums.h.inc"

namespace bnn {

/// Whether the layer computes with the signs of a latent real weight
/// (binary, binary_scaled): the optimizer clips that weight to [-1, 1].
inline bool isBinary(Quantization q) {
  return q == Quantization::binary || q == Quantization::binary_scaled;
}
/// Whether the signs are scaled by α = mean |w| per output unit
/// (XNOR-Net's binary_scaled).
inline bool isScaled(Quantization q) { return q == Quantization::binary_scaled; }

} // namespace bnn

#define GET_ATTRDEF_CLASSES
#include "bnn/BnnAttrs.h.inc"

namespace bnn {

/// The `#bnn.packed` encoding of `type`, or null when it holds no packed signs.
PackedAttr packedEncoding(mlir::Type type);
/// The shape of `shape` packed along `axis`: the axis removed, its words
/// (ceil(bits / 64)) appended innermost.
llvm::SmallVector<int64_t> packedShape(llvm::ArrayRef<int64_t> shape, int64_t axis);
/// The i64 tensor type that holds the signs of `unpacked` packed along `axis`.
mlir::RankedTensorType packedTensorType(mlir::RankedTensorType unpacked, int64_t axis);

} // namespace bnn

#endif // BNN_BNNATTRS_H
