//===- Fuse.cpp - batchnorm + sign, and the STE into batchnorm_grad -------===//

#include "bnn/BnnOps.h"
#include "bnn/BnnPasses.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace bnn {
#define GEN_PASS_DEF_BNNFUSE
#include "bnn/BnnPasses.h.inc"
} // namespace bnn

using namespace mlir;
using namespace bnn;

namespace {

/// batchnorm_grad(x, γ, ste_grad(batchnorm_train(x).output, dy), mean,
/// inv_std) -> batchnorm_ste_grad(x, γ, β, dy, mean, inv_std).
struct FuseSteIntoBatchNormGrad : OpRewritePattern<BatchNormGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BatchNormGradOp grad,
                                PatternRewriter &rewriter) const override {
    auto ste = grad.getOutputGrad().getDefiningOp<SteGradOp>();
    // Sums made for this op (bnn-sync-batchnorm runs after this pass) would
    // be of the STE's output: keep such IR as it is.
    if (!ste || grad.getGradSums())
      return failure();
    auto norm = ste.getInput().getDefiningOp<BatchNormTrainOp>();
    if (!norm || ste.getInput() != norm.getOutput() ||
        grad.getMean() != norm.getMean() ||
        grad.getInvStd() != norm.getInvStd() ||
        grad.getInput() != norm.getInput())
      return failure();
    rewriter.replaceOpWithNewOp<BatchNormSteGradOp>(
        grad, grad.getResultTypes(), grad.getInput(), grad.getGamma(),
        norm.getBeta(), ste.getOutputGrad(), grad.getMean(), grad.getInvStd(),
        /*grad_sums=*/Value());
    return success();
  }
};

/// batchnorm_train whose output only feeds signs -> batchnorm_sign_train.
struct FuseBatchNormTrainSign : OpRewritePattern<BatchNormTrainOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BatchNormTrainOp norm,
                                PatternRewriter &rewriter) const override {
    Value output = norm.getOutput();
    if (output.use_empty() ||
        !llvm::all_of(output.getUsers(),
                      [](Operation *user) { return isa<SignOp>(user); }))
      return failure();
    auto fused = rewriter.create<BatchNormSignTrainOp>(
        norm.getLoc(), norm.getResultTypes(), norm.getInput(), norm.getGamma(),
        norm.getBeta(), norm.getRunningMean(), norm.getRunningVar(), norm.getBatchSums(),
        norm.getEpsilonAttr(), norm.getMomentumAttr());
    for (Operation *sign : llvm::make_early_inc_range(output.getUsers()))
      rewriter.replaceOp(sign, fused.getOutput());
    rewriter.replaceOp(norm, fused.getResults());
    return success();
  }
};

/// sign(batchnorm(x)) at evaluation -> batchnorm_sign (a threshold).
struct FuseBatchNormSignEval : OpRewritePattern<SignOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SignOp sign,
                                PatternRewriter &rewriter) const override {
    auto norm = sign.getInput().getDefiningOp<BatchNormOp>();
    if (!norm || !norm->hasOneUse())
      return failure();
    rewriter.replaceOpWithNewOp<BatchNormSignOp>(
        sign, sign.getType(), norm.getInput(), norm.getGamma(), norm.getBeta(),
        norm.getRunningMean(), norm.getRunningVar(), norm.getEpsilonAttr());
    return success();
  }
};

struct FusePass : bnn::impl::BnnFuseBase<FusePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseSteIntoBatchNormGrad, FuseBatchNormTrainSign,
                 FuseBatchNormSignEval>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
