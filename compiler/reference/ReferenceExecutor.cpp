//===- ReferenceExecutor.cpp - Run bnn IR op by op with bnnrt's reference -===//
//
// Each op is one call (or a short composition of calls) of
// bnnrt::reference, written from the op's ODS description. Nothing here is
// shared with EmitCpp: the point is an independent second implementation.
//
//===----------------------------------------------------------------------===//
#include "reference/ReferenceExecutor.h"

#include "bnn/BnnOps.h"
#include "bnnrt/Reference.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <optional>
#include <string>

using namespace mlir;
using namespace bnn;
namespace ref = bnnrt::reference;

namespace bnnc::reference {

Tensor Tensor::floats(std::vector<int64_t> shape, std::vector<float> data) {
  Tensor t;
  t.type = Type::F32;
  t.shape = std::move(shape);
  t.f32 = std::move(data);
  return t;
}

Tensor Tensor::ints(std::vector<int64_t> shape, std::vector<int32_t> data) {
  Tensor t;
  t.type = Type::I32;
  t.shape = std::move(shape);
  t.i32 = std::move(data);
  return t;
}

Tensor Tensor::scalarI64(int64_t value) {
  Tensor t;
  t.type = Type::I64;
  t.i64 = {uint64_t(value)};
  return t;
}

namespace {

/// The reference's weight quantiser for a `#bnn.quant` value.
ref::WeightQuantization quantizationOf(Quantization quantization) {
  switch (quantization) {
  case Quantization::real:
    return ref::WeightQuantization::Real;
  case Quantization::binary:
    return ref::WeightQuantization::Binary;
  case Quantization::binary_scaled:
    return ref::WeightQuantization::BinaryScaled;
  }
  llvm_unreachable("unknown Quantization");
}

/// The Tensor type that holds values of the IR type `type`, if any.
std::optional<Tensor::Type> tensorTypeOf(Type type) {
  Type element = type;
  if (auto shaped = type.dyn_cast<RankedTensorType>())
    element = shaped.getElementType();
  if (element.isF32())
    return Tensor::Type::F32;
  if (element.isInteger(32))
    return Tensor::Type::I32;
  if (element.isInteger(64))
    return Tensor::Type::I64;
  return std::nullopt;
}

const char *typeName(Tensor::Type type) {
  switch (type) {
  case Tensor::Type::F32: return "f32";
  case Tensor::Type::I32: return "i32";
  case Tensor::Type::I64: return "i64";
  }
  return "?";
}

std::string shapeText(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// One run of one function: the value of every SSA value defined so far.
class Interpreter {
public:
  Interpreter(ReferenceExecutor &executor, int64_t batch)
      : executor(executor), params(executor.params()), batch(batch) {}

  void bindArgument(BlockArgument arg, const Tensor &value) {
    slots[arg].tensor = value;
  }

  LogicalResult execute(Operation *op);

  /// The values of the function's results, after its return op ran.
  std::vector<Tensor> results;

private:
  /// A value: owned, or the storage of a param (index into Params).
  struct Slot {
    Tensor tensor;
    int64_t param = -1;
  };

  /// The static shape of `value` with the dynamic extent (the batch) filled in.
  std::vector<int64_t> shapeOf(Value value) const {
    std::vector<int64_t> shape;
    if (auto ranked = value.getType().dyn_cast<RankedTensorType>())
      for (int64_t extent : ranked.getShape())
        shape.push_back(extent == ShapedType::kDynamic ? batch : extent);
    return shape;
  }
  static int64_t count(llvm::ArrayRef<int64_t> shape) {
    int64_t n = 1;
    for (int64_t extent : shape)
      n *= extent;
    return n;
  }
  int64_t elements(Value value) const { return count(shapeOf(value)); }

  Slot &slot(Value value) { return slots[value]; }

  float *f32(Value value) {
    Slot &s = slot(value);
    return s.param >= 0 ? params.value(size_t(s.param)) : s.tensor.f32.data();
  }
  const int32_t *i32(Value value) { return slot(value).tensor.i32.data(); }
  const uint64_t *words(Value value) { return slot(value).tensor.i64.data(); }

  /// A fresh buffer for the op result `value` (pointers stay valid: the
  /// map moves vectors, never their elements), zeroed, held in `data` of
  /// its tensor.
  template <typename T>
  T *defineAs(Value value, Tensor::Type type, std::vector<T> Tensor::*data) {
    Slot &s = slots[value];
    s.tensor.type = type;
    s.tensor.shape = shapeOf(value);
    (s.tensor.*data).assign(size_t(count(s.tensor.shape)), T(0));
    return (s.tensor.*data).data();
  }
  float *define(Value value) { return defineAs(value, Tensor::Type::F32, &Tensor::f32); }
  int32_t *defineInts(Value value) { return defineAs(value, Tensor::Type::I32, &Tensor::i32); }
  uint64_t *defineWords(Value value) {
    return defineAs(value, Tensor::Type::I64, &Tensor::i64);
  }

  /// The one extent of a kernel/stride/pad pair: the reference takes the
  /// same value for both axes.
  static std::optional<int64_t> square(llvm::ArrayRef<int64_t> pair) {
    if (pair.empty() || pair.size() > 2 || (pair.size() == 2 && pair[0] != pair[1]))
      return std::nullopt;
    return pair[0];
  }

  LogicalResult convShape(Operation *op, Value image, Value weight,
                          llvm::ArrayRef<int64_t> stride,
                          llvm::ArrayRef<int64_t> pad, ref::ConvShape &s) {
    std::vector<int64_t> x = shapeOf(image), w = shapeOf(weight);
    if (PackedAttr packed = packedEncoding(image.getType()); packed && x.size() == 4)
      x = {x[0], packed.getBits(), x[1], x[2]}; // [N, H, W, words] -> NCHW
    auto st = square(stride), pd = square(pad);
    if (x.size() != 4 || w.size() != 4)
      return op->emitOpError("reference executor: expects NCHW images and OIHW weights");
    if (!st || !pd)
      return op->emitOpError(
          "reference executor: only equal strides and pads on both axes are supported");
    s = {x[0], x[1], x[2], x[3], w[0], w[2], w[3], *st, *pd};
    return success();
  }

  LogicalResult poolShape(Operation *op, Value image, ref::PoolShape &s) {
    std::vector<int64_t> x = shapeOf(image);
    auto kernel = square(op->getAttrOfType<DenseI64ArrayAttr>("kernel").asArrayRef());
    auto stride = square(op->getAttrOfType<DenseI64ArrayAttr>("stride").asArrayRef());
    auto pad = square(op->getAttrOfType<DenseI64ArrayAttr>("pad").asArrayRef());
    if (x.size() != 4)
      return op->emitOpError("reference executor: expects an NCHW image");
    if (!kernel || !stride || !pad)
      return op->emitOpError("reference executor: only square windows with equal "
                             "strides and pads on both axes are supported");
    s = {x[0], x[1], x[2], x[3], *kernel, *stride, *pad};
    return success();
  }

  /// [n, C, rest...] as batchnorm's {n, C, spatial}.
  ref::BatchNormShape channels(Value value) const {
    std::vector<int64_t> s = shapeOf(value);
    int64_t spatial = 1;
    for (size_t i = 2; i < s.size(); ++i)
      spatial *= s[i];
    return {s.empty() ? 1 : s[0], s.size() > 1 ? s[1] : 1, spatial};
  }

  /// Labels must name a class: the reference indexes with them.
  LogicalResult checkLabels(Operation *op, Value logits, Value labels) {
    std::vector<int64_t> shape = shapeOf(logits);
    const int32_t *l = i32(labels);
    for (int64_t row = 0; row < shape[0]; ++row)
      if (l[row] < 0 || l[row] >= shape[1])
        return op->emitOpError("reference executor: label ")
               << l[row] << " of row " << row << " is not a class in [0, "
               << shape[1] << ")";
    return success();
  }

  /// The loss of a loss op, or the logits' gradient of a loss-gradient op.
  LogicalResult loss(Operation *op, bool crossEntropy, bool gradient) {
    Value logits = op->getOperand(0), labels = op->getOperand(1);
    if (failed(checkLabels(op, logits, labels)))
      return failure();
    std::vector<int64_t> shape = shapeOf(logits);
    std::vector<float> scratch;
    float *dlogits = nullptr;
    if (gradient) {
      dlogits = define(op->getResult(0));
    } else {
      scratch.resize(size_t(count(shape)));
      dlogits = scratch.data();
    }
    auto fn = crossEntropy ? ref::crossEntropy : ref::squaredHinge;
    float value = fn(f32(logits), i32(labels), dlogits, shape[0], shape[1]);
    if (!gradient)
      *define(op->getResult(0)) = value;
    return success();
  }

  /// batchnorm_train's computation: y (normalised), mean, inv_std, and the
  /// running statistics updated in place.
  /// With `batchSums` (synchronised batchnorm), the statistics are theirs.
  void batchnormTrain(Value x, Value gamma, Value beta, Value runningMean,
                      Value runningVar, Value batchSums, const llvm::APFloat &epsilon,
                      const llvm::APFloat &momentum, float *y, float *mean,
                      float *invStd) {
    ref::batchnormTrainForward(f32(x), f32(gamma), f32(beta), y, mean, invStd,
                               f32(runningMean), f32(runningVar), channels(x),
                               float(epsilon.convertToDouble()),
                               float(momentum.convertToDouble()),
                               batchSums ? f32(batchSums) : nullptr);
  }

  /// ±1 floats from packed sign words: bit set = −1 (the first `length`
  /// elements of each row of `words` words).
  static std::vector<float> unpack(const uint64_t *packed, int64_t rows,
                                   int64_t words, int64_t length) {
    std::vector<float> signs(size_t(rows * length));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < length; ++i) {
        uint64_t word = packed[r * words + i / 64];
        signs[size_t(r * length + i)] = (word >> (i % 64)) & 1 ? -1.0f : 1.0f;
      }
    return signs;
  }

  /// The signs of `x` (of `shape`) packed as the encoding of `result` says:
  /// [outer..., bits, inner...] -> [outer..., inner..., words].
  LogicalResult packInto(Operation *op, const float *x, const std::vector<int64_t> &in,
                         Value result) {
    PackedAttr packed = packedEncoding(result.getType());
    if (!packed || packed.getAxis() >= int64_t(in.size()))
      return op->emitOpError("reference executor: unexpected packed encoding");
    size_t axis = size_t(packed.getAxis());
    int64_t length = in[axis], words = (length + 63) / 64;
    llvm::ArrayRef<int64_t> dims(in);
    int64_t outer = count(dims.take_front(axis)), inner = count(dims.drop_front(axis + 1));
    uint64_t *w = defineWords(result);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < length; ++i)
        for (int64_t p = 0; p < inner; ++p)
          if (ref::sign(x[(o * length + i) * inner + p]) < 0.0f)
            w[(o * inner + p) * words + i / 64] |= uint64_t(1) << (i % 64);
    return success();
  }

