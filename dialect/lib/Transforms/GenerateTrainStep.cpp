//===- GenerateTrainStep.cpp - Forward, STE backward and Adam as IR -------===//
//
// Reverse-mode differentiation of a bnn model function. The forward ops are
// cloned into <model>_train_step (batchnorm switched to batch statistics),
// then the ops are visited in reverse, each emitting the gradient ops of its
// operands; a value used several times gets the sum of its gradients.
//
//===----------------------------------------------------------------------===//

#include "bnn/BnnOps.h"
#include "bnn/BnnPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

namespace bnn {
#define GEN_PASS_DEF_BNNGENERATETRAINSTEP
#include "bnn/BnnPasses.h.inc"
} // namespace bnn

using namespace mlir;
using namespace bnn;

namespace {

/// Builds the train-step function of one model.
class TrainStepBuilder {
public:
  TrainStepBuilder(func::FuncOp model) : model(model), builder(model) {}

  LogicalResult build() {
    createFunction();
    if (failed(cloneForward()))
      return failure();
    markValuesNeedingGradients();
    seedLossGradient();
    for (Operation *op : llvm::reverse(forwardOps))
      if (failed(backward(op)))
        return failure();
    emitOptimizerUpdates();
    builder.create<func::ReturnOp>(model.getLoc(), ValueRange{loss, logits});
    return success();
  }

private:
  void createFunction() {
    MLIRContext *context = model.getContext();
    FunctionType modelType = model.getFunctionType();
    SmallVector<Type> inputs(modelType.getInputs());
    inputs.push_back(Float32Type::get(context));         // lr
    inputs.push_back(IntegerType::get(context, 64));     // step
    Type lossType = modelType.getResult(1), logitsType = modelType.getResult(0);
    builder.setInsertionPointAfter(model);
    trainStep = builder.create<func::FuncOp>(
        model.getLoc(), (model.getName() + "_train_step").str(),
        FunctionType::get(context, inputs, {lossType, logitsType}));
    trainStep->setAttr("bnn.train_step",
                       FlatSymbolRefAttr::get(model.getNameAttr()));
    Block *entry = trainStep.addEntryBlock();
    for (auto [from, to] :
         llvm::zip(model.getArguments(), entry->getArguments()))
      mapping.map(from, to);
    lr = entry->getArgument(inputs.size() - 2);
    step = entry->getArgument(inputs.size() - 1);
    labels = entry->getArgument(1);
    builder.setInsertionPointToStart(entry);
  }

  /// Clones the model body; batchnorm becomes batchnorm_train.
  LogicalResult cloneForward() {
    for (Operation &op : model.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        logits = mapping.lookup(ret.getOperand(0));
        loss = mapping.lookup(ret.getOperand(1));
        continue;
      }
      if (auto norm = dyn_cast<BatchNormOp>(op)) {
        Value input = mapping.lookup(norm.getInput());
        Type stats = norm.getGamma().getType();
        auto train = builder.create<BatchNormTrainOp>(
            norm.getLoc(), TypeRange{norm.getType(), stats, stats}, input,
            mapping.lookup(norm.getGamma()), mapping.lookup(norm.getBeta()),
            mapping.lookup(norm.getRunningMean()),
            mapping.lookup(norm.getRunningVar()), norm.getEpsilonAttr(),
            norm.getMomentumAttr());
        mapping.map(norm.getResult(), train.getOutput());
        forwardOps.push_back(train);
        continue;
      }
      forwardOps.push_back(builder.clone(op, mapping));
    }
    if (!loss)
      return model.emitError() << "a bnn.model must return (logits, loss)";
    return success();
  }

  /// A value needs a gradient if it depends on a trainable param.
  void markValuesNeedingGradients() {
    for (Operation *op : forwardOps) {
      if (auto param = dyn_cast<ParamOp>(op)) {
        if (!param.getState())
          needsGradient.insert(param.getValue());
        continue;
      }
      if (llvm::any_of(op->getOperands(),
                       [&](Value v) { return needsGradient.contains(v); }))
        for (Value result : op->getResults())
          needsGradient.insert(result);
    }
  }

  void seedLossGradient() {
    Operation *lossOp = loss.getDefiningOp();
    Location loc = lossOp->getLoc();
    Value grad =
        isa<SquaredHingeOp>(lossOp)
            ? builder.create<SquaredHingeGradOp>(loc, logits.getType(), logits,
                                                 labels)
                  .getResult()
            : builder.create<CrossEntropyGradOp>(loc, logits.getType(), logits,
                                                 labels)
                  .getResult();
    accumulate(logits, grad);
  }

  void accumulate(Value value, Value grad) {
    if (!needsGradient.contains(value))
      return;
    auto [it, inserted] = grads.try_emplace(value, grad);
    if (!inserted)
      it->second = builder.create<AddOp>(grad.getLoc(), grad.getType(),
                                         it->second, grad);
  }

