//===- Layers.cpp - The builtin layers of the model language --------------===//
//
// Each builtin has a signature (which arguments it takes by position and by
// name, which of its parameters accept an init policy) and a builder that
// checks its arguments, applies the shape rule and creates its bnn ops.
//
//===----------------------------------------------------------------------===//

#include "irgen/ModelGenImpl.h"

#include "bnn/ShapeRules.h"

#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace bnnc;
using namespace mlir;
namespace shapes = bnn::shapes;

const std::vector<LayerSignature> &ModelGen::layerSignatures() {
  static const std::vector<LayerSignature> signatures = {
      {"dense", {"units"}, {"weights", "bias", "name"}, {"weight", "bias"},
       &ModelGen::buildDense},
      {"conv2d",
       {"filters", "kernel"},
       {"stride", "pad", "weights", "bias", "name"},
       {"weight", "bias"},
       &ModelGen::buildConv2D},
      {"batchnorm", {}, {"epsilon", "momentum", "name"}, {"gamma", "beta"},
       &ModelGen::buildBatchNorm},
      {"maxpool", {"kernel"}, {"stride", "pad"}, {}, &ModelGen::buildMaxPool},
      {"avgpool", {"kernel"}, {"stride", "pad"}, {}, &ModelGen::buildAvgPool},
      {"flatten", {}, {}, {}, &ModelGen::buildFlatten},
      {"add", {"other"}, {}, {}, &ModelGen::buildAdd},
      {"sign", {}, {}, {}, &ModelGen::buildSign},
      {"htanh", {}, {}, {}, &ModelGen::buildHTanh},
      {"relu", {}, {}, {}, &ModelGen::buildRelu},
  };
  return signatures;
}

//===----------------------------------------------------------------------===//
// Binding a call to a signature
//===----------------------------------------------------------------------===//

EvalValue ModelGen::callLayer(const LayerSignature &layer,
                              const CallExpr &call, Scope &scope) {
  std::vector<llvm::StringRef> positional{"input"};
  llvm::append_range(positional, layer.positional);
  std::vector<llvm::StringRef> named = positional;
  llvm::append_range(named, layer.keywords);
  for (llvm::StringRef init : layer.initParams)
    if (!llvm::is_contained(named, init))
      named.push_back(init);

  LayerArgs args;
  args.call = &call;
  size_t nextPositional = 0;
  bool ok = true;
  for (const Argument &argument : call.getArguments()) {
    llvm::StringRef name;
    llvm::SMLoc loc = argument.kind == Argument::Kind::Positional
                          ? argument.value->getLoc()
                          : argument.nameLoc;
    if (argument.kind == Argument::Kind::Positional) {
      if (nextPositional >= positional.size()) {
        InFlightDiagnostic diag = error(loc);
        diag << layer.name << " takes " << positional.size()
             << " positional argument" << (positional.size() == 1 ? "" : "s")
             << " (";
        llvm::interleaveComma(positional, diag);
        diag << ")";
        if (call.isViaPipe())
          diag << "; with `|>` the input is the first";
        ok = false;
        continue;
      }
      name = positional[nextPositional++];
    } else if (argument.kind == Argument::Kind::Init) {
      name = argument.name;
      if (!llvm::is_contained(layer.initParams, name)) {
        InFlightDiagnostic diag = error(loc);
        diag << layer.name << " has no parameter '" << name
             << "' to initialise";
        if (layer.initParams.empty())
          diag << "; it has no parameters";
        else
          diag << didYouMean(name, layer.initParams);
        ok = false;
        continue;
      }
    } else {
      name = argument.name;
      if (!llvm::is_contained(named, name)) {
        error(loc) << "unknown argument '" << name << "' for " << layer.name
                   << didYouMean(name, named);
        ok = false;
        continue;
      }
    }
    if (!args.byName.try_emplace(name, &argument).second) {
      error(loc) << "argument '" << name << "' given twice";
      ok = false;
    }
  }
  if (!ok)
    return EvalValue::invalid();
  return (this->*layer.build)(args, scope);
}

//===----------------------------------------------------------------------===//
// Argument accessors
//===----------------------------------------------------------------------===//

