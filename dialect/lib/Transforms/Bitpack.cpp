//===- Bitpack.cpp - Binary layers as XNOR-popcount on words --------------===//

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

/// `value`'s signs packed along `axis` (by default the last): an existing
/// pack_signs of it, or a new one right after its definition, so that it
/// dominates every use of `value` (the forward and the backward pass may
/// both read it).
Value packSigns(PatternRewriter &rewriter, Location loc, Value value, int64_t axis = -1) {
  auto type = value.getType().cast<RankedTensorType>();
  if (axis < 0)
    axis = type.getRank() - 1;
  RankedTensorType packed = packedTensorType(type, axis);
  for (Operation *user : value.getUsers())
    if (auto existing = dyn_cast<PackSignsOp>(user))
      if (existing.getType() == packed)
        return existing;
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointAfterValue(value);
  return rewriter.create<PackSignsOp>(loc, packed, value);
}

/// Whether `value` is the ±1 image that an XNOR convolution can read packed.
bool isPackableImage(Value value) {
  auto type = value.getType().dyn_cast<RankedTensorType>();
  return type && type.getElementType().isF32() && type.getRank() == 4 &&
         !type.isDynamicDim(1) && isSignValued(value);
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
    Value input = packSigns(rewriter, loc, dense.getInput());
    Value weight = packSigns(rewriter, loc, dense.getWeight());
    rewriter.replaceOpWithNewOp<XnorDenseOp>(
        dense, dense.getType(), input, weight,
        rewriter.getI64IntegerAttr(weightType.getShape()[1]));
    return success();
  }
};

/// A binary convolution of ±1 values: both packed along channels (NHWC
/// words for the image, [O, KH, KW, words] for the filters), then
/// XNOR-popcount. The training step's gradients still read the float
/// operands, so only the forward product changes.
struct PackBinaryConv : OpRewritePattern<Conv2DOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(Conv2DOp conv, PatternRewriter &rewriter) const override {
    if (conv.getWeights() != Quantization::binary || conv.getBias() ||
        !isSignValued(conv.getInput()))
      return failure();
    auto inputType = conv.getInput().getType().cast<RankedTensorType>();
    auto weightType = conv.getWeight().getType().cast<RankedTensorType>();
    if (!weightType.hasStaticShape() || inputType.isDynamicDim(1))
      return failure();
    Location loc = conv.getLoc();
    Value input = packSigns(rewriter, loc, conv.getInput(), /*axis=*/1);
    Value weight = packSigns(rewriter, loc, conv.getWeight(), /*axis=*/1);
    rewriter.replaceOpWithNewOp<XnorConv2DOp>(
        conv, conv.getType(), /*winners=*/Type(), /*batch_sums=*/Type(), input, weight, Value(), Value(), Value(),
        Value(),
        conv.getStrideAttr(), conv.getPadAttr(), FloatAttr(), DenseI64ArrayAttr());
    return success();
  }
};

/// The weight gradient of a convolution over ±1 values reads them packed:
/// the training step keeps 1 bit an activation for the backward pass.
struct PackGradWeightInput : OpRewritePattern<Conv2DGradWeightOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(Conv2DGradWeightOp grad,
                                PatternRewriter &rewriter) const override {
    if (!isPackableImage(grad.getInput()))
      return failure();
    Value packed = packSigns(rewriter, grad.getLoc(), grad.getInput(), /*axis=*/1);
    rewriter.updateRootInPlace(grad, [&] { grad.getInputMutable().assign(packed); });
    return success();
  }
};

/// The weight gradient of a binary dense layer over ±1 inputs reads them
/// packed too: with PackSignsAtSource below, the sign writer then stores
/// only bits between dense layers of the training step.
struct PackDenseGradWeightInput : OpRewritePattern<DenseGradWeightOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DenseGradWeightOp grad,
                                PatternRewriter &rewriter) const override {
    auto type = grad.getInput().getType().dyn_cast<RankedTensorType>();
    if (!type || !type.getElementType().isF32() || type.getRank() != 2 ||
        type.isDynamicDim(1) || !isSignValued(grad.getInput()))
      return failure();
    Value packed = packSigns(rewriter, grad.getLoc(), grad.getInput());
    rewriter.updateRootInPlace(grad, [&] { grad.getInputMutable().assign(packed); });
    return success();
  }
};

