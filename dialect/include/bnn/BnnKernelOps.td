#ifndef BNN_KERNEL_OPS_TD
#define BNN_KERNEL_OPS_TD

// Kernel-level ops: made by bnn-fuse and bnn-bitpack from graph and
// training ops, one op per kernel of the execution plan.


def Bnn_BatchNormSignOp : Bnn_Op<"batchnorm_sign", [Pure, Bnn_SignValued, Bnn_KernelCall]> {
  let summary = "sign(batchnorm(x)) at evaluation: a per-channel threshold";
  let description = [{
    With running statistics, sign(γ·(x−μ)/σ + β) is x ≥ τ for γ > 0 and
    x ≤ τ for γ < 0, with τ = μ − β·σ/γ (σ = sqrt(var + ε)); γ = 0 gives
    sign(β). The kernel compares against τ instead of normalising. The
    output is ±1 floats, or (after bnn-bitpack, for the next binary
    convolution) the signs packed along channels, `#bnn.packed<axis = 1>`.
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$gamma, F32Tensor:$beta,
                       F32Tensor:$running_mean, F32Tensor:$running_var,
                       F64Attr:$epsilon);
  let results = (outs AnyTypeOf<[F32Tensor, Bnn_PackedTensor]>:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bnn_BatchNormSignTrainOp : Bnn_Op<"batchnorm_sign_train", [Bnn_SignValued, Bnn_KernelCall]> {
  let summary = "batchnorm_train followed by sign, in one pass";
  let description = [{
    Writes only the signs: the backward pass (batchnorm_ste_grad) recomputes
    the normalised value from input, gamma, beta, mean and inv_std, so the
    pre-sign tensor is never stored. Updates the running statistics like
    batchnorm_train. The signs are ±1 floats, or (after bnn-bitpack, when
    binary convolutions and their weight gradients are all that read them)
    packed along channels, `#bnn.packed<axis = 1>`: 1 bit an activation.
    `batch_sums` as in batchnorm_train (synchronised batchnorm).
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$gamma, F32Tensor:$beta,
                       F32Tensor:$running_mean, F32Tensor:$running_var,
                       Optional<F32Tensor>:$batch_sums,
                       F64Attr:$epsilon, F64Attr:$momentum);
  let results = (outs AnyTypeOf<[F32Tensor, Bnn_PackedTensor]>:$output,
                      F32Tensor:$mean, F32Tensor:$inv_std);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bnn_BatchNormSteGradOp : Bnn_Op<"batchnorm_ste_grad", [Pure, Bnn_KernelCall]> {
  let summary = "the straight-through estimator of sign fused into batchnorm_grad";
  let description = [{
    `output_grad` is the gradient of sign(batchnorm(x)); the STE window
    1{|γ·(x−mean)·inv_std + β| ≤ 1} is applied on the fly, then the
    batchnorm backward pass. `grad_sums` as in batchnorm_grad (of the
    windowed gradient).
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$gamma, F32Tensor:$beta,
                       F32Tensor:$output_grad, F32Tensor:$mean,
                       F32Tensor:$inv_std, Optional<F32Tensor>:$grad_sums);
  let results = (outs F32Tensor:$input_grad, F32Tensor:$gamma_grad,
                      F32Tensor:$beta_grad);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bnn_BatchNormSumsOp : Bnn_Op<"batchnorm_sums", [Pure, Bnn_KernelCall]> {
  let summary = "per-channel Σx, Σx² and count of a batchnorm's input, [3, C]";
  let description = [{
    Made by `bnn-sync-batchnorm`: the local half of synchronised batchnorm
    statistics. Row 0 is Σx, row 1 Σx², row 2 the number of values summed
    (batch × positions), for every channel; summed over the processes they
    give the global batch's mean and variance (`batch_sums` of
    batchnorm_train).
  }];
  let arguments = (ins F32Tensor:$input);
  let results = (outs F32Tensor:$sums);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bnn_BatchNormGradSumsOp : Bnn_Op<"batchnorm_grad_sums", [Pure, Bnn_KernelCall]> {
  let summary = "per-channel Σdy and Σdy·x̂ of a batchnorm backward pass, [2, C]";
  let description = [{
    Made by `bnn-sync-batchnorm`: row 0 is Σdy, row 1 Σdy·x̂ with
    x̂ = (x − mean)·inv_std, for every channel. With `beta`, dy is first
    windowed by the straight-through estimator of sign(γ·x̂ + β), as in
    batchnorm_ste_grad. Averaged over the processes they are the
    `grad_sums` of batchnorm_grad / batchnorm_ste_grad.
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$gamma,
                       F32Tensor:$output_grad, F32Tensor:$mean,
                       F32Tensor:$inv_std, Optional<F32Tensor>:$beta);
  let results = (outs F32Tensor:$sums);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bnn_PackSignsOp : Bnn_Op<"pack_signs", [Pure, Bnn_KernelCall]> {
  let summary = "signs of one axis packed 64 to an i64 word";
  let description = [{
    The result's `#bnn.packed<axis = a, bits = n>` encoding names the axis:
    it is removed and its ceil(n / 64) words become the innermost axis, e.g.
    [N, C, H, W] f32 packed along axis 1 is [N, H, W, words] i64. Bit i of
    word j is set when element 64·j + i is negative (sign −1); padding bits
    are 0.
  }];
  let arguments = (ins F32Tensor:$input);
  let results = (outs Bnn_PackedTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bnn_FlattenSignsOp : Bnn_Op<"flatten_signs", [Pure, Bnn_KernelCall]> {
  let summary = "packed signs of an image in the order of its flatten";
  let description = [{
    `input` holds the signs of an [N, C, H, W] image packed along channels
    ([N, H, W, words], as a convolution writes them); the result holds the
    same signs as `pack_signs` of its `flatten` would: [N, C·H·W] packed
    along axis 1, bit i of word j the sign of element 64·j + i =
    c·H·W + y·W + x. A binary dense layer after a convolution stack reads
    it, so no ±1 float is stored between the two; a bit permutation, it is
    its own sign source and has no gradient of its own (the training step
    differentiates the flatten).
  }];
  let arguments = (ins Bnn_PackedTensor:$input);
  let results = (outs Bnn_PackedTensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bnn_XnorDenseOp : Bnn_Op<"xnor_dense", [Pure, Bnn_KernelCall]> {
  let summary = "binary dense on packed signs: length − 2·popcount(a XOR w)";
  let arguments = (ins Bnn_PackedTensor:$input, Bnn_PackedTensor:$weight,
                       I64Attr:$length);
  let results = (outs F32Tensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Bnn_XnorConv2DOp : Bnn_Op<"xnor_conv2d",
    [Pure, Bnn_KernelCall, AttrSizedOperandSegments, AttrSizedResultSegments]> {
  let summary = "binary convolution on packed signs, with optional fused pooling and sign";
  let description = [{
    `input` holds the signs of an [N, C, H, W] image packed along channels
    ([N, H, W, words]), `weight` those of [O, C, KH, KW] filters packed
    along C ([O, KH, KW, words]). The product is the [N, O, H', W'] float
    convolution of the ±1 values with zero padding: a tap that falls in the
    padding adds nothing, exactly as 0 · w would (a ±1 code has no zero, so
    the kernel subtracts those taps' contribution instead of reading them).

    Fusions, one op for every combination (as Larq Compute Engine's binary
    convolution): with `sign_of_batchnorm(gamma, beta, mean, var)` the
    result is sign(batchnorm(y)) with running statistics, computed as a
    per-channel threshold on y; `pool = [k, k]` first takes the k × k max
    (stride k) of y. Pooling then runs on signs: a threshold with γ > 0
    commutes with max (+1 if any tap is), with γ < 0 max becomes min (+1 if
    all are), so the float product is never stored. The signs are ±1
    floats, or packed along channels (`#bnn.packed<axis = 1>`) for the
    next binary layer.

    In training, `pool = [k, k]` without the sign fuses the max pool of a
    binary layer: `output` is the pooled product and `winners` the index
    (y · k + x) of the first maximum of each window, i32. The backward pass
    (maxpool_grad) routes the gradient through `winners`, so the unpooled
    product, k² times larger, is never stored.

    In training, `batch_sums` are the per-channel sums behind batchnorm's
    batch statistics of the (pooled) product, [3, O]: Σx, Σx², count (as
    bnn.batchnorm_sums writes them), summed while each image's product is
    in cache; the batchnorm_sign_train after the convolution reads them as
    its `batch_sums` instead of reading the product once more.
  }];
  let arguments = (ins Bnn_PackedTensor:$input, Bnn_PackedTensor:$weight,
                       Optional<F32Tensor>:$gamma, Optional<F32Tensor>:$beta,
                       Optional<F32Tensor>:$running_mean, Optional<F32Tensor>:$running_var,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$pad,
                       OptionalAttr<F64Attr>:$epsilon, OptionalAttr<DenseI64ArrayAttr>:$pool);
  let results = (outs AnyTypeOf<[F32Tensor, Bnn_PackedTensor]>:$output,
                      Optional<I32Tensor>:$winners, Optional<F32Tensor>:$batch_sums);
  // The optional results are named after `->`, so that a reader (and the
  // parser) knows which of them an op has.
  let assemblyFormat = [{
    $input `,` $weight
    (`sign_of_batchnorm` `(` $gamma^ `,` $beta `,` $running_mean `,` $running_var `)`)?
    attr-dict `:` `(` type($input) `,` type($weight)
    (`,` type($gamma)^ `,` type($beta) `,` type($running_mean) `,` type($running_var))? `)`
    `->` type($output) (`winners` type($winners)^)? (`batch_sums` type($batch_sums)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Whether sign(batchnorm(·)) is fused (the threshold operands are set).
    bool hasFusedSign() { return bool(getGamma()); }
    /// The fused pooling window (stride = window), 1 when none.
    int64_t poolWindow() { return getPool() ? (*getPool())[0] : 1; }
  }];
}

def Bnn_XnorDenseBatchNormSignTrainOp
    : Bnn_Op<"xnor_dense_batchnorm_sign_train", [Bnn_SignValued, Bnn_KernelCall]> {
  let summary = "a binary dense layer in one kernel, training";
  let description = [{
    xnor_dense followed by batchnorm_sign_train: the packed product, batch
    statistics, the running update and the signs in one kernel. The product
    is also a result: the backward pass (batchnorm_ste_grad) reads it. The
    signs are ±1 floats, or packed along units (`#bnn.packed<axis = 1>`)
    when only packed readers (the next XNOR layer, the weight gradient)
    read them.
  }];
  let arguments = (ins Bnn_PackedTensor:$input, Bnn_PackedTensor:$weight,
                       F32Tensor:$gamma, F32Tensor:$beta,
                       F32Tensor:$running_mean, F32Tensor:$running_var,
                       I64Attr:$length, F64Attr:$epsilon, F64Attr:$momentum);
  let results = (outs AnyTypeOf<[F32Tensor, Bnn_PackedTensor]>:$output, F32Tensor:$product,
                      F32Tensor:$mean, F32Tensor:$inv_std);
  let hasVerifier = 1;
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def Bnn_XnorDenseBatchNormSignOp
    : Bnn_Op<"xnor_dense_batchnorm_sign", [Pure, Bnn_SignValued, Bnn_KernelCall]> {
  let summary = "a binary dense layer in one kernel, evaluation";
  let description = [{
    xnor_dense followed by batchnorm_sign: the product compared with the
    per-channel threshold, never stored. The signs are ±1 floats, or packed
    along units (`#bnn.packed<axis = 1>`) when the next binary layer reads
    them so.
  }];
  let arguments = (ins Bnn_PackedTensor:$input, Bnn_PackedTensor:$weight,
                       F32Tensor:$gamma, F32Tensor:$beta,
                       F32Tensor:$running_mean, F32Tensor:$running_var,
                       I64Attr:$length, F64Attr:$epsilon);
  let results = (outs AnyTypeOf<[F32Tensor, Bnn_PackedTensor]>:$output);
  let hasVerifier = 1;
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def Bnn_Conv2DBatchNormSignOp
    : Bnn_Op<"conv2d_batchnorm_sign", [Pure, Bnn_SignValued, Bnn_KernelCall,
                                       Bnn_QuantizedWeightsOpInterface]> {
  let summary = "a real-input convolution and sign(batchnorm) in one kernel, evaluation";
  let description = [{
    conv2d (no bias) followed by batchnorm_sign with running statistics:
    the product is compared with the per-channel threshold per image and
    never stored. A network's first layer, whose input is a real image: its
    signs are ±1 floats, or packed along channels (`#bnn.packed<axis = 1>`)
    when the next binary layer reads them so.
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$weight,
                       F32Tensor:$gamma, F32Tensor:$beta,
                       F32Tensor:$running_mean, F32Tensor:$running_var,
                       Bnn_QuantizationAttr:$weights,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$pad, F64Attr:$epsilon);
  let results = (outs AnyTypeOf<[F32Tensor, Bnn_PackedTensor]>:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

#endif // BNN_KERNEL_OPS_TD