Value ModelGen::tensorArg(const LayerArgs &args, llvm::StringRef name,
                          Scope &scope) {
  auto it = args.byName.find(name);
  if (it == args.byName.end()) {
    error(args.call->getLoc()) << args.call->getCallee() << " needs '" << name
                               << "' (a tensor)";
    return {};
  }
  EvalValue value = evaluate(*it->getValue()->value, scope);
  if (value.isValid() && !value.isTensor())
    error(it->getValue()->value->getLoc())
        << "'" << name << "' of " << args.call->getCallee()
        << " must be a tensor, got a number";
  return value.isTensor() ? value.tensor : Value();
}

std::optional<int64_t> ModelGen::intArg(const LayerArgs &args,
                                        llvm::StringRef name,
                                        std::optional<int64_t> fallback,
                                        int64_t min, Scope &scope) {
  auto it = args.byName.find(name);
  if (it == args.byName.end()) {
    if (!fallback)
      error(args.call->getLoc()) << args.call->getCallee() << " needs '"
                                 << name << "' (a whole number)";
    return fallback;
  }
  const Expr &expr = *it->getValue()->value;
  EvalValue value = evaluate(expr, scope);
  if (!value.isValid())
    return std::nullopt;
  std::optional<int64_t> integer =
      value.isScalar() ? value.scalar.asInteger() : std::nullopt;
  if (!integer) {
    InFlightDiagnostic diag = error(expr.getLoc());
    diag << "'" << name << "' of " << args.call->getCallee()
         << " must be a whole number known at compile time";
    if (value.isScalar() && !value.scalar.isConstant())
      diag << "; it depends on the run-time f32 param '"
           << value.scalar.param << "' (declare it `int`)";
    return std::nullopt;
  }
  if (*integer < min || *integer > shapes::kMaxExtent) {
    error(expr.getLoc()) << "'" << name << "' of " << args.call->getCallee()
                         << " must be in [" << min << ", "
                         << shapes::kMaxExtent << "], got " << *integer;
    return std::nullopt;
  }
  return integer;
}

std::optional<double> ModelGen::floatArg(const LayerArgs &args,
                                         llvm::StringRef name, double fallback,
                                         Scope &scope) {
  auto it = args.byName.find(name);
  if (it == args.byName.end())
    return fallback;
  const Expr &expr = *it->getValue()->value;
  EvalValue value = evaluate(expr, scope);
  if (!value.isValid())
    return std::nullopt;
  if (!value.isScalar() || !value.scalar.isConstant()) {
    error(expr.getLoc()) << "'" << name << "' of " << args.call->getCallee()
                         << " must be a number known at compile time";
    return std::nullopt;
  }
  return value.scalar.offset;
}

/// `true` / `false` written as names.
static std::optional<bool> asBoolLiteral(const Expr &expr) {
  auto *name = llvm::dyn_cast<NameExpr>(&expr);
  if (name && name->getName() == "true")
    return true;
  if (name && name->getName() == "false")
    return false;
  return std::nullopt;
}

std::optional<bool> ModelGen::boolArg(const LayerArgs &args,
                                      llvm::StringRef name, bool fallback) {
  auto it = args.byName.find(name);
  if (it == args.byName.end())
    return fallback;
  const Argument &argument = *it->getValue();
  std::optional<bool> literal = asBoolLiteral(*argument.value);
  if (!literal) {
    error(argument.value->getLoc())
        << "'" << name << "' must be true or false";
    return std::nullopt;
  }
  return literal;
}

