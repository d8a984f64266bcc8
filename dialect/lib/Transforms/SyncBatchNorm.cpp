//===- SyncBatchNorm.cpp - Batchnorm statistics of the global batch -------===//
//
// A data-parallel process sees batch / n rows. Its batchnorm computes the
// step of the global batch if the per-channel sums behind the statistics
// are taken over every process: Σx, Σx² and the count in the forward pass
// (summed), Σdy and Σdy·x̂ in the backward pass (averaged, which is what
// the gamma and beta gradients already are). This pass splits each
// batch-statistics batchnorm of a train step into its local sums, one
// all-reduce of them, and the op reading the result. The all-reduces are
// marked `sync_batchnorm`: the plan runs them only when the run
// configuration asks for synchronised batchnorm.
//
//===----------------------------------------------------------------------===//

#include "bnn/BnnOps.h"
#include "bnn/BnnPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace bnn {
#define GEN_PASS_DEF_BNNSYNCBATCHNORM
#include "bnn/BnnPasses.h.inc"
} // namespace bnn

using namespace mlir;
using namespace bnn;

namespace {

/// tensor<rows x C x f32> for the channels of `channelVector` ([C]).
RankedTensorType sumsType(Value channelVector, int64_t rows) {
  auto channels = channelVector.getType().cast<RankedTensorType>();
  return RankedTensorType::get({rows, channels.getDimSize(0)}, channels.getElementType());
}

/// `sums` reduced over the processes, right after it is made.
Value allReduced(OpBuilder &builder, Location loc, Value sums, bool sum) {
  auto allReduce = builder.create<AllReduceOp>(loc, TypeRange{sums.getType()},
                                               ValueRange{sums}, sum, /*sync_batchnorm=*/true);
  return allReduce.getMeans()[0];
}

/// batchnorm_train / batchnorm_sign_train: Σx, Σx², count, summed.
template <typename Op> void synchroniseForward(Op norm) {
  if (norm.getBatchSums())
    return;
  OpBuilder builder(norm);
  Location loc = norm.getLoc();
  Value local = builder.create<BatchNormSumsOp>(loc, sumsType(norm.getGamma(), 3),
                                                norm.getInput());
  norm.getBatchSumsMutable().assign(allReduced(builder, loc, local, /*sum=*/true));
}

/// batchnorm_grad / batchnorm_ste_grad: Σdy, Σdy·x̂, averaged (`beta`: the
/// STE window's, null for plain batchnorm_grad).
template <typename Op> void synchroniseBackward(Op grad, Value beta) {
  if (grad.getGradSums())
    return;
  OpBuilder builder(grad);
  Location loc = grad.getLoc();
  Value local = builder.create<BatchNormGradSumsOp>(
      loc, sumsType(grad.getGamma(), 2), grad.getInput(), grad.getGamma(),
      grad.getOutputGrad(), grad.getMean(), grad.getInvStd(), beta);
  grad.getGradSumsMutable().assign(allReduced(builder, loc, local, /*sum=*/false));
}

struct SyncBatchNormPass : bnn::impl::BnnSyncBatchNormBase<SyncBatchNormPass> {
  void runOnOperation() override {
    func::FuncOp function = getOperation();
    if (!function->hasAttr("bnn.train_step"))
      return; // evaluation uses running statistics
    function.walk([](Operation *op) {
      if (auto norm = dyn_cast<BatchNormTrainOp>(op))
        synchroniseForward(norm);
      else if (auto norm = dyn_cast<BatchNormSignTrainOp>(op))
        synchroniseForward(norm);
      else if (auto grad = dyn_cast<BatchNormGradOp>(op))
        synchroniseBackward(grad, Value());
      else if (auto grad = dyn_cast<BatchNormSteGradOp>(op))
        synchroniseBackward(grad, grad.getBeta());
    });
  }
};

} // namespace
