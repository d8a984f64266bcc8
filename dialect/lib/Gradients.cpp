//===- Gradients.cpp - The training rules of the ops ----------------------===//
//
// One function per op, in the order of the ODS: its gradient rule
// (GradientOpInterface), its training form (TrainingFormOpInterface) or the
// gradient of a loss (LossOpInterface). bnn-generate-train-step calls them
// and keeps the bookkeeping (GradientSink, bnn/Gradient.h).
//
//===----------------------------------------------------------------------===//

#include "bnn/BnnOps.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace bnn;

/// The gradient of the only result of a single-result op: the pass calls a
/// rule only when some result has a gradient.
static Value onlyResultGrad(ValueRange resultGrads) {
  assert(resultGrads.size() == 1 && resultGrads[0] &&
         "a single-result op is differentiated only with its gradient");
  return resultGrads[0];
}

/// Builds a gradient op of `Grad` only when `operand` needs the gradient,
/// and hands its (single) result to the sink.
template <typename Grad, typename... Args>
static void accumulateGradOp(OpBuilder &builder, GradientSink &sink,
                             Location loc, Value operand, Args &&...args) {
  if (!sink.needsGradient(operand))
    return;
  Value grad = builder.create<Grad>(loc, operand.getType(),
                                    std::forward<Args>(args)...);
  sink.accumulate(operand, grad);
}

//===----------------------------------------------------------------------===//
// BnnOps.td
//===----------------------------------------------------------------------===//

/// A leaf: the gradient collected for it is final (the optimizer reads it).
LogicalResult ParamOp::buildGradients(OpBuilder &, ValueRange,
                                      GradientSink &) {
  return success();
}

/// The input gradient multiplies by q(weight); the weight gradient reaches
/// the latent weight through the straight-through estimator.
LogicalResult DenseOp::buildGradients(OpBuilder &builder,
                                      ValueRange resultGrads,
                                      GradientSink &sink) {
  Value dy = onlyResultGrad(resultGrads);
  Value x = getInput(), w = getWeight();
  Location loc = getLoc();
  accumulateGradOp<DenseGradInputOp>(builder, sink, loc, x, w, dy,
                                     getWeightsAttr());
  accumulateGradOp<DenseGradWeightOp>(builder, sink, loc, w, x, w, dy,
                                      getWeightsAttr());
  if (Value bias = getBias())
    accumulateGradOp<BiasGradOp>(builder, sink, loc, bias, dy);
  return success();
}

LogicalResult Conv2DOp::buildGradients(OpBuilder &builder,
                                       ValueRange resultGrads,
                                       GradientSink &sink) {
  Value dy = onlyResultGrad(resultGrads);
  Value x = getInput(), w = getWeight();
  Location loc = getLoc();
  accumulateGradOp<Conv2DGradInputOp>(builder, sink, loc, x, w, dy,
                                      getWeightsAttr(), getStrideAttr(),
                                      getPadAttr());
  accumulateGradOp<Conv2DGradWeightOp>(builder, sink, loc, w, x, w, dy,
                                       getWeightsAttr(), getStrideAttr(),
                                       getPadAttr());
  if (Value bias = getBias())
    accumulateGradOp<BiasGradOp>(builder, sink, loc, bias, dy);
  return success();
}

/// Training normalises with batch statistics (and updates the running
/// ones), and its backward pass needs them: batchnorm_train returns them.
Operation *BatchNormOp::buildTrainingForm(OpBuilder &builder,
                                          ValueRange operands) {
  Adaptor mapped(operands, (*this)->getAttrDictionary());
  Type stats = getGamma().getType();
  return builder.create<BatchNormTrainOp>(
      getLoc(), TypeRange{getType(), stats, stats}, mapped.getInput(),
      mapped.getGamma(), mapped.getBeta(), mapped.getRunningMean(),
      mapped.getRunningVar(), /*batch_sums=*/Value(), getEpsilonAttr(), getMomentumAttr());
}

/// Each output gradient goes to the input that won its window.
LogicalResult MaxPoolOp::buildGradients(OpBuilder &builder,
                                        ValueRange resultGrads,
                                        GradientSink &sink) {
  Value x = getInput();
  accumulateGradOp<MaxPoolGradOp>(builder, sink, getLoc(), x, x,
                                  onlyResultGrad(resultGrads), getKernelAttr(),
                                  getStrideAttr(), getPadAttr());
  return success();
}

