#include "bnn/BnnOps.h"
#include "bnn/ShapeRules.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace bnn;

static_assert(shapes::kDynamic == ShapedType::kDynamic,
              "ShapeRules must use MLIR's marker for unknown extents");

#include "bnn/BnnInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "bnn/BnnOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

using EmitErrorFn = function_ref<InFlightDiagnostic()>;

static TensorType f32Tensor(MLIRContext *context,
                            std::optional<ArrayRef<int64_t>> shape) {
  Type f32 = Float32Type::get(context);
  if (!shape)
    return UnrankedTensorType::get(f32);
  return RankedTensorType::get(*shape, f32);
}

/// The shape of `value`, or nothing when it is unranked.
static std::optional<ArrayRef<int64_t>> shapeOf(Value value) {
  auto ranked = value.getType().dyn_cast<RankedTensorType>();
  if (!ranked)
    return std::nullopt;
  return ranked.getShape();
}

static FailureOr<TensorType> toResultType(MLIRContext *context,
                                          const shapes::ShapeOrError &rule,
                                          EmitErrorFn emitError) {
  if (!rule.ok())
    return emitError() << rule.error;
  return f32Tensor(context, ArrayRef<int64_t>(rule.shape));
}

/// Checks that an operand (a parameter, mostly) has exactly `expected`.
static LogicalResult expectShape(Value operand, StringRef what,
                                 ArrayRef<int64_t> expected,
                                 EmitErrorFn emitError) {
  std::optional<ArrayRef<int64_t>> actual = shapeOf(operand);
  if (!actual)
    return success();
  bool compatible = actual->size() == expected.size();
  for (size_t axis = 0; compatible && axis < expected.size(); ++axis)
    compatible = shapes::compatibleExtent((*actual)[axis], expected[axis]);
  if (compatible)
    return success();
  return emitError() << what << " has shape " << shapes::formatShape(*actual)
                     << ", expected " << shapes::formatShape(expected);
}

static FailureOr<shapes::Window> windowOf(ArrayRef<int64_t> kernel,
                                          ArrayRef<int64_t> stride,
                                          ArrayRef<int64_t> pad,
                                          EmitErrorFn emitError) {
  if (kernel.size() != 2 || stride.size() != 2 || pad.size() != 2)
    return emitError() << "kernel, stride and pad need two entries each "
                          "(height, width)";
  return shapes::Window{kernel[0], kernel[1], stride[0],
                        stride[1], pad[0],    pad[1]};
}

LogicalResult bnn::verifyInferredResultType(Operation *op) {
  auto layer = cast<LayerOp>(op);
  FailureOr<TensorType> inferred =
      layer.inferResultType([op] { return op->emitOpError(); });
  if (failed(inferred))
    return failure();
  Type actual = op->getResult(0).getType();
  if (failed(verifyCompatibleShape(*inferred, actual)) ||
      inferred->getElementType() !=
          actual.cast<ShapedType>().getElementType())
    return op->emitOpError() << "result type " << actual
                             << " does not match the inferred " << *inferred;
  return success();
}

//===----------------------------------------------------------------------===//
// Traits
//===----------------------------------------------------------------------===//

