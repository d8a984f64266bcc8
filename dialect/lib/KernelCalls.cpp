//===- KernelCalls.cpp - How each op of the plan calls its kernel ---------===//
//
// One function per op (KernelCallOpInterface), in the order of the ODS: the
// kernel family, its sizes, and which operand or result goes to which
// argument of the family's signature (compiler/lowering/KernelSignature.cpp),
// in which layout (bnn/KernelCall.h).
//
//===----------------------------------------------------------------------===//

#include "bnn/BnnOps.h"

using namespace mlir;
using namespace bnn;
using View = KernelView;

namespace {

llvm::ArrayRef<int64_t> shapeOf(Value value) {
  return value.getType().cast<ShapedType>().getShape();
}

/// Elements per batch item (all axes but the first).
int64_t perItem(Value value) {
  int64_t count = 1;
  for (int64_t extent : shapeOf(value).drop_front())
    count *= extent;
  return count;
}

/// Elements per channel and item of an [n, C, ...] tensor.
int64_t spatialOf(Value value) {
  int64_t count = 1;
  for (int64_t extent : shapeOf(value).drop_front(2))
    count *= extent;
  return count;
}

/// [N, C, H, W] of an image, also when it is held as signs packed along
/// channels ([N, H, W, words]).
llvm::SmallVector<int64_t, 4> imageShape(Value image) {
  llvm::ArrayRef<int64_t> x = shapeOf(image);
  if (PackedAttr packed = packedEncoding(image.getType()))
    return {x[0], packed.getBits(), x[1], x[2]};
  return {x.begin(), x.end()};
}

/// The window of a convolution over `input` with weights [O, C, KH, KW].
KernelCall::Window convWindow(Value input, Value weight, llvm::ArrayRef<int64_t> stride,
                              llvm::ArrayRef<int64_t> pad) {
  llvm::SmallVector<int64_t, 4> x = imageShape(input);
  llvm::ArrayRef<int64_t> w = shapeOf(weight);
  return {x[1], x[2], x[3], w[0], w[2], w[3], stride[0], pad[0]};
}

/// The window of a pooling of `input` (filters = channels).
KernelCall::Window poolWindow(Value input, llvm::ArrayRef<int64_t> kernel,
                              llvm::ArrayRef<int64_t> stride, llvm::ArrayRef<int64_t> pad) {
  llvm::ArrayRef<int64_t> x = shapeOf(input);
  return {x[1], x[2], x[3], x[1], kernel[0], kernel[1], stride[0], pad[0]};
}

/// gamma, beta and the running statistics of a batchnorm.
template <typename Op> void bindBatchNormParams(Op op, KernelCall &call) {
  call.input("gamma", op.getGamma(), View::Flat);
  call.input("beta", op.getBeta(), View::Flat);
  call.input("running_mean", op.getRunningMean(), View::Flat);
  call.input("running_var", op.getRunningVar(), View::Flat);
}

/// Batch statistics out, and the new running statistics into the params.
template <typename Op> void bindBatchStatistics(Op op, KernelCall &call) {
  call.output("mean", op.getMean(), View::Flat);
  call.output("inv_std", op.getInvStd(), View::Flat);
  call.stateUpdates.push_back({"new_running_mean", op.getRunningMean(), View::Flat});
  call.stateUpdates.push_back({"new_running_var", op.getRunningVar(), View::Flat});
}

/// A batchnorm over `input` ([n, C, ...]): its family and sizes.
void batchNormCall(KernelCall &call, llvm::StringRef family, Value input,
                   double epsilon, double momentum = 0.0) {
  call.family = family;
  call.length = spatialOf(input);
  call.units = shapeOf(input)[1];
  call.epsilon = epsilon;
  call.momentum = momentum;
  call.input("x", input, View::Channels);
}

/// The output of a batchnorm: values or ±1 floats, or signs packed along
/// channels.
template <typename Op> void bindSigns(Op op, KernelCall &call) {
  Value output = op->getResult(0);
  call.packed = bool(packedEncoding(output.getType()));
  call.output("output", output, call.packed ? View::PackedChannels : View::Channels);
}

/// batchnorm / batchnorm_sign at evaluation (running statistics).
template <typename Op>
LogicalResult batchNormEvalCall(Op op, KernelCall &call, llvm::StringRef family) {
  batchNormCall(call, family, op.getInput(), op.getEpsilon().convertToDouble());
  bindBatchNormParams(op, call);
  bindSigns(op, call);
  return success();
}

/// batchnorm_train / batchnorm_sign_train (batch statistics).
template <typename Op>
LogicalResult batchNormTrainCall(Op op, KernelCall &call, llvm::StringRef family) {
  batchNormCall(call, family, op.getInput(), op.getEpsilon().convertToDouble(),
                op.getMomentum().convertToDouble());
  bindBatchNormParams(op, call);
  if (Value sums = op.getBatchSums()) { // synchronised batchnorm
    call.givenSums = true;
    call.input("batch_sums", sums, View::Matrix);
  }
  bindSigns(op, call);
  bindBatchStatistics(op, call);
  return success();
}

/// The batchnorm backward pass (with the STE window: `beta` too).
template <typename Op>
LogicalResult batchNormGradCall(Op op, KernelCall &call, llvm::StringRef family,
                                Value beta = {}) {
  batchNormCall(call, family, op.getInput(), 0.0);
  call.input("gamma", op.getGamma(), View::Flat);
  if (beta)
    call.input("beta", beta, View::Flat);
  call.input("dy", op.getOutputGrad(), View::Channels);
  call.input("mean", op.getMean(), View::Flat);
  call.input("inv_std", op.getInvStd(), View::Flat);
  if (Value sums = op.getGradSums()) { // synchronised batchnorm
    call.givenSums = true;
    call.input("grad_sums", sums, View::Matrix);
  }
  call.output("dx", op.getInputGrad(), View::Channels);
  call.output("dgamma", op.getGammaGrad(), View::Flat);
  call.output("dbeta", op.getBetaGrad(), View::Flat);
  return success();
}

/// A pooling op or its gradient over the image `input`.
template <typename Op>
void poolCall(Op op, KernelCall &call, llvm::StringRef family, Value input) {
  call.family = family;
  call.window = poolWindow(input, op.getKernel(), op.getStride(), op.getPad());
}

/// An element-wise op over `x` (and `second`, bound to `secondArg`).
LogicalResult elementwiseCall(KernelCall &call, llvm::StringRef family, Value x,
                              Value result, llvm::StringRef resultArg,
                              Value second = {}, llvm::StringRef secondArg = "") {
  call.family = family;
  call.length = perItem(result);
  call.input(family == "add" ? "lhs" : "x", x, View::Rows);
  if (second)
    call.input(secondArg, second, View::Rows);
  call.output(resultArg, result, View::Rows);
  return success();
}

/// A loss over logits [n, classes]: the per-row losses (scratch) and the
/// gradient of their mean; the forward op's loss is the mean.
LogicalResult lossCall(KernelCall &call, llvm::StringRef family, Value logits,
                       Value labels, Value gradient) {
  call.family = family;
  call.units = shapeOf(logits)[1];
  call.input("logits", logits, View::Rows);
  call.input("labels", labels, View::Batch);
  call.scratch.push_back({"row_loss", labels, View::Batch});
  if (gradient)
    call.output("dlogits", gradient, View::Rows);
  else
    call.scratch.push_back({"dlogits", logits, View::Rows});
  return success();
}

/// 2·(multiply-adds) of a conv2d with weight [O, C, KH, KW] writing `output`.
double convOps(Value weight, Value output) {
  llvm::ArrayRef<int64_t> w = shapeOf(weight);
  return 2.0 * double(w[1] * w[2] * w[3]) * double(perItem(output));
}

double denseOps(Value weight) {
  llvm::ArrayRef<int64_t> w = shapeOf(weight);
  return 2.0 * double(w[0]) * double(w[1]);
}

} // namespace