  /// The signs of `result` (float or packed) from the values `y` of `x`.
  LogicalResult writeSigns(Operation *op, const std::vector<float> &y, Value x, Value result) {
    return writeSigns(op, y, shapeOf(x), result);
  }
  LogicalResult writeSigns(Operation *op, const std::vector<float> &y,
                           const std::vector<int64_t> &shape, Value result) {
    if (!packedEncoding(result.getType())) {
      ref::signForward(y.data(), define(result), int64_t(y.size()));
      return success();
    }
    return packInto(op, y.data(), shape, result);
  }

  /// [N, K] rows as floats, unpacking ±1 signs held packed along the rows
  /// ([N, words]).
  std::vector<float> rowValues(Value rows) {
    PackedAttr packed = packedEncoding(rows.getType());
    if (!packed) {
      const float *x = f32(rows);
      return std::vector<float>(x, x + elements(rows));
    }
    std::vector<int64_t> shape = shapeOf(rows);
    return unpack(words(rows), shape[0], shape[1], packed.getBits());
  }

  /// An [N, C, H, W] image as floats, unpacking ±1 signs held packed along
  /// channels ([N, H, W, words]).
  std::vector<float> imageValues(Value image) {
    PackedAttr packed = packedEncoding(image.getType());
    if (!packed) {
      const float *x = f32(image);
      return std::vector<float>(x, x + elements(image));
    }
    std::vector<int64_t> x = shapeOf(image);
    return channelsFirst(unpack(words(image), x[0] * x[1] * x[2], x[3], packed.getBits()), x[0],
                         x[1] * x[2], packed.getBits());
  }