std::optional<llvm::StringRef>
ModelGen::choiceArg(const LayerArgs &args, llvm::StringRef name,
                    llvm::ArrayRef<llvm::StringRef> choices,
                    llvm::StringRef fallback) {
  auto it = args.byName.find(name);
  if (it == args.byName.end())
    return fallback;
  const Expr &expr = *it->getValue()->value;
  auto *word = llvm::dyn_cast<NameExpr>(&expr);
  for (llvm::StringRef choice : choices)
    if (word && word->getName() == choice)
      return choice;
  InFlightDiagnostic diag = error(expr.getLoc());
  diag << "'" << name << "' must be one of ";
  llvm::interleaveComma(choices.drop_back(), diag);
  if (choices.size() > 1)
    diag << " or ";
  diag << choices.back();
  if (word)
    diag << ", got '" << word->getName() << "'"
         << didYouMean(word->getName(), choices);
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Init policies
//===----------------------------------------------------------------------===//

bnn::InitAttr ModelGen::constantInit(double value) {
  bnn::InitBound bound = bnn::InitBound::constant(value);
  return bnn::InitAttr::get(&context, bnn::InitKind::constant, bound);
}

bnn::InitAttr ModelGen::policy(bnn::InitKind kind) {
  return bnn::InitAttr::get(&context, kind, llvm::ArrayRef<bnn::InitBound>());
}

std::optional<bnn::InitBound> ModelGen::toBound(const Scalar &scalar) {
  // + 0.0 turns a -0.0 left by negation into 0.0.
  bnn::InitBound bound = bnn::InitBound::constant(scalar.offset + 0.0);
  if (!scalar.isConstant()) {
    bound.scale = scalar.scale;
    bound.param = StringAttr::get(&context, scalar.param);
  }
  return bound;
}

std::optional<bnn::InitAttr> ModelGen::initArg(const LayerArgs &args,
                                               llvm::StringRef role,
                                               bnn::InitAttr fallback,
                                               Scope &scope) {
  auto it = args.byName.find(role);
  if (it == args.byName.end())
    return fallback;
  const Argument &argument = *it->getValue();
  if (argument.kind == Argument::Kind::Init)
    return evaluatePolicy(*argument.value, scope);
  if (asBoolLiteral(*argument.value))
    return fallback; // `bias = true`: present, default init
  // `role = value`: a constant, possibly a run-time param such as lambda.
  EvalValue value = evaluate(*argument.value, scope);
  if (!value.isValid())
    return std::nullopt;
  if (!value.isScalar()) {
    error(argument.value->getLoc())
        << "'" << role << "' takes a number or `~ policy`, not a tensor";
    return std::nullopt;
  }
  bnn::InitBound bound = *toBound(value.scalar);
  return bnn::InitAttr::get(&context, bnn::InitKind::constant, bound);
}

std::optional<bnn::InitAttr> ModelGen::evaluatePolicy(const Expr &expr,
                                                      Scope &scope) {
  static constexpr llvm::StringLiteral kPolicies[] = {
      "constant", "uniform", "normal", "glorot_uniform", "he_normal"};
  llvm::StringRef policyName;
  const CallExpr *call = llvm::dyn_cast<CallExpr>(&expr);
  if (call)
    policyName = call->getCallee();
  else if (auto *name = llvm::dyn_cast<NameExpr>(&expr);
           name && !scope.count(name->getName()) &&
           !paramValues.count(name->getName()))
    policyName = name->getName();

  if (policyName.empty()) {
    // `beta ~ 0.5` or `beta ~ lambda`: a constant.
    EvalValue value = evaluate(expr, scope);
    if (!value.isValid())
      return std::nullopt;
    if (!value.isScalar()) {
      error(expr.getLoc()) << "an init policy is a number or a distribution, "
                              "not a tensor";
      return std::nullopt;
    }
    bnn::InitBound bound = *toBound(value.scalar);
    return bnn::InitAttr::get(&context, bnn::InitKind::constant, bound);
  }

  std::optional<bnn::InitKind> kind = bnn::symbolizeInitKind(policyName);
  if (!kind) {
    std::vector<llvm::StringRef> known(std::begin(kPolicies),
                                       std::end(kPolicies));
    error(expr.getLoc()) << "unknown init policy '" << policyName
                         << "'; expected uniform(low, high), normal(mean, "
                            "std), glorot_uniform, he_normal or constant(c)"
                         << didYouMean(policyName, known);
    return std::nullopt;
  }
  unsigned arity = bnn::InitAttr::arityOf(*kind);
  size_t given = call ? call->getArguments().size() : 0;
  if (given != arity) {
    error(expr.getLoc()) << policyName << " takes " << arity << " argument"
                         << (arity == 1 ? "" : "s") << ", got " << given;
    return std::nullopt;
  }
  llvm::SmallVector<bnn::InitBound> bounds;
  for (size_t i = 0; i < given; ++i) {
    const Argument &argument = call->getArguments()[i];
    if (argument.kind != Argument::Kind::Positional) {
      error(argument.nameLoc)
          << policyName << " takes its arguments by position";
      return std::nullopt;
    }
    EvalValue value = evaluate(*argument.value, scope);
    if (!value.isValid())
      return std::nullopt;
    if (!value.isScalar()) {
      error(argument.value->getLoc())
          << policyName << " takes numbers, not tensors";
      return std::nullopt;
    }
    bounds.push_back(*toBound(value.scalar));
  }
  bnn::InitAttr attr = bnn::InitAttr::getChecked(
      [&] { return error(expr.getLoc()); }, &context, *kind,
      llvm::ArrayRef<bnn::InitBound>(bounds));
  if (!attr)
    return std::nullopt;
  return attr;
}

//===----------------------------------------------------------------------===//
// Shared builder helpers
//===----------------------------------------------------------------------===//

RankedTensorType ModelGen::tensorType(llvm::ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, builder.getF32Type());
}