//===--- graph ops --------------------------------------------------------===//

LogicalResult DenseOp::describeKernelCall(KernelCall &call) {
  llvm::ArrayRef<int64_t> w = shapeOf(getWeight());
  call.family = "dense";
  call.length = w[1];
  call.units = w[0];
  call.binary = hasBinaryWeights();
  call.scaled = hasScaledWeights();
  call.bias = bool(getBias());
  call.input("x", getInput(), View::Rows);
  call.input("w", getWeight(), View::Matrix);
  if (getBias())
    call.input("bias", getBias(), View::Flat);
  call.output("y", getResult(), View::Rows);
  call.opsPerItem = denseOps(getWeight());
  return success();
}

LogicalResult Conv2DOp::describeKernelCall(KernelCall &call) {
  call.family = "conv2d";
  call.window = convWindow(getInput(), getWeight(), getStride(), getPad());
  call.binary = hasBinaryWeights();
  call.scaled = hasScaledWeights();
  call.bias = bool(getBias());
  call.input("input", getInput(), View::Image);
  call.input("weight", getWeight(), View::ConvWeight);
  if (getBias())
    call.input("bias", getBias(), View::Flat);
  call.output("output", getResult(), View::Image);
  call.opsPerItem = convOps(getWeight(), getResult());
  return success();
}

