#include "frontend/Diagnostics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/raw_ostream.h"

using namespace bnnc;

mlir::Location DiagnosticSink::location(llvm::SMLoc loc) const {
  unsigned buffer = sources.FindBufferContainingLoc(loc);
  if (buffer == 0)
    return mlir::UnknownLoc::get(&context);
  auto [line, column] = sources.getLineAndColumn(loc, buffer);
  llvm::StringRef file =
      sources.getMemoryBuffer(buffer)->getBufferIdentifier();
  return mlir::FileLineColLoc::get(&context, file, line, column);
}

mlir::InFlightDiagnostic DiagnosticSink::error(llvm::SMLoc loc) {
  return error(location(loc));
}

mlir::InFlightDiagnostic DiagnosticSink::error(mlir::Location loc) {
  ++errors;
  return mlir::emitError(loc);
}

void DiagnosticSink::commandLineError(const llvm::Twine &message) {
  ++errors;
  llvm::errs() << "bnnc: error: " << message << "\n";
}

bool DiagnosticSink::atErrorLimit() {
  if (errors < kErrorLimit)
    return false;
  if (!limitReported) {
    limitReported = true;
    llvm::errs() << "bnnc: error: too many errors (" << kErrorLimit
                 << "); stopping\n";
  }
  return true;
}

llvm::StringRef bnnc::closestMatch(llvm::StringRef name,
                                   llvm::ArrayRef<llvm::StringRef> candidates) {
  llvm::StringRef best;
  unsigned bestDistance = ~0u;
  for (llvm::StringRef candidate : candidates) {
    unsigned distance = name.edit_distance(candidate, /*AllowReplacements=*/true,
                                           /*MaxEditDistance=*/bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Up to a third of the name may be wrong: "dens" -> "dense", "bacthnorm"
  // -> "batchnorm", but "x" does not suggest "relu".
  unsigned allowed = (name.size() + 2) / 3;
  return bestDistance <= allowed ? best : llvm::StringRef();
}

std::string bnnc::didYouMean(llvm::StringRef name,
                             llvm::ArrayRef<llvm::StringRef> candidates) {
  llvm::StringRef match = closestMatch(name, candidates);
  if (match.empty())
    return "";
  return ("; did you mean '" + match + "'?").str();
}
