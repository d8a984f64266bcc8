#include "irgen/ModelGenImpl.h"

#include "bnn/ShapeRules.h"

#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"

using namespace bnnc;
using namespace mlir;

static constexpr llvm::StringLiteral kLosses[] = {"cross_entropy",
                                                  "squared_hinge"};
static constexpr llvm::StringLiteral kInitPolicies[] = {
    "constant", "uniform", "normal", "glorot_uniform", "he_normal"};

ModelGen::ModelGen(DiagnosticSink &diagnostics)
    : builder(&diagnostics.mlirContext()), diagnostics(diagnostics),
      context(diagnostics.mlirContext()) {}

//===----------------------------------------------------------------------===//
// Diagnostics and locations
//===----------------------------------------------------------------------===//

mlir::Location ModelGen::location(llvm::SMLoc loc) {
  mlir::Location result = diagnostics.location(loc);
  // Inside a block, an op's location is the call chain that created it.
  for (auto it = instantiations.rbegin(); it != instantiations.rend(); ++it)
    result = CallSiteLoc::get(result, diagnostics.location(it->second));
  return result;
}

InFlightDiagnostic ModelGen::error(llvm::SMLoc loc) {
  InFlightDiagnostic diag = diagnostics.error(loc);
  for (auto it = instantiations.rbegin(); it != instantiations.rend(); ++it)
    diag.attachNote(diagnostics.location(it->second))
        << "in block '" << it->first->getName() << "' used here";
  return diag;
}

//===----------------------------------------------------------------------===//
// Top level
//===----------------------------------------------------------------------===//

OwningOpRef<ModuleOp> ModelGen::run(const Program &program,
                                    const GenOptions &options) {
  OwningOpRef<ModuleOp> owned = ModuleOp::create(
      diagnostics.location(llvm::SMLoc()));
  module = *owned;
  builder.setInsertionPointToEnd(module.getBody());

  // Syntax errors leave holes in the tree; elaborating around them would
  // mostly report their consequences, so analysis starts on clean input.
  if (diagnostics.hadErrors())
    return nullptr;
  collectDecls(program);
  evaluateParams(options);
  const ModelDecl *model = selectModel(program, options);
  // Bad params are marked and stay silent where used, so the model is still
  // checked: its errors are independent of theirs.
  if (model) {
    emitHyperParams();
    emitModel(*model);
  }
  if (diagnostics.hadErrors() || !model)
    return nullptr;
  // Everything was checked while building, so a verifier failure here is a
  // bug in bnnc, not in the model file; it is still reported, not ignored.
  if (failed(verify(module)))
    return nullptr;
  return owned;
}

void ModelGen::collectDecls(const Program &program) {
  llvm::StringMap<const Decl *> seen;
  for (const SourceFile &file : program.files) {
    for (const DeclPtr &decl : file.decls) {
      if (llvm::isa<ImportDecl>(decl.get()))
        continue;
      auto [it, inserted] = seen.try_emplace(decl->getName(), decl.get());
      if (!inserted) {
        InFlightDiagnostic diag = error(decl->getLoc());
        diag << "'" << decl->getName() << "' is already defined";
        diag.attachNote(diagnostics.location(it->second->getLoc()))
            << "previous definition is here";
        continue;
      }
      if (auto *param = llvm::dyn_cast<ParamDecl>(decl.get()))
      {
        params[param->getName()] = param;
        paramOrder.push_back(param);
      } else if (auto *block = llvm::dyn_cast<BlockDecl>(decl.get()))
        blocks[block->getName()] = block;
      else if (auto *model = llvm::dyn_cast<ModelDecl>(decl.get()))
        models.push_back(model);
    }
  }
}

std::optional<std::pair<std::string, std::string>>
bnnc::parseOverride(llvm::StringRef text) {
  auto [name, value] = text.split('=');
  name = name.trim();
  value = value.trim();
  if (name.empty() || value.empty() || !text.contains('='))
    return std::nullopt;
  return std::make_pair(name.str(), value.str());
}