/// The conv2d kernel family with the sign of batchnorm fused (evaluation).
LogicalResult Conv2DBatchNormSignOp::describeKernelCall(KernelCall &call) {
  call.family = "conv2d";
  call.window = convWindow(getInput(), getWeight(), getStride(), getPad());
  call.binary = hasBinaryWeights();
  call.scaled = hasScaledWeights();
  call.fusedSign = true;
  call.pool = 1;
  call.epsilon = getEpsilon().convertToDouble();
  call.input("input", getInput(), View::Image);
  call.input("weight", getWeight(), View::ConvWeight);
  bindBatchNormParams(*this, call);
  call.packed = bool(packedEncoding(getOutput().getType()));
  call.output("output", getOutput(), call.packed ? View::Words : View::Image);
  call.opsPerItem = 2.0 * double(call.window.channels * call.window.kernelH *
                                 call.window.kernelW * call.window.filters) *
                    double(imageShape(getOutput())[2] * imageShape(getOutput())[3]);
  return success();
}

LogicalResult BatchNormOp::describeKernelCall(KernelCall &call) {
  return batchNormEvalCall(*this, call, "batchnorm");
}

LogicalResult MaxPoolOp::describeKernelCall(KernelCall &call) {
  poolCall(*this, call, "maxpool", getInput());
  call.input("input", getInput(), View::Image);
  call.output("output", getResult(), View::Image);
  return success();
}

LogicalResult AvgPoolOp::describeKernelCall(KernelCall &call) {
  poolCall(*this, call, "avgpool", getInput());
  call.input("input", getInput(), View::Image);
  call.output("output", getResult(), View::Image);
  return success();
}

LogicalResult AddOp::describeKernelCall(KernelCall &call) {
  return elementwiseCall(call, "add", getLhs(), getResult(), "y", getRhs(), "rhs");
}

LogicalResult SignOp::describeKernelCall(KernelCall &call) {
  return elementwiseCall(call, "sign", getInput(), getResult(), "y");
}

LogicalResult HTanhOp::describeKernelCall(KernelCall &call) {
  return elementwiseCall(call, "htanh", getInput(), getResult(), "y");
}

LogicalResult ReluOp::describeKernelCall(KernelCall &call) {
  return elementwiseCall(call, "relu", getInput(), getResult(), "y");
}

LogicalResult CrossEntropyOp::describeKernelCall(KernelCall &call) {
  call.stepLoss = "row_loss";
  return lossCall(call, "cross_entropy", getLogits(), getLabels(), {});
}

