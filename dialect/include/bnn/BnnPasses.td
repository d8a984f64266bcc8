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

def BnnGenerateTrainStep : Pass<"bnn-generate-train-step", "mlir::ModuleOp"> {
  let summary = "Add <model>_train_step: forward, loss, STE backward, Adam";
  let description = [{
    For every function marked `bnn.model`, adds a function
    `<model>_train_step(input, labels, lr: f32, step: i64) -> (loss, logits)`
    that runs the forward pass with batch statistics (`bnn.batchnorm_train`),
    the loss, the backward pass (reverse-mode, with the straight-through
    estimator through sign and htanh and through the quantisation of binary
    weights) and one `bnn.adam_update` per trainable param, clipping the
    latent weights of binary layers to [-1, 1]. The model function itself is
    left as the evaluation function (batchnorm with running statistics).
    Gradients are only computed for values that depend on a trainable param,
    so the first layer never computes a gradient for the input images.
  }];
  let dependentDialects = ["::bnn::BnnDialect", "::mlir::func::FuncDialect"];
}

def BnnFuse : Pass<"bnn-fuse", "mlir::func::FuncOp"> {
  let summary = "Fuse batchnorm with sign (forward) and the STE with batchnorm_grad (backward)";
  let description = [{
    - training: `sign(batchnorm_train(x))` becomes `batchnorm_sign_train`,
      which writes only the signs, and `batchnorm_grad(ste_grad(...))`
      becomes `batchnorm_ste_grad`, which recomputes the STE window from x;
    - evaluation: `sign(batchnorm(x))` becomes `batchnorm_sign`, a
      per-channel threshold on x.
  }];
  let dependentDialects = ["::bnn::BnnDialect"];
}

def BnnBitpack : Pass<"bnn-bitpack", "mlir::func::FuncOp"> {
  let summary = "Binary dense and conv layers on ±1 inputs become XNOR-popcount on packed words";
  let description = [{
    A `bnn.dense` with binary weights, no bias and an input that is ±1 (the
    result of sign, batchnorm_sign or batchnorm_sign_train) becomes
    `bnn.pack_signs` of input and weight and `bnn.xnor_dense`, whose dot
    product is length − 2·popcount(a XOR w). An xnor_dense followed by
    batchnorm_sign_train (or batchnorm_sign at evaluation) then becomes one
    op, one kernel: the whole binary layer. A `bnn.conv2d` with binary
    weights, no bias and a ±1 input becomes `bnn.pack_signs` of both along
    channels (`#bnn.packed<axis = 1, ...>`) and `bnn.xnor_conv2d`.
  }];
  let dependentDialects = ["::bnn::BnnDialect"];
}

def BnnDataParallel : Pass<"bnn-data-parallel", "mlir::ModuleOp"> {
  let summary = "Average the gradients over processes (bnn.allreduce) before Adam";
  let description = [{
    In every train step (`bnn.train_step`), the gradients that
    `bnn.adam_update` reads are averaged over the processes of a
    data-parallel run by `bnn.allreduce` ops, fused into buckets: in the
    order the backward pass produces them, a bucket takes gradients until
    it holds at least `bucket-bytes`, and its all-reduce stands right after
    its last gradient, so that the collective overlaps the rest of the
    backward pass. The Adam updates are put in bucket order, so the
    updates of the first bucket run while the later buckets travel. Running
    statistics ({state} params) are not touched. A train step that has
    all-reduces already is left as it is.
  }];
  let options = [
    Option<"bucketBytes", "bucket-bytes", "int64_t", /*default=*/"4194304",
           "Close a bucket once its gradients hold at least this many bytes">,
  ];
  let dependentDialects = ["::bnn::BnnDialect"];
}

def BnnSyncBatchNorm : Pass<"bnn-sync-batchnorm", "mlir::func::FuncOp"> {
  let summary = "Batch statistics of the global batch: batchnorm sums all-reduced";
  let description = [{
    Synchronised batchnorm for data-parallel training. In a train step, a
    batchnorm with batch statistics (batchnorm_train, batchnorm_sign_train)
    takes its statistics from `bnn.batchnorm_sums` of its input, summed
    over the processes (`bnn.allreduce {sum, sync_batchnorm}`), and its
    backward pass (batchnorm_grad, batchnorm_ste_grad) its two per-channel
    sums from `bnn.batchnorm_grad_sums`, averaged over the processes. Each
    process then computes the step of the concatenated batch. The
    collectives run only when the run configuration sets
    `[distributed] sync_batchnorm = true`; otherwise each process uses its
    own sums, which is ordinary batchnorm. Runs after bnn-fuse, before
    bnn-bitpack (which then leaves these batchnorms unfused with their
    dense layer: their input is needed before the sums come back).
  }];
  let dependentDialects = ["::bnn::BnnDialect"];
}

#endif // BNN_PASSES_TD
