//===- Loader.h - Reads a model file and everything it imports ------------===//
#ifndef BNNC_IRGEN_LOADER_H
#define BNNC_IRGEN_LOADER_H

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"

#include <string>
#include <vector>

namespace bnnc {

/// Every file of one compilation, imports before the files that import them.
struct Program {
  std::vector<SourceFile> files;
  /// The file named on the command line (the last one loaded).
  const SourceFile &mainFile() const { return files.back(); }
};

/// Loads `path` into the diagnostics' SourceMgr, parses it, and does the same
/// for each `import`, searched relative to the importing file, then in
/// `searchDirs` in order. A file is loaded once however often it is
/// imported, so import cycles end. Returns false if the main file could not
/// be read; parse errors are reported to the sink and do not stop loading.
bool loadProgram(llvm::StringRef path,
                 const std::vector<std::string> &searchDirs,
                 DiagnosticSink &diagnostics, Program &program);

/// The largest model file we read (a generated file can be big, but a 1 GB
/// file is a mistake).
constexpr size_t kMaxSourceBytes = 64u << 20;

} // namespace bnnc

#endif // BNNC_IRGEN_LOADER_H
