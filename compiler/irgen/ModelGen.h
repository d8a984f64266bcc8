//===- ModelGen.h - Model files to bnn dialect IR -------------------------===//
//
// Semantic analysis and IR generation in one walk, as in MLIR's Toy: names
// are resolved, params evaluated, blocks instantiated inline and every layer
// shape-checked (with bnn/ShapeRules.h) as its op is built, so each error
// points at the model-file line that caused it.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_IRGEN_MODELGEN_H
#define BNNC_IRGEN_MODELGEN_H

#include "irgen/Loader.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace bnnc {

struct GenOptions {
  /// `--set name=value`, applied to params before anything is evaluated.
  std::vector<std::pair<std::string, std::string>> overrides;
  /// Which model to compile; empty: the only model of the main file.
  std::string modelName;
};

/// Builds the module, or returns null after reporting every error found.
mlir::OwningOpRef<mlir::ModuleOp> generateModule(const Program &program,
                                                 const GenOptions &options,
                                                 DiagnosticSink &diagnostics);

/// Parses `name=value` as given to --set.
std::optional<std::pair<std::string, std::string>>
parseOverride(llvm::StringRef text);

} // namespace bnnc

#endif // BNNC_IRGEN_MODELGEN_H