  /// [items, spatial, channels] -> [items, channels, spatial].
  static std::vector<float> channelsFirst(const std::vector<float> &last, int64_t items,
                                          int64_t spatial, int64_t channels) {
    std::vector<float> first(last.size());
    for (int64_t item = 0; item < items; ++item)
      for (int64_t p = 0; p < spatial; ++p)
        for (int64_t c = 0; c < channels; ++c)
          first[size_t((item * channels + c) * spatial + p)] =
              last[size_t((item * spatial + p) * channels + c)];
    return first;
  }

  /// xnor_dense as a real dense product of the unpacked signs.
  LogicalResult xnorProduct(Operation *op, Value input, Value weight,
                            int64_t length, float *y) {
    std::vector<int64_t> x = shapeOf(input), w = shapeOf(weight);
    if (x.size() != 2 || w.size() != 2 || x[1] != w[1] ||
        length > 64 * w[1] || length <= 64 * (w[1] - 1))
      return op->emitOpError("reference executor: packed operands do not hold ")
             << length << " signs a row";
    std::vector<float> xs = unpack(words(input), x[0], x[1], length);
    std::vector<float> ws = unpack(words(weight), w[0], w[1], length);
    ref::denseForward(xs.data(), ws.data(), nullptr, y, x[0], length, w[0],
                      ref::WeightQuantization::Real);
    return success();
  }

