#ifndef BNN_BNNOPS_H
#define BNN_BNNOPS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "bnn/BnnAttrs.h"
#include "bnn/BnnDialect.h"
#include "bnn/BnnTraits.h"
#include "bnn/Gradient.h"
#include "bnn/KernelCall.h"

namespace bnn {
/// Shared verifier of every LayerOp: the declared result type must agree
/// with the one the shape rule infers from the operands.
mlir::LogicalResult verifyInferredResultType(mlir::Operation *op);
} // namespace bnn

#include "bnn/BnnInterfaces.h.inc"

#define GET_OP_CLASSES
#include "bnn/BnnOps.h.inc"

#endif // BNN_BNNOPS_H