void ModelGen::evaluateParams(const GenOptions &options) {
  llvm::StringMap<std::string> overrides;
  for (const auto &[name, value] : options.overrides) {
    if (params.count(name)) {
      overrides[name] = value;
      continue;
    }
    std::vector<llvm::StringRef> known;
    for (const auto &entry : params)
      known.push_back(entry.getKey());
    diagnostics.commandLineError("--set " + name + ": no param named '" +
                                 name + "'" + didYouMean(name, known));
  }

  // Params are evaluated in file order (imports first), each default seeing
  // the *values* of the params before it, so a param's default is a
  // constant and every f32 param is an independent run-time knob.
  Scope constants;
  for (const ParamDecl *param : paramOrder) {
    std::optional<double> value = paramValue(*param, overrides, constants);
    llvm::StringRef name = param->getName();
    if (!value) {
      failedParams.insert(name);
      continue;
    }
    constants[name] = EvalValue::ofScalar(Scalar::constant(*value));
    if (param->getType().kind == TypeSpec::Kind::Int) {
      paramValues[name] = Scalar::constant(*value);
    } else {
      paramValues[name] = Scalar::runtimeParam(name.str());
      paramDefaults[name] = *value;
      runtimeParamOrder.push_back(name.str());
    }
  }
}

std::optional<double>
ModelGen::paramValue(const ParamDecl &param,
                     const llvm::StringMap<std::string> &overrides,
                     Scope &constants) {
  llvm::StringRef name = param.getName();
  std::optional<double> value;
  auto override = overrides.find(name);
  if (override != overrides.end()) {
    double parsed;
    if (llvm::StringRef(override->getValue()).getAsDouble(parsed)) {
      diagnostics.commandLineError("--set " + name + "=" +
                                   override->getValue() +
                                   ": expected a number");
      return std::nullopt;
    }
    value = parsed;
  } else {
    EvalValue result = evaluate(param.getDefault(), constants);
    if (!result.isValid())
      return std::nullopt;
    if (!result.isScalar()) {
      error(param.getDefault().getLoc())
          << "a param's default must be a number";
      return std::nullopt;
    }
    value = result.scalar.offset;
  }
  if (param.getType().kind == TypeSpec::Kind::Int &&
      !Scalar::constant(*value).asInteger()) {
    error(param.getLoc()) << "param '" << name
                          << "' is an int, but its value is "
                          << bnn::formatExactDouble(*value);
    return std::nullopt;
  }
  return value;
}

const ModelDecl *ModelGen::selectModel(const Program &program,
                                       const GenOptions &options) {
  std::vector<llvm::StringRef> names;
  for (const ModelDecl *model : models)
    names.push_back(model->getName());
  if (!options.modelName.empty()) {
    for (const ModelDecl *model : models)
      if (model->getName() == options.modelName)
        return model;
    diagnostics.commandLineError("--model: no model named '" +
                                 options.modelName + "'" +
                                 didYouMean(options.modelName, names));
    return nullptr;
  }
  std::vector<const ModelDecl *> inMain;
  unsigned mainBuffer = program.mainFile().bufferId;
  for (const ModelDecl *model : models)
    if (diagnostics.sourceManager().FindBufferContainingLoc(
            model->getLoc()) == mainBuffer)
      inMain.push_back(model);
  if (inMain.size() == 1)
    return inMain.front();
  if (inMain.empty()) {
    if (!diagnostics.hadErrors())
      diagnostics.error(FileLineColLoc::get(&context, program.mainFile().path,
                                            1, 1))
          << "no model in this file; define one with `model name(x: "
             "f32[...]) { ... }`";
    return nullptr;
  }
  InFlightDiagnostic diag = diagnostics.error(inMain[1]->getLoc());
  diag << "this file defines " << inMain.size()
       << " models; choose one with --model (";
  llvm::interleave(
      inMain, diag, [&](const ModelDecl *m) { diag << m->getName(); }, ", ");
  diag << ")";
  return nullptr;
}

void ModelGen::emitHyperParams() {
  for (const std::string &name : runtimeParamOrder) {
    llvm::SMLoc loc = params[name]->getLoc();
    builder.create<bnn::HyperParamOp>(
        location(loc), builder.getStringAttr(name),
        builder.getF64FloatAttr(paramDefaults[name]));
  }
}

