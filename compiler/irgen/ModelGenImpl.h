//===- ModelGenImpl.h - State of one model elaboration (private) ----------===//
#ifndef BNNC_IRGEN_MODELGENIMPL_H
#define BNNC_IRGEN_MODELGENIMPL_H

#include "irgen/ModelGen.h"
#include "irgen/Scalar.h"

#include "bnn/BnnOps.h"
#include "bnn/ShapeRules.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

namespace bnnc {

/// What an expression evaluates to. Invalid marks a value whose error has
/// been reported, so that one mistake does not cascade into many messages.
struct EvalValue {
  enum class Kind { Invalid, Tensor, Scalar };
  Kind kind = Kind::Invalid;
  mlir::Value tensor;
  Scalar scalar;

  static EvalValue invalid() { return {}; }
  static EvalValue ofTensor(mlir::Value value) {
    return {Kind::Tensor, value, {}};
  }
  static EvalValue ofScalar(Scalar value) {
    return {Kind::Scalar, {}, std::move(value)};
  }
  bool isValid() const { return kind != Kind::Invalid; }
  bool isTensor() const { return kind == Kind::Tensor; }
  bool isScalar() const { return kind == Kind::Scalar; }
};

using Scope = llvm::StringMap<EvalValue>;

/// The arguments of one layer call, matched to the layer's signature.
struct LayerArgs {
  const CallExpr *call = nullptr;
  llvm::StringMap<const Argument *> byName; // positional ones under their name
};

/// A builtin layer: its argument names and the function that builds it.
class ModelGen;
struct LayerSignature {
  llvm::StringRef name;
  std::vector<llvm::StringRef> positional; // after the input tensor(s)
  std::vector<llvm::StringRef> keywords;
  std::vector<llvm::StringRef> initParams; // accept `p ~ policy`, `p = c`
  EvalValue (ModelGen::*build)(const LayerArgs &, Scope &);
};

class ModelGen {
public:
  ModelGen(DiagnosticSink &diagnostics);
  mlir::OwningOpRef<mlir::ModuleOp> run(const Program &program,
                                        const GenOptions &options);

  // Layer builders (Layers.cpp), one per builtin.
  EvalValue buildDense(const LayerArgs &args, Scope &scope);
  EvalValue buildConv2D(const LayerArgs &args, Scope &scope);
  EvalValue buildBatchNorm(const LayerArgs &args, Scope &scope);
  EvalValue buildMaxPool(const LayerArgs &args, Scope &scope);
  EvalValue buildAvgPool(const LayerArgs &args, Scope &scope);
  EvalValue buildFlatten(const LayerArgs &args, Scope &scope);
  EvalValue buildAdd(const LayerArgs &args, Scope &scope);
  EvalValue buildSign(const LayerArgs &args, Scope &scope);
  EvalValue buildHTanh(const LayerArgs &args, Scope &scope);
  EvalValue buildRelu(const LayerArgs &args, Scope &scope);

  static const std::vector<LayerSignature> &layerSignatures();

private:
  // Declarations and params (ModelGen.cpp).
  void collectDecls(const Program &program);
  void evaluateParams(const GenOptions &options);
  std::optional<double> paramValue(const ParamDecl &param,
                                   const llvm::StringMap<std::string> &overrides,
                                   Scope &constants);
  const ModelDecl *selectModel(const Program &program,
                               const GenOptions &options);
  void emitHyperParams();
  void emitModel(const ModelDecl &model);