  ReferenceExecutor &executor;
  bnnrt::Params &params;
  int64_t batch;
  llvm::DenseMap<Value, Slot> slots;
};

LogicalResult Interpreter::execute(Operation *op) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      //===--- model state ------------------------------------------------===//
      .Case([&](ParamOp param) -> LogicalResult {
        int64_t index = executor.paramIndex(param.getName());
        if (index < 0)
          return param.emitOpError("reference executor: '")
                 << param.getName() << "' is not a param of the model function";
        if (executor.spec().params[size_t(index)].size() !=
            elements(param.getValue()))
          return param.emitOpError("reference executor: '")
                 << param.getName() << "' has another shape in the model function";
        Slot &s = slot(param.getValue());
        s.param = index;
        s.tensor.shape = shapeOf(param.getValue());
        return success();
      })
      //===--- layers -----------------------------------------------------===//
      .Case([&](DenseOp dense) {
        std::vector<int64_t> w = shapeOf(dense.getWeight());
        float *y = define(dense.getResult());
        ref::denseForward(f32(dense.getInput()), f32(dense.getWeight()),
                          dense.getBias() ? f32(dense.getBias()) : nullptr, y,
                          shapeOf(dense.getInput())[0], w[1], w[0],
                          quantizationOf(dense.getWeights()));
        return success();
      })
      .Case([&](Conv2DOp conv) -> LogicalResult {
        ref::ConvShape s;
        if (failed(convShape(conv, conv.getInput(), conv.getWeight(),
                             conv.getStride(), conv.getPad(), s)))
          return failure();
        float *y = define(conv.getResult());
        ref::conv2dForward(f32(conv.getInput()), f32(conv.getWeight()),
                           conv.getBias() ? f32(conv.getBias()) : nullptr, y, s,
                           quantizationOf(conv.getWeights()));
        return success();
      })
      .Case([&](Conv2DBatchNormSignOp layer) -> LogicalResult {
        ref::ConvShape s;
        if (failed(convShape(layer, layer.getInput(), layer.getWeight(), layer.getStride(),
                             layer.getPad(), s)))
          return failure();
        std::vector<float> product(size_t(s.n * s.o * s.outH() * s.outW())),
            normalised(product.size());
        ref::conv2dForward(f32(layer.getInput()), f32(layer.getWeight()), nullptr,
                           product.data(), s, quantizationOf(layer.getWeights()));
        ref::batchnormEvalForward(product.data(), f32(layer.getGamma()), f32(layer.getBeta()),
                                  f32(layer.getRunningMean()), f32(layer.getRunningVar()),
                                  normalised.data(), {s.n, s.o, s.outH() * s.outW()},
                                  float(layer.getEpsilon().convertToDouble()));
        return writeSigns(layer, normalised, {s.n, s.o, s.outH(), s.outW()},
                          layer.getResult());
      })
      .Case([&](BatchNormOp norm) {
        float *y = define(norm.getResult());
        ref::batchnormEvalForward(f32(norm.getInput()), f32(norm.getGamma()),
                                  f32(norm.getBeta()), f32(norm.getRunningMean()),
                                  f32(norm.getRunningVar()), y,
                                  channels(norm.getInput()),
                                  float(norm.getEpsilon().convertToDouble()));
        return success();
      })
      .Case([&](MaxPoolOp pool) -> LogicalResult {
        ref::PoolShape s;
        if (failed(poolShape(pool, pool.getInput(), s)))
          return failure();
        ref::maxpoolForward(f32(pool.getInput()), define(pool.getResult()), s);
        return success();
      })
      .Case([&](AvgPoolOp pool) -> LogicalResult {
        ref::PoolShape s;
        if (failed(poolShape(pool, pool.getInput(), s)))
          return failure();
        ref::avgpoolForward(f32(pool.getInput()), define(pool.getResult()), s);
        return success();
      })
      .Case<FlattenOp, ReshapeOp>([&](Operation *reshape) -> LogicalResult {
        Value in = reshape->getOperand(0), out = reshape->getResult(0);
        if (elements(in) != elements(out))
          return reshape->emitOpError("reference executor: element counts differ");
        const float *x = f32(in);
        std::copy(x, x + elements(in), define(out));
        return success();
      })
      .Case([&](AllReduceOp allReduce) -> LogicalResult {
        // One process: the mean (or sum) over the processes is the value
        // itself.
        for (auto [gradient, mean] :
             llvm::zip(allReduce.getGradients(), allReduce.getMeans())) {
          const float *g = f32(gradient);
          std::copy(g, g + elements(gradient), define(mean));
        }
        return success();
      })
      .Case([&](AddOp add) -> LogicalResult {
        int64_t size = elements(add.getResult());
        if (elements(add.getLhs()) != size || elements(add.getRhs()) != size)
          return add.emitOpError("reference executor: operand sizes differ");
        float *y = define(add.getResult());
        const float *a = f32(add.getLhs()), *b = f32(add.getRhs());
        for (int64_t i = 0; i < size; ++i)
          y[i] = a[i] + b[i];
        return success();
      })
      .Case([&](SignOp sign) {
        ref::signForward(f32(sign.getInput()), define(sign.getResult()),
                         elements(sign.getResult()));
        return success();
      })
      .Case([&](HTanhOp htanh) {
        ref::htanhForward(f32(htanh.getInput()), define(htanh.getResult()),
                          elements(htanh.getResult()));
        return success();
      })
      .Case([&](ReluOp relu) {
        ref::reluForward(f32(relu.getInput()), define(relu.getResult()),
                         elements(relu.getResult()));
        return success();
      })
      .Case([&](CrossEntropyOp op) { return loss(op, true, false); })
      .Case([&](SquaredHingeOp op) { return loss(op, false, false); })
      //===--- training ---------------------------------------------------===//
      .Case([&](BatchNormTrainOp norm) {
        float *y = define(norm.getOutput());
        float *mean = define(norm.getMean());
        float *invStd = define(norm.getInvStd());
        batchnormTrain(norm.getInput(), norm.getGamma(), norm.getBeta(),
                       norm.getRunningMean(), norm.getRunningVar(), norm.getBatchSums(),
                       norm.getEpsilon(), norm.getMomentum(), y, mean, invStd);
        return success();
      })
      .Case([&](DenseGradInputOp grad) {
        // denseBackward computes dx, dw and db together: dw goes to
        // scratch (computed from a zero input), db is skipped.
        std::vector<int64_t> w = shapeOf(grad.getWeight());
        int64_t n = shapeOf(grad.getOutputGrad())[0];
        std::vector<float> x(size_t(n * w[1]), 0.0f), dw(size_t(w[0] * w[1]));
        float *dx = define(grad.getResult());
        ref::denseBackward(x.data(), f32(grad.getWeight()),
                           f32(grad.getOutputGrad()), dx, dw.data(), nullptr, n,
                           w[1], w[0], quantizationOf(grad.getWeights()));
        return success();
      })
      .Case([&](DenseGradWeightOp grad) {
        std::vector<int64_t> w = shapeOf(grad.getWeight());
        int64_t n = shapeOf(grad.getInput())[0];
        std::vector<float> dx(size_t(n * w[1]));
        std::vector<float> input = rowValues(grad.getInput());
        float *dw = define(grad.getResult());
        ref::denseBackward(input.data(), f32(grad.getWeight()),
                           f32(grad.getOutputGrad()), dx.data(), dw, nullptr, n,
                           w[1], w[0], quantizationOf(grad.getWeights()));
        return success();
      })
      .Case([&](Conv2DGradInputOp grad) -> LogicalResult {
        ref::ConvShape s;
        if (failed(convShape(grad, grad.getResult(), grad.getWeight(),
                             grad.getStride(), grad.getPad(), s)))
          return failure();
        std::vector<int64_t> dy = shapeOf(grad.getOutputGrad());
        if (dy.size() != 4 || dy[2] != s.outH() || dy[3] != s.outW())
          return grad.emitOpError("reference executor: the output gradient is not "
                                  "the convolution's output shape");
        std::vector<float> x(size_t(s.n * s.c * s.h * s.w), 0.0f);
        std::vector<float> dw(size_t(s.o * s.c * s.kh * s.kw));
        float *dx = define(grad.getResult());
        ref::conv2dBackward(x.data(), f32(grad.getWeight()),
                            f32(grad.getOutputGrad()), dx, dw.data(), nullptr, s,
                            quantizationOf(grad.getWeights()));
        return success();
      })
      .Case([&](Conv2DGradWeightOp grad) -> LogicalResult {
        ref::ConvShape s;
        if (failed(convShape(grad, grad.getInput(), grad.getWeight(),
                             grad.getStride(), grad.getPad(), s)))
          return failure();
        std::vector<float> dx(size_t(s.n * s.c * s.h * s.w));
        std::vector<float> input = imageValues(grad.getInput());
        float *dw = define(grad.getResult());
        ref::conv2dBackward(input.data(), f32(grad.getWeight()),
                            f32(grad.getOutputGrad()), dx.data(), dw, nullptr, s,
                            quantizationOf(grad.getWeights()));
        return success();
      })
      .Case([&](BiasGradOp grad) {
        // The bias gradient of a 1×1 convolution from one input channel to
        // C outputs over an image of `spatial` × 1: Σ over batch and space.
        ref::BatchNormShape c = channels(grad.getOutputGrad());
        ref::ConvShape s{c.n, 1, c.spatial, 1, c.c, 1, 1, 1, 0};
        std::vector<float> x(size_t(c.n * c.spatial), 0.0f), dx(x.size());
        std::vector<float> w(size_t(c.c), 0.0f), dw(w.size());
        float *db = define(grad.getResult());
        ref::conv2dBackward(x.data(), w.data(), f32(grad.getOutputGrad()),
                            dx.data(), dw.data(), db, s,
                            ref::WeightQuantization::Real);
        return success();
      })
      .Case([&](BatchNormGradOp grad) {
        float *dx = define(grad.getInputGrad());
        float *dgamma = define(grad.getGammaGrad());
        float *dbeta = define(grad.getBetaGrad());
        ref::batchnormBackward(f32(grad.getInput()), f32(grad.getGamma()),
                               f32(grad.getOutputGrad()), f32(grad.getMean()),
                               f32(grad.getInvStd()), dx, dgamma, dbeta,
                               channels(grad.getInput()),
                               grad.getGradSums() ? f32(grad.getGradSums()) : nullptr);
        return success();
      })
      .Case([&](MaxPoolGradOp grad) -> LogicalResult {
        ref::PoolShape s;
        if (failed(poolShape(grad, grad.getResult(), s)))
          return failure();
        if (grad.readsWinners())
          ref::maxpoolBackwardFromWinners(i32(grad.getInput()), f32(grad.getOutputGrad()),
                                          define(grad.getResult()), s);
        else
          ref::maxpoolBackward(f32(grad.getInput()), f32(grad.getOutputGrad()),
                               define(grad.getResult()), s);
        return success();
      })
      .Case([&](AvgPoolGradOp grad) -> LogicalResult {
        ref::PoolShape s;
        if (failed(poolShape(grad, grad.getResult(), s)))
          return failure();
        ref::avgpoolBackward(f32(grad.getOutputGrad()), define(grad.getResult()), s);
        return success();
      })
      .Case([&](SteGradOp grad) {
        ref::signBackward(f32(grad.getInput()), f32(grad.getOutputGrad()),
                          define(grad.getResult()), elements(grad.getResult()));
        return success();
      })
      .Case([&](ReluGradOp grad) {
        ref::reluBackward(f32(grad.getInput()), f32(grad.getOutputGrad()),
                          define(grad.getResult()), elements(grad.getResult()));
        return success();
      })
      .Case([&](CrossEntropyGradOp op) { return loss(op, true, true); })
      .Case([&](SquaredHingeGradOp op) { return loss(op, false, true); })
      .Case([&](AdamUpdateOp update) -> LogicalResult {
        auto param = update.getParam().getDefiningOp<ParamOp>();
        int64_t index = param ? executor.paramIndex(param.getName()) : -1;
        if (index < 0)
          return update.emitOpError("reference executor: updates no param of the model");
        int64_t step = int64_t(words(update.getStep())[0]);
        if (step < 1)
          return update.emitOpError("reference executor: the Adam step count is ")
                 << step << "; it counts from 1";
        float lr = f32(update.getLr())[0];
        size_t i = size_t(index);
        ref::adamStep(params.value(i), f32(update.getGrad()),
                      params.firstMoments[i].data(), params.secondMoments[i].data(),
                      int64_t(params.values[i].size()), step, lr, ref::AdamState(),
                      update.getClip());
        return success();
      })
      //===--- kernel-level ops, as compositions of the reference ---------===//
      .Case([&](BatchNormSignOp norm) {
        Value x = norm.getInput();
        std::vector<float> y(size_t(elements(x)));
        ref::batchnormEvalForward(f32(x), f32(norm.getGamma()), f32(norm.getBeta()),
                                  f32(norm.getRunningMean()),
                                  f32(norm.getRunningVar()), y.data(), channels(x),
                                  float(norm.getEpsilon().convertToDouble()));
        return writeSigns(norm, y, x, norm.getResult());
      })
      .Case([&](BatchNormSignTrainOp norm) {
        Value x = norm.getInput();
        std::vector<float> y(size_t(elements(x)));
        float *mean = define(norm.getMean());
        float *invStd = define(norm.getInvStd());
        batchnormTrain(x, norm.getGamma(), norm.getBeta(), norm.getRunningMean(),
                       norm.getRunningVar(), norm.getBatchSums(), norm.getEpsilon(),
                       norm.getMomentum(), y.data(), mean, invStd);
        return writeSigns(norm, y, x, norm.getOutput());
      })
      .Case([&](BatchNormSteGradOp grad) {
        // The normalised value from the saved statistics, its STE window on
        // the output gradient, then batchnorm's backward pass.
        Value x = grad.getInput();
        ref::BatchNormShape s = channels(x);
        const float *in = f32(x), *gamma = f32(grad.getGamma()),
                    *beta = f32(grad.getBeta()), *mean = f32(grad.getMean()),
                    *invStd = f32(grad.getInvStd());
        std::vector<float> normalised(size_t(elements(x))), dy(normalised.size());
        for (int64_t b = 0; b < s.n; ++b)
          for (int64_t c = 0; c < s.c; ++c)
            for (int64_t p = 0; p < s.spatial; ++p) {
              int64_t i = (b * s.c + c) * s.spatial + p;
              normalised[size_t(i)] = float(double(gamma[c]) *
                                                (double(in[i]) - mean[c]) *
                                                invStd[c] +
                                            beta[c]);
            }
        ref::signBackward(normalised.data(), f32(grad.getOutputGrad()), dy.data(),
                          elements(x));
        float *dx = define(grad.getInputGrad());
        float *dgamma = define(grad.getGammaGrad());
        float *dbeta = define(grad.getBetaGrad());
        ref::batchnormBackward(in, gamma, dy.data(), mean, invStd, dx, dgamma,
                               dbeta, s, grad.getGradSums() ? f32(grad.getGradSums()) : nullptr);
        return success();
      })
      .Case([&](BatchNormSumsOp sums) {
        ref::batchnormSums(f32(sums.getInput()), define(sums.getSums()),
                           channels(sums.getInput()));
        return success();
      })
      .Case([&](BatchNormGradSumsOp sums) {
        ref::batchnormGradSums(f32(sums.getInput()), f32(sums.getGamma()),
                               sums.getBeta() ? f32(sums.getBeta()) : nullptr,
                               f32(sums.getOutputGrad()), f32(sums.getMean()),
                               f32(sums.getInvStd()), define(sums.getSums()),
                               channels(sums.getInput()));
        return success();
      })
      .Case([&](PackSignsOp pack) -> LogicalResult {
        return packInto(pack, f32(pack.getInput()), shapeOf(pack.getInput()),
                        pack.getOutput());
      })
      .Case([&](FlattenSignsOp flatten) -> LogicalResult {
        // The image's ±1 values, NCHW, are its flatten's rows.
        std::vector<float> image = imageValues(flatten.getInput());
        std::vector<int64_t> x = shapeOf(flatten.getInput());
        int64_t length = int64_t(image.size()) / x[0];
        return packInto(flatten, image.data(), {x[0], length}, flatten.getOutput());
      })
      .Case([&](XnorConv2DOp xnor) -> LogicalResult {
        // The unpacked ±1 values through the float convolution.
        int64_t channels = packedEncoding(xnor.getInput().getType()).getBits();
        std::vector<int64_t> x = shapeOf(xnor.getInput()), w = shapeOf(xnor.getWeight());
        auto stride = square(xnor.getStride()), pad = square(xnor.getPad());
        if (!stride || !pad)
          return xnor.emitOpError(
              "reference executor: only equal strides and pads on both axes are supported");
        std::vector<float> image = imageValues(xnor.getInput());
        std::vector<float> filters = channelsFirst(
            unpack(words(xnor.getWeight()), w[0] * w[1] * w[2], w[3], channels), w[0],
            w[1] * w[2], channels);
        ref::ConvShape s{x[0], channels, x[1], x[2], w[0], w[1], w[2], *stride, *pad};
        // The batch statistics' sums of the (pooled) product, as
        // batchnorm_sums would take them.
        auto sumIfAsked = [&] {
          if (xnor.getBatchSums())
            ref::batchnormSums(f32(xnor.getOutput()), define(xnor.getBatchSums()),
                               this->channels(xnor.getOutput()));
          return success();
        };
        if (!xnor.hasFusedSign() && !xnor.getWinners()) {
          ref::conv2dForward(image.data(), filters.data(), nullptr, define(xnor.getOutput()),
                             s, ref::WeightQuantization::Real);
          return sumIfAsked();
        }
        // The fused pooling (and sign(batchnorm)) as the separate ops would.
        std::vector<float> product(size_t(s.n * s.o * s.outH() * s.outW()));
        ref::conv2dForward(image.data(), filters.data(), nullptr, product.data(), s,
                           ref::WeightQuantization::Real);
        int64_t k = xnor.poolWindow();
        ref::PoolShape window{s.n, s.o, s.outH(), s.outW(), k, k, 0};
        if (xnor.getWinners()) {
          ref::maxpoolWithWinners(product.data(), define(xnor.getOutput()),
                                  defineInts(xnor.getWinners()), window);
          return sumIfAsked();
        }
        std::vector<float> pooled(size_t(s.n * s.o * window.outH() * window.outW()));
        ref::maxpoolForward(product.data(), pooled.data(), window);
        std::vector<float> normalised(pooled.size());
        ref::batchnormEvalForward(pooled.data(), f32(xnor.getGamma()), f32(xnor.getBeta()),
                                  f32(xnor.getRunningMean()), f32(xnor.getRunningVar()),
                                  normalised.data(),
                                  {s.n, s.o, window.outH() * window.outW()},
                                  float(xnor.getEpsilon()->convertToDouble()));
        return writeSigns(xnor, normalised, {s.n, s.o, window.outH(), window.outW()},
                          xnor.getOutput());
      })
      .Case([&](XnorDenseOp xnor) {
        return xnorProduct(xnor, xnor.getInput(), xnor.getWeight(),
                           int64_t(xnor.getLength()), define(xnor.getResult()));
      })
      .Case([&](XnorDenseBatchNormSignTrainOp layer) -> LogicalResult {
        float *product = define(layer.getProduct());
        if (failed(xnorProduct(layer, layer.getInput(), layer.getWeight(),
                               int64_t(layer.getLength()), product)))
          return failure();
        Value p = layer.getProduct();
        std::vector<float> y(size_t(elements(p)));
        float *mean = define(layer.getMean());
        float *invStd = define(layer.getInvStd());
        batchnormTrain(p, layer.getGamma(), layer.getBeta(), layer.getRunningMean(),
                       layer.getRunningVar(), /*batchSums=*/Value(), layer.getEpsilon(),
                       layer.getMomentum(), y.data(), mean, invStd);
        return writeSigns(layer, y, p, layer.getOutput());
      })
      .Case([&](XnorDenseBatchNormSignOp layer) -> LogicalResult {
        std::vector<int64_t> shape{shapeOf(layer.getInput())[0],
                                   shapeOf(layer.getWeight())[0]}; // [n, units]
        std::vector<float> product(size_t(shape[0] * shape[1])), y(product.size());
        if (failed(xnorProduct(layer, layer.getInput(), layer.getWeight(),
                               int64_t(layer.getLength()), product.data())))
          return failure();
        ref::batchnormEvalForward(product.data(), f32(layer.getGamma()),
                                  f32(layer.getBeta()), f32(layer.getRunningMean()),
                                  f32(layer.getRunningVar()), y.data(), {shape[0], shape[1], 1},
                                  float(layer.getEpsilon().convertToDouble()));
        return writeSigns(layer, y, shape, layer.getResult());
      })
      .Case([&](func::ReturnOp ret) {
        for (Value value : ret.getOperands()) {
          Slot &s = slot(value);
          Tensor result = s.tensor;
          if (s.param >= 0)
            result.f32 = params.values[size_t(s.param)];
          results.push_back(std::move(result));
        }
        return success();
      })
      .Default([&](Operation *other) {
        return other->emitOpError("is not supported by the reference executor");
      });
}