llvm::ArrayRef<int64_t> ModelGen::shapeOf(Value tensor) {
  return tensor.getType().cast<RankedTensorType>().getShape();
}

/// Floats in `shape` without its dynamic (batch) axis; saturates, as
/// a conv2d weight of four large extents overflows 64 bits.
static uint64_t floatsPerItem(llvm::ArrayRef<int64_t> shape) {
  uint64_t n = 1;
  for (int64_t d : shape)
    if (d != ShapedType::kDynamic)
      n = llvm::SaturatingMultiply(n, uint64_t(d));
  return n;
}

/// "78 400 000 000 floats (292 GiB)": digits grouped so the size reads at a
/// glance.
static std::string describeFloats(uint64_t floats) {
  std::string digits = std::to_string(floats), grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      grouped += ' ';
    grouped += digits[i];
  }
  double gib = double(floats) * sizeof(float) / double(uint64_t(1) << 30);
  return grouped + " floats (" + std::to_string(std::llround(gib)) + " GiB)";
}

std::optional<RankedTensorType>
ModelGen::resultType(const shapes::ShapeOrError &rule, llvm::SMLoc loc) {
  if (!rule.ok()) {
    error(loc) << rule.error;
    return std::nullopt;
  }
  // Refused here, before anything is allocated, so that the binary does not
  // die of an out-of-memory kill on its first batch.
  uint64_t floats = floatsPerItem(rule.shape);
  if (floats > kMaxParamFloats) {
    error(loc) << "this layer's output would hold " << describeFloats(floats)
               << " per batch item; at most "
               << describeFloats(kMaxParamFloats) << " fit";
    return std::nullopt;
  }
  return tensorType(rule.shape);
}

bool ModelGen::reserveParam(llvm::StringRef param,
                            llvm::ArrayRef<int64_t> shape, llvm::SMLoc loc) {
  uint64_t floats = floatsPerItem(shape);
  uint64_t total = llvm::SaturatingAdd(paramFloats, floats);
  if (floats > kMaxParamFloats) {
    error(loc) << param << " would hold " << describeFloats(floats)
               << "; a model's params may hold at most "
               << describeFloats(kMaxParamFloats);
    return false;
  }
  if (total > kMaxParamFloats) {
    error(loc) << "with " << param << " the model's params would hold "
               << describeFloats(total) << "; at most "
               << describeFloats(kMaxParamFloats) << " fit";
    return false;
  }
  // Only what is built counts, so one huge layer is reported once.
  paramFloats = total;
  return true;
}