LogicalResult AvgPoolOp::buildGradients(OpBuilder &builder,
                                        ValueRange resultGrads,
                                        GradientSink &sink) {
  accumulateGradOp<AvgPoolGradOp>(builder, sink, getLoc(), getInput(),
                                  onlyResultGrad(resultGrads), getKernelAttr(),
                                  getStrideAttr(), getPadAttr());
  return success();
}

/// The same elements in the input's shape.
LogicalResult FlattenOp::buildGradients(OpBuilder &builder,
                                        ValueRange resultGrads,
                                        GradientSink &sink) {
  accumulateGradOp<ReshapeOp>(builder, sink, getLoc(), getInput(),
                              onlyResultGrad(resultGrads));
  return success();
}

/// Both summands get the output gradient itself; no op is needed.
LogicalResult AddOp::buildGradients(OpBuilder &, ValueRange resultGrads,
                                    GradientSink &sink) {
  Value dy = onlyResultGrad(resultGrads);
  sink.accumulate(getLhs(), dy);
  sink.accumulate(getRhs(), dy);
  return success();
}

/// sign and htanh share the straight-through estimator dy·1{|x| ≤ 1}: the
/// exact gradient of htanh, the BinaryNet estimate for sign.
static LogicalResult buildSteGradient(Operation *op, OpBuilder &builder,
                                      ValueRange resultGrads,
                                      GradientSink &sink) {
  Value x = op->getOperand(0);
  accumulateGradOp<SteGradOp>(builder, sink, op->getLoc(), x, x,
                              onlyResultGrad(resultGrads));
  return success();
}

LogicalResult SignOp::buildGradients(OpBuilder &builder,
                                     ValueRange resultGrads,
                                     GradientSink &sink) {
  return buildSteGradient(*this, builder, resultGrads, sink);
}

LogicalResult HTanhOp::buildGradients(OpBuilder &builder,
                                      ValueRange resultGrads,
                                      GradientSink &sink) {
  return buildSteGradient(*this, builder, resultGrads, sink);
}

LogicalResult ReluOp::buildGradients(OpBuilder &builder,
                                     ValueRange resultGrads,
                                     GradientSink &sink) {
  Value x = getInput();
  accumulateGradOp<ReluGradOp>(builder, sink, getLoc(), x, x,
                               onlyResultGrad(resultGrads));
  return success();
}

/// The labels are integers: only the logits get a gradient.
void CrossEntropyOp::buildLossGradient(OpBuilder &builder,
                                       GradientSink &sink) {
  Value logits = getLogits();
  accumulateGradOp<CrossEntropyGradOp>(builder, sink, getLoc(), logits,
                                       logits, getLabels());
}

void SquaredHingeOp::buildLossGradient(OpBuilder &builder,
                                       GradientSink &sink) {
  Value logits = getLogits();
  accumulateGradOp<SquaredHingeGradOp>(builder, sink, getLoc(), logits,
                                       logits, getLabels());
}

//===----------------------------------------------------------------------===//
// BnnTrainOps.td
//===----------------------------------------------------------------------===//

/// One backward op gives the gradients of input, gamma and beta from the
/// saved batch statistics. The statistics themselves are outputs for the
/// backward pass only: a gradient reaching them has no rule.
LogicalResult BatchNormTrainOp::buildGradients(OpBuilder &builder,
                                               ValueRange resultGrads,
                                               GradientSink &sink) {
  if (resultGrads[1] || resultGrads[2])
    return emitOpError() << "has no gradient rule for its batch statistics "
                            "(mean, inv_std)";
  Value x = getInput(), gamma = getGamma(), beta = getBeta();
  if (!sink.needsGradient(x) && !sink.needsGradient(gamma) &&
      !sink.needsGradient(beta))
    return success();
  auto grad = builder.create<BatchNormGradOp>(
      getLoc(), TypeRange{x.getType(), gamma.getType(), beta.getType()}, x,
      gamma, resultGrads[0], getMean(), getInvStd(), /*grad_sums=*/Value());
  sink.accumulate(x, grad.getInputGrad());
  sink.accumulate(gamma, grad.getGammaGrad());
  sink.accumulate(beta, grad.getBetaGrad());
  return success();
}