bnnrt::InitKind initKind(bnn::InitKind kind) {
  switch (kind) {
  case bnn::InitKind::constant: return bnnrt::InitKind::Constant;
  case bnn::InitKind::uniform: return bnnrt::InitKind::Uniform;
  case bnn::InitKind::normal: return bnnrt::InitKind::Normal;
  case bnn::InitKind::glorot_uniform: return bnnrt::InitKind::GlorotUniform;
  case bnn::InitKind::he_normal: return bnnrt::InitKind::HeNormal;
  }
  return bnnrt::InitKind::Constant;
}

} // namespace

ReferenceExecutor::~ReferenceExecutor() = default;

std::unique_ptr<ReferenceExecutor> ReferenceExecutor::create(ModuleOp module) {
  std::unique_ptr<ReferenceExecutor> executor(new ReferenceExecutor());
  for (auto function : module.getOps<func::FuncOp>()) {
    if (function->hasAttr("bnn.model")) {
      if (executor->model) {
        function.emitError("reference executor: more than one bnn.model function");
        return nullptr;
      }
      executor->model = function;
    }
  }
  func::FuncOp model = executor->model;
  if (!model) {
    module.emitError("reference executor: no function has the bnn.model attribute");
    return nullptr;
  }
  for (auto function : module.getOps<func::FuncOp>()) {
    auto of = function->getAttrOfType<FlatSymbolRefAttr>("bnn.train_step");
    if (of && of.getValue() == model.getName())
      executor->trainStep = function;
  }

  // The ModelSpec, as EmitCpp's emitSpec writes it.
  FunctionType type = model.getFunctionType();
  auto input = type.getNumInputs() == 2
                   ? type.getInput(0).dyn_cast<RankedTensorType>()
                   : RankedTensorType();
  auto logits = type.getNumResults() == 2
                    ? type.getResult(0).dyn_cast<RankedTensorType>()
                    : RankedTensorType();
  if (!input || input.getRank() < 1 || !logits || logits.getRank() != 2) {
    model.emitError("reference executor: the model function must be "
                    "(input, labels) -> (logits [batch, classes], loss)");
    return nullptr;
  }
  auto spec = std::make_unique<bnnrt::ModelSpec>();
  spec->name = model.getName().str();
  spec->inputShape.assign(input.getShape().begin() + 1, input.getShape().end());
  spec->classes = logits.getShape()[1];
  for (auto hyper : module.getOps<HyperParamOp>())
    spec->hyperParams.push_back(
        {hyper.getSymName().str(), hyper.getDefaultValue().convertToDouble()});
  model.walk([&](ParamOp param) {
    bnnrt::ParamSpec p;
    p.name = param.getName().str();
    auto shape = param.getValue().getType().cast<ShapedType>().getShape();
    p.shape.assign(shape.begin(), shape.end());
    p.init = initKind(param.getInit().getKind());
    for (const InitBound &bound : param.getInit().getArgs())
      p.args.push_back({bound.offset, bound.scale,
                        bound.param ? bound.param.getValue().str() : ""});
    p.state = param.getState();
    p.clip = param.isLatentBinaryWeight();
    spec->params.push_back(std::move(p));
  });
  executor->modelSpec = std::move(spec);
  executor->paramStore = std::make_unique<bnnrt::Params>(executor->modelSpec->params);
  return executor;
}