std::optional<std::string> ModelGen::layerName(const LayerArgs &args,
                                               llvm::StringRef kind) {
  auto it = args.byName.find("name");
  if (it == args.byName.end()) {
    unsigned &counter = layerCounters[kind];
    std::string name;
    do
      name = (kind + llvm::Twine(counter++)).str();
    while (layerNames.count(name));
    layerNames.insert(name);
    return name;
  }
  const Expr &expr = *it->getValue()->value;
  auto *word = llvm::dyn_cast<NameExpr>(&expr);
  if (!word) {
    error(expr.getLoc()) << "'name' must be an identifier, e.g. name = fc1";
    return std::nullopt;
  }
  if (!layerNames.insert(word->getName()).second) {
    error(expr.getLoc()) << "layer name '" << word->getName()
                         << "' is already used";
    return std::nullopt;
  }
  return word->getName().str();
}

Value ModelGen::createParam(llvm::StringRef layer, llvm::StringRef role,
                            llvm::ArrayRef<int64_t> shape, bnn::InitAttr init,
                            bool state, Location loc) {
  return builder.create<bnn::ParamOp>(loc, tensorType(shape),
                                      (layer + "." + role).str(), init, state);
}

/// `bias = true|false`, `bias = c` or `bias ~ policy`; absent: `fallback`.
static std::optional<bool> hasBias(const LayerArgs &args, bool fallback) {
  auto it = args.byName.find("bias");
  if (it == args.byName.end())
    return fallback;
  if (std::optional<bool> literal = asBoolLiteral(*it->getValue()->value))
    return literal;
  return true;
}

//===----------------------------------------------------------------------===//
// Layers with parameters
//===----------------------------------------------------------------------===//

/// The `weights = ...` choices: every #bnn.quant value, from the enum itself
/// so that a new quantisation is accepted (and suggested) without a list.
static llvm::ArrayRef<llvm::StringRef> quantizationNames() {
  static const std::vector<llvm::StringRef> names = [] {
    std::vector<llvm::StringRef> all;
    for (uint32_t value = 0; value <= bnn::getMaxEnumValForQuantization(); ++value)
      all.push_back(bnn::stringifyQuantization(bnn::Quantization(value)));
    return all;
  }();
  return names;
}

std::optional<std::pair<Value, Value>>
ModelGen::weightAndBias(const LayerArgs &args, llvm::StringRef layer,
                        llvm::ArrayRef<int64_t> weightShape, bool realWeights,
                        Location loc, Scope &scope) {
  // A bias before batchnorm is redundant; binary layers feed batchnorm.
  std::optional<bool> bias = hasBias(args, realWeights);
  std::optional<bnn::InitAttr> weightInit =
      initArg(args, "weight", policy(bnn::InitKind::glorot_uniform), scope);
  std::optional<bnn::InitAttr> biasInit =
      initArg(args, "bias", constantInit(0.0), scope);
  if (!bias || !weightInit || !biasInit)
    return std::nullopt;
  llvm::SMLoc at = args.call->getLoc();
  if (!reserveParam((layer + ".weight").str(), weightShape, at) ||
      (*bias && !reserveParam((layer + ".bias").str(), weightShape[0], at)))
    return std::nullopt;
  Value weight = createParam(layer, "weight", weightShape, *weightInit,
                             /*state=*/false, loc);
  Value biasValue = *bias ? createParam(layer, "bias", {weightShape[0]},
                                        *biasInit, /*state=*/false, loc)
                          : Value();
  return std::make_pair(weight, biasValue);
}

EvalValue ModelGen::buildDense(const LayerArgs &args, Scope &scope) {
  Value input = tensorArg(args, "input", scope);
  std::optional<int64_t> units = intArg(args, "units", std::nullopt, 1, scope);
  std::optional<llvm::StringRef> weights =
      choiceArg(args, "weights", quantizationNames(), "real");
  std::optional<std::string> name = layerName(args, "dense");
  if (!input || !units || !weights || !name)
    return EvalValue::invalid();
  std::optional<RankedTensorType> type =
      resultType(shapes::dense(shapeOf(input), *units), args.call->getLoc());
  if (!type)
    return EvalValue::invalid();
  Location loc = location(args.call->getLoc());
  auto params = weightAndBias(args, *name, {*units, shapeOf(input)[1]},
                              *weights == "real", loc, scope);
  if (!params)
    return EvalValue::invalid();
  auto quant = bnn::QuantizationAttr::get(
      &context, *bnn::symbolizeQuantization(*weights));
  return EvalValue::ofTensor(builder.create<bnn::DenseOp>(
      loc, *type, input, params->first, params->second, quant));
}

