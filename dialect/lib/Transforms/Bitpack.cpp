//===- Bitpack.cpp - Binary dense layers as XNOR-popcount on words --------===//

#include "bnn/BnnOps.h"
#include "bnn/BnnPasses.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace bnn {
#define GEN_PASS_DEF_BNNBITPACK
#include "bnn/BnnPasses.h.inc"
} // namespace bnn

using namespace mlir;
using namespace bnn;

namespace {

RankedTensorType packedType(Value value) {
  auto type = value.getType().cast<RankedTensorType>();
  SmallVector<int64_t> shape(type.getShape());
  shape.back() = (shape.back() + 63) / 64;
  return RankedTensorType::get(shape, IntegerType::get(value.getContext(), 64));
}

/// A binary dense whose input is ±1 (a SignValued producer) multiplies signs.
/// Only `binary`: a binary_scaled dense keeps its float product for now (it
/// could pack too, with α applied per unit after the popcount).
struct PackBinaryDense : OpRewritePattern<DenseOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DenseOp dense,
                                PatternRewriter &rewriter) const override {
    if (dense.getWeights() != Quantization::binary || dense.getBias() ||
        !isSignValued(dense.getInput()))
      return failure();
    auto weightType = dense.getWeight().getType().cast<RankedTensorType>();
    if (!weightType.hasStaticShape())
      return failure();
    Location loc = dense.getLoc();
    Value input = rewriter.create<PackSignsOp>(
        loc, packedType(dense.getInput()), dense.getInput());
    Value weight = rewriter.create<PackSignsOp>(
        loc, packedType(dense.getWeight()), dense.getWeight());
    rewriter.replaceOpWithNewOp<XnorDenseOp>(
        dense, dense.getType(), input, weight,
        rewriter.getI64IntegerAttr(weightType.getShape()[1]));
    return success();
  }
};

/// xnor_dense + batchnorm_sign_train -> one kernel, when the product is
/// only otherwise read by the backward pass of that batchnorm.
struct FuseXnorDenseBatchNormSignTrain : OpRewritePattern<BatchNormSignTrainOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BatchNormSignTrainOp norm,
                                PatternRewriter &rewriter) const override {
    auto xnor = norm.getInput().getDefiningOp<XnorDenseOp>();
    if (!xnor)
      return failure();
    for (Operation *user : xnor->getUsers())
      if (user != norm.getOperation() && !isa<BatchNormSteGradOp>(user))
        return failure();
    auto fused = rewriter.create<XnorDenseBatchNormSignTrainOp>(
        norm.getLoc(),
        TypeRange{norm.getOutput().getType(), xnor.getType(),
                  norm.getMean().getType(), norm.getInvStd().getType()},
        xnor.getInput(), xnor.getWeight(), norm.getGamma(), norm.getBeta(),
        norm.getRunningMean(), norm.getRunningVar(), xnor.getLengthAttr(),
        norm.getEpsilonAttr(), norm.getMomentumAttr());
    rewriter.replaceOp(norm, {fused.getOutput(), fused.getMean(), fused.getInvStd()});
    rewriter.replaceOp(xnor, fused.getProduct());
    return success();
  }
};

/// xnor_dense + batchnorm_sign at evaluation -> one kernel.
struct FuseXnorDenseBatchNormSign : OpRewritePattern<BatchNormSignOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BatchNormSignOp norm,
                                PatternRewriter &rewriter) const override {
    auto xnor = norm.getInput().getDefiningOp<XnorDenseOp>();
    if (!xnor || !xnor->hasOneUse())
      return failure();
    rewriter.replaceOpWithNewOp<XnorDenseBatchNormSignOp>(
        norm, norm.getType(), xnor.getInput(), xnor.getWeight(), norm.getGamma(),
        norm.getBeta(), norm.getRunningMean(), norm.getRunningVar(),
        xnor.getLengthAttr(), norm.getEpsilonAttr());
    rewriter.eraseOp(xnor);
    return success();
  }
};

struct BitpackPass : bnn::impl::BnnBitpackBase<BitpackPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<PackBinaryDense, FuseXnorDenseBatchNormSignTrain,
                 FuseXnorDenseBatchNormSign>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
