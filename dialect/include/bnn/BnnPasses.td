#ifndef BNN_PASSES_TD
#define BNN_PASSES_TD

include "mlir/Pass/PassBase.td"

def BnnInferShapes : Pass<"bnn-infer-shapes", "mlir::func::FuncOp"> {
  let summary = "Refine unranked layer results to the shapes their operands imply";
  let description = [{
    Walks a function in order and gives every bnn layer whose result is
    `tensor<*xf32>` the type its shape rule computes from the operands, then
    updates the function's result types to match what it returns. Lets
    hand-written IR leave shapes out.
  }];
  let dependentDialects = ["::bnn::BnnDialect"];
}

#endif // BNN_PASSES_TD