/// pack_signs(flatten(s)) of a ±1 image s is flatten_signs(pack_signs(s)),
/// the image packed along channels as a convolution's sign writer packs
/// it: with PackSignsAtSource the writer then stores bits, and a binary
/// dense layer after a convolution stack reads no ±1 floats.
struct PackFlattenedImage : OpRewritePattern<PackSignsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PackSignsOp pack, PatternRewriter &rewriter) const override {
    auto flatten = pack.getInput().getDefiningOp<FlattenOp>();
    if (!flatten || !isPackableImage(flatten.getInput()) ||
        packedEncoding(pack.getType()).getAxis() != 1)
      return failure();
    auto image = flatten.getInput().getType().cast<RankedTensorType>();
    if (image.isDynamicDim(2) || image.isDynamicDim(3))
      return failure();
    Value packed = packSigns(rewriter, pack.getLoc(), flatten.getInput(), /*axis=*/1);
    // The forward product and the weight gradient read the same words.
    for (Operation *user : packed.getUsers())
      if (auto existing = dyn_cast<FlattenSignsOp>(user))
        if (existing.getType() == pack.getType()) {
          rewriter.replaceOp(pack, existing.getOutput());
          return success();
        }
    rewriter.replaceOpWithNewOp<FlattenSignsOp>(pack, pack.getType(), packed);
    return success();
  }
};

/// The packed type of ±1 signs `signs` (an [N, C, H, W] image or [N, C]
/// units) when every reader is a pack_signs along axis 1 (so that its
/// writer can write them packed itself).
std::optional<RankedTensorType> packedByAllReaders(Value signs) {
  if (signs.use_empty())
    return std::nullopt;
  auto type = signs.getType().dyn_cast<RankedTensorType>();
  if (!type || !type.getElementType().isF32() || (type.getRank() != 4 && type.getRank() != 2) ||
      type.isDynamicDim(1))
    return std::nullopt;
  RankedTensorType packed = packedTensorType(type, 1);
  for (Operation *user : signs.getUsers()) {
    auto pack = dyn_cast<PackSignsOp>(user);
    if (!pack || pack.getType() != packed)
      return std::nullopt;
  }
  return packed;
}

/// Replaces `old` (whose result 0 is ±1 signs) by `writer`, whose result 0
/// holds them packed if `packed`: its pack_signs readers then read `writer`.
void replaceSignWriter(PatternRewriter &rewriter, Operation *old, Operation *writer,
                       bool packed) {
  if (packed)
    for (Operation *user : llvm::make_early_inc_range(old->getResult(0).getUsers()))
      rewriter.replaceOp(user, writer->getResult(0));
  rewriter.replaceOp(old, writer->getResults());
}

/// A batchnorm + sign (of a convolution or a dense layer) whose signs are
/// only read packed writes them packed itself: the ±1 floats are never
/// stored.
template <typename SignOp> struct PackSignsAtSource : OpRewritePattern<SignOp> {
  using OpRewritePattern<SignOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(SignOp norm, PatternRewriter &rewriter) const override {
    std::optional<RankedTensorType> packed = packedByAllReaders(norm.getOutput());
    if (!packed)
      return failure();
    SmallVector<Type> types(norm->getResultTypes());
    types[0] = *packed;
    Operation *writer = rewriter.create<SignOp>(norm.getLoc(), types, norm->getOperands(),
                                                norm->getAttrs());
    replaceSignWriter(rewriter, norm, writer, true);
    return success();
  }
};

/// Whether `pool` is a square max pool whose windows tile the image
/// (stride = window, no padding): each input lies in at most one window.
bool isTilingMaxPool(llvm::ArrayRef<int64_t> kernel, llvm::ArrayRef<int64_t> stride,
                     llvm::ArrayRef<int64_t> pad) {
  return kernel.size() == 2 && kernel[0] == kernel[1] && stride == kernel &&
         llvm::all_of(pad, [](int64_t v) { return v == 0; });
}

