//===- InferShapes.cpp - Refine unranked bnn layer results ----------------===//

#include "bnn/BnnOps.h"
#include "bnn/BnnPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace bnn {
#define GEN_PASS_DEF_BNNINFERSHAPES
#include "bnn/BnnPasses.h.inc"
} // namespace bnn

using namespace mlir;

namespace {

struct InferShapesPass : bnn::impl::BnnInferShapesBase<InferShapesPass> {
  void runOnOperation() override {
    func::FuncOp function = getOperation();
    // Ops are visited in order, so an op's operands are already refined
    // when it is reached (a model body is a straight-line region).
    WalkResult walk = function.walk([](bnn::LayerOp layer) {
      Value result = layer->getResult(0);
      if (!result.getType().isa<UnrankedTensorType>())
        return WalkResult::advance();
      FailureOr<TensorType> inferred =
          layer.inferResultType([&] { return layer->emitOpError(); });
      if (failed(inferred))
        return WalkResult::interrupt();
      result.setType(*inferred);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    updateFunctionResults(function);
  }

  /// A returned value may now have a more precise type than the signature.
  static void updateFunctionResults(func::FuncOp function) {
    Block &body = function.getBody().front();
    auto returnOp = dyn_cast<func::ReturnOp>(body.getTerminator());
    if (!returnOp)
      return;
    function.setType(FunctionType::get(function.getContext(),
                                       body.getArgumentTypes(),
                                       returnOp.getOperandTypes()));
  }
};

} // namespace
