// The gradient rules of the ops (GradientOpInterface, LossOpInterface) only
// create gradient ops; the bookkeeping of the backward pass stays with the
// pass that drives them (bnn-generate-train-step), behind GradientSink.

#ifndef BNN_GRADIENT_H
#define BNN_GRADIENT_H

#include "mlir/IR/Value.h"

namespace bnn {

/// Receives the operand gradients computed by gradient rules.
class GradientSink {
public:
  virtual ~GradientSink() = default;

  /// False when no trainable param depends on `value`: a rule then skips
  /// gradient ops that would only compute that value's gradient.
  virtual bool needsGradient(mlir::Value value) = 0;

  /// Adds `grad` to the gradient of `operand`: a value used several times
  /// gets the sum. Ignores values that need no gradient.
  virtual void accumulate(mlir::Value operand, mlir::Value grad) = 0;
};

} // namespace bnn

#endif // BNN_GRADIENT_H