/// At evaluation, sign(batchnorm(maxpool?(xnor_conv2d))) is one XNOR
/// convolution with the threshold (and the pooling, on signs) fused, which
/// writes packed signs when the next binary layer reads them so.
struct FuseXnorConvSign : OpRewritePattern<BatchNormSignOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BatchNormSignOp norm,
                                PatternRewriter &rewriter) const override {
    Value product = norm.getInput();
    DenseI64ArrayAttr pool;
    if (auto maxpool = product.getDefiningOp<MaxPoolOp>()) {
      if (!maxpool->hasOneUse() ||
          !isTilingMaxPool(maxpool.getKernel(), maxpool.getStride(), maxpool.getPad()))
        return failure();
      pool = maxpool.getKernelAttr();
      product = maxpool.getInput();
    }
    auto xnor = product.getDefiningOp<XnorConv2DOp>();
    if (!xnor || !xnor->hasOneUse() || xnor.hasFusedSign())
      return failure();
    std::optional<RankedTensorType> packed = packedByAllReaders(norm.getOutput());
    Type type = packed ? Type(*packed) : norm.getOutput().getType();
    Operation *fused = rewriter.create<XnorConv2DOp>(
        norm.getLoc(), type, /*winners=*/Type(), /*batch_sums=*/Type(), xnor.getInput(), xnor.getWeight(), norm.getGamma(),
        norm.getBeta(), norm.getRunningMean(), norm.getRunningVar(), xnor.getStrideAttr(),
        xnor.getPadAttr(), norm.getEpsilonAttr(), pool);
    replaceSignWriter(rewriter, norm, fused, bool(packed));
    return success();
  }
};

/// In training, maxpool(xnor_conv2d) whose product is otherwise read only
/// by the pool's backward pass is one XNOR convolution with the pooling
/// fused: it writes the pooled product and each window's winner, and
/// maxpool_grad reads the winners. The unpooled product is never stored.
struct FuseXnorConvPoolTrain : OpRewritePattern<MaxPoolOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MaxPoolOp pool, PatternRewriter &rewriter) const override {
    auto xnor = pool.getInput().getDefiningOp<XnorConv2DOp>();
    if (!xnor || xnor.hasFusedSign() || xnor.getPool() ||
        !isTilingMaxPool(pool.getKernel(), pool.getStride(), pool.getPad()))
      return failure();
    SmallVector<MaxPoolGradOp> grads;
    for (OpOperand &use : xnor->getUses()) {
      if (use.getOwner() == pool.getOperation())
        continue;
      // Each other use must be a gradient of the same pool that reads the
      // product as its pooled input (the operand the winners replace), not
      // as its dy: the product is not kept.
      auto grad = dyn_cast<MaxPoolGradOp>(use.getOwner());
      if (!grad || use.getOperandNumber() != grad.getODSOperandIndexAndLength(0).first ||
          grad.getKernel() != pool.getKernel() || grad.getStride() != pool.getStride() ||
          grad.getPad() != pool.getPad())
        return failure();
      grads.push_back(grad);
    }
    if (grads.empty()) // evaluation: FuseXnorConvSign fuses the pool with the sign
      return failure();
    auto pooled = pool.getType().cast<RankedTensorType>();
    auto winnersType = RankedTensorType::get(pooled.getShape(), rewriter.getI32Type());
    rewriter.setInsertionPoint(xnor); // dominates every user of the product
    auto fused = rewriter.create<XnorConv2DOp>(
        pool.getLoc(), pooled, winnersType, /*batch_sums=*/Type(), xnor.getInput(),
        xnor.getWeight(), Value(), Value(),
        Value(), Value(), xnor.getStrideAttr(), xnor.getPadAttr(), FloatAttr(),
        pool.getKernelAttr());
    for (MaxPoolGradOp grad : grads)
      rewriter.updateRootInPlace(grad, [&] { grad.getInputMutable().assign(fused.getWinners()); });
    rewriter.replaceOp(pool, fused.getOutput());
    rewriter.eraseOp(xnor);
    return success();
  }
};