int64_t ReferenceExecutor::paramIndex(llvm::StringRef name) const {
  // The first param of that name, as EmitCpp's paramIndex.
  for (size_t i = 0; i < modelSpec->params.size(); ++i)
    if (modelSpec->params[i].name == name)
      return int64_t(i);
  return -1;
}

LogicalResult ReferenceExecutor::run(func::FuncOp function,
                                     llvm::ArrayRef<Tensor> args,
                                     std::vector<Tensor> &results) {
  if (function.getBody().empty() || !function.getBody().hasOneBlock())
    return function.emitError("reference executor: '")
           << function.getName() << "' must have one block";
  Block &body = function.getBody().front();
  if (args.size() != body.getNumArguments())
    return function.emitError("reference executor: '")
           << function.getName() << "' takes " << body.getNumArguments()
           << " arguments, got " << args.size();

  // The batch: the run-time extent of the first dynamic dimension.
  int64_t batch = -1;
  for (size_t i = 0; i < args.size() && batch < 0; ++i)
    if (auto ranked = body.getArgument(i).getType().dyn_cast<RankedTensorType>())
      for (size_t d = 0; d < size_t(ranked.getRank()); ++d)
        if (ranked.isDynamicDim(d) && d < args[i].shape.size()) {
          batch = args[i].shape[d];
          break;
        }
  if (batch == 0)
    return function.emitError("reference executor: the batch is empty");

  Interpreter interpreter(*this, batch);
  for (size_t i = 0; i < args.size(); ++i) {
    BlockArgument arg = body.getArgument(i);
    std::optional<Tensor::Type> want = tensorTypeOf(arg.getType());
    std::vector<int64_t> shape;
    if (auto ranked = arg.getType().dyn_cast<RankedTensorType>())
      for (int64_t extent : ranked.getShape())
        shape.push_back(extent == ShapedType::kDynamic ? batch : extent);
    const Tensor &value = args[i];
    size_t stored = value.type == Tensor::Type::F32   ? value.f32.size()
                    : value.type == Tensor::Type::I32 ? value.i32.size()
                                                      : value.i64.size();
    if (!want || *want != value.type || shape != value.shape ||
        int64_t(stored) != value.size())
      return function.emitError("reference executor: argument ")
             << i << " of '" << function.getName() << "' must be "
             << (want ? typeName(*want) : "?") << " " << shapeText(shape)
             << ", got " << typeName(value.type) << " " << shapeText(value.shape)
             << " with " << stored << " elements";
    interpreter.bindArgument(arg, value);
  }
  for (Operation &op : body)
    if (failed(interpreter.execute(&op)))
      return failure();
  results = std::move(interpreter.results);
  return success();
}

