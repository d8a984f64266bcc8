#include "codegen/EmitCpp.h"

#include "bnn/BnnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace bnn;

namespace {

/// A kernel call site of the plan, for the binary's profiler.
struct KernelSiteRecord {
  std::string function, op, location, kernel;
  double opsPerItem = 0;
  bool binaryOps = false;
};

/// "file:line:col" of an op (the innermost file location: inside a block,
/// the line in the block).
std::string locationText(Location loc) {
  if (auto file = loc.dyn_cast<FileLineColLoc>())
    return llvm::formatv("{0}:{1}:{2}", file.getFilename(), file.getLine(),
                         file.getColumn())
        .str();
  if (auto call = loc.dyn_cast<CallSiteLoc>()) // inside a block
    return locationText(call.getCallee()) + " via " + locationText(call.getCaller());
  if (auto named = loc.dyn_cast<NameLoc>())
    return locationText(named.getChildLoc());
  if (auto fused = loc.dyn_cast<FusedLoc>())
    return fused.getLocations().empty() ? "" : locationText(fused.getLocations()[0]);
  return "";
}

/// Arithmetic per batch item of an op's kernel: 2 per multiply-add of the
/// products (float, or binary for XNOR-popcount); 0 where not counted.
std::pair<double, bool> operationsPerItem(Operation *op) {
  auto elements = [](Value v) {
    double count = 1;
    for (int64_t extent : v.getType().cast<ShapedType>().getShape().drop_front())
      count *= double(extent);
    return count;
  };
  auto weightSize = [](Value w) {
    double count = 1;
    for (int64_t extent : w.getType().cast<ShapedType>().getShape())
      count *= double(extent);
    return count;
  };
  return TypeSwitch<Operation *, std::pair<double, bool>>(op)
      .Case<DenseOp, DenseGradInputOp, DenseGradWeightOp>([&](Operation *o) {
        return std::make_pair(2 * weightSize(o->getOperand(isa<DenseGradInputOp>(o) ? 0 : 1)),
                              false);
      })
      .Case<XnorDenseOp, XnorDenseBatchNormSignOp, XnorDenseBatchNormSignTrainOp>(
          [&](Operation *o) {
            auto w = o->getOperand(1).getType().cast<ShapedType>().getShape();
            double length = double(o->getAttrOfType<IntegerAttr>("length").getInt());
            return std::make_pair(2 * length * double(w[0]), true);
          })
      .Case<Conv2DOp, Conv2DGradInputOp, Conv2DGradWeightOp>([&](Operation *o) {
        // C·KH·KW multiply-adds for every output element of the forward
        // conv (the gradients read dy, of the forward output's shape).
        Value weight = o->getOperand(isa<Conv2DGradInputOp>(o) ? 0 : 1);
        auto w = weight.getType().cast<ShapedType>().getShape();
        Value output = isa<Conv2DOp>(o) ? o->getResult(0)
                                        : o->getOperand(isa<Conv2DGradInputOp>(o) ? 1 : 2);
        return std::make_pair(2 * double(w[1] * w[2] * w[3]) * elements(output), false);
      })
      .Default([](Operation *) { return std::make_pair(0.0, false); });
}

/// Emits one function (train step or evaluation) as C++.
class FunctionEmitter {
public:
  FunctionEmitter(llvm::raw_ostream &out, const llvm::StringMap<size_t> &params,
                  std::vector<bnnc::KernelRequest> *halideKernels,
                  const bnnc::EmitOptions &options,
                  std::vector<KernelSiteRecord> &sites)
      : os(body), out(out), paramIndex(params), halideKernels(halideKernels),
        options(options), sites(sites) {}

  LogicalResult emit(func::FuncOp function, llvm::StringRef cppName,
                     llvm::StringRef siteFunction) {
    out << "void " << cppName
        << "(Params &p, Workspace &ws, const StepInput &in, StepOutput &out) {\n"
        << "  const int64_t n = in.batch;\n"
        << "  (void)n;\n";
    names[function.getArgument(0)] = "in.x";
    for (Operation &op : function.getBody().front()) {
      currentOp = &op;
      currentCaller = (op.getName().getStringRef() + " at " + locationText(op.getLoc())).str();
      currentKernel = halideKernels ? "" : "bnnrt C++";
      if (failed(emitOp(&op)) || failed(status))
        return failure();
      flushOp(&op, siteFunction);
    }
    out << "}\n\n";
    return success();
  }

private:
  /// Writes the op's buffer declarations, then its calls timed as one
  /// profiler site (ops that emit no call, like reshapes, get none).
  void flushOp(Operation *op, llvm::StringRef siteFunction) {
    out << declarations.str();
    declarationText.clear();
    std::string calls = os.str();
    body.clear();
    if (calls.empty())
      return;
    if (isa<func::ReturnOp>(op)) {
      out << calls;
      return;
    }
    auto [ops, binary] = operationsPerItem(op);
    sites.push_back({siteFunction.str(), op->getName().getStringRef().str(),
                     locationText(op->getLoc()), currentKernel, ops, binary});
    out << "  { bnnrt::KernelTimer timer(" << sites.size() - 1 << ", n);\n"
        << calls << "  }\n";
  }

  /// An internal inconsistency between the plan and a kernel signature.
  void fail(const std::string &message) {
    currentOp->emitOpError() << "cannot be lowered: " << message;
    status = failure();
  }

  /// C++ expression for the number of elements of `value`.
  static std::string size(Value value) {
    std::string text;
    for (int64_t extent : value.getType().cast<ShapedType>().getShape()) {
      if (!text.empty())
        text += " * ";
      text += extent == ShapedType::kDynamic ? "n" : std::to_string(extent);
    }
    return text.empty() ? "1" : text;
  }
  static llvm::ArrayRef<int64_t> shape(Value value) {
    return value.getType().cast<ShapedType>().getShape();
  }
  /// [n, C, rest...] -> {n, C, product(rest)} for per-channel kernels.
  static std::string channelShape(Value value) {
    llvm::ArrayRef<int64_t> s = shape(value);
    int64_t spatial = 1;
    for (int64_t extent : s.drop_front(2))
      spatial *= extent;
    return llvm::formatv("{{n, {0}, {1}}", s[1], spatial).str();
  }
  static std::string convShape(Value input, Value weight,
                               llvm::ArrayRef<int64_t> stride,
                               llvm::ArrayRef<int64_t> pad) {
    llvm::ArrayRef<int64_t> x = shape(input), w = shape(weight);
    return llvm::formatv("ConvShape{{n, {0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}",
                         x[1], x[2], x[3], w[0], w[2], w[3], stride[0], pad[0])
        .str();
  }
  static std::string poolShape(Value input, llvm::ArrayRef<int64_t> kernel,
                               llvm::ArrayRef<int64_t> stride,
                               llvm::ArrayRef<int64_t> pad) {
    llvm::ArrayRef<int64_t> x = shape(input);
    return llvm::formatv("reference::PoolShape{{n, {0}, {1}, {2}, {3}, {4}, {5}}",
                         x[1], x[2], x[3], kernel[0], stride[0], pad[0])
        .str();
  }
  static const char *boolean(bool value) { return value ? "true" : "false"; }
  static std::string floatLiteral(const llvm::APFloat &value) {
    return formatExactDouble(value.convertToDouble()) + "f";
  }