void ModelGen::emitModel(const ModelDecl &model) {
  paramFloats = 0; // each model has its own param budget
  llvm::SmallVector<int64_t> inputShape{ShapedType::kDynamic};
  llvm::append_range(inputShape, model.getInputType().dims);
  Type inputType = tensorType(inputShape);
  Type labelsType =
      RankedTensorType::get({ShapedType::kDynamic}, builder.getI32Type());
  auto function = builder.create<func::FuncOp>(
      location(model.getLoc()), model.getName(),
      builder.getFunctionType({inputType, labelsType}, {}));
  function->setAttr("bnn.model", builder.getUnitAttr());
  Block *entry = function.addEntryBlock();
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(entry);

  Scope scope;
  scope[model.getInputName()] = EvalValue::ofTensor(entry->getArgument(0));
  const LossStmt *lossStmt = nullptr;
  EvalValue output = runBody(model.getBody(), scope, model, &lossStmt);
  if (!output.isValid())
    return;
  if (!output.isTensor()) {
    error(model.getLoc()) << "model '" << model.getName()
                          << "' must return a tensor (its logits)";
    return;
  }

  llvm::StringRef lossName = lossStmt ? lossStmt->getLoss() : "cross_entropy";
  llvm::SMLoc lossLoc = lossStmt ? lossStmt->getLossLoc() : model.getLoc();
  bnn::shapes::ShapeOrError rule =
      bnn::shapes::loss(lossName, shapeOf(output.tensor));
  if (!rule.ok()) {
    error(lossLoc) << rule.error << " from the model's return value";
    return;
  }
  Location loc = location(lossLoc);
  Type scalar = RankedTensorType::get({}, builder.getF32Type());
  Value labels = entry->getArgument(1);
  Value loss =
      lossName == "squared_hinge"
          ? builder.create<bnn::SquaredHingeOp>(loc, scalar, output.tensor,
                                                labels)
                .getResult()
          : builder.create<bnn::CrossEntropyOp>(loc, scalar, output.tensor,
                                                labels)
                .getResult();
  builder.create<func::ReturnOp>(location(model.getLoc()),
                                 ValueRange{output.tensor, loss});
  function.setType(builder.getFunctionType(
      {inputType, labelsType}, {output.tensor.getType(), loss.getType()}));
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

EvalValue ModelGen::runBody(const Body &body, Scope &scope, const Decl &owner,
                            const LossStmt **loss) {
  std::optional<EvalValue> returned;
  bool isModel = llvm::isa<ModelDecl>(owner);
  for (const StmtPtr &stmt : body) {
    if (returned) {
      error(stmt->getLoc()) << "statement after 'return' is never reached";
      return EvalValue::invalid();
    }
    if (auto *assign = llvm::dyn_cast<AssignStmt>(stmt.get())) {
      scope[assign->getName()] = evaluate(assign->getValue(), scope);
    } else if (auto *ret = llvm::dyn_cast<ReturnStmt>(stmt.get())) {
      returned = evaluate(ret->getValue(), scope);
    } else if (auto *lossStmt = llvm::dyn_cast<LossStmt>(stmt.get())) {
      if (!isModel) {
        error(lossStmt->getLoc())
            << "a block cannot declare a loss; put `loss "
            << lossStmt->getLoss() << "` in the model";
      } else if (!llvm::is_contained(kLosses, lossStmt->getLoss())) {
        std::vector<llvm::StringRef> known(std::begin(kLosses),
                                           std::end(kLosses));
        error(lossStmt->getLossLoc())
            << "unknown loss '" << lossStmt->getLoss()
            << "'; expected cross_entropy or squared_hinge"
            << didYouMean(lossStmt->getLoss(), known);
      } else if (*loss) {
        error(lossStmt->getLoc()) << "the model already declares its loss";
      } else {
        *loss = lossStmt;
      }
    }
  }
  if (!returned) {
    error(owner.getLoc()) << (isModel ? "model '" : "block '")
                          << owner.getName()
                          << "' has no return statement; end it with "
                             "`return <value>`";
    return EvalValue::invalid();
  }
  return *returned;
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

EvalValue ModelGen::evaluate(const Expr &expr, Scope &scope) {
  if (auto *number = llvm::dyn_cast<NumberExpr>(&expr))
    return EvalValue::ofScalar(Scalar::constant(number->getValue()));
  if (auto *name = llvm::dyn_cast<NameExpr>(&expr))
    return evaluateName(*name, scope);
  if (auto *negate = llvm::dyn_cast<NegateExpr>(&expr)) {
    EvalValue operand = evaluate(negate->getOperand(), scope);
    if (operand.isTensor()) {
      error(negate->getLoc()) << "'-' applies to numbers, not tensors";
      return EvalValue::invalid();
    }
    return operand.isValid() ? EvalValue::ofScalar(bnnc::negate(operand.scalar))
                             : operand;
  }
  if (auto *binary = llvm::dyn_cast<BinaryExpr>(&expr))
    return evaluateBinary(*binary, scope);
  return evaluateCall(llvm::cast<CallExpr>(expr), scope);
}

EvalValue ModelGen::evaluateName(const NameExpr &name, Scope &scope) {
  auto local = scope.find(name.getName());
  if (local != scope.end())
    return local->getValue();
  auto param = paramValues.find(name.getName());
  if (param != paramValues.end())
    return EvalValue::ofScalar(param->getValue());
  if (failedParams.count(name.getName()))
    return EvalValue::invalid(); // its definition failed, already reported
  if (params.count(name.getName())) {
    error(name.getLoc()) << "param '" << name.getName()
                         << "' is used before it is defined";
    return EvalValue::invalid();
  }

  bool isLayer = llvm::any_of(layerSignatures(), [&](const LayerSignature &l) {
    return l.name == name.getName();
  });
  if (isLayer || blocks.count(name.getName())) {
    error(name.getLoc()) << "'" << name.getName()
                         << "' is a layer; apply it to an input: `x |> "
                         << name.getName() << "`";
    return EvalValue::invalid();
  }
  std::vector<llvm::StringRef> candidates;
  for (const auto &entry : scope)
    candidates.push_back(entry.getKey());
  for (const auto &entry : params)
    candidates.push_back(entry.getKey());
  error(name.getLoc()) << "unknown name '" << name.getName() << "'"
                       << didYouMean(name.getName(), candidates);
  return EvalValue::invalid();
}

EvalValue ModelGen::evaluateBinary(const BinaryExpr &binary, Scope &scope) {
  EvalValue lhs = evaluate(binary.getLhs(), scope);
  EvalValue rhs = evaluate(binary.getRhs(), scope);
  if (!lhs.isValid() || !rhs.isValid())
    return EvalValue::invalid();
  if (lhs.isTensor() || rhs.isTensor()) {
    if (binary.getOp() != '+' || !lhs.isTensor() || !rhs.isTensor()) {
      error(binary.getLoc())
          << "tensors combine only with '+' (a residual add of two tensors)";
      return EvalValue::invalid();
    }
    bnn::shapes::ShapeOrError rule =
        bnn::shapes::add(shapeOf(lhs.tensor), shapeOf(rhs.tensor));
    std::optional<RankedTensorType> type = resultType(rule, binary.getLoc());
    if (!type)
      return EvalValue::invalid();
    return EvalValue::ofTensor(builder.create<bnn::AddOp>(
        location(binary.getLoc()), *type, lhs.tensor, rhs.tensor));
  }
  std::string why;
  std::optional<Scalar> result;
  switch (binary.getOp()) {
  case '+': result = add(lhs.scalar, rhs.scalar, why); break;
  case '-': result = subtract(lhs.scalar, rhs.scalar, why); break;
  case '*': result = multiply(lhs.scalar, rhs.scalar, why); break;
  default: result = divide(lhs.scalar, rhs.scalar, why); break;
  }
  if (!result) {
    error(binary.getLoc()) << why;
    return EvalValue::invalid();
  }
  return EvalValue::ofScalar(*result);
}

EvalValue ModelGen::evaluateCall(const CallExpr &call, Scope &scope) {
  llvm::StringRef callee = call.getCallee();
  for (const LayerSignature &layer : layerSignatures())
    if (layer.name == callee)
      return callLayer(layer, call, scope);
  auto block = blocks.find(callee);
  if (block != blocks.end())
    return instantiateBlock(*block->getValue(), call, scope);

  if (llvm::is_contained(kInitPolicies, callee)) {
    error(call.getLoc()) << "'" << callee
                         << "' is an init policy; use it on a layer's "
                            "parameter: `beta ~ "
                         << callee << "(...)`";
    return EvalValue::invalid();
  }
  if (llvm::is_contained(kLosses, callee)) {
    error(call.getLoc()) << "'" << callee
                         << "' is a loss; declare it in the model with `loss "
                         << callee << "`";
    return EvalValue::invalid();
  }
  std::vector<llvm::StringRef> candidates;
  for (const LayerSignature &layer : layerSignatures())
    candidates.push_back(layer.name);
  for (const auto &entry : blocks)
    candidates.push_back(entry.getKey());
  error(call.getLoc()) << "unknown layer or block '" << callee << "'"
                       << didYouMean(callee, candidates);
  return EvalValue::invalid();
}

//===----------------------------------------------------------------------===//
// Blocks
//===----------------------------------------------------------------------===//

EvalValue ModelGen::instantiateBlock(const BlockDecl &block,
                                     const CallExpr &call, Scope &scope) {
  for (const auto &[active, loc] : instantiations)
    if (active == &block) {
      error(call.getLoc()) << "block '" << block.getName()
                           << "' uses itself; blocks cannot be recursive";
      return EvalValue::invalid();
    }
  if (instantiations.size() >= kMaxBlockDepth) {
    error(call.getLoc()) << "blocks nested more than " << kMaxBlockDepth
                         << " deep";
    return EvalValue::invalid();
  }
  Scope blockScope;
  if (!bindBlockArguments(block, call, scope, blockScope))
    return EvalValue::invalid();
  instantiations.emplace_back(&block, call.getLoc());
  EvalValue result = runBody(block.getBody(), blockScope, block, nullptr);
  instantiations.pop_back();
  return result;
}

bool ModelGen::bindBlockArguments(const BlockDecl &block, const CallExpr &call,
                                  Scope &callerScope, Scope &blockScope) {
  const std::vector<BlockParam> &blockParams = block.getParams();
  std::vector<const Argument *> bound(blockParams.size(), nullptr);
  size_t nextPositional = 0;
  bool ok = true;
  std::vector<llvm::StringRef> paramNames;
  for (const BlockParam &param : blockParams)
    paramNames.push_back(param.name);

  for (const Argument &argument : call.getArguments()) {
    size_t index;
    if (argument.kind == Argument::Kind::Init) {
      error(argument.nameLoc) << "'~' sets a layer parameter's init policy; "
                                 "pass block arguments with '='";
      ok = false;
      continue;
    }
    if (argument.kind == Argument::Kind::Positional) {
      if (nextPositional >= blockParams.size()) {
        error(argument.value->getLoc())
            << "block '" << block.getName() << "' takes "
            << blockParams.size() << " argument"
            << (blockParams.size() == 1 ? "" : "s") << ", got more";
        ok = false;
        continue;
      }
      index = nextPositional++;
    } else {
      auto it = llvm::find(paramNames, argument.name);
      if (it == paramNames.end()) {
        error(argument.nameLoc)
            << "block '" << block.getName() << "' has no parameter '"
            << argument.name << "'" << didYouMean(argument.name, paramNames);
        ok = false;
        continue;
      }
      index = it - paramNames.begin();
    }
    if (bound[index]) {
      error(argument.nameLoc) << "argument '" << blockParams[index].name
                              << "' given twice";
      ok = false;
      continue;
    }
    bound[index] = &argument;
  }
  if (!ok)
    return false;

  // Arguments are evaluated where the call is; defaults inside the block,
  // where earlier parameters are visible.
  for (size_t i = 0; i < blockParams.size(); ++i) {
    const BlockParam &param = blockParams[i];
    EvalValue value;
    llvm::SMLoc loc;
    if (bound[i]) {
      value = evaluate(*bound[i]->value, callerScope);
      loc = bound[i]->value->getLoc();
    } else if (param.defaultValue) {
      value = evaluate(*param.defaultValue, blockScope);
      loc = param.defaultValue->getLoc();
    } else {
      error(call.getLoc()) << "block '" << block.getName()
                           << "' needs argument '" << param.name << "'";
      ok = false;
      continue;
    }
    value = checkBlockParamValue(param, value, loc);
    ok &= value.isValid();
    blockScope[param.name] = value;
  }
  return ok;
}

EvalValue ModelGen::checkBlockParamValue(const BlockParam &param,
                                         EvalValue value, llvm::SMLoc loc) {
  if (!value.isValid())
    return value;
  if (param.isTensor()) {
    if (value.isTensor())
      return value;
    error(loc) << "parameter '" << param.name
               << "' is a tensor (it has no type); got a number";
    return EvalValue::invalid();
  }
  if (!value.isScalar()) {
    error(loc) << "parameter '" << param.name << "' is a number; got a tensor";
    return EvalValue::invalid();
  }
  if (param.type->kind == TypeSpec::Kind::Int && !value.scalar.asInteger()) {
    error(loc) << "parameter '" << param.name
               << "' is an int; expected a whole number known at compile time";
    return EvalValue::invalid();
  }
  return value;
}

mlir::OwningOpRef<mlir::ModuleOp>
bnnc::generateModule(const Program &program, const GenOptions &options,
                     DiagnosticSink &diagnostics) {
  diagnostics.mlirContext().loadDialect<bnn::BnnDialect, func::FuncDialect>();
  return ModelGen(diagnostics).run(program, options);
}
