// The C++ side of the op traits declared in BnnInterfaces.td.

#ifndef BNN_BNNTRAITS_H
#define BNN_BNNTRAITS_H

#include "mlir/IR/OpDefinition.h"

namespace bnn {
namespace OpTrait {

/// Result 0 of the op holds only -1 and +1 (see Bnn_SignValued).
template <typename ConcreteType>
class SignValued : public mlir::OpTrait::TraitBase<ConcreteType, SignValued> {
public:
  static mlir::LogicalResult verifyTrait(mlir::Operation *op) {
    return mlir::OpTrait::impl::verifyAtLeastNResults(op, 1);
  }
};

/// Result 0 of the op holds operand 0's values rearranged (see
/// Bnn_KeepsValues).
template <typename ConcreteType>
class KeepsValues : public mlir::OpTrait::TraitBase<ConcreteType, KeepsValues> {
public:
  static mlir::LogicalResult verifyTrait(mlir::Operation *op) {
    if (mlir::failed(mlir::OpTrait::impl::verifyAtLeastNOperands(op, 1)))
      return mlir::failure();
    return mlir::OpTrait::impl::verifyAtLeastNResults(op, 1);
  }
};

} // namespace OpTrait

/// True when every element of `value` is -1 or +1: it is result 0 of a
/// SignValued op, or of a KeepsValues op whose operand 0 is sign-valued.
bool isSignValued(mlir::Value value);

} // namespace bnn

#endif // BNN_BNNTRAITS_H