  /// One buffer argument of a Halide kernel: a C++ pointer to f32 data and
  /// its extents, innermost first (1 to 3 of them).
  struct HalideArg {
    std::string pointer;
    std::vector<std::string> extents;
    const char *type = "halideFloat32()";
  };

  /// A buffer or scalar bound to a signature argument by name.
  using Binding = std::pair<std::string, HalideArg>;

  /// A call of the Halide kernel `request` with `bindings` (buffers by
  /// argument name; scalars as a HalideArg whose pointer is the C++
  /// expression), put in the order of the family's signature. A name the
  /// signature lacks, or an argument left unbound, is an internal error.
  void callHalide(bnnc::KernelRequest request, llvm::ArrayRef<Binding> bindings) {
    bnnc::KernelSignature signature = bnnc::signatureOf(request);
    std::vector<const HalideArg *> ordered;
    for (const bnnc::KernelArg &arg : signature) {
      auto bound = llvm::find_if(bindings, [&](const Binding &b) { return b.first == arg.name; });
      if (bound == bindings.end()) {
        fail(std::string("no value bound to argument '") + arg.name + "' of kernel family " +
             bnnc::familyName(request.kind));
        return;
      }
      ordered.push_back(&bound->second);
      request.argExtents.push_back(numericExtents(bound->second.extents));
    }
    for (const Binding &binding : bindings)
      if (llvm::none_of(signature, [&](const bnnc::KernelArg &a) { return a.name == binding.first; }))
        fail("kernel family " + std::string(bnnc::familyName(request.kind)) +
             " has no argument '" + binding.first + "'");
    injectSwap(request, signature, ordered);
    request.callers.push_back(currentCaller);
    std::string kernel = bnnc::requestKernel(*halideKernels, request);
    currentKernel = kernel;
    os << "  {\n";
    std::string args;
    for (size_t i = 0; i < ordered.size(); ++i) {
      const HalideArg &arg = *ordered[i];
      if (!args.empty())
        args += ", ";
      if (signature[i].role == bnnc::ArgRole::Scalar) {
        args += arg.pointer;
        continue;
      }
      os << "    HalideBufferND b" << i << "(" << arg.pointer << ", " << arg.type << ", {";
      llvm::interleaveComma(arg.extents, os);
      os << "});\n";
      args += "b" + std::to_string(i) + ".raw()";
    }
    os << "    checkHalideCall(" << kernel << "(" << args << "), \"" << kernel
       << "\");\n  }\n";
  }

  /// Extents as numbers, the batch ("n") as -1: the autoschedulers' estimates.
  static std::vector<int64_t> numericExtents(llvm::ArrayRef<std::string> extents) {
    std::vector<int64_t> numbers;
    for (const std::string &extent : extents)
      numbers.push_back(extent == "n" ? -1 : std::stoll(extent));
    return numbers;
  }

  /// For tests of the differential checker only: swaps the buffers of two
  /// arguments of one family's calls (EmitOptions::swapKernelArgs).
  void injectSwap(const bnnc::KernelRequest &request, const bnnc::KernelSignature &signature,
                  std::vector<const HalideArg *> &ordered) {
    llvm::StringRef spec = options.swapKernelArgs;
    auto [family, names] = spec.split(':');
    if (family != bnnc::familyName(request.kind))
      return;
    auto [first, second] = names.split(',');
    auto position = [&](llvm::StringRef name) {
      for (size_t i = 0; i < signature.size(); ++i)
        if (signature[i].name == name)
          return int(i);
      return -1;
    };
    int a = position(first), b = position(second);
    if (a >= 0 && b >= 0)
      std::swap(ordered[size_t(a)], ordered[size_t(b)]);
  }

  /// The window geometry of a convolution or pooling over `input` (an
  /// NCHW tensor) with `filters` outputs and a kernel of kh × kw.
  static bnnc::KernelRequest::Geometry geometry(Value input, int64_t filters,
                                                int64_t kh, int64_t kw,
                                                int64_t stride, int64_t pad) {
    llvm::ArrayRef<int64_t> x = shape(input);
    return {x[1], x[2], x[3], filters, kh, kw, stride, pad};
  }
  /// An NCHW tensor as Halide extents (w, h, c, n).
  static std::vector<std::string> imageExtents(Value value) {
    llvm::ArrayRef<int64_t> x = shape(value);
    return {std::to_string(x[3]), std::to_string(x[2]), std::to_string(x[1]), "n"};
  }
  /// An OIHW weight as Halide extents (kw, kh, c, o).
  static std::vector<std::string> weightExtents(Value value) {
    llvm::ArrayRef<int64_t> w = shape(value);
    return {std::to_string(w[3]), std::to_string(w[2]), std::to_string(w[1]),
            std::to_string(w[0])};
  }

  /// A pooling op or its gradient as a Halide call: `inputs` are the image
  /// tensors it reads, `result` what it writes; the window comes from the
  /// op's kernel/stride/pad attributes, over `image` (the pooled input).
  void emitPoolHalide(Operation *op, bnnc::KernelRequest::Kind kind,
                      Value image,
                      llvm::ArrayRef<std::pair<const char *, Value>> inputs,
                      const char *resultName, const std::string &result) {
    auto kernel = op->getAttrOfType<DenseI64ArrayAttr>("kernel").asArrayRef();
    auto stride = op->getAttrOfType<DenseI64ArrayAttr>("stride").asArrayRef();
    auto pad = op->getAttrOfType<DenseI64ArrayAttr>("pad").asArrayRef();
    bnnc::KernelRequest request{kind, 0, 0, ""};
    request.conv = geometry(image, shape(image)[1], kernel[0], kernel[1],
                            stride[0], pad[0]);
    std::vector<Binding> buffers;
    for (auto [name, input] : inputs)
      buffers.push_back({name, {use(input), imageExtents(input)}});
    buffers.push_back({resultName, {result, imageExtents(op->getResult(0))}});
    callHalide(request, buffers);
  }