/// In training, the batch statistics of a batchnorm_sign_train that reads
/// an XNOR convolution's product are summed by the convolution itself,
/// image by image while the product is in cache (its `batch_sums`): the
/// batchnorm then reads the product once, to normalise it, not twice.
/// Not with synchronised batchnorm, whose sums come from the all-reduce.
struct FuseBatchSumsIntoXnorConv : OpRewritePattern<BatchNormSignTrainOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BatchNormSignTrainOp norm,
                                PatternRewriter &rewriter) const override {
    auto xnor = norm.getInput().getDefiningOp<XnorConv2DOp>();
    if (!xnor || norm.getBatchSums() || xnor.hasFusedSign() || xnor.getBatchSums())
      return failure();
    int64_t filters = xnor.getOutput().getType().cast<RankedTensorType>().getShape()[1];
    auto sumsType = RankedTensorType::get({3, filters}, rewriter.getF32Type());
    Value winners = xnor.getWinners();
    rewriter.setInsertionPoint(xnor); // its other users may precede the batchnorm
    auto fused = rewriter.create<XnorConv2DOp>(
        xnor.getLoc(), xnor.getOutput().getType(), winners ? winners.getType() : Type(),
        sumsType, xnor.getInput(), xnor.getWeight(), Value(), Value(), Value(), Value(),
        xnor.getStrideAttr(), xnor.getPadAttr(), FloatAttr(), xnor.getPoolAttr());
    SmallVector<Value> replacements{fused.getOutput()};
    if (winners)
      replacements.push_back(fused.getWinners());
    rewriter.replaceOp(xnor, replacements);
    rewriter.updateRootInPlace(norm,
                               [&] { norm.getBatchSumsMutable().assign(fused.getBatchSums()); });
    return success();
  }
};

/// At evaluation, sign(batchnorm(conv2d)) of a real image (a first layer)
/// is one convolution kernel with the threshold fused, which writes packed
/// signs when the next binary layer reads them so: the float product of
/// the largest layer is never stored.
struct FuseConvSign : OpRewritePattern<BatchNormSignOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(BatchNormSignOp norm,
                                PatternRewriter &rewriter) const override {
    auto conv = norm.getInput().getDefiningOp<Conv2DOp>();
    if (!conv || !conv->hasOneUse() || conv.getBias() || isSignValued(conv.getInput()))
      return failure();
    auto input = conv.getInput().getType().dyn_cast<RankedTensorType>();
    auto weight = conv.getWeight().getType().dyn_cast<RankedTensorType>();
    if (!input || input.getRank() != 4 || !weight || !weight.hasStaticShape())
      return failure();
    Type type = norm.getOutput().getType();
    std::optional<RankedTensorType> packed;
    if (!packedEncoding(type) && (packed = packedByAllReaders(norm.getOutput())))
      type = *packed;
    Operation *fused = rewriter.create<Conv2DBatchNormSignOp>(
        norm.getLoc(), type, conv.getInput(), conv.getWeight(), norm.getGamma(), norm.getBeta(),
        norm.getRunningMean(), norm.getRunningVar(), conv.getWeightsAttr(), conv.getStrideAttr(),
        conv.getPadAttr(), norm.getEpsilonAttr());
    replaceSignWriter(rewriter, norm, fused, bool(packed));
    rewriter.eraseOp(conv);
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
    // Synchronised batchnorm needs the product before the sums come back.
    if (!xnor || norm.getBatchSums())
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
    patterns.add<PackBinaryDense, PackBinaryConv, PackGradWeightInput, PackFlattenedImage,
                 PackDenseGradWeightInput, PackSignsAtSource<BatchNormSignTrainOp>, PackSignsAtSource<BatchNormSignOp>,
                 PackSignsAtSource<XnorDenseBatchNormSignOp>,
                 PackSignsAtSource<XnorDenseBatchNormSignTrainOp>,
                 FuseXnorConvSign, FuseConvSign, FuseXnorConvPoolTrain,
                 FuseBatchSumsIntoXnorConv,
                 FuseXnorDenseBatchNormSignTrain,
                 FuseXnorDenseBatchNormSign>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