LogicalResult ReferenceExecutor::runStep(func::FuncOp function, const float *x,
                                         const int32_t *labels, int64_t batch,
                                         llvm::ArrayRef<Tensor> extra,
                                         bool lossFirst, StepResult &out) {
  std::vector<int64_t> shape{batch};
  shape.insert(shape.end(), modelSpec->inputShape.begin(),
               modelSpec->inputShape.end());
  int64_t features = 1;
  for (int64_t extent : modelSpec->inputShape)
    features *= extent;
  std::vector<Tensor> args{
      Tensor::floats(shape, std::vector<float>(x, x + batch * features)),
      Tensor::ints({batch}, std::vector<int32_t>(labels, labels + batch))};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<Tensor> results;
  if (failed(run(function, args, results)))
    return failure();
  const Tensor *loss = nullptr, *logits = nullptr;
  if (results.size() == 2) {
    loss = &results[lossFirst ? 0 : 1];
    logits = &results[lossFirst ? 1 : 0];
  }
  if (!loss || !logits || loss->type != Tensor::Type::F32 || loss->size() != 1 ||
      logits->type != Tensor::Type::F32 || logits->shape.size() != 2)
    return function.emitError("reference executor: '")
           << function.getName() << "' must return "
           << (lossFirst ? "(loss, logits)" : "(logits, loss)");
  out.loss = loss->f32[0];
  out.batch = logits->shape[0];
  out.classes = logits->shape[1];
  out.logits = logits->f32;
  return success();
}

LogicalResult ReferenceExecutor::evaluate(const float *x, const int32_t *labels,
                                          int64_t batch, StepResult &out) {
  return runStep(model, x, labels, batch, {}, /*lossFirst=*/false, out);
}

LogicalResult ReferenceExecutor::trainStepOnce(const float *x,
                                               const int32_t *labels,
                                               int64_t batch, float lr,
                                               int64_t step, StepResult &out) {
  if (!trainStep)
    return model.emitError("reference executor: '")
           << model.getName()
           << "' has no train step (run bnn-generate-train-step first)";
  Tensor stepValue = Tensor::scalarI64(step);
  Tensor lrValue = Tensor::scalar(lr);
  return runStep(trainStep, x, labels, batch, {lrValue, stepValue},
                 /*lossFirst=*/true, out);
}

} // namespace bnnc::reference