LogicalResult SquaredHingeOp::describeKernelCall(KernelCall &call) {
  call.stepLoss = "row_loss";
  return lossCall(call, "squared_hinge", getLogits(), getLabels(), {});
}

//===--- training ops -----------------------------------------------------===//

LogicalResult BatchNormTrainOp::describeKernelCall(KernelCall &call) {
  return batchNormTrainCall(*this, call, "batchnorm_train");
}

LogicalResult DenseGradInputOp::describeKernelCall(KernelCall &call) {
  llvm::ArrayRef<int64_t> w = shapeOf(getWeight());
  call.family = "dense_grad_input";
  call.length = w[1];
  call.units = w[0];
  call.binary = hasBinaryWeights();
  call.scaled = hasScaledWeights();
  call.input("w", getWeight(), View::Matrix);
  call.input("dy", getOutputGrad(), View::Rows);
  call.output("dx", getInputGrad(), View::Rows);
  call.opsPerItem = denseOps(getWeight());
  return success();
}

LogicalResult DenseGradWeightOp::describeKernelCall(KernelCall &call) {
  llvm::ArrayRef<int64_t> w = shapeOf(getWeight());
  call.family = "dense_grad_weight";
  call.length = w[1];
  call.units = w[0];
  call.binary = hasBinaryWeights();
  call.scaled = hasScaledWeights();
  call.packed = bool(packedEncoding(getInput().getType()));
  call.input("x", getInput(), call.packed ? View::Words : View::Rows);
  call.input("w", getWeight(), View::Matrix);
  call.input("dy", getOutputGrad(), View::Rows);
  call.output("dw", getWeightGrad(), View::Matrix);
  call.opsPerItem = denseOps(getWeight());
  return success();
}

LogicalResult Conv2DGradInputOp::describeKernelCall(KernelCall &call) {
  call.family = "conv2d_grad_input";
  call.window = convWindow(getInputGrad(), getWeight(), getStride(), getPad());
  call.binary = hasBinaryWeights();
  call.scaled = hasScaledWeights();
  call.input("weight", getWeight(), View::ConvWeight);
  call.input("dy", getOutputGrad(), View::Image);
  call.output("dx", getInputGrad(), View::Image);
  call.opsPerItem = convOps(getWeight(), getOutputGrad());
  return success();
}

LogicalResult Conv2DGradWeightOp::describeKernelCall(KernelCall &call) {
  call.family = "conv2d_grad_weight";
  call.window = convWindow(getInput(), getWeight(), getStride(), getPad());
  call.binary = hasBinaryWeights();
  call.scaled = hasScaledWeights();
  call.packed = bool(packedEncoding(getInput().getType()));
  call.input("input", getInput(), call.packed ? View::Words : View::Image);
  call.input("weight", getWeight(), View::ConvWeight);
  call.input("dy", getOutputGrad(), View::Image);
  call.output("dw", getWeightGrad(), View::ConvWeight);
  call.opsPerItem = convOps(getWeight(), getOutputGrad());
  return success();
}

LogicalResult BiasGradOp::describeKernelCall(KernelCall &call) {
  call.family = "bias_grad";
  call.length = spatialOf(getOutputGrad());
  call.units = shapeOf(getOutputGrad())[1];
  call.input("dy", getOutputGrad(), View::Channels);
  call.output("db", getBiasGrad(), View::Flat);
  return success();
}

LogicalResult BatchNormGradOp::describeKernelCall(KernelCall &call) {
  return batchNormGradCall(*this, call, "batchnorm_grad");
}

LogicalResult MaxPoolGradOp::describeKernelCall(KernelCall &call) {
  poolCall(*this, call, "maxpool_grad", getInputGrad());
  call.winners = readsWinners();
  call.input(call.winners ? "winners" : "input", getInput(), View::Image);
  call.input("dy", getOutputGrad(), View::Image);
  call.output("dx", getInputGrad(), View::Image);
  return success();
}

