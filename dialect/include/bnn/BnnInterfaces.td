#ifndef BNN_INTERFACES_TD
#define BNN_INTERFACES_TD

include "mlir/IR/OpBase.td"

// Rules about an op live with the op: passes ask these interfaces and traits
// instead of keeping lists of op names. The C++ of each rule is next to the
// op's other code (BnnOps.cpp; Gradients.cpp for the training rules).

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

//===----------------------------------------------------------------------===//
// Training (bnn-generate-train-step)
//===----------------------------------------------------------------------===//

def Bnn_GradientOpInterface : OpInterface<"GradientOpInterface"> {
  let cppNamespace = "::bnn";
  let description = [{
    An op that bnn-generate-train-step can differentiate: it emits the
    gradient ops of its operands given the gradients of its results. The
    pass keeps the bookkeeping, behind `GradientSink` (bnn/Gradient.h):
    which values need a gradient, and the sum of the gradients of a value
    used several times. An op of a model without this interface is an
    error when a gradient reaches it.
  }];
  let methods = [
    InterfaceMethod<[{
        Creates with `builder` the gradient ops of the operands and hands
        each operand's gradient to `sink.accumulate`; skips the operands for
        which `sink.needsGradient` is false. `resultGrads` has one entry per
        result, a null value where nothing downstream depends on it (at
        least one is set). Fails after reporting an error at the op.
      }],
      "::mlir::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::ValueRange":$resultGrads,
           "::bnn::GradientSink &":$sink)>
  ];
}

def Bnn_TrainingFormOpInterface : OpInterface<"TrainingFormOpInterface"> {
  let cppNamespace = "::bnn";
  let description = [{
    An op that computes something else while training (batchnorm: batch
    statistics instead of the running ones). bnn-generate-train-step clones
    its training form into the train step instead of the op itself.
  }];
  let methods = [
    InterfaceMethod<[{
        Creates with `builder` the op used while training, on `operands`
        (this op's operands as mapped into the train step). Its leading
        results stand for this op's results; further results are for the
        backward pass (saved statistics).
      }],
      "::mlir::Operation *", "buildTrainingForm",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::ValueRange":$operands)>
  ];
}

def Bnn_LossOpInterface : OpInterface<"LossOpInterface"> {
  let cppNamespace = "::bnn";
  let description = [{
    A loss: the start of the backward pass. Its gradient with respect to
    the loss itself is 1, so it needs no result gradient.
  }];
  let methods = [
    InterfaceMethod<[{
        Creates with `builder` the gradient of the loss with respect to its
        logits operand and hands it to `sink.accumulate`.
      }],
      "void", "buildLossGradient",
      (ins "::mlir::OpBuilder &":$builder, "::bnn::GradientSink &":$sink)>
  ];
}

//===----------------------------------------------------------------------===//
// Quantisation
//===----------------------------------------------------------------------===//

def Bnn_QuantizedWeightsOpInterface
    : OpInterface<"QuantizedWeightsOpInterface"> {
  let cppNamespace = "::bnn";
  let description = [{
    An op reading a weight through a quantiser chosen by its
    `weights = #bnn.quant<...>` attribute (dense, conv2d and their gradient
    ops). With binary or binary_scaled weights the param holds the latent
    real weight, which the optimizer clips to [-1, 1]. The defaults use the
    ODS names `$weight` and `$weights`.
  }];
  let methods = [
    InterfaceMethod<"The weight operand, quantised as `weights` says.",
      "::mlir::Value", "getQuantizedWeight", (ins), [{}],
      [{ return $_op.getWeight(); }]>,
    InterfaceMethod<[{
        True when the weight is used through sign(weight): binary, or
        binary_scaled (α ⊙ sign(weight)).
      }],
      "bool", "hasBinaryWeights", (ins), [{}],
      [{ return ::bnn::isBinary($_op.getWeights()); }]>,
    InterfaceMethod<[{
        True for binary_scaled: the signs are scaled by α = mean |weight|
        per output unit (XNOR-Net).
      }],
      "bool", "hasScaledWeights", (ins), [{}],
      [{ return ::bnn::isScaled($_op.getWeights()); }]>
  ];
}

//===----------------------------------------------------------------------===//
// Traits (C++ in bnn/BnnTraits.h)
//===----------------------------------------------------------------------===//

// Result 0 holds only -1 and +1: a binary layer reading it can use packed
// signs. Further results (batch statistics, the product of a fused layer)
// are real-valued. Ask with bnn::isSignValued(value).
def Bnn_SignValued : NativeOpTrait<"SignValued"> {
  let cppNamespace = "::bnn::OpTrait";
}

// Result 0 holds operand 0's values, only rearranged (a reshape): it is
// sign-valued exactly when operand 0 is.
def Bnn_KeepsValues : NativeOpTrait<"KeepsValues"> {
  let cppNamespace = "::bnn::OpTrait";
}

def Bnn_KernelCallOpInterface : OpInterface<"KernelCallOpInterface"> {
  let cppNamespace = "::bnn";
  let description = [{
    An op of the execution plan that runs as one call of a kernel family:
    it says which family, with which sizes and attributes, and binds its
    operands and results to the family's arguments by name
    (bnn/KernelCall.h). The plan emitter needs nothing else about the op.
  }];
  let methods = [
    InterfaceMethod<[{
        Describes the kernel call, or fails after reporting (at the op) why
        the back end cannot run it.
      }],
      "::mlir::LogicalResult", "describeKernelCall",
      (ins "::bnn::KernelCall &":$call)>
  ];
}

/// Ops that run as one kernel call of the plan.
def Bnn_KernelCall : DeclareOpInterfaceMethods<Bnn_KernelCallOpInterface>;

#endif // BNN_INTERFACES_TD