bool bnn::isSignValued(Value value) {
  auto result = value.dyn_cast<OpResult>();
  if (!result || result.getResultNumber() != 0)
    return false;
  Operation *owner = result.getOwner();
  if (owner->hasTrait<OpTrait::KeepsValues>())
    return isSignValued(owner->getOperand(0));
  return owner->hasTrait<OpTrait::SignValued>();
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

void ParamOp::getAsmResultNames(OpAsmSetValueNameFn setNameFn) {
  setNameFn(getValue(), getName());
}

LogicalResult ParamOp::verify() {
  if (getName().empty())
    return emitOpError() << "needs a non-empty name";
  InitKind kind = getInit().getKind();
  bool fanBased = kind == InitKind::glorot_uniform ||
                  kind == InitKind::he_normal;
  int64_t rank = getValue().getType().cast<RankedTensorType>().getRank();
  if (fanBased && rank != 2 && rank != 4)
    return emitOpError() << "init policy '" << stringifyInitKind(kind)
                         << "' computes fan-in and fan-out and needs a rank-2 "
                            "or rank-4 weight, got rank "
                         << rank;
  return success();
}

bool ParamOp::isLatentBinaryWeight() {
  // After bnn-bitpack a binary layer reads its weight through pack_signs.
  return llvm::any_of(getOperation()->getUsers(), [&](Operation *user) {
    auto quantized = dyn_cast<QuantizedWeightsOpInterface>(user);
    return isa<PackSignsOp>(user) || (quantized && quantized.getQuantizedWeight() == getValue() &&
                                      quantized.hasBinaryWeights());
  });
}

bool ParamOp::isSignOnlyWeight() {
  bool any = false;
  for (Operation *user : getOperation()->getUsers()) {
    if (isa<PackSignsOp>(user)) { // an XNOR layer after bnn-bitpack
      any = true;
      continue;
    }
    auto quantized = dyn_cast<QuantizedWeightsOpInterface>(user);
    if (!quantized || quantized.getQuantizedWeight() != getValue())
      continue;
    if (!quantized.hasBinaryWeights() || quantized.hasScaledWeights())
      return false;
    any = true;
  }
  return any;
}

LogicalResult ParamOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  for (const InitBound &bound : getInit().getArgs()) {
    if (bound.isConstant())
      continue;
    if (!symbolTable.lookupNearestSymbolFrom<HyperParamOp>(
            *this, FlatSymbolRefAttr::get(bound.param)))
      return emitOpError() << "init policy refers to @"
                           << bound.param.getValue()
                           << ", which is not a bnn.hyperparam";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

FailureOr<TensorType> DenseOp::inferResultType(EmitErrorFn emitError) {
  std::optional<ArrayRef<int64_t>> input = shapeOf(getInput());
  std::optional<ArrayRef<int64_t>> weight = shapeOf(getWeight());
  if (!input || !weight)
    return f32Tensor(getContext(), std::nullopt);
  if (weight->size() != 2)
    return emitError() << "weight must be [units, in_features], got "
                       << shapes::formatShape(*weight);
  int64_t units = (*weight)[0];
  shapes::ShapeOrError rule = shapes::dense(*input, units);
  if (rule.ok() && (failed(expectShape(getWeight(), "weight",
                                       {units, (*input)[1]}, emitError)) ||
                    (getBias() && failed(expectShape(getBias(), "bias",
                                                     {units}, emitError)))))
    return failure();
  return toResultType(getContext(), rule, emitError);
}

FailureOr<TensorType> Conv2DOp::inferResultType(EmitErrorFn emitError) {
  std::optional<ArrayRef<int64_t>> input = shapeOf(getInput());
  std::optional<ArrayRef<int64_t>> weight = shapeOf(getWeight());
  if (!input || !weight)
    return f32Tensor(getContext(), std::nullopt);
  if (weight->size() != 4)
    return emitError() << "weight must be [filters, channels, kernel_h, "
                          "kernel_w], got "
                       << shapes::formatShape(*weight);
  ArrayRef<int64_t> w = *weight;
  FailureOr<shapes::Window> window =
      windowOf({w[2], w[3]}, getStride(), getPad(), emitError);
  if (failed(window))
    return failure();
  shapes::ShapeOrError rule = shapes::conv2d(*input, w[0], *window);
  if (rule.ok() &&
      (failed(expectShape(getWeight(), "weight",
                          {w[0], (*input)[1], w[2], w[3]}, emitError)) ||
       (getBias() &&
        failed(expectShape(getBias(), "bias", {w[0]}, emitError)))))
    return failure();
  return toResultType(getContext(), rule, emitError);
}

FailureOr<TensorType> BatchNormOp::inferResultType(EmitErrorFn emitError) {
  if (getEpsilon().convertToDouble() <= 0.0)
    return emitError() << "epsilon must be positive";
  double momentum = getMomentum().convertToDouble();
  if (momentum < 0.0 || momentum >= 1.0)
    return emitError() << "momentum must be in [0, 1), got " << momentum;
  std::optional<ArrayRef<int64_t>> input = shapeOf(getInput());
  if (!input)
    return f32Tensor(getContext(), std::nullopt);
  shapes::ShapeOrError channels = shapes::batchnormChannels(*input);
  if (!channels.ok())
    return emitError() << channels.error;
  for (auto [operand, what] :
       {std::pair<Value, StringRef>{getGamma(), "gamma"},
        {getBeta(), "beta"},
        {getRunningMean(), "running_mean"},
        {getRunningVar(), "running_var"}})
    if (failed(expectShape(operand, what, channels.shape, emitError)))
      return failure();
  return f32Tensor(getContext(), *input);
}

template <typename PoolOp>
static FailureOr<TensorType> inferPool(PoolOp op, StringRef layer,
                                       EmitErrorFn emitError) {
  std::optional<ArrayRef<int64_t>> input = shapeOf(op.getInput());
  if (!input)
    return f32Tensor(op.getContext(), std::nullopt);
  FailureOr<shapes::Window> window =
      windowOf(op.getKernel(), op.getStride(), op.getPad(), emitError);
  if (failed(window))
    return failure();
  return toResultType(op.getContext(), shapes::pool(layer, *input, *window),
                      emitError);
}

FailureOr<TensorType> MaxPoolOp::inferResultType(EmitErrorFn emitError) {
  return inferPool(*this, "maxpool", emitError);
}

FailureOr<TensorType> AvgPoolOp::inferResultType(EmitErrorFn emitError) {
  return inferPool(*this, "avgpool", emitError);
}

FailureOr<TensorType> FlattenOp::inferResultType(EmitErrorFn emitError) {
  std::optional<ArrayRef<int64_t>> input = shapeOf(getInput());
  if (!input)
    return f32Tensor(getContext(), std::nullopt);
  return toResultType(getContext(), shapes::flatten(*input), emitError);
}

FailureOr<TensorType> AddOp::inferResultType(EmitErrorFn emitError) {
  std::optional<ArrayRef<int64_t>> lhs = shapeOf(getLhs());
  std::optional<ArrayRef<int64_t>> rhs = shapeOf(getRhs());
  if (!lhs || !rhs)
    return f32Tensor(getContext(), std::nullopt);
  return toResultType(getContext(), shapes::add(*lhs, *rhs), emitError);
}

/// Activations keep their input's type.
static FailureOr<TensorType> sameAsInput(Value input) {
  return f32Tensor(input.getContext(), shapeOf(input));
}

FailureOr<TensorType> SignOp::inferResultType(EmitErrorFn) {
  return sameAsInput(getInput());
}
FailureOr<TensorType> HTanhOp::inferResultType(EmitErrorFn) {
  return sameAsInput(getInput());
}
FailureOr<TensorType> ReluOp::inferResultType(EmitErrorFn) {
  return sameAsInput(getInput());
}

template <typename LossOp>
static FailureOr<TensorType> inferLoss(LossOp op, StringRef name,
                                       EmitErrorFn emitError) {
  std::optional<ArrayRef<int64_t>> logits = shapeOf(op.getLogits());
  if (logits) {
    shapes::ShapeOrError rule = shapes::loss(name, *logits);
    if (!rule.ok())
      return emitError() << rule.error;
    if (failed(expectShape(op.getLabels(), "labels", {(*logits)[0]},
                           emitError)))
      return failure();
  }
  return f32Tensor(op.getContext(), ArrayRef<int64_t>{});
}

FailureOr<TensorType> CrossEntropyOp::inferResultType(EmitErrorFn emitError) {
  return inferLoss(*this, "cross_entropy", emitError);
}
FailureOr<TensorType> SquaredHingeOp::inferResultType(EmitErrorFn emitError) {
  return inferLoss(*this, "squared_hinge", emitError);
}

//===----------------------------------------------------------------------===//
// Folders
//===----------------------------------------------------------------------===//

OpFoldResult FlattenOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

/// f(x) = x when `unchanged` says that f changes nothing on x's range, in
/// value and in gradient: sign and htanh of ±1 are ±1 with a pass-through
/// STE (|±1| ≤ 1), htanh and relu are idempotent.
static OpFoldResult foldUnchanged(Operation *op, bool unchanged) {
  Value input = op->getOperand(0);
  if (unchanged && input.getType() == op->getResult(0).getType())
    return input;
  return {};
}

OpFoldResult SignOp::fold(FoldAdaptor) {
  return foldUnchanged(*this, isSignValued(getInput()));
}
OpFoldResult HTanhOp::fold(FoldAdaptor) {
  return foldUnchanged(*this, isSignValued(getInput()) ||
                                  getInput().getDefiningOp<HTanhOp>());
}
OpFoldResult ReluOp::fold(FoldAdaptor) {
  return foldUnchanged(*this, bool(getInput().getDefiningOp<ReluOp>()));
}

//===----------------------------------------------------------------------===//
// Training ops
//===----------------------------------------------------------------------===//

LogicalResult AdamUpdateOp::verify() {
  if (getParam().getType() != getGrad().getType())
    return emitOpError() << "gradient type " << getGrad().getType()
                         << " differs from the param's " << getParam().getType();
  if (!getParam().getDefiningOp<ParamOp>())
    return emitOpError() << "updates a bnn.param, not a computed value";
  if (getParam().getDefiningOp<ParamOp>().getState())
    return emitOpError() << "cannot update running statistics ({state} params)";
  return success();
}

LogicalResult AllReduceOp::verify() {
  if (getGradients().empty())
    return emitOpError() << "needs at least one tensor (an empty bucket)";
  if (getGradients().size() != getMeans().size())
    return emitOpError() << "has " << getGradients().size() << " operands but "
                         << getMeans().size() << " results: one mean per operand";
  for (auto [index, pair] : llvm::enumerate(llvm::zip(getGradients(), getMeans()))) {
    auto [operand, result] = pair;
    if (operand.getType() != result.getType())
      return emitOpError() << "result #" << index << " has type " << result.getType()
                           << ", its operand " << operand.getType();
    // The runtime sizes the bucket's buffer once, when the plan is built.
    if (!operand.getType().cast<ShapedType>().hasStaticShape())
      return emitOpError() << "operand #" << index << " has the dynamic type "
                           << operand.getType()
                           << ": a bucket's size must be known at compile time";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Kernel-level ops
//===----------------------------------------------------------------------===//

static int64_t wordsFor(int64_t length) {
  return length == ShapedType::kDynamic ? ShapedType::kDynamic
                                        : (length + 63) / 64;
}

/// The `#bnn.packed` encoding of `value`, or an error at `op` naming what
/// the operand should hold.
static FailureOr<PackedAttr> packedOperand(Operation *op, Value value, llvm::StringRef what,
                                           int64_t rank, int64_t axis) {
  auto type = value.getType().cast<RankedTensorType>();
  PackedAttr packed = packedEncoding(type);
  if (!packed || type.getRank() != rank || packed.getAxis() != axis)
    return op->emitOpError() << "needs " << what << " packed along axis " << axis
                             << " (a rank-" << rank
                             << " i64 tensor with #bnn.packed<axis = " << axis
                             << ", ...>), not " << type;
  return packed;
}

LogicalResult PackSignsOp::verify() {
  auto input = getInput().getType().dyn_cast<RankedTensorType>();
  auto output = getOutput().getType().dyn_cast<RankedTensorType>();
  if (!input || !output)
    return success();
  if (input.getRank() < 1)
    return emitOpError() << "needs a tensor of rank >= 1";
  PackedAttr packed = packedEncoding(output);
  if (!packed)
    return emitOpError() << "result needs a #bnn.packed<axis = A, bits = N> encoding";
  if (packed.getAxis() >= input.getRank())
    return emitOpError() << "packs axis " << packed.getAxis() << " of a rank-"
                         << input.getRank() << " tensor";
  int64_t bits = input.getShape()[size_t(packed.getAxis())];
  if (!shapes::compatibleExtent(bits, packed.getBits()))
    return emitOpError() << "packs " << bits << " signs along axis " << packed.getAxis()
                         << ", but the encoding says " << packed.getBits();
  SmallVector<int64_t> expected = packedShape(input.getShape(), packed.getAxis());
  if (failed(verifyCompatibleShape(output.getShape(), expected)))
    return emitOpError() << "packs " << shapes::formatShape(input.getShape())
                         << " into " << shapes::formatShape(expected)
                         << ", not " << shapes::formatShape(output.getShape());
  return success();
}

LogicalResult FlattenSignsOp::verify() {
  FailureOr<PackedAttr> image =
      packedOperand(*this, getInput(), "an [N, C, H, W] image", 4, 1);
  FailureOr<PackedAttr> flat =
      packedOperand(*this, getOutput(), "its [N, C·H·W] flatten as a result", 2, 1);
  if (failed(image) || failed(flat))
    return failure();
  // Packed [N, H, W, words]: H and W are axes 1 and 2.
  llvm::ArrayRef<int64_t> x = getInput().getType().cast<RankedTensorType>().getShape();
  int64_t channels = image->getBits();
  if (ShapedType::isDynamic(channels) || ShapedType::isDynamic(x[1]) ||
      ShapedType::isDynamic(x[2]))
    return emitOpError() << "needs a static number of channels, height and width";
  if (!shapes::compatibleExtent(x[3], wordsFor(channels)))
    return emitOpError() << "input holds " << channels << " channels in " << x[3]
                         << " words a pixel, not " << wordsFor(channels);
  int64_t length = channels * x[1] * x[2];
  if (flat->getBits() != length)
    return emitOpError() << "flattens " << channels << " x " << x[1] << " x " << x[2]
                         << " = " << length << " signs an image, but the result holds "
                         << flat->getBits();
  SmallVector<int64_t> expected{x[0], wordsFor(length)};
  llvm::ArrayRef<int64_t> y = getOutput().getType().cast<RankedTensorType>().getShape();
  if (failed(verifyCompatibleShape(y, expected)))
    return emitOpError() << "writes " << shapes::formatShape(expected) << ", not "
                         << shapes::formatShape(y);
  return success();
}

LogicalResult XnorDenseOp::verify() {
  auto input = getInput().getType().dyn_cast<RankedTensorType>();
  auto weight = getWeight().getType().dyn_cast<RankedTensorType>();
  auto output = getOutput().getType().dyn_cast<RankedTensorType>();
  if (!input || !weight || !output)
    return success();
  if (input.getRank() != 2 || weight.getRank() != 2 || output.getRank() != 2)
    return emitOpError() << "takes [batch, words] and [units, words]";
  for (Value packed : {getInput(), getWeight()}) {
    FailureOr<PackedAttr> encoding = packedOperand(*this, packed, "signs", 2, 1);
    if (failed(encoding))
      return failure();
    if (encoding->getBits() != int64_t(getLength()))
      return emitOpError() << "length " << getLength() << " differs from the "
                           << encoding->getBits() << " signs an operand holds";
  }
  int64_t words = wordsFor(getLength());
  if (getLength() < 1 ||
      !shapes::compatibleExtent(input.getShape()[1], words) ||
      !shapes::compatibleExtent(weight.getShape()[1], words))
    return emitOpError() << "length " << getLength() << " needs " << words
                         << " words a row";
  if (!shapes::compatibleExtent(output.getShape()[1], weight.getShape()[0]) ||
      !shapes::compatibleExtent(output.getShape()[0], input.getShape()[0]))
    return emitOpError() << "result must be [batch, units]";
  return success();
}

/// Checks that `output` is the [N, O, H', W'] result of a convolution of
/// an image of `n` items and `extents` (H, W) with `filters` filters of
/// `kernel` (KH, KW), pooled by `window` (1: none), or those signs packed
/// along O when its type is packed.
static LogicalResult verifyConvResult(Operation *op, Value output, int64_t n, int64_t filters,
                                      llvm::ArrayRef<int64_t> extents,
                                      llvm::ArrayRef<int64_t> kernel,
                                      llvm::ArrayRef<int64_t> stride,
                                      llvm::ArrayRef<int64_t> pad, int64_t window) {
  SmallVector<int64_t> expected{n, filters, ShapedType::kDynamic, ShapedType::kDynamic};
  for (size_t axis = 0; axis < 2; ++axis)
    if (extents[axis] != ShapedType::kDynamic && stride[axis] > 0)
      expected[2 + axis] =
          ((extents[axis] + 2 * pad[axis] - kernel[axis]) / stride[axis] + 1) / window;
  if (packedEncoding(output.getType()))
    expected = packedShape(expected, 1);
  llvm::ArrayRef<int64_t> actual = output.getType().cast<RankedTensorType>().getShape();
  if (failed(verifyCompatibleShape(actual, expected)))
    return op->emitOpError() << "result must be " << shapes::formatShape(expected) << ", not "
                             << shapes::formatShape(actual);
  return success();
}

LogicalResult XnorConv2DOp::verify() {
  FailureOr<PackedAttr> input =
      packedOperand(*this, getInput(), "an [N, C, H, W] image", 4, 1);
  FailureOr<PackedAttr> weight =
      packedOperand(*this, getWeight(), "[O, C, KH, KW] weights", 4, 1);
  if (failed(input) || failed(weight))
    return failure();
  if (input->getBits() != weight->getBits())
    return emitOpError() << "input has " << input->getBits() << " channels, weights "
                         << weight->getBits();
  if (getStride().size() != 2 || getPad().size() != 2)
    return emitOpError() << "needs stride and pad for both axes";
  bool fusedSign = getGamma() && getBeta() && getRunningMean() && getRunningVar();
  if (fusedSign != bool(getGamma()) || fusedSign != getEpsilon().has_value())
    return emitOpError() << "a fused sign needs gamma, beta, mean, var and epsilon";
  if (getPool() &&
      (getPool()->size() != 2 || (*getPool())[0] != (*getPool())[1] || (*getPool())[0] < 1))
    return emitOpError() << "fuses only a square max pool [k, k]";
  // Without the sign, a fused pool is training's: the winners go to the
  // backward pass.
  if (getPool() && !fusedSign && !getWinners())
    return emitOpError() << "fuses a max pool without a sign only with a `winners` result";
  if (getWinners() && (fusedSign || !getPool()))
    return emitOpError() << "has `winners` only with a fused max pool and no fused sign";
  bool packedResult = bool(packedEncoding(getOutput().getType()));
  if (packedResult && !fusedSign)
    return emitOpError() << "writes packed signs only with a fused sign";
  if (getBatchSums()) {
    int64_t filters = getWeight().getType().cast<ShapedType>().getShape()[0];
    if (fusedSign)
      return emitOpError() << "sums batch statistics only without a fused sign";
    if (getBatchSums().getType().cast<ShapedType>().getShape() != ArrayRef<int64_t>{3, filters})
      return emitOpError() << "`batch_sums` must be [3, " << filters << "] (Σx, Σx², count)";
  }
  if (getWinners() && getWinners().getType().cast<ShapedType>().getShape() !=
                          getOutput().getType().cast<ShapedType>().getShape())
    return emitOpError() << "`winners` must have the shape of the pooled output";
  // Packed [N, H, W, words] operands: H and W are axes 1 and 2.
  llvm::ArrayRef<int64_t> x = getInput().getType().cast<RankedTensorType>().getShape();
  llvm::ArrayRef<int64_t> w = getWeight().getType().cast<RankedTensorType>().getShape();
  return verifyConvResult(*this, getOutput(), x[0], w[0], x.slice(1, 2), w.slice(1, 2),
                          getStride(), getPad(), poolWindow());
}

LogicalResult MaxPoolGradOp::verify() {
  if (!readsWinners())
    return success();
  llvm::ArrayRef<int64_t> k = getKernel(), s = getStride(), p = getPad();
  if (k.size() != 2 || k[0] < 1 || k[0] != k[1] || s != k ||
      llvm::any_of(p, [](int64_t v) { return v; }))
    return emitOpError() << "reads winners only of square windows (at least 1x1) that tile "
                            "the image (stride = kernel, no padding)";
  auto winners = getInput().getType().cast<ShapedType>();
  auto dx = getInputGrad().getType().cast<ShapedType>();
  if (winners.getRank() != 4 || dx.getRank() != 4)
    return emitOpError() << "winners and the input gradient must be [N, C, H, W]";
  SmallVector<int64_t> expected(dx.getShape());
  for (size_t axis = 2; axis < 4; ++axis)
    if (!ShapedType::isDynamic(expected[axis]))
      expected[axis] /= k[0];
  if (failed(verifyCompatibleShape(winners.getShape(), expected)) ||
      failed(verifyCompatibleShape(getOutputGrad().getType().cast<ShapedType>().getShape(),
                                   expected)))
    return emitOpError() << "winners and the output gradient must be "
                         << shapes::formatShape(expected) << " for an input gradient of "
                         << shapes::formatShape(dx.getShape());
  return success();
}

/// A packed sign output of a batchnorm: [N, C, ...] signs along channels.
template <typename Op> static LogicalResult verifyPackedSigns(Op op) {
  if (!packedEncoding(op.getOutput().getType()))
    return success();
  auto input = op.getInput().getType().template cast<RankedTensorType>();
  FailureOr<PackedAttr> packed =
      packedOperand(op, op.getOutput(), "signs", input.getRank(), 1);
  if (failed(packed))
    return failure();
  SmallVector<int64_t> expected = packedShape(input.getShape(), 1);
  auto output = op.getOutput().getType().template cast<RankedTensorType>();
  if (packed->getBits() != input.getShape()[1] ||
      failed(verifyCompatibleShape(output.getShape(), expected)))
    return op.emitOpError() << "packs the signs of " << shapes::formatShape(input.getShape())
                            << " along channels into " << shapes::formatShape(expected)
                            << " i64 with bits = " << input.getShape()[1];
  return success();
}

LogicalResult BatchNormSignOp::verify() { return verifyPackedSigns(*this); }

LogicalResult Conv2DBatchNormSignOp::verify() {
  auto input = getInput().getType().cast<RankedTensorType>();
  auto weight = getWeight().getType().cast<RankedTensorType>();
  if (input.getRank() != 4 || weight.getRank() != 4 || getStride().size() != 2 ||
      getPad().size() != 2)
    return emitOpError() << "takes an [N, C, H, W] image, [O, C, KH, KW] weights, and stride "
                            "and pad for both axes";
  if (packedEncoding(getOutput().getType())) {
    FailureOr<PackedAttr> packed = packedOperand(*this, getOutput(), "signs", 4, 1);
    if (failed(packed))
      return failure();
    if (packed->getBits() != weight.getShape()[0])
      return emitOpError() << "packs the signs of " << weight.getShape()[0]
                           << " filters, not " << packed->getBits();
  }
  return verifyConvResult(*this, getOutput(), input.getShape()[0], weight.getShape()[0],
                          input.getShape().slice(2, 2), weight.getShape().slice(2, 2),
                          getStride(), getPad(), 1);
}

/// The signs of a whole binary dense layer, when packed: [N, words] along
/// its units.
template <typename Op> static LogicalResult verifyPackedUnits(Op op) {
  if (!packedEncoding(op.getOutput().getType()))
    return success();
  FailureOr<PackedAttr> packed = packedOperand(op, op.getOutput(), "signs", 2, 1);
  if (failed(packed))
    return failure();
  auto weight = op.getWeight().getType().template cast<RankedTensorType>();
  auto input = op.getInput().getType().template cast<RankedTensorType>();
  int64_t units = weight.getShape()[0];
  SmallVector<int64_t> expected{input.getShape()[0], wordsFor(units)};
  auto output = op.getOutput().getType().template cast<RankedTensorType>();
  if (packed->getBits() != units || failed(verifyCompatibleShape(output.getShape(), expected)))
    return op.emitOpError() << "packs the signs of its " << units << " units into "
                            << shapes::formatShape(expected) << " i64 with bits = " << units;
  return success();
}

LogicalResult XnorDenseBatchNormSignOp::verify() { return verifyPackedUnits(*this); }

LogicalResult XnorDenseBatchNormSignTrainOp::verify() { return verifyPackedUnits(*this); }
//===--- synchronised batchnorm (bnn-sync-batchnorm) ----------------------===//

/// `sums` (when present) holds `rows` per-channel sums for the channels of
/// `channelVector` (gamma: [C]).
static LogicalResult verifyChannelSums(Operation *op, Value sums, StringRef what, int64_t rows,
                                       Value channelVector) {
  if (!sums)
    return success();
  std::optional<ArrayRef<int64_t>> channels = shapeOf(channelVector);
  int64_t count = channels && channels->size() == 1 ? (*channels)[0] : ShapedType::kDynamic;
  return expectShape(sums, what, {rows, count}, [op] { return op->emitOpError(); });
}

LogicalResult BatchNormTrainOp::verify() {
  return verifyChannelSums(*this, getBatchSums(), "batch_sums (Σx, Σx², count)", 3, getGamma());
}

LogicalResult BatchNormSignTrainOp::verify() {
  if (failed(verifyChannelSums(*this, getBatchSums(), "batch_sums (Σx, Σx², count)", 3,
                               getGamma())))
    return failure();
  return verifyPackedSigns(*this);
}

LogicalResult BatchNormGradOp::verify() {
  return verifyChannelSums(*this, getGradSums(), "grad_sums (Σdy, Σdy·x̂)", 2, getGamma());
}

LogicalResult BatchNormSteGradOp::verify() {
  return verifyChannelSums(*this, getGradSums(), "grad_sums (Σdy, Σdy·x̂)", 2, getGamma());
}

LogicalResult BatchNormSumsOp::verify() {
  std::optional<ArrayRef<int64_t>> input = shapeOf(getInput());
  if (!input || input->size() < 2)
    return emitOpError() << "takes an input with a channel axis ([N, C, ...])";
  return expectShape(getSums(), "result", {3, (*input)[1]}, [this] { return emitOpError(); });
}

LogicalResult BatchNormGradSumsOp::verify() {
  return verifyChannelSums(*this, getSums(), "result", 2, getGamma());
}

LogicalResult DenseGradWeightOp::verify() {
  if (!packedEncoding(getInput().getType()))
    return success();
  FailureOr<PackedAttr> packed = packedOperand(*this, getInput(), "an [N, K] input", 2, 1);
  if (failed(packed))
    return failure();
  auto weight = getWeight().getType().cast<RankedTensorType>();
  if (weight.getRank() == 2 && packed->getBits() != weight.getShape()[1])
    return emitOpError() << "reads " << packed->getBits() << " packed signs a row for "
                         << weight.getShape()[1] << " weights a unit";
  return success();
}

LogicalResult Conv2DGradWeightOp::verify() {
  if (!packedEncoding(getInput().getType()))
    return success();
  return packedOperand(*this, getInput(), "an [N, C, H, W] image", 4, 1);
}