LogicalResult AvgPoolGradOp::describeKernelCall(KernelCall &call) {
  poolCall(*this, call, "avgpool_grad", getInputGrad());
  call.input("dy", getOutputGrad(), View::Image);
  call.output("dx", getInputGrad(), View::Image);
  return success();
}

LogicalResult SteGradOp::describeKernelCall(KernelCall &call) {
  return elementwiseCall(call, "ste_grad", getInput(), getInputGrad(), "dx",
                         getOutputGrad(), "dy");
}

LogicalResult ReluGradOp::describeKernelCall(KernelCall &call) {
  return elementwiseCall(call, "relu_grad", getInput(), getInputGrad(), "dx",
                         getOutputGrad(), "dy");
}

LogicalResult CrossEntropyGradOp::describeKernelCall(KernelCall &call) {
  return lossCall(call, "cross_entropy", getLogits(), getLabels(), getLogitsGrad());
}

LogicalResult SquaredHingeGradOp::describeKernelCall(KernelCall &call) {
  return lossCall(call, "squared_hinge", getLogits(), getLabels(), getLogitsGrad());
}

LogicalResult AdamUpdateOp::describeKernelCall(KernelCall &call) {
  call.family = "adam";
  call.length = shapeOf(getParam()).empty() ? 1 : perItem(getParam()) * shapeOf(getParam())[0];
  call.binary = getClip(); // clipped latent weights
  call.input("param", getParam(), View::Flat);
  call.input("grad", getGrad(), View::Flat);
  call.scalars.push_back({"lr", getLr()});
  call.scalars.push_back({"step", getStep()});
  call.output("new_param", getParam(), View::Flat); // in place
  call.adamMoments = getParam();
  return success();
}

//===--- kernel-level ops -------------------------------------------------===//

LogicalResult BatchNormSignOp::describeKernelCall(KernelCall &call) {
  return batchNormEvalCall(*this, call, "batchnorm_sign");
}

LogicalResult BatchNormSignTrainOp::describeKernelCall(KernelCall &call) {
  return batchNormTrainCall(*this, call, "batchnorm_sign_train");
}

LogicalResult BatchNormSteGradOp::describeKernelCall(KernelCall &call) {
  return batchNormGradCall(*this, call, "batchnorm_ste_grad", getBeta());
}

LogicalResult BatchNormSumsOp::describeKernelCall(KernelCall &call) {
  batchNormCall(call, "batchnorm_sums", getInput(), 0.0);
  call.output("sums", getSums(), View::Matrix);
  return success();
}

/// The sums of a batchnorm backward pass; with `beta`, of the STE-windowed
/// gradient (fusedSign: the window of sign(batchnorm)).
LogicalResult BatchNormGradSumsOp::describeKernelCall(KernelCall &call) {
  batchNormCall(call, "batchnorm_grad_sums", getInput(), 0.0);
  call.input("gamma", getGamma(), View::Flat);
  if (getBeta()) {
    call.fusedSign = true;
    call.input("beta", getBeta(), View::Flat);
  }
  call.input("dy", getOutputGrad(), View::Channels);
  call.input("mean", getMean(), View::Flat);
  call.input("inv_std", getInvStd(), View::Flat);
  call.output("sums", getSums(), View::Matrix);
  return success();
}

/// Signs packed along the last axis (dense layers: `pack_signs`) or along
/// the channels of an [N, C, H, W] image or [O, C, KH, KW] filters
/// (`pack_channels`, words innermost).
LogicalResult PackSignsOp::describeKernelCall(KernelCall &call) {
  llvm::ArrayRef<int64_t> x = shapeOf(getInput());
  int64_t axis = packedEncoding(getOutput().getType()).getAxis();
  call.output("packed", getOutput(), View::Words);
  if (axis == int64_t(x.size()) - 1) {
    call.family = "pack_signs";
    call.length = x.back();
    call.input("x", getInput(), View::Rows);
    return success();
  }
  if (axis != 1 || x.size() != 4)
    return emitOpError() << "has no kernel for packing axis " << axis << " of a rank-"
                         << x.size() << " tensor";
  call.family = "pack_channels";
  call.length = x[1];
  call.window = {x[1], x[2], x[3], x[1], 1, 1, 1, 0};
  call.input("x", getInput(), View::Image);
  return success();
}