  /// maxpool / avgpool forward.
  template <typename PoolOp> LogicalResult emitPool(PoolOp pool, bool max) {
    std::string y = define(pool.getResult());
    if (halideKernels) {
      emitPoolHalide(pool,
                     max ? bnnc::KernelRequest::Kind::MaxPool
                         : bnnc::KernelRequest::Kind::AvgPool,
                     pool.getInput(), {{"input", pool.getInput()}}, "output", y);
      return success();
    }
    os << llvm::formatv("  reference::{0}({1}, {2}, {3});\n",
                        max ? "maxpoolForward" : "avgpoolForward",
                        use(pool.getInput()), y,
                        poolShape(pool.getInput(), pool.getKernel(),
                                  pool.getStride(), pool.getPad()));
    return success();
  }

  /// (rest, n) for an element-wise kernel over `value`.
  static std::vector<std::string> rows(Value value) {
    int64_t rest = 1;
    for (int64_t extent : shape(value).drop_front())
      rest *= extent;
    return {std::to_string(rest), "n"};
  }
  static int64_t rowLength(Value value) {
    int64_t rest = 1;
    for (int64_t extent : shape(value).drop_front())
      rest *= extent;
    return rest;
  }

  /// batchnorm_train and batchnorm_sign_train: the new running statistics
  /// go to scratch, then into the params.
  template <typename TrainOp>
  void emitBatchNormTrain(TrainOp norm, bool signs, const std::string &y,
                          const std::string &mean, const std::string &invStd) {
    auto [x, channels] = channelLayout(norm.getInput());
    std::vector<std::string> c{std::to_string(channels)};
    beginRunningScratch(channels);
    callHalide({signs ? bnnc::KernelRequest::Kind::BatchNormSignTrain
                      : bnnc::KernelRequest::Kind::BatchNormTrain,
                spatialOf(norm.getInput()), channels, "", false,
                norm.getEpsilon().convertToDouble(),
                norm.getMomentum().convertToDouble()},
               {{"x", {use(norm.getInput()), x}}, {"gamma", {use(norm.getGamma()), c}},
                {"beta", {use(norm.getBeta()), c}},
                {"running_mean", {use(norm.getRunningMean()), c}},
                {"running_var", {use(norm.getRunningVar()), c}}, {"output", {y, x}},
                {"mean", {mean, c}}, {"inv_std", {invStd, c}},
                {"new_running_mean", {"running", c}},
                {"new_running_var", {"runningVar", c}}});
    endRunningScratch(norm.getRunningMean(), norm.getRunningVar(), channels);
  }

  /// batchnorm / batchnorm_sign at evaluation (running statistics).
  template <typename EvalOp>
  LogicalResult emitBatchNormEval(EvalOp norm, bool signs) {
    std::string y = define(norm.getResult());
    if (halideKernels) {
      auto [x, channels] = channelLayout(norm.getInput());
      std::vector<std::string> c{std::to_string(channels)};
      callHalide({signs ? bnnc::KernelRequest::Kind::BatchNormSign
                        : bnnc::KernelRequest::Kind::BatchNormEval,
                  spatialOf(norm.getInput()), channels, "", false,
                  norm.getEpsilon().convertToDouble()},
                 {{"x", {use(norm.getInput()), x}}, {"gamma", {use(norm.getGamma()), c}},
                  {"beta", {use(norm.getBeta()), c}},
                  {"running_mean", {use(norm.getRunningMean()), c}},
                  {"running_var", {use(norm.getRunningVar()), c}}, {"output", {y, x}}});
      return success();
    }
    os << llvm::formatv(
        "  {0}({1}, {2}, {3}, {4}, {5}, {6}, {7}, {8});\n",
        signs ? "kernels::batchnormSign" : "reference::batchnormEvalForward",
        use(norm.getInput()), use(norm.getGamma()), use(norm.getBeta()),
        use(norm.getRunningMean()), use(norm.getRunningVar()), y,
        channelShape(norm.getInput()), floatLiteral(norm.getEpsilon()));
    return success();
  }

  /// batchnorm_train / batchnorm_sign_train.
  template <typename TrainOp>
  LogicalResult emitBatchNormTrainOp(TrainOp norm, bool signs) {
    std::string y = define(norm.getOutput());
    std::string mean = define(norm.getMean());
    std::string invStd = define(norm.getInvStd());
    if (halideKernels) {
      emitBatchNormTrain(norm, signs, y, mean, invStd);
      return success();
    }
    os << llvm::formatv(
        "  {0}({1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11});\n",
        signs ? "kernels::batchnormSignTrain" : "reference::batchnormTrainForward",
        use(norm.getInput()), use(norm.getGamma()), use(norm.getBeta()), y,
        mean, invStd, use(norm.getRunningMean()), use(norm.getRunningVar()),
        channelShape(norm.getInput()), floatLiteral(norm.getEpsilon()),
        floatLiteral(norm.getMomentum()));
    return success();
  }

  /// Opens a scope with scratch for the new running statistics of
  /// `channels` channels (a Halide kernel writes them there)...
  void beginRunningScratch(int64_t channels) {
    std::string c = std::to_string(channels);
    size_t meanId = nextBuffer++, varId = nextBuffer++;
    os << "  {\n  float *running = ws.get(" << meanId << ", " << c
       << "), *runningVar = ws.get(" << varId << ", " << c << ");\n";
  }
  /// ...and copies them into the params and closes it.
  void endRunningScratch(Value runningMean, Value runningVar, int64_t channels) {
    os << llvm::formatv("  kernels::copy(running, {0}, {1});\n"
                        "  kernels::copy(runningVar, {2}, {1});\n  }\n",
                        use(runningMean), channels, use(runningVar));
  }

  /// A loss kernel: per-row losses into scratch and the logits' gradient
  /// into `grad`; with `setLoss`, out.loss becomes their mean.
  void emitLoss(Operation *op, const std::string &grad, bool setLoss) {
    Value logits = op->getOperand(0);
    bool crossEntropy = isa<CrossEntropyOp, CrossEntropyGradOp>(op);
    std::string rowLosses = "ws.get(" + std::to_string(nextBuffer++) + ", n)";
    os << "  {\n  float *rowLoss = " << rowLosses << ";\n";
    callHalide({crossEntropy ? bnnc::KernelRequest::Kind::CrossEntropy
                             : bnnc::KernelRequest::Kind::SquaredHinge,
                0, shape(logits)[1], ""},
               {{"logits", {use(logits), {std::to_string(shape(logits)[1]), "n"}}},
                {"labels", {"in.labels", {"n"}, "halideInt32()"}},
                {"row_loss", {"rowLoss", {"n"}}},
                {"dlogits", {grad, {std::to_string(shape(logits)[1]), "n"}}}});
    if (setLoss)
      os << "  out.loss = kernels::mean(rowLoss, n);\n";
    os << "  }\n";
  }

