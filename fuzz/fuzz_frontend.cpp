//===- fuzz_frontend.cpp - Model files through IR generation --------------===//
//
// What `bnnc --emit=bnn FILE` does with a model file: load it (imports from
// the standard library resolve), parse, check, generate bnn IR and verify
// it. An input may be rejected with errors; it may not crash, and IR
// generation may not fail without saying why (a verifier failure with no
// front-end error is a bug in bnnc).
//
//===----------------------------------------------------------------------===//
#include "bnn/BnnDialect.h"
#include "frontend/Diagnostics.h"
#include "irgen/Loader.h"
#include "irgen/ModelGen.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <memory>

namespace {

/// One context for many inputs, as building one per input would dominate
/// the run time; each input's module is destroyed after it. The context
/// keeps every type and location it has seen, so it is replaced after
/// kInputsPerContext inputs to keep the memory bounded.
mlir::MLIRContext &context() {
  constexpr unsigned kInputsPerContext = 2000;
  static std::unique_ptr<mlir::MLIRContext> context;
  static unsigned inputs = 0;
  if (!context || ++inputs % kInputsPerContext == 0) {
    context = std::make_unique<mlir::MLIRContext>(
        mlir::MLIRContext::Threading::DISABLED);
    context->loadDialect<bnn::BnnDialect, mlir::func::FuncDialect>();
  }
  return *context;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::SourceMgr sources;
  mlir::MLIRContext &mlirContext = context();
  bnnc::DiagnosticSink diagnostics(sources, mlirContext);
  // Errors are expected on most inputs: each is rendered as bnnc prints it
  // (message, source line, caret), into nothing.
  mlir::SourceMgrDiagnosticHandler handler(sources, &mlirContext, llvm::nulls());
  // The loader finds the main file among the buffers already loaded, as it
  // does for bnnc --verify-diagnostics.
  sources.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz.bnn"),
      llvm::SMLoc());
  bnnc::Program program;
  if (!bnnc::loadProgram("fuzz.bnn", {BNNC_STDLIB_DIR}, diagnostics, program))
    std::abort(); // the main file is in memory: loading cannot fail
  mlir::OwningOpRef<mlir::ModuleOp> module =
      bnnc::generateModule(program, bnnc::GenOptions(), diagnostics);
  if (!module && !diagnostics.hadErrors())
    std::abort();
  return 0;
}