EvalValue ModelGen::buildConv2D(const LayerArgs &args, Scope &scope) {
  Value input = tensorArg(args, "input", scope);
  std::optional<int64_t> filters =
      intArg(args, "filters", std::nullopt, 1, scope);
  std::optional<int64_t> kernel =
      intArg(args, "kernel", std::nullopt, 1, scope);
  std::optional<int64_t> stride = intArg(args, "stride", 1, 1, scope);
  std::optional<int64_t> pad = intArg(args, "pad", 0, 0, scope);
  std::optional<llvm::StringRef> weights =
      choiceArg(args, "weights", quantizationNames(), "real");
  std::optional<std::string> name = layerName(args, "conv2d");
  if (!input || !filters || !kernel || !stride || !pad || !weights || !name)
    return EvalValue::invalid();
  shapes::Window window{*kernel, *kernel, *stride, *stride, *pad, *pad};
  std::optional<RankedTensorType> type = resultType(
      shapes::conv2d(shapeOf(input), *filters, window), args.call->getLoc());
  if (!type)
    return EvalValue::invalid();
  Location loc = location(args.call->getLoc());
  int64_t channels = shapeOf(input)[1];
  auto params =
      weightAndBias(args, *name, {*filters, channels, *kernel, *kernel},
                    *weights == "real", loc, scope);
  if (!params)
    return EvalValue::invalid();
  auto quant = bnn::QuantizationAttr::get(
      &context, *bnn::symbolizeQuantization(*weights));
  return EvalValue::ofTensor(builder.create<bnn::Conv2DOp>(
      loc, *type, input, params->first, params->second, quant,
      builder.getDenseI64ArrayAttr({*stride, *stride}),
      builder.getDenseI64ArrayAttr({*pad, *pad})));
}

EvalValue ModelGen::buildBatchNorm(const LayerArgs &args, Scope &scope) {
  Value input = tensorArg(args, "input", scope);
  std::optional<double> epsilon = floatArg(args, "epsilon", 1e-5, scope);
  std::optional<double> momentum = floatArg(args, "momentum", 0.9, scope);
  std::optional<std::string> name = layerName(args, "batchnorm");
  std::optional<bnn::InitAttr> gammaInit =
      initArg(args, "gamma", constantInit(1.0), scope);
  std::optional<bnn::InitAttr> betaInit =
      initArg(args, "beta", constantInit(0.0), scope);
  if (!input || !epsilon || !momentum || !name || !gammaInit || !betaInit)
    return EvalValue::invalid();
  if (*epsilon <= 0.0) {
    error(args.byName.lookup("epsilon")->value->getLoc())
        << "epsilon must be positive";
    return EvalValue::invalid();
  }
  if (*momentum < 0.0 || *momentum >= 1.0) {
    error(args.byName.lookup("momentum")->value->getLoc())
        << "momentum must be in [0, 1): running = momentum * running + (1 - "
           "momentum) * batch";
    return EvalValue::invalid();
  }
  shapes::ShapeOrError channels = shapes::batchnormChannels(shapeOf(input));
  if (!channels.ok()) {
    error(args.call->getLoc()) << channels.error;
    return EvalValue::invalid();
  }
  Location loc = location(args.call->getLoc());
  llvm::ArrayRef<int64_t> perChannel = channels.shape;
  for (const char *role : {"gamma", "beta", "running_mean", "running_var"})
    if (!reserveParam(*name + "." + role, perChannel, args.call->getLoc()))
      return EvalValue::invalid();
  Value gamma = createParam(*name, "gamma", perChannel, *gammaInit, false, loc);
  Value beta = createParam(*name, "beta", perChannel, *betaInit, false, loc);
  Value mean = createParam(*name, "running_mean", perChannel,
                           constantInit(0.0), true, loc);
  Value variance = createParam(*name, "running_var", perChannel,
                               constantInit(1.0), true, loc);
  return EvalValue::ofTensor(builder.create<bnn::BatchNormOp>(
      loc, input.getType(), input, gamma, beta, mean, variance,
      builder.getF64FloatAttr(*epsilon), builder.getF64FloatAttr(*momentum)));
}