  LogicalResult backward(Operation *op) {
    if (op->getNumResults() == 0)
      return success();
    auto found = grads.find(op->getResult(0));
    if (found == grads.end())
      return success(); // nothing downstream depends on it
    Value dy = found->second;
    Location loc = op->getLoc();
    return TypeSwitch<Operation *, LogicalResult>(op)
        .Case([&](DenseOp dense) {
          Value x = dense.getInput(), w = dense.getWeight();
          if (needsGradient.contains(x))
            accumulate(x, builder.create<DenseGradInputOp>(
                              loc, x.getType(), w, dy, dense.getWeightsAttr()));
          accumulate(w, builder.create<DenseGradWeightOp>(
                            loc, w.getType(), x, w, dy, dense.getWeightsAttr()));
          if (Value bias = dense.getBias())
            accumulate(bias,
                       builder.create<BiasGradOp>(loc, bias.getType(), dy));
          return success();
        })
        .Case([&](Conv2DOp conv) {
          Value x = conv.getInput(), w = conv.getWeight();
          if (needsGradient.contains(x))
            accumulate(x, builder.create<Conv2DGradInputOp>(
                              loc, x.getType(), w, dy, conv.getWeightsAttr(),
                              conv.getStrideAttr(), conv.getPadAttr()));
          accumulate(w, builder.create<Conv2DGradWeightOp>(
                            loc, w.getType(), x, w, dy, conv.getWeightsAttr(),
                            conv.getStrideAttr(), conv.getPadAttr()));
          if (Value bias = conv.getBias())
            accumulate(bias,
                       builder.create<BiasGradOp>(loc, bias.getType(), dy));
          return success();
        })
        .Case([&](BatchNormTrainOp norm) {
          Value x = norm.getInput();
          auto grad = builder.create<BatchNormGradOp>(
              loc,
              TypeRange{x.getType(), norm.getGamma().getType(),
                        norm.getBeta().getType()},
              x, norm.getGamma(), dy, norm.getMean(), norm.getInvStd());
          accumulate(x, grad.getInputGrad());
          accumulate(norm.getGamma(), grad.getGammaGrad());
          accumulate(norm.getBeta(), grad.getBetaGrad());
          return success();
        })
        .Case<SignOp, HTanhOp>([&](Operation *activation) {
          Value x = activation->getOperand(0);
          accumulate(x, builder.create<SteGradOp>(loc, x.getType(), x, dy));
          return success();
        })
        .Case([&](ReluOp relu) {
          Value x = relu.getInput();
          accumulate(x, builder.create<ReluGradOp>(loc, x.getType(), x, dy));
          return success();
        })
        .Case([&](MaxPoolOp pool) {
          Value x = pool.getInput();
          accumulate(x, builder.create<MaxPoolGradOp>(
                            loc, x.getType(), x, dy, pool.getKernelAttr(),
                            pool.getStrideAttr(), pool.getPadAttr()));
          return success();
        })
        .Case([&](AvgPoolOp pool) {
          Value x = pool.getInput();
          accumulate(x, builder.create<AvgPoolGradOp>(
                            loc, x.getType(), dy, pool.getKernelAttr(),
                            pool.getStrideAttr(), pool.getPadAttr()));
          return success();
        })
        .Case([&](FlattenOp flatten) {
          Value x = flatten.getInput();
          accumulate(x, builder.create<ReshapeOp>(loc, x.getType(), dy));
          return success();
        })
        .Case([&](AddOp add) {
          accumulate(add.getLhs(), dy);
          accumulate(add.getRhs(), dy);
          return success();
        })
        .Case([&](ParamOp) { return success(); }) // a leaf: its gradient is final
        .Default([&](Operation *other) {
          return other->emitOpError()
                 << "has no gradient rule in bnn-generate-train-step";
        });
  }

  void emitOptimizerUpdates() {
    for (Operation *op : forwardOps) {
      auto param = dyn_cast<ParamOp>(op);
      if (!param)
        continue;
      auto grad = grads.find(param.getValue());
      if (grad == grads.end())
        continue;
      auto update = builder.create<AdamUpdateOp>(
          param.getLoc(), param.getValue(), grad->second, lr, step);
      if (param.isLatentBinaryWeight())
        update.setClip(true);
    }
  }

  func::FuncOp model;
  func::FuncOp trainStep;
  OpBuilder builder;
  IRMapping mapping;
  SmallVector<Operation *> forwardOps;
  Value logits, loss, labels, lr, step;
  llvm::DenseSet<Value> needsGradient;
  llvm::DenseMap<Value, Value> grads;
};

struct GenerateTrainStepPass
    : bnn::impl::BnnGenerateTrainStepBase<GenerateTrainStepPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> models;
    for (auto function : getOperation().getOps<func::FuncOp>())
      if (function->hasAttr("bnn.model"))
        models.push_back(function);
    for (func::FuncOp model : models)
      if (failed(TrainStepBuilder(model).build()))
        return signalPassFailure();
  }
};

} // namespace