  /// x as (spatial, channels, n) and the per-channel extent, for the
  /// batchnorm kernels.
  static std::pair<std::vector<std::string>, int64_t> channelLayout(Value x) {
    llvm::ArrayRef<int64_t> s = shape(x);
    int64_t spatial = 1;
    for (int64_t extent : s.drop_front(2))
      spatial *= extent;
    return {{std::to_string(spatial), std::to_string(s[1]), "n"}, s[1]};
  }
  static int64_t spatialOf(Value x) {
    int64_t spatial = 1;
    for (int64_t extent : shape(x).drop_front(2))
      spatial *= extent;
    return spatial;
  }

  /// A fresh workspace buffer holding `value`.
  std::string define(Value value) {
    std::string name = "v" + std::to_string(nextBuffer);
    declarations << "  float *" << name << " = ws.get(" << nextBuffer++ << ", "
       << size(value) << ");\n";
    names[value] = name;
    return name;
  }
  std::string use(Value value) { return names.lookup(value); }
  std::string optional(Value value) { return value ? use(value) : "nullptr"; }

  /// Windows the kernels cannot compute: the plan and the kernels take one
  /// stride and one padding for both axes (and the C++ pooling kernels a
  /// square window). Such IR (written or edited by hand) is an error at
  /// the op, never a binary that silently uses the first value.
  LogicalResult checkWindow(Operation *op) {
    for (const char *name : {"stride", "pad", "kernel"}) {
      auto values = op->getAttrOfType<DenseI64ArrayAttr>(name);
      if (!values || values.size() != 2 || values[0] == values[1])
        continue;
      if (llvm::StringRef(name) == "kernel" && halideKernels)
        continue;
      return op->emitOpError() << "has " << name << " [" << values[0] << ", " << values[1]
                               << "]: the back end supports only the same " << name
                               << " on both axes"
                               << (llvm::StringRef(name) == "kernel" ? " with --kernels=cpp" : "");
    }
    return success();
  }

