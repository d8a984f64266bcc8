//===- FrontendFixture.h - Shared setup for front-end unit tests ----------===//
#ifndef BNNC_TEST_UNIT_FRONTENDFIXTURE_H
#define BNNC_TEST_UNIT_FRONTENDFIXTURE_H

#include "frontend/Diagnostics.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bnnc::unittest {

/// An MLIR context, a source manager and a sink whose diagnostics are
/// collected as "line:col: message" strings instead of printed.
class FrontendFixture : public ::testing::Test {
protected:
  FrontendFixture()
      : sink(sources, context),
        handler(&context, [this](mlir::Diagnostic &diagnostic) {
          std::string where;
          if (auto loc = diagnostic.getLocation().dyn_cast<mlir::FileLineColLoc>())
            where = std::to_string(loc.getLine()) + ":" +
                    std::to_string(loc.getColumn()) + ": ";
          messages.push_back(where + diagnostic.str());
          return mlir::success();
        }) {}

  /// Adds `text` as a source buffer named `name`; returns its contents.
  llvm::StringRef addSource(llvm::StringRef text,
                            llvm::StringRef name = "test.bnn") {
    unsigned id = sources.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(text, name), llvm::SMLoc());
    return sources.getMemoryBuffer(id)->getBuffer();
  }

  mlir::MLIRContext context;
  llvm::SourceMgr sources;
  DiagnosticSink sink;
  std::vector<std::string> messages;
  mlir::ScopedDiagnosticHandler handler;
};

} // namespace bnnc::unittest

#endif // BNNC_TEST_UNIT_FRONTENDFIXTURE_H