//===----------------------------------------------------------------------===//
// Layers without parameters
//===----------------------------------------------------------------------===//

template <typename PoolOp>
static EvalValue buildPool(ModelGen &gen, const LayerArgs &args, Scope &scope,
                           llvm::StringRef layer) {
  Value input = gen.tensorArg(args, "input", scope);
  std::optional<int64_t> kernel =
      gen.intArg(args, "kernel", std::nullopt, 1, scope);
  if (!input || !kernel)
    return EvalValue::invalid();
  std::optional<int64_t> stride = gen.intArg(args, "stride", *kernel, 1, scope);
  std::optional<int64_t> pad = gen.intArg(args, "pad", 0, 0, scope);
  if (!stride || !pad)
    return EvalValue::invalid();
  shapes::Window window{*kernel, *kernel, *stride, *stride, *pad, *pad};
  std::optional<RankedTensorType> type =
      gen.resultType(shapes::pool(layer, ModelGen::shapeOf(input), window),
                     args.call->getLoc());
  if (!type)
    return EvalValue::invalid();
  OpBuilder &builder = gen.builder;
  return EvalValue::ofTensor(builder.create<PoolOp>(
      gen.location(args.call->getLoc()), *type, input,
      builder.getDenseI64ArrayAttr({*kernel, *kernel}),
      builder.getDenseI64ArrayAttr({*stride, *stride}),
      builder.getDenseI64ArrayAttr({*pad, *pad})));
}

EvalValue ModelGen::buildMaxPool(const LayerArgs &args, Scope &scope) {
  return buildPool<bnn::MaxPoolOp>(*this, args, scope, "maxpool");
}

EvalValue ModelGen::buildAvgPool(const LayerArgs &args, Scope &scope) {
  return buildPool<bnn::AvgPoolOp>(*this, args, scope, "avgpool");
}

EvalValue ModelGen::buildFlatten(const LayerArgs &args, Scope &scope) {
  Value input = tensorArg(args, "input", scope);
  if (!input)
    return EvalValue::invalid();
  std::optional<RankedTensorType> type =
      resultType(shapes::flatten(shapeOf(input)), args.call->getLoc());
  if (!type)
    return EvalValue::invalid();
  return EvalValue::ofTensor(builder.create<bnn::FlattenOp>(
      location(args.call->getLoc()), *type, input));
}

EvalValue ModelGen::buildAdd(const LayerArgs &args, Scope &scope) {
  Value lhs = tensorArg(args, "input", scope);
  Value rhs = tensorArg(args, "other", scope);
  if (!lhs || !rhs)
    return EvalValue::invalid();
  std::optional<RankedTensorType> type = resultType(
      shapes::add(shapeOf(lhs), shapeOf(rhs)), args.call->getLoc());
  if (!type)
    return EvalValue::invalid();
  return EvalValue::ofTensor(builder.create<bnn::AddOp>(
      location(args.call->getLoc()), *type, lhs, rhs));
}

template <typename ActivationOp>
static EvalValue buildActivation(ModelGen &gen, const LayerArgs &args,
                                 Scope &scope) {
  Value input = gen.tensorArg(args, "input", scope);
  if (!input)
    return EvalValue::invalid();
  return EvalValue::ofTensor(gen.builder.create<ActivationOp>(
      gen.location(args.call->getLoc()), input.getType(), input));
}

EvalValue ModelGen::buildSign(const LayerArgs &args, Scope &scope) {
  return buildActivation<bnn::SignOp>(*this, args, scope);
}
EvalValue ModelGen::buildHTanh(const LayerArgs &args, Scope &scope) {
  return buildActivation<bnn::HTanhOp>(*this, args, scope);
}
EvalValue ModelGen::buildRelu(const LayerArgs &args, Scope &scope) {
  return buildActivation<bnn::ReluOp>(*this, args, scope);
}