  LogicalResult emitOp(Operation *op) {
    if (failed(checkWindow(op)))
      return failure();
    return TypeSwitch<Operation *, LogicalResult>(op)
        .Case([&](ParamOp param) {
          names[param.getValue()] =
              "p.value(" + std::to_string(paramIndex.lookup(param.getName())) + ")";
          return success();
        })
        .Case<FlattenOp, ReshapeOp>([&](Operation *reshape) {
          // Row-major reshapes keep the elements where they are.
          names[reshape->getResult(0)] = use(reshape->getOperand(0));
          return success();
        })
        .Case([&](DenseOp dense) {
          llvm::ArrayRef<int64_t> w = shape(dense.getWeight());
          std::string y = define(dense.getResult());
          bool binary = dense.getWeights() == Quantization::binary;
          if (halideKernels) {
            bnnc::KernelRequest request{bnnc::KernelRequest::Kind::DenseForward,
                                        w[1], w[0], "", binary};
            request.bias = bool(dense.getBias());
            std::vector<Binding> buffers{
                {"x", {use(dense.getInput()), {std::to_string(w[1]), "n"}}},
                {"w", {use(dense.getWeight()), {std::to_string(w[1]), std::to_string(w[0])}}}};
            if (dense.getBias())
              buffers.push_back({"bias", {use(dense.getBias()), {std::to_string(w[0])}}});
            buffers.push_back({"y", {y, {std::to_string(w[0]), "n"}}});
            callHalide(request, buffers);
            return success();
          }
          // Packed XNOR products are bnn-bitpack's decision, made in the IR.
          os << llvm::formatv("  kernels::dense({0}, {1}, {2}, {3}, n, {4}, {5}, {6});\n",
                              use(dense.getInput()), use(dense.getWeight()),
                              optional(dense.getBias()), y, w[1], w[0],
                              boolean(dense.getWeights() == Quantization::binary));
          return success();
        })
        .Case([&](Conv2DOp conv) {
          std::string y = define(conv.getResult());
          if (halideKernels) {
            llvm::ArrayRef<int64_t> w = shape(conv.getWeight());
            bnnc::KernelRequest request{bnnc::KernelRequest::Kind::Conv2D, 0, 0, "",
                                        conv.getWeights() == Quantization::binary};
            request.conv = geometry(conv.getInput(), w[0], w[2], w[3],
                                    conv.getStride()[0], conv.getPad()[0]);
            request.bias = bool(conv.getBias());
            std::vector<Binding> buffers{
                {"input", {use(conv.getInput()), imageExtents(conv.getInput())}},
                {"weight", {use(conv.getWeight()), weightExtents(conv.getWeight())}}};
            if (conv.getBias())
              buffers.push_back({"bias", {use(conv.getBias()), {std::to_string(w[0])}}});
            buffers.push_back({"output", {y, imageExtents(conv.getResult())}});
            callHalide(request, buffers);
            return success();
          }
          os << llvm::formatv("  kernels::conv2d({0}, {1}, {2}, {3}, {4}, {5});\n",
                              use(conv.getInput()), use(conv.getWeight()),
                              optional(conv.getBias()), y,
                              convShape(conv.getInput(), conv.getWeight(),
                                        conv.getStride(), conv.getPad()),
                              boolean(conv.getWeights() == Quantization::binary));
          return success();
        })
        .Case([&](BatchNormOp norm) { return emitBatchNormEval(norm, false); })
        .Case([&](BatchNormTrainOp norm) { return emitBatchNormTrainOp(norm, false); })
        .Case([&](BatchNormSignOp norm) { return emitBatchNormEval(norm, true); })
        .Case([&](BatchNormSignTrainOp norm) {
          return emitBatchNormTrainOp(norm, true);
        })
        .Case([&](BatchNormSteGradOp grad) {
          std::string dx = define(grad.getInputGrad());
          std::string dgamma = define(grad.getGammaGrad());
          std::string dbeta = define(grad.getBetaGrad());
          if (halideKernels) {
            auto [x, channels] = channelLayout(grad.getInput());
            std::vector<std::string> c{std::to_string(channels)};
            callHalide({bnnc::KernelRequest::Kind::BatchNormSteGrad,
                        spatialOf(grad.getInput()), channels, ""},
                       {{"x", {use(grad.getInput()), x}}, {"gamma", {use(grad.getGamma()), c}},
                        {"beta", {use(grad.getBeta()), c}}, {"dy", {use(grad.getOutputGrad()), x}},
                        {"mean", {use(grad.getMean()), c}}, {"inv_std", {use(grad.getInvStd()), c}},
                        {"dx", {dx, x}}, {"dgamma", {dgamma, c}}, {"dbeta", {dbeta, c}}});
            return success();
          }
          os << llvm::formatv(
              "  kernels::batchnormSteGrad({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9});\n",
              use(grad.getInput()), use(grad.getGamma()), use(grad.getBeta()),
              use(grad.getOutputGrad()), use(grad.getMean()), use(grad.getInvStd()),
              dx, dgamma, dbeta, channelShape(grad.getInput()));
          return success();
        })
        .Case([&](PackSignsOp pack) {
          llvm::ArrayRef<int64_t> in = shape(pack.getInput());
          std::string words = "w" + std::to_string(nextWords);
          declarations << "  uint64_t *" << words << " = ws.getWords(" << nextWords++
             << ", " << size(pack.getOutput()) << ");\n";
          names[pack.getOutput()] = words;
          std::string rows = in.size() == 1 ? "1"
                             : in[0] == ShapedType::kDynamic
                                 ? "n"
                                 : std::to_string(in[0]);
          if (!halideKernels) {
            os << llvm::formatv("  kernels::packSigns({0}, {1}, {2}, {3});\n",
                                use(pack.getInput()), words, rows, in.back());
            return success();
          }
          callHalide({bnnc::KernelRequest::Kind::PackSigns, in.back(), 0, ""},
                     {{"x", {use(pack.getInput()), {std::to_string(in.back()), rows}}},
                      {"packed", {words, {std::to_string((in.back() + 63) / 64), rows},
                                  "halideUInt64()"}}});
          return success();
        })
        .Case([&](XnorDenseOp xnor) {
          std::string y = define(xnor.getResult());
          llvm::ArrayRef<int64_t> w = shape(xnor.getWeight());
          if (!halideKernels) {
            os << llvm::formatv("  kernels::xnorDense({0}, {1}, {2}, n, {3}, {4}, {5});\n",
                                use(xnor.getInput()), use(xnor.getWeight()), y,
                                w[0], w[1], xnor.getLength());
            return success();
          }
          callHalide({bnnc::KernelRequest::Kind::XnorDense,
                      int64_t(xnor.getLength()), w[0], ""},
                     {{"input", {use(xnor.getInput()), {std::to_string(w[1]), "n"}, "halideUInt64()"}},
                      {"weight", {use(xnor.getWeight()), {std::to_string(w[1]), std::to_string(w[0])},
                                  "halideUInt64()"}},
                      {"output", {y, {std::to_string(w[0]), "n"}}}});
          return success();
        })
        .Case([&](XnorDenseBatchNormSignTrainOp layer) {
          std::string y = define(layer.getOutput());
          std::string product = define(layer.getProduct());
          std::string mean = define(layer.getMean());
          std::string invStd = define(layer.getInvStd());
          llvm::ArrayRef<int64_t> w = shape(layer.getWeight());
          int64_t units = w[0];
          std::string c = std::to_string(units);
          if (!halideKernels) {
            // The same computation in two C++ kernels.
            os << llvm::formatv(
                "  kernels::xnorDense({0}, {1}, {2}, n, {3}, {4}, {5});\n"
                "  kernels::batchnormSignTrain({2}, {6}, {7}, {8}, {9}, {10}, {11}, "
                "{12}, {{n, {3}, 1}, {13}, {14});\n",
                use(layer.getInput()), use(layer.getWeight()), product, units,
                w[1], layer.getLength(), use(layer.getGamma()), use(layer.getBeta()),
                y, mean, invStd, use(layer.getRunningMean()),
                use(layer.getRunningVar()), floatLiteral(layer.getEpsilon()),
                floatLiteral(layer.getMomentum()));
            return success();
          }
          beginRunningScratch(units);
          bnnc::KernelRequest request{bnnc::KernelRequest::Kind::XnorDenseBatchNormSignTrain,
                                      int64_t(layer.getLength()), units, "", false,
                                      layer.getEpsilon().convertToDouble(),
                                      layer.getMomentum().convertToDouble()};
          callHalide(request,
                     {{"input", {use(layer.getInput()), {std::to_string(w[1]), "n"}, "halideUInt64()"}},
                      {"weight", {use(layer.getWeight()), {std::to_string(w[1]), c}, "halideUInt64()"}},
                      {"gamma", {use(layer.getGamma()), {c}}}, {"beta", {use(layer.getBeta()), {c}}},
                      {"running_mean", {use(layer.getRunningMean()), {c}}},
                      {"running_var", {use(layer.getRunningVar()), {c}}},
                      {"output", {y, {"1", c, "n"}}}, {"product", {product, {c, "n"}}},
                      {"mean", {mean, {c}}}, {"inv_std", {invStd, {c}}},
                      {"new_running_mean", {"running", {c}}},
                      {"new_running_var", {"runningVar", {c}}}});
          endRunningScratch(layer.getRunningMean(), layer.getRunningVar(), units);
          return success();
        })
        .Case([&](XnorDenseBatchNormSignOp layer) {
          std::string y = define(layer.getResult());
          llvm::ArrayRef<int64_t> w = shape(layer.getWeight());
          int64_t units = w[0];
          std::string c = std::to_string(units);
          if (!halideKernels) {
            std::string product =
                "ws.get(" + std::to_string(nextBuffer++) + ", n * " + c + ")";
            os << llvm::formatv(
                "  {{\n  float *product = {0};\n"
                "  kernels::xnorDense({1}, {2}, product, n, {3}, {4}, {5});\n"
                "  kernels::batchnormSign(product, {6}, {7}, {8}, {9}, {10}, {{n, {3}, 1}, {11});\n  }\n",
                product, use(layer.getInput()), use(layer.getWeight()), units, w[1],
                layer.getLength(), use(layer.getGamma()), use(layer.getBeta()),
                use(layer.getRunningMean()), use(layer.getRunningVar()), y,
                floatLiteral(layer.getEpsilon()));
            return success();
          }
          bnnc::KernelRequest request{bnnc::KernelRequest::Kind::XnorDenseBatchNormSign,
                                      int64_t(layer.getLength()), units, "", false,
                                      layer.getEpsilon().convertToDouble()};
          callHalide(request,
                     {{"input", {use(layer.getInput()), {std::to_string(w[1]), "n"}, "halideUInt64()"}},
                      {"weight", {use(layer.getWeight()), {std::to_string(w[1]), c}, "halideUInt64()"}},
                      {"gamma", {use(layer.getGamma()), {c}}}, {"beta", {use(layer.getBeta()), {c}}},
                      {"running_mean", {use(layer.getRunningMean()), {c}}},
                      {"running_var", {use(layer.getRunningVar()), {c}}},
                      {"output", {y, {"1", c, "n"}}}});
          return success();
        })
        .Case([&](MaxPoolOp pool) { return emitPool(pool, /*max=*/true); })
        .Case([&](AvgPoolOp pool) { return emitPool(pool, /*max=*/false); })
        .Case([&](AddOp add) {
          std::string y = define(add.getResult());
          if (halideKernels) {
            callHalide({bnnc::KernelRequest::Kind::Add, rowLength(add.getResult()), 0, ""},
                       {{"lhs", {use(add.getLhs()), rows(add.getLhs())}},
                        {"rhs", {use(add.getRhs()), rows(add.getRhs())}},
                        {"y", {y, rows(add.getResult())}}});
            return success();
          }
          os << llvm::formatv("  kernels::elementwiseAdd({0}, {1}, {2}, {3});\n",
                              use(add.getLhs()), use(add.getRhs()), y,
                              size(add.getResult()));
          return success();
        })
        .Case<SignOp, HTanhOp, ReluOp>([&](Operation *activation) {
          const char *kernel = isa<SignOp>(activation)    ? "signForward"
                               : isa<HTanhOp>(activation) ? "htanhForward"
                                                          : "reluForward";
          std::string y = define(activation->getResult(0));
          if (halideKernels) {
            Value x = activation->getOperand(0);
            auto kind = isa<SignOp>(activation)    ? bnnc::KernelRequest::Kind::Sign
                        : isa<HTanhOp>(activation) ? bnnc::KernelRequest::Kind::HTanh
                                                   : bnnc::KernelRequest::Kind::Relu;
            callHalide({kind, rowLength(x), 0, ""},
                       {{"x", {use(x), rows(x)}}, {"y", {y, rows(x)}}});
            return success();
          }
          os << llvm::formatv("  reference::{0}({1}, {2}, {3});\n", kernel,
                              use(activation->getOperand(0)), y,
                              size(activation->getResult(0)));
          return success();
        })
        .Case<CrossEntropyOp, SquaredHingeOp>([&](Operation *loss) {
          Value logits = loss->getOperand(0);
          if (halideKernels) {
            std::string scratch =
                "ws.get(" + std::to_string(nextBuffer++) + ", " + size(logits) + ")";
            emitLoss(loss, scratch, /*setLoss=*/true);
            return success();
          }
          std::string scratch =
              "ws.get(" + std::to_string(nextBuffer++) + ", " + size(logits) + ")";
          os << llvm::formatv("  out.loss = reference::{0}({1}, in.labels, {2}, n, {3});\n",
                              isa<CrossEntropyOp>(loss) ? "crossEntropy"
                                                        : "squaredHinge",
                              use(logits), scratch, shape(logits)[1]);
          return success();
        })
        .Case<CrossEntropyGradOp, SquaredHingeGradOp>([&](Operation *grad) {
          Value logits = grad->getOperand(0);
          std::string d = define(grad->getResult(0));
          if (halideKernels) {
            emitLoss(grad, d, /*setLoss=*/false);
            return success();
          }
          os << llvm::formatv("  reference::{0}({1}, in.labels, {2}, n, {3});\n",
                              isa<CrossEntropyGradOp>(grad) ? "crossEntropy"
                                                            : "squaredHinge",
                              use(logits), d, shape(logits)[1]);
          return success();
        })
        .Case([&](DenseGradInputOp grad) {
          llvm::ArrayRef<int64_t> w = shape(grad.getWeight());
          std::string dx = define(grad.getResult());
          if (halideKernels) {
            callHalide({bnnc::KernelRequest::Kind::DenseGradInput, w[1], w[0], "",
                        grad.getWeights() == Quantization::binary},
                       {{"w", {use(grad.getWeight()), {std::to_string(w[1]), std::to_string(w[0])}}},
                        {"dy", {use(grad.getOutputGrad()), {std::to_string(w[0]), "n"}}},
                        {"dx", {dx, {std::to_string(w[1]), "n"}}}});
            return success();
          }
          os << llvm::formatv("  kernels::denseGradInput({0}, {1}, {2}, n, {3}, {4}, {5});\n",
                              use(grad.getWeight()), use(grad.getOutputGrad()), dx,
                              w[1], w[0],
                              boolean(grad.getWeights() == Quantization::binary));
          return success();
        })
        .Case([&](DenseGradWeightOp grad) {
          llvm::ArrayRef<int64_t> w = shape(grad.getWeight());
          std::string dw = define(grad.getResult());
          if (halideKernels) {
            callHalide({bnnc::KernelRequest::Kind::DenseGradWeight, w[1], w[0], "",
                        grad.getWeights() == Quantization::binary},
                       {{"x", {use(grad.getInput()), {std::to_string(w[1]), "n"}}},
                        {"w", {use(grad.getWeight()), {std::to_string(w[1]), std::to_string(w[0])}}},
                        {"dy", {use(grad.getOutputGrad()), {std::to_string(w[0]), "n"}}},
                        {"dw", {dw, {std::to_string(w[1]), std::to_string(w[0])}}}});
            return success();
          }
          os << llvm::formatv("  kernels::denseGradWeight({0}, {1}, {2}, {3}, n, {4}, {5}, {6});\n",
                              use(grad.getInput()), use(grad.getWeight()),
                              use(grad.getOutputGrad()), dw, w[1], w[0],
                              boolean(grad.getWeights() == Quantization::binary));
          return success();
        })
        .Case([&](BiasGradOp grad) {
          std::string db = define(grad.getResult());
          if (halideKernels) {
            auto [x, channels] = channelLayout(grad.getOutputGrad());
            callHalide({bnnc::KernelRequest::Kind::BiasGrad,
                        spatialOf(grad.getOutputGrad()), channels, ""},
                       {{"dy", {use(grad.getOutputGrad()), x}},
                        {"db", {db, {std::to_string(channels)}}}});
            return success();
          }
          llvm::ArrayRef<int64_t> dy = shape(grad.getOutputGrad());
          int64_t spatial = 1;
          for (int64_t extent : dy.drop_front(2))
            spatial *= extent;
          os << llvm::formatv("  kernels::biasGrad({0}, {1}, n, {2}, {3});\n",
                              use(grad.getOutputGrad()), db, dy[1], spatial);
          return success();
        })
        .Case([&](Conv2DGradInputOp grad) {
          std::string dx = define(grad.getResult());
          if (halideKernels) {
            llvm::ArrayRef<int64_t> w = shape(grad.getWeight());
            bnnc::KernelRequest request{bnnc::KernelRequest::Kind::Conv2DGradInput, 0, 0, "",
                                        grad.getWeights() == Quantization::binary};
            request.conv = geometry(grad.getResult(), w[0], w[2], w[3],
                                    grad.getStride()[0], grad.getPad()[0]);
            callHalide(request,
                       {{"weight", {use(grad.getWeight()), weightExtents(grad.getWeight())}},
                        {"dy", {use(grad.getOutputGrad()), imageExtents(grad.getOutputGrad())}},
                        {"dx", {dx, imageExtents(grad.getResult())}}});
            return success();
          }
          os << llvm::formatv("  kernels::conv2dGradInput({0}, {1}, {2}, {3}, {4});\n",
                              use(grad.getWeight()), use(grad.getOutputGrad()), dx,
                              convShape(grad.getResult(), grad.getWeight(),
                                        grad.getStride(), grad.getPad()),
                              boolean(grad.getWeights() == Quantization::binary));
          return success();
        })
        .Case([&](Conv2DGradWeightOp grad) {
          std::string dw = define(grad.getResult());
          if (halideKernels) {
            llvm::ArrayRef<int64_t> w = shape(grad.getWeight());
            bnnc::KernelRequest request{bnnc::KernelRequest::Kind::Conv2DGradWeight, 0, 0, "",
                                        grad.getWeights() == Quantization::binary};
            request.conv = geometry(grad.getInput(), w[0], w[2], w[3],
                                    grad.getStride()[0], grad.getPad()[0]);
            callHalide(request,
                       {{"input", {use(grad.getInput()), imageExtents(grad.getInput())}},
                        {"weight", {use(grad.getWeight()), weightExtents(grad.getWeight())}},
                        {"dy", {use(grad.getOutputGrad()), imageExtents(grad.getOutputGrad())}},
                        {"dw", {dw, weightExtents(grad.getWeight())}}});
            return success();
          }
          os << llvm::formatv("  kernels::conv2dGradWeight({0}, {1}, {2}, {3}, {4}, {5});\n",
                              use(grad.getInput()), use(grad.getWeight()),
                              use(grad.getOutputGrad()), dw,
                              convShape(grad.getInput(), grad.getWeight(),
                                        grad.getStride(), grad.getPad()),
                              boolean(grad.getWeights() == Quantization::binary));
          return success();
        })
        .Case([&](BatchNormGradOp grad) {
          std::string dx = define(grad.getInputGrad());
          std::string dgamma = define(grad.getGammaGrad());
          std::string dbeta = define(grad.getBetaGrad());
          if (halideKernels) {
            auto [x, channels] = channelLayout(grad.getInput());
            std::vector<std::string> c{std::to_string(channels)};
            callHalide({bnnc::KernelRequest::Kind::BatchNormGrad,
                        spatialOf(grad.getInput()), channels, ""},
                       {{"x", {use(grad.getInput()), x}}, {"gamma", {use(grad.getGamma()), c}},
                        {"dy", {use(grad.getOutputGrad()), x}}, {"mean", {use(grad.getMean()), c}},
                        {"inv_std", {use(grad.getInvStd()), c}}, {"dx", {dx, x}},
                        {"dgamma", {dgamma, c}}, {"dbeta", {dbeta, c}}});
            return success();
          }
          os << llvm::formatv(
              "  reference::batchnormBackward({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8});\n",
              use(grad.getInput()), use(grad.getGamma()), use(grad.getOutputGrad()),
              use(grad.getMean()), use(grad.getInvStd()), dx, dgamma, dbeta,
              channelShape(grad.getInput()));
          return success();
        })
        .Case([&](MaxPoolGradOp grad) {
          std::string dx = define(grad.getResult());
          if (halideKernels) {
            emitPoolHalide(grad, bnnc::KernelRequest::Kind::MaxPoolGrad,
                           grad.getInput(),
                           {{"input", grad.getInput()}, {"dy", grad.getOutputGrad()}}, "dx", dx);
            return success();
          }
          os << llvm::formatv("  reference::maxpoolBackward({0}, {1}, {2}, {3});\n",
                              use(grad.getInput()), use(grad.getOutputGrad()), dx,
                              poolShape(grad.getInput(), grad.getKernel(),
                                        grad.getStride(), grad.getPad()));
          return success();
        })
        .Case([&](AvgPoolGradOp grad) {
          std::string dx = define(grad.getResult());
          if (halideKernels) {
            emitPoolHalide(grad, bnnc::KernelRequest::Kind::AvgPoolGrad,
                           grad.getResult(), {{"dy", grad.getOutputGrad()}}, "dx", dx);
            return success();
          }
          os << llvm::formatv("  reference::avgpoolBackward({0}, {1}, {2});\n",
                              use(grad.getOutputGrad()), dx,
                              poolShape(grad.getResult(), grad.getKernel(),
                                        grad.getStride(), grad.getPad()));
          return success();
        })
        .Case<SteGradOp, ReluGradOp>([&](Operation *grad) {
          std::string dx = define(grad->getResult(0));
          if (halideKernels) {
            Value x = grad->getOperand(0);
            callHalide({isa<SteGradOp>(grad) ? bnnc::KernelRequest::Kind::SteGrad
                                             : bnnc::KernelRequest::Kind::ReluGrad,
                        rowLength(x), 0, ""},
                       {{"x", {use(x), rows(x)}}, {"dy", {use(grad->getOperand(1)), rows(x)}},
                        {"dx", {dx, rows(x)}}});
            return success();
          }
          os << llvm::formatv("  reference::{0}({1}, {2}, {3}, {4});\n",
                              isa<SteGradOp>(grad) ? "signBackward" : "reluBackward",
                              use(grad->getOperand(0)), use(grad->getOperand(1)),
                              dx, size(grad->getResult(0)));
          return success();
        })
        .Case([&](AdamUpdateOp update) {
          auto param = update.getParam().getDefiningOp<ParamOp>();
          if (halideKernels) {
            size_t index = paramIndex.lookup(param.getName());
            std::string length = size(update.getParam());
            std::vector<std::string> extent{length};
            std::string m = "p.firstMoments[" + std::to_string(index) + "].data()";
            std::string v = "p.secondMoments[" + std::to_string(index) + "].data()";
            callHalide({bnnc::KernelRequest::Kind::Adam,
                        rowLength(update.getParam()) *
                            shape(update.getParam())[0],
                        0, "", update.getClip()},
                       {{"param", {use(update.getParam()), extent}},
                        {"grad", {use(update.getGrad()), extent}}, {"m", {m, extent}},
                        {"v", {v, extent}}, {"lr", {"in.lr", {}}},
                        {"step", {"int32_t(in.step)", {}}},
                        {"new_param", {use(update.getParam()), extent}},
                        {"new_m", {m, extent}}, {"new_v", {v, extent}}});
            return success();
          }
          os << llvm::formatv("  p.adam({0}, {1}, in.lr, in.step);\n",
                              paramIndex.lookup(param.getName()),
                              use(update.getGrad()));
          return success();
        })
        .Case([&](func::ReturnOp ret) {
          Value logits = ret.getNumOperands() == 2 &&
                                 ret.getOperand(0).getType().cast<ShapedType>().getRank() == 0
                             ? ret.getOperand(1)
                             : ret.getOperand(0);
          os << "  out.logits = " << use(logits) << ";\n";
          return success();
        })
        .Default([&](Operation *other) {
          return other->emitOpError() << "has no kernel in the C++ plan";
        });
  }

