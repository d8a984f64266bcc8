//===- GenerateTrainStep.cpp - Forward, STE backward and Adam as IR -------===//
//
// Reverse-mode differentiation of a bnn model function. The forward ops are
// cloned into <model>_train_step (an op with a training form, batchnorm,
// switched to it), then the ops are visited in reverse, each emitting the
// gradient ops of its operands through its GradientOpInterface; a value
// used several times gets the sum of its gradients.
//
//===----------------------------------------------------------------------===//

#include "bnn/BnnOps.h"
#include "bnn/BnnPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"

namespace bnn {
#define GEN_PASS_DEF_BNNGENERATETRAINSTEP
#include "bnn/BnnPasses.h.inc"
} // namespace bnn

using namespace mlir;
using namespace bnn;

namespace {

/// Builds the train-step function of one model. The gradient rules live with
/// the ops (GradientOpInterface, LossOpInterface; Gradients.cpp); this class
/// is their GradientSink: it knows which values need gradients and sums the
/// gradients of a value used several times.
class TrainStepBuilder : public GradientSink {
public:
  TrainStepBuilder(func::FuncOp model) : model(model), builder(model) {}

  LogicalResult build() {
    createFunction();
    if (failed(cloneForward()))
      return failure();
    markValuesNeedingGradients();
    if (failed(seedLossGradient()))
      return failure();
    for (Operation *op : llvm::reverse(forwardOps))
      if (failed(backward(op)))
        return failure();
    emitOptimizerUpdates();
    builder.create<func::ReturnOp>(model.getLoc(), ValueRange{loss, logits});
    return success();
  }

  bool needsGradient(Value value) override {
    return dependsOnParams.contains(value);
  }

  void accumulate(Value value, Value grad) override {
    if (!needsGradient(value))
      return;
    auto [it, inserted] = grads.try_emplace(value, grad);
    if (!inserted)
      it->second = builder.create<AddOp>(grad.getLoc(), grad.getType(),
                                         it->second, grad);
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
    builder.setInsertionPointToStart(entry);
  }

  /// Clones the model body; an op with a training form (batchnorm) is
  /// replaced by it.
  LogicalResult cloneForward() {
    for (Operation &op : model.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        logits = mapping.lookup(ret.getOperand(0));
        loss = mapping.lookup(ret.getOperand(1));
        continue;
      }
      if (auto form = dyn_cast<TrainingFormOpInterface>(op)) {
        forwardOps.push_back(cloneTrainingForm(form));
        continue;
      }
      forwardOps.push_back(builder.clone(op, mapping));
    }
    if (!loss)
      return model.emitError() << "a bnn.model must return (logits, loss)";
    return success();
  }

  Operation *cloneTrainingForm(TrainingFormOpInterface form) {
    Operation *op = form.getOperation();
    SmallVector<Value> operands;
    for (Value operand : op->getOperands())
      operands.push_back(mapping.lookup(operand));
    Operation *train = form.buildTrainingForm(builder, operands);
    mapping.map(op->getResults(),
                train->getResults().take_front(op->getNumResults()));
    return train;
  }

  /// A value needs a gradient if it depends on a trainable param.
  void markValuesNeedingGradients() {
    for (Operation *op : forwardOps) {
      if (auto param = dyn_cast<ParamOp>(op)) {
        if (!param.getState())
          dependsOnParams.insert(param.getValue());
        continue;
      }
      if (llvm::any_of(op->getOperands(),
                       [&](Value v) { return dependsOnParams.contains(v); }))
        for (Value result : op->getResults())
          dependsOnParams.insert(result);
    }
  }

  LogicalResult seedLossGradient() {
    auto lossOp = loss.getDefiningOp<LossOpInterface>();
    if (!lossOp)
      return model.emitError()
             << "the loss a bnn.model returns must be computed by a loss op";
    lossOp.buildLossGradient(builder, *this);
    return success();
  }

  /// Hands the gradients of `op`'s results to its gradient rule.
  LogicalResult backward(Operation *op) {
    SmallVector<Value> resultGrads;
    for (Value result : op->getResults())
      resultGrads.push_back(grads.lookup(result));
    if (llvm::none_of(resultGrads, [](Value grad) { return bool(grad); }))
      return success(); // nothing downstream depends on it
    auto rule = dyn_cast<GradientOpInterface>(op);
    if (!rule)
      return op->emitOpError()
             << "has no gradient rule in bnn-generate-train-step";
    return rule.buildGradients(builder, resultGrads, *this);
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
  Value logits, loss, lr, step;
  llvm::DenseSet<Value> dependsOnParams;
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
