#ifndef BNN_INTERFACES_TD
#define BNN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Bnn_LayerOpInterface : OpInterface<"LayerOp"> {
  let cppNamespace = "::bnn";
  let description = [{
    A layer whose result type follows from its operand types and attributes.
    The same shape rules (bnn/ShapeRules.h) serve the model-file front end,
    this verifier and the `bnn-infer-shapes` pass, so they can never disagree.
  }];
  let methods = [
    InterfaceMethod<[{
        Returns the result type implied by the operands, an unranked tensor
        when an operand is unranked, or fails after reporting why through
        `emitError`.
      }],
      "::mlir::FailureOr<::mlir::TensorType>", "inferResultType",
      (ins "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError)>
  ];
  let verify = [{ return ::bnn::verifyInferredResultType($_op); }];
}

#endif // BNN_INTERFACES_TD
