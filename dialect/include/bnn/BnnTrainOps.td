#ifndef BNN_TRAIN_OPS_TD
#define BNN_TRAIN_OPS_TD

// Ops of the training step: created by bnn-generate-train-step, never
// written in model files. Gradient ops are pure functions of their operands;
// the two ops that update model state say so with memory effects.

def Bnn_BatchNormTrainOp : Bnn_Op<"batchnorm_train",
    [Bnn_KernelCall, DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]> {
  let summary = "batchnorm with batch statistics; updates the running ones";
  let description = [{
    Normalises with the batch mean and biased variance, returns them for
    the backward pass as `mean` and `inv_std` = 1/sqrt(var + epsilon), and
    updates the running statistics held by its `running_mean` and
    `running_var` params: running = momentum·running + (1-momentum)·batch
    (unbiased variance).

    With `batch_sums` ([3, C]: Σx, Σx² and the count of values per channel,
    made by `bnn.batchnorm_sums` and summed over the processes by
    `bnn-sync-batchnorm`), the statistics are those sums' instead of the
    input's: synchronised batchnorm.
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$gamma, F32Tensor:$beta,
                       F32Tensor:$running_mean, F32Tensor:$running_var,
                       Optional<F32Tensor>:$batch_sums,
                       F64Attr:$epsilon, F64Attr:$momentum);
  let results = (outs F32Tensor:$output, F32Tensor:$mean, F32Tensor:$inv_std);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

class Bnn_GradOp<string mnemonic, string what, list<Trait> traits = []>
    : Bnn_Op<mnemonic, !listconcat(traits, [Pure])> {
  let summary = what;
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def Bnn_DenseGradInputOp : Bnn_GradOp<"dense_grad_input",
    "d input of dense: dy · q(weight), q = sign for binary weights",
    [Bnn_QuantizedWeightsOpInterface, Bnn_KernelCall]> {
  let arguments = (ins F32Tensor:$weight, F32Tensor:$output_grad,
                       Bnn_QuantizationAttr:$weights);
  let results = (outs F32Tensor:$input_grad);
}

def Bnn_DenseGradWeightOp : Bnn_GradOp<"dense_grad_weight",
    "d latent weight of dense: dyᵀ · input, times 1{|w| ≤ 1} for binary weights",
    [Bnn_QuantizedWeightsOpInterface, Bnn_KernelCall]> {
  let description = [{
    `input` is the forward pass's input [N, K]: floats, or (after
    bnn-bitpack, when it holds signs) those signs packed along its last
    axis (`#bnn.packed<axis = 1>`, [N, words]), so that a binary layer
    keeps 1 bit an activation for its backward pass.
  }];
  let arguments = (ins AnyTypeOf<[F32Tensor, Bnn_PackedTensor]>:$input, F32Tensor:$weight,
                       F32Tensor:$output_grad, Bnn_QuantizationAttr:$weights);
  let results = (outs F32Tensor:$weight_grad);
  let hasVerifier = 1;
}

def Bnn_Conv2DGradInputOp : Bnn_GradOp<"conv2d_grad_input",
    "d input of conv2d (transposed convolution with q(weight))",
    [Bnn_QuantizedWeightsOpInterface, Bnn_KernelCall]> {
  let arguments = (ins F32Tensor:$weight, F32Tensor:$output_grad,
                       Bnn_QuantizationAttr:$weights,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$pad);
  let results = (outs F32Tensor:$input_grad);
}

def Bnn_Conv2DGradWeightOp : Bnn_GradOp<"conv2d_grad_weight",
    "d latent weight of conv2d, with the STE window for binary weights",
    [Bnn_QuantizedWeightsOpInterface, Bnn_KernelCall]> {
  let description = [{
    `input` is the forward pass's input: floats, or (after bnn-bitpack, when
    it holds signs) those signs packed along channels (`#bnn.packed<axis =
    1>`), so that a binary layer keeps 1 bit an activation for its backward
    pass.
  }];
  let arguments = (ins AnyTypeOf<[F32Tensor, Bnn_PackedTensor]>:$input, F32Tensor:$weight,
                       F32Tensor:$output_grad, Bnn_QuantizationAttr:$weights,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$pad);
  let results = (outs F32Tensor:$weight_grad);
  let hasVerifier = 1;
}

def Bnn_BiasGradOp : Bnn_GradOp<"bias_grad",
    "d bias: the output gradient summed over batch and space, per channel", [Bnn_KernelCall]> {
  let arguments = (ins F32Tensor:$output_grad);
  let results = (outs F32Tensor:$bias_grad);
}

def Bnn_BatchNormGradOp : Bnn_GradOp<"batchnorm_grad",
    "backward of batchnorm_train with the saved batch statistics", [Bnn_KernelCall]> {
  let description = [{
    The input gradient needs two per-channel sums over the batch, Σdy and
    Σdy·x̂, which are also the beta and gamma gradients. With `grad_sums`
    ([2, C], made by `bnn.batchnorm_grad_sums` and averaged over the
    processes by `bnn-sync-batchnorm`) those sums are taken from it: the
    backward pass of synchronised batchnorm.
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$gamma,
                       F32Tensor:$output_grad, F32Tensor:$mean,
                       F32Tensor:$inv_std, Optional<F32Tensor>:$grad_sums);
  let results = (outs F32Tensor:$input_grad, F32Tensor:$gamma_grad,
                      F32Tensor:$beta_grad);
  let hasVerifier = 1;
}

def Bnn_MaxPoolGradOp : Bnn_GradOp<"maxpool_grad",
    "routes each output gradient to the input that won its window", [Bnn_KernelCall]> {
  let description = [{
    `input` is the pooled image, whose windows the kernel searches again
    for their first maximum; or, after bnn-bitpack fused the pooling into
    a training XNOR convolution, the `winners` that convolution wrote (i32,
    [N, C, H', W'], y · k + x in each window; windows that tile the image).
  }];
  let arguments = (ins AnyTypeOf<[F32Tensor, I32Tensor]>:$input, F32Tensor:$output_grad,
                       DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$stride,
                       DenseI64ArrayAttr:$pad);
  let results = (outs F32Tensor:$input_grad);
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Whether `input` holds the winners of a fused pooling.
    bool readsWinners() {
      return getInput().getType().cast<mlir::ShapedType>().getElementType().isInteger(32);
    }
  }];
}