/// Signs packed along channels ([N, H, W, words]) repacked in the order of
/// the image's flatten ([N, words']): the window names C, H and W.
LogicalResult FlattenSignsOp::describeKernelCall(KernelCall &call) {
  llvm::ArrayRef<int64_t> x = shapeOf(getInput());
  int64_t channels = packedEncoding(getInput().getType()).getBits();
  call.family = "flatten_signs";
  call.window = {channels, x[1], x[2], channels, 1, 1, 1, 0};
  call.input("input", getInput(), View::Words);
  call.output("packed", getOutput(), View::Words);
  return success();
}

/// The packed product of a binary dense layer: input [n, words], weight
/// [units, words] of `length` signs.
template <typename Op> void bindXnorProduct(Op op, KernelCall &call, llvm::StringRef family) {
  call.family = family;
  call.length = int64_t(op.getLength());
  call.units = shapeOf(op.getWeight())[0];
  call.input("input", op.getInput(), View::Words);
  call.input("weight", op.getWeight(), View::Words);
  call.opsPerItem = 2.0 * double(call.length) * double(call.units);
  call.binaryOps = true;
}

LogicalResult XnorDenseOp::describeKernelCall(KernelCall &call) {
  bindXnorProduct(*this, call, "xnor_dense");
  call.output("output", getResult(), View::Rows);
  return success();
}

LogicalResult XnorConv2DOp::describeKernelCall(KernelCall &call) {
  llvm::ArrayRef<int64_t> x = shapeOf(getInput()), w = shapeOf(getWeight());
  int64_t channels = packedEncoding(getInput().getType()).getBits();
  call.family = "xnor_conv2d";
  call.length = channels;
  call.window = {channels, x[1], x[2], w[0], w[1], w[2], getStride()[0], getPad()[0]};
  call.input("input", getInput(), View::Words);
  call.input("weight", getWeight(), View::Words);
  call.fusedSign = hasFusedSign();
  call.pool = poolWindow();
  if (call.fusedSign) {
    call.epsilon = getEpsilon()->convertToDouble();
    bindBatchNormParams(*this, call);
  }
  call.packed = bool(packedEncoding(getOutput().getType()));
  call.output("output", getOutput(), call.packed ? View::Words : View::Image);
  call.winners = bool(getWinners());
  if (call.winners)
    call.output("winners", getWinners(), View::Image);
  call.batchSums = bool(getBatchSums());
  if (call.batchSums)
    call.output("batch_sums", getBatchSums(), View::Matrix);
  int64_t outputs = w[0] * imageShape(getOutput())[2] * imageShape(getOutput())[3];
  call.opsPerItem = 2.0 * double(channels * w[1] * w[2]) * double(outputs) *
                    double(call.pool * call.pool);
  call.binaryOps = true;
  return success();
}

LogicalResult XnorDenseBatchNormSignTrainOp::describeKernelCall(KernelCall &call) {
  bindXnorProduct(*this, call, "xnor_dense_batchnorm_sign_train");
  call.epsilon = getEpsilon().convertToDouble();
  call.momentum = getMomentum().convertToDouble();
  bindBatchNormParams(*this, call);
  bindSigns(*this, call);
  call.output("product", getProduct(), View::Rows);
  bindBatchStatistics(*this, call);
  return success();
}

LogicalResult XnorDenseBatchNormSignOp::describeKernelCall(KernelCall &call) {
  bindXnorProduct(*this, call, "xnor_dense_batchnorm_sign");
  call.epsilon = getEpsilon().convertToDouble();
  bindBatchNormParams(*this, call);
  bindSigns(*this, call);
  return success();
}
