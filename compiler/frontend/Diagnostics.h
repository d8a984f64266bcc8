//===- Diagnostics.h - Errors at file:line:col ----------------------------===//
//
// The front end reports through MLIR's diagnostic engine with FileLineColLoc
// locations, so the same handler prints model-file errors and IR errors (the
// line, a caret) and `--verify-diagnostics` checks `expected-error` comments
// in model files exactly as it does in .mlir files.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_FRONTEND_DIAGNOSTICS_H
#define BNNC_FRONTEND_DIAGNOSTICS_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"

namespace bnnc {

class DiagnosticSink {
public:
  /// After this many errors the front end stops: a binary file fed by
  /// mistake must not print a million lines.
  static constexpr unsigned kErrorLimit = 50;

  DiagnosticSink(llvm::SourceMgr &sources, mlir::MLIRContext &context)
      : sources(sources), context(context) {}

  mlir::Location location(llvm::SMLoc loc) const;
  mlir::InFlightDiagnostic error(llvm::SMLoc loc);
  mlir::InFlightDiagnostic error(mlir::Location loc);

  /// An error about the command line or a file as a whole, with no place in
  /// a model file: printed as "bnnc: error: ...".
  void commandLineError(const llvm::Twine &message);

  unsigned errorCount() const { return errors; }
  bool hadErrors() const { return errors != 0; }
  /// True once the limit is reached; reports that once.
  bool atErrorLimit();

  llvm::SourceMgr &sourceManager() { return sources; }
  mlir::MLIRContext &mlirContext() { return context; }

private:
  llvm::SourceMgr &sources;
  mlir::MLIRContext &context;
  unsigned errors = 0;
  bool limitReported = false;
};

/// The candidate closest to `name` by edit distance, if close enough to be a
/// plausible typo; empty otherwise.
llvm::StringRef closestMatch(llvm::StringRef name,
                             llvm::ArrayRef<llvm::StringRef> candidates);

/// "; did you mean 'dense'?" or "".
std::string didYouMean(llvm::StringRef name,
                       llvm::ArrayRef<llvm::StringRef> candidates);

} // namespace bnnc

#endif // BNNC_FRONTEND_DIAGNOSTICS_H