  // An op's calls go to `body` (through `os`), its buffer declarations to
  // `declarations`; flushOp writes both to `out`.
  std::string body;
  llvm::raw_string_ostream os;
  std::string declarationText;
  llvm::raw_string_ostream declarations{declarationText};
  llvm::raw_ostream &out;
  const llvm::StringMap<size_t> &paramIndex;
  llvm::DenseMap<Value, std::string> names;
  size_t nextBuffer = 0;
  size_t nextWords = 0;
  std::vector<bnnc::KernelRequest> *halideKernels;
  const bnnc::EmitOptions &options;
  std::vector<KernelSiteRecord> &sites;
  Operation *currentOp = nullptr;
  std::string currentCaller, currentKernel;
  LogicalResult status = success();
};

const char *initKindName(InitKind kind) {
  switch (kind) {
  case InitKind::constant: return "Constant";
  case InitKind::uniform: return "Uniform";
  case InitKind::normal: return "Normal";
  case InitKind::glorot_uniform: return "GlorotUniform";
  case InitKind::he_normal: return "HeNormal";
  }
  return "Constant";
}

/// A C++ string literal.
std::string quote(llvm::StringRef text) {
  std::string result = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      result += '\\';
    result += c;
  }
  return result + "\"";
}

void emitSpec(func::FuncOp model, ModuleOp module, llvm::StringRef source,
              llvm::ArrayRef<KernelSiteRecord> sites, llvm::raw_ostream &os) {
  os << "ModelSpec makeSpec() {\n  ModelSpec spec;\n"
     << "  spec.name = " << quote(model.getName()) << ";\n"
     << "  spec.source = " << quote(source) << ";\n";
  auto input = model.getArgument(0).getType().cast<ShapedType>().getShape();
  os << "  spec.inputShape = {";
  llvm::interleaveComma(input.drop_front(), os);
  os << "};\n  spec.classes = "
     << model.getFunctionType().getResult(0).cast<ShapedType>().getShape()[1]
     << ";\n";
  for (auto hyper : module.getOps<HyperParamOp>())
    os << "  spec.hyperParams.push_back({" << quote(hyper.getSymName()) << ", "
       << formatExactDouble(hyper.getDefaultValue().convertToDouble()) << "});\n";
  model.walk([&](ParamOp param) {
    os << "  spec.params.push_back({" << quote(param.getName()) << ", {";
    llvm::interleaveComma(param.getValue().getType().cast<ShapedType>().getShape(), os);
    os << "}, InitKind::" << initKindName(param.getInit().getKind()) << ", {";
    llvm::interleaveComma(param.getInit().getArgs(), os, [&](const InitBound &b) {
      os << "{" << formatExactDouble(b.offset) << ", " << formatExactDouble(b.scale)
         << ", " << quote(b.param ? b.param.getValue() : "") << "}";
    });
    os << "}, " << (param.getState() ? "true" : "false") << ", "
       << (param.isLatentBinaryWeight() ? "true" : "false") << "});\n";
  });
  for (const KernelSiteRecord &site : sites)
    os << "  {\n    KernelSite site;\n    site.function = " << quote(site.function)
       << ";\n    site.op = " << quote(site.op) << ";\n    site.location = "
       << quote(site.location) << ";\n    site.kernel = " << quote(site.kernel)
       << ";\n    site.opsPerItem = " << formatExactDouble(site.opsPerItem)
       << ";\n    site.binaryOps = " << (site.binaryOps ? "true" : "false")
       << ";\n    spec.kernelSites.push_back(site);\n  }\n";
  os << "  spec.trainStep = trainStep;\n  spec.evalStep = evalStep;\n"
     << "  return spec;\n}\n";
}

} // namespace