  // Statements and expressions.
  EvalValue runBody(const Body &body, Scope &scope, const Decl &owner,
                    const LossStmt **loss);
  EvalValue evaluate(const Expr &expr, Scope &scope);
  EvalValue evaluateName(const NameExpr &name, Scope &scope);
  EvalValue evaluateBinary(const BinaryExpr &binary, Scope &scope);
  EvalValue evaluateCall(const CallExpr &call, Scope &scope);
  EvalValue callLayer(const LayerSignature &layer, const CallExpr &call,
                      Scope &scope);
  EvalValue instantiateBlock(const BlockDecl &block, const CallExpr &call,
                             Scope &scope);
  bool bindBlockArguments(const BlockDecl &block, const CallExpr &call,
                          Scope &callerScope, Scope &blockScope);
  EvalValue checkBlockParamValue(const BlockParam &param, EvalValue value,
                                 llvm::SMLoc loc);

public:
  // Helpers for layer builders (Layers.cpp).
  mlir::InFlightDiagnostic error(llvm::SMLoc loc);
  mlir::Location location(llvm::SMLoc loc);
  mlir::Value tensorArg(const LayerArgs &args, llvm::StringRef name,
                        Scope &scope);
  std::optional<int64_t> intArg(const LayerArgs &args, llvm::StringRef name,
                                std::optional<int64_t> fallback, int64_t min,
                                Scope &scope);
  std::optional<double> floatArg(const LayerArgs &args, llvm::StringRef name,
                                 double fallback, Scope &scope);
  std::optional<bool> boolArg(const LayerArgs &args, llvm::StringRef name,
                              bool fallback);
  std::optional<llvm::StringRef>
  choiceArg(const LayerArgs &args, llvm::StringRef name,
            llvm::ArrayRef<llvm::StringRef> choices, llvm::StringRef fallback);
  /// `role ~ policy` or `role = constant` if given, else `fallback`.
  std::optional<bnn::InitAttr> initArg(const LayerArgs &args,
                                       llvm::StringRef role,
                                       bnn::InitAttr fallback, Scope &scope);
  bool hasArg(const LayerArgs &args, llvm::StringRef name) const {
    return args.byName.count(name) != 0;
  }
  /// A unique layer name: `name = "..."` if given, else kind + counter.
  std::optional<std::string> layerName(const LayerArgs &args,
                                       llvm::StringRef kind);
  mlir::Value createParam(llvm::StringRef layer, llvm::StringRef role,
                          llvm::ArrayRef<int64_t> shape, bnn::InitAttr init,
                          bool state, mlir::Location loc);
  /// Counts `shape`'s floats towards the model's param budget
  /// (kMaxParamFloats); false after reporting, at `loc`, a param or a model
  /// that would not fit in memory.
  bool reserveParam(llvm::StringRef param, llvm::ArrayRef<int64_t> shape,
                    llvm::SMLoc loc);
  /// The weight and optional bias of dense and conv2d (`weight ~ ...`,
  /// `bias = ...`, `bias ~ ...`); a bias by default only for real weights.
  std::optional<std::pair<mlir::Value, mlir::Value>>
  weightAndBias(const LayerArgs &args, llvm::StringRef layer,
                llvm::ArrayRef<int64_t> weightShape, bool realWeights,
                mlir::Location loc, Scope &scope);
  bnn::InitAttr constantInit(double value);
  bnn::InitAttr policy(bnn::InitKind kind);
  mlir::RankedTensorType tensorType(llvm::ArrayRef<int64_t> shape);
  /// The shape of a tensor value (always ranked here).
  static llvm::ArrayRef<int64_t> shapeOf(mlir::Value tensor);
  /// Reports a shape-rule failure at `loc` or returns the result type.
  std::optional<mlir::RankedTensorType>
  resultType(const bnn::shapes::ShapeOrError &rule, llvm::SMLoc loc);

  mlir::OpBuilder builder;

private:
  std::optional<bnn::InitAttr> evaluatePolicy(const Expr &expr, Scope &scope);
  std::optional<bnn::InitBound> toBound(const Scalar &scalar);

  DiagnosticSink &diagnostics;
  mlir::MLIRContext &context;
  mlir::ModuleOp module;

  llvm::StringMap<const ParamDecl *> params;
  std::vector<const ParamDecl *> paramOrder; // files in load order
  llvm::StringMap<Scalar> paramValues;   // what a param name evaluates to
  llvm::StringSet<> failedParams;        // reported; uses stay silent
  llvm::StringMap<double> paramDefaults; // f32 params: hyperparam defaults
  std::vector<std::string> runtimeParamOrder;
  llvm::StringMap<const BlockDecl *> blocks;
  std::vector<const ModelDecl *> models;

  /// Blocks being instantiated, innermost last, with their call sites:
  /// recursion is an error and op locations record the call chain.
  std::vector<std::pair<const BlockDecl *, llvm::SMLoc>> instantiations;
  llvm::StringSet<> layerNames;
  llvm::StringMap<unsigned> layerCounters;
  uint64_t paramFloats = 0; // the current model's params so far
};

/// The most floats a model's params (and one layer's activations per batch
/// item) may hold: 16 GiB. A fixed cap, not the machine's memory, so a model
/// compiles or not the same everywhere; training also keeps a gradient and
/// two Adam moments per param, so this already means 64 GiB to train.
constexpr uint64_t kMaxParamFloats = uint64_t(1) << 32;

/// Maximum depth of block instantiation; deeper means a runaway recursion.
constexpr unsigned kMaxBlockDepth = 64;

} // namespace bnnc

#endif // BNNC_IRGEN_MODELGENIMPL_H