def Bnn_AvgPoolGradOp : Bnn_GradOp<"avgpool_grad",
    "spreads each output gradient evenly over its window", [Bnn_KernelCall]> {
  let arguments = (ins F32Tensor:$output_grad, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$pad);
  let results = (outs F32Tensor:$input_grad);
}

def Bnn_ReshapeOp : Bnn_GradOp<"reshape",
    "same elements, another shape (the backward of flatten)"> {
  let arguments = (ins F32Tensor:$input);
  let results = (outs F32Tensor:$output);
}

def Bnn_SteGradOp : Bnn_GradOp<"ste_grad",
    "straight-through estimator of sign and htanh: dy · 1{|x| ≤ 1}", [Bnn_KernelCall]> {
  let arguments = (ins F32Tensor:$input, F32Tensor:$output_grad);
  let results = (outs F32Tensor:$input_grad);
}

def Bnn_ReluGradOp : Bnn_GradOp<"relu_grad", "dy · 1{x > 0}", [Bnn_KernelCall]> {
  let arguments = (ins F32Tensor:$input, F32Tensor:$output_grad);
  let results = (outs F32Tensor:$input_grad);
}

def Bnn_CrossEntropyGradOp : Bnn_GradOp<"cross_entropy_grad",
    "(softmax(logits) - onehot(labels)) / batch", [Bnn_KernelCall]> {
  let arguments = (ins F32Tensor:$logits, Bnn_LabelTensor:$labels);
  let results = (outs F32Tensor:$logits_grad);
}

def Bnn_SquaredHingeGradOp : Bnn_GradOp<"squared_hinge_grad",
    "-2·max(0, 1 - t·y)·t / batch with t = ±1 one-hot", [Bnn_KernelCall]> {
  let arguments = (ins F32Tensor:$logits, Bnn_LabelTensor:$labels);
  let results = (outs F32Tensor:$logits_grad);
}

def Bnn_AdamUpdateOp : Bnn_Op<"adam_update", [Bnn_KernelCall]> {
  let summary = "one Adam step on a param, in place";
  let description = [{
    Updates the param `param` (and its two moment buffers, owned by the
    runtime) with its gradient, the learning rate `lr` and the 1-based step
    count `step`. With `clip`, the latent weight of a binary layer is
    clipped to [-1, 1] afterwards.
  }];
  let arguments = (ins F32Tensor:$param, F32Tensor:$grad, F32:$lr, I64:$step,
                       UnitAttr:$clip);
  let assemblyFormat = "$param `,` $grad `,` $lr `,` $step attr-dict `:` type($param) `,` type($grad)";
  let hasVerifier = 1;
}

def Bnn_AllReduceOp : Bnn_Op<"allreduce"> {
  let summary = "average tensors over the processes of a data-parallel run";
  let description = [{
    Made by `bnn-data-parallel`: each result is the mean over every process
    of the operand in its position (the gradient of the global batch when
    the operands are gradients of the local one). The operands form one
    bucket: the runtime copies them into one contiguous buffer and makes
    one collective of it (`MPI_Iallreduce`), started where the op stands
    and waited for just before the first use of a result. With one process
    the results equal the operands. Not pure: every process must execute
    the same collectives in the same order, so none may be removed or
    moved by a generic pass.

    With `sum`, the results are the sums over the processes instead of the
    means. With `sync_batchnorm` (made by `bnn-sync-batchnorm` for batch
    statistics), the collective is blocking and runs only when the run
    configuration sets `[distributed] sync_batchnorm = true`; otherwise
    the results equal the operands.
  }];
  let arguments = (ins Variadic<F32Tensor>:$gradients, UnitAttr:$sum,
                       UnitAttr:$sync_batchnorm);
  let results = (outs Variadic<F32Tensor>:$means);
  // Not `type($gradients) -> type($means)`: its parser instantiates
  // AsmParser::parseTypeList's lambda here, compiled by GCC, and the linker
  // may hand that copy to Debian's clang-built MLIR (func.return's parser),
  // whose closure layout differs: a heap corruption at the first return.
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

#endif // BNN_TRAIN_OPS_TD