LogicalResult bnnc::emitCpp(ModuleOp module, llvm::StringRef sourceName,
                            llvm::raw_ostream &os,
                            std::vector<KernelRequest> *halideKernels,
                            const EmitOptions &options) {
  func::FuncOp model, trainStep;
  for (auto function : module.getOps<func::FuncOp>()) {
    if (function->hasAttr("bnn.model"))
      model = function;
    if (function->hasAttr("bnn.train_step"))
      trainStep = function;
  }
  if (!model || !trainStep)
    return module.emitError()
           << "the C++ plan needs a bnn.model function and its train step "
              "(run bnn-generate-train-step first)";
  llvm::StringMap<size_t> paramIndex;
  model.walk([&](ParamOp param) {
    paramIndex.try_emplace(param.getName(), paramIndex.size());
  });

  // The functions first, into a string: they decide which Halide kernels
  // the file must declare.
  std::string functions;
  llvm::raw_string_ostream body(functions);
  std::vector<KernelSiteRecord> sites;
  if (failed(FunctionEmitter(body, paramIndex, halideKernels, options, sites)
                 .emit(trainStep, "trainStep", "train")) ||
      failed(FunctionEmitter(body, paramIndex, halideKernels, options, sites)
                 .emit(model, "evalStep", "eval")))
    return failure();

  os << "// Generated by bnnc from " << sourceName << ": model '"
     << model.getName() << "'. Do not edit; recompile the model instead.\n"
     << "#include \"bnnrt/Kernels.h\"\n#include \"bnnrt/Model.h\"\n"
     << "#include \"bnnrt/Reference.h\"\n";
  if (halideKernels && !halideKernels->empty()) {
    // The headers Halide wrote for the kernels: a call whose arguments do
    // not match a kernel's signature does not compile.
    os << "#include \"bnnrt/HalideBuffer.h\"\n\n"
       << "// Halide kernels, compiled ahead of time for this model.\n";
    for (const bnnc::KernelRequest &kernel : *halideKernels)
      os << "#include \"" << kernel.symbol << ".h\"\n";
  }
  os << "\nnamespace {\nusing namespace bnnrt;\nusing kernels::ConvShape;\n\n"
     << body.str();
  emitSpec(model, module, sourceName, sites, os);
  os << "} // namespace\n\n"
     << "int main(int argc, char **argv) {\n"
     << "  static const ModelSpec spec = makeSpec();\n"
     << "  return runCli(argc, argv, spec);\n}\n";
  return success();
}
