//===- bnn-opt.cpp - Run bnn passes on textual IR -------------------------===//
//
// The mlir-opt of this project: parses IR, runs the passes named on the
// command line, prints the result. Every bnn pass is tested through it.
//
//===----------------------------------------------------------------------===//

#include "bnn/BnnDialect.h"
#include "bnn/BnnPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<bnn::BnnDialect, mlir::func::FuncDialect>();
  bnn::registerBnnPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "bnn optimizer driver\n", registry));
}
