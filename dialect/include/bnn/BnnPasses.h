#ifndef BNN_BNNPASSES_H
#define BNN_BNNPASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include "bnn/BnnDialect.h"

namespace bnn {
#define GEN_PASS_DECL
#include "bnn/BnnPasses.h.inc"

#define GEN_PASS_REGISTRATION
#include "bnn/BnnPasses.h.inc"
} // namespace bnn

#endif // BNN_BNNPASSES_H
