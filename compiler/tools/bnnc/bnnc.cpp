//===- bnnc.cpp - The bnnc compiler driver --------------------------------===//
//
// Reads a model file and prints the pipeline stage asked for with --emit.
// Every stage is text a user can read and feed to the next tool.
//
//===----------------------------------------------------------------------===//

#include "frontend/Diagnostics.h"
#include "codegen/EmitCpp.h"
#include "irgen/Loader.h"
#include "irgen/ModelGen.h"
#include "lowering/HalideInfo.h"
#include "lowering/KernelLibrary.h"

#include "bnn/BnnDialect.h"
#include "bnn/BnnPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

#ifndef BNNC_VERSION
#define BNNC_VERSION "unknown"
#endif
#ifndef BNNC_STDLIB_DIR
#define BNNC_STDLIB_DIR ""
#endif
#ifndef BNNC_RUNTIME_INCLUDE_DIR
#define BNNC_RUNTIME_INCLUDE_DIR ""
#endif
#ifndef BNNC_RUNTIME_LIBRARY
#define BNNC_RUNTIME_LIBRARY ""
#endif
#ifndef BNNC_HALIDE_INCLUDE_DIR
#define BNNC_HALIDE_INCLUDE_DIR ""
#endif

namespace cl = llvm::cl;

namespace {

cl::OptionCategory bnncCategory("bnnc options");

enum class Stage { AST, Bnn, Train, Fused, Packed, Cpp, Halide };

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.bnn>"),
                               cl::Required, cl::cat(bnncCategory));

cl::opt<Stage> emit(
    "emit", cl::desc("Pipeline stage to print"), cl::init(Stage::Bnn),
    cl::values(clEnumValN(Stage::AST, "ast", "the syntax tree of the file"),
               clEnumValN(Stage::Bnn, "bnn",
                          "bnn dialect IR, verified (default)"),
               clEnumValN(Stage::Train, "train",
                          "plus <model>_train_step: forward, loss, STE "
                          "backward, Adam updates"),
               clEnumValN(Stage::Fused, "fused",
                          "after bnn-fuse: batchnorm+sign, STE+batchnorm "
                          "backward, thresholds at evaluation"),
               clEnumValN(Stage::Packed, "packed",
                          "after bnn-bitpack: XNOR-popcount on packed "
                          "words"),
               clEnumValN(Stage::Cpp, "cpp",
                          "the execution plan as C++ (what `compile` "
                          "builds)"),
               clEnumValN(Stage::Halide, "halide",
                          "the lowered statement of each Halide kernel of "
                          "the plan")),
    cl::cat(bnncCategory));

cl::opt<std::string> outputFile("o", cl::desc("Output file (default stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(bnncCategory));

cl::list<std::string> includeDirs("I",
                                  cl::desc("Directory to search for imports"),
                                  cl::value_desc("dir"), cl::Prefix,
                                  cl::cat(bnncCategory));

cl::list<std::string> overrides(
    "set", cl::desc("Override a param's default, e.g. --set lambda=0.5"),
    cl::value_desc("name=value"), cl::cat(bnncCategory));

cl::opt<std::string> modelName(
    "model", cl::desc("Model to compile when the file defines several"),
    cl::value_desc("name"), cl::cat(bnncCategory));

enum class KernelBackend { Halide, Cpp };
cl::opt<KernelBackend> kernels(
    "kernels", cl::desc("Who implements the packed binary kernels"),
    cl::init(KernelBackend::Halide),
    cl::values(clEnumValN(KernelBackend::Halide, "halide",
                          "Halide, compiled ahead of time for the host "
                          "(default)"),
               clEnumValN(KernelBackend::Cpp, "cpp", "bnnrt's C++ kernels")),
    cl::cat(bnncCategory));

cl::opt<bool> verifyDiagnostics(
    "verify-diagnostics",
    cl::desc("Check errors against `expected-error {{...}}` comments in the "
             "model file instead of printing them (for tests)"),
    cl::init(false), cl::cat(bnncCategory));

void printVersion(llvm::raw_ostream &os) {
  os << "bnnc " << BNNC_VERSION << "\n"
     << "  MLIR/LLVM " << LLVM_VERSION_STRING << "\n"
     << "  Halide " << bnnc::halideVersion() << ", host target "
     << bnnc::halideHostTarget() << "\n"
     << "  stdlib " << BNNC_STDLIB_DIR << "\n";
}

/// `bnnc compile`: the first argument was the word "compile".
bool compileMode = false;

/// Builds the C++ plan at `cppPath` and the kernel `objects` into the
/// executable `outputPath` with the host C++ compiler and libbnnrt.
bool buildExecutable(llvm::StringRef cppPath,
                     const std::vector<std::string> &objects,
                     llvm::StringRef outputPath) {
  const char *fromEnv = std::getenv("CXX");
  llvm::ErrorOr<std::string> compiler =
      llvm::sys::findProgramByName(fromEnv && *fromEnv ? fromEnv : "c++");
  if (!compiler) {
    llvm::errs() << "bnnc: error: no C++ compiler found (set CXX)\n";
    return false;
  }
  llvm::SmallVector<llvm::StringRef> args = {
      *compiler, "-std=c++17", "-O2", "-march=native", "-fopenmp",
      "-I", BNNC_RUNTIME_INCLUDE_DIR, "-I", BNNC_HALIDE_INCLUDE_DIR, cppPath};
  for (const std::string &object : objects)
    args.push_back(object);
  for (llvm::StringRef arg : {llvm::StringRef(BNNC_RUNTIME_LIBRARY),
                              llvm::StringRef("-ltomlplusplus"),
                              llvm::StringRef("-lz"), llvm::StringRef("-lpthread"),
                              llvm::StringRef("-ldl"), llvm::StringRef("-o"),
                              outputPath})
    args.push_back(arg);
  std::string message;
  int status = llvm::sys::ExecuteAndWait(*compiler, args, std::nullopt, {}, 0,
                                         0, &message);
  if (status != 0) {
    llvm::errs() << "bnnc: error: building " << outputPath << " failed"
                 << (message.empty() ? "" : ": " + message) << "\n";
    return false;
  }
  return true;
}

/// `bnnc compile`: the plan as C++, its Halide kernels as objects, linked
/// with libbnnrt. Intermediate files live in a temporary folder that is
/// removed afterwards.
bool compileToExecutable(mlir::ModuleOp module) {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("bnnc-build", dir)) {
    llvm::errs() << "bnnc: error: cannot create a temporary folder\n";
    return false;
  }
  // BNNC_KEEP_TEMPS=1 keeps plan.cpp and the kernel objects for inspection.
  bool keep = std::getenv("BNNC_KEEP_TEMPS") != nullptr;
  if (keep)
    llvm::errs() << "bnnc: keeping intermediate files in " << dir << "\n";
  struct RemoveFolder {
    llvm::SmallString<128> path;
    bool keep;
    ~RemoveFolder() {
      if (!keep)
        llvm::sys::fs::remove_directories(path);
    }
  } removeLater{dir, keep};

  std::vector<bnnc::KernelRequest> requests;
  llvm::SmallString<128> cppPath(dir);
  llvm::sys::path::append(cppPath, "plan.cpp");
  {
    std::error_code ec;
    llvm::raw_fd_ostream cpp(cppPath, ec);
    if (ec || mlir::failed(bnnc::emitCpp(
                  module, inputFile, cpp,
                  kernels == KernelBackend::Halide ? &requests : nullptr)))
      return false;
  }
  std::vector<std::string> objects;
  std::string error;
  if (!requests.empty() &&
      !bnnc::compileKernels(requests, std::string(dir), objects, error)) {
    llvm::errs() << "bnnc: error: " << error << "\n";
    return false;
  }
  return buildExecutable(cppPath, objects, outputFile);
}

/// Runs the stage; returns false if anything was reported as an error.
bool compile(bnnc::DiagnosticSink &diagnostics, llvm::raw_ostream &os) {
  std::vector<std::string> searchDirs(includeDirs.begin(), includeDirs.end());
  searchDirs.push_back(BNNC_STDLIB_DIR);
  bnnc::Program program;
  if (!bnnc::loadProgram(inputFile, searchDirs, diagnostics, program))
    return false;
  if (emit == Stage::AST) {
    if (diagnostics.hadErrors())
      return false;
    bnnc::dumpAST(program.mainFile(), diagnostics.sourceManager(), os);
    return true;
  }

  bnnc::GenOptions options;
  options.modelName = modelName;
  for (const std::string &text : overrides) {
    auto parsed = bnnc::parseOverride(text);
    if (!parsed) {
      diagnostics.commandLineError("--set: expected name=value, got '" +
                                   text + "'");
      continue;
    }
    options.overrides.push_back(*parsed);
  }
  mlir::OwningOpRef<mlir::ModuleOp> module =
      bnnc::generateModule(program, options, diagnostics);
  if (!module || diagnostics.hadErrors())
    return false;
  // Each stage is the one before plus a pass; --emit stops after it.
  Stage last = compileMode ? Stage::Cpp : Stage(emit);
  if (last == Stage::Halide)
    last = Stage::Cpp; // the kernels of the finished plan
  if (last >= Stage::Train) {
    mlir::PassManager passes(&diagnostics.mlirContext());
    passes.addPass(bnn::createBnnGenerateTrainStep());
    if (last >= Stage::Fused)
      passes.addNestedPass<mlir::func::FuncOp>(bnn::createBnnFuse());
    if (last >= Stage::Packed)
      passes.addNestedPass<mlir::func::FuncOp>(bnn::createBnnBitpack());
    if (mlir::failed(passes.run(*module)))
      return false;
  }
  if (compileMode)
    return compileToExecutable(*module);
  if (emit == Stage::Cpp) {
    std::vector<bnnc::KernelRequest> requests;
    return mlir::succeeded(bnnc::emitCpp(
        *module, inputFile, os,
        kernels == KernelBackend::Halide ? &requests : nullptr));
  }
  if (emit == Stage::Halide) {
    std::vector<bnnc::KernelRequest> requests;
    std::string ignored, text, error;
    llvm::raw_string_ostream plan(ignored);
    if (mlir::failed(bnnc::emitCpp(*module, inputFile, plan, &requests)))
      return false;
    if (!bnnc::lowerKernels(requests, text, error)) {
      llvm::errs() << "bnnc: error: " << error << "\n";
      return false;
    }
    os << text;
    return true;
  }
  module->print(os);
  os << "\n";
  return true;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  // `bnnc compile model.bnn -o NAME` builds a training binary.
  std::vector<char *> arguments(argv, argv + argc);
  if (argc > 1 && llvm::StringRef(argv[1]) == "compile") {
    compileMode = true;
    arguments.erase(arguments.begin() + 1);
  }
  argc = int(arguments.size());
  argv = arguments.data();
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::SetVersionPrinter(printVersion);
  cl::HideUnrelatedOptions(bnncCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "bnnc: compiles binary neural network model files\n\n"
      "  bnnc model.bnn                 print the model as bnn dialect IR\n"
      "  bnnc --emit=ast model.bnn      print the syntax tree\n"
      "  bnnc --emit=train model.bnn    add the training step (STE backward, Adam)\n"
      "  bnnc --set lambda=0.5 m.bnn    override a param's default\n"
      "  bnnc compile m.bnn -o NAME     build the training binary NAME\n");
  if (compileMode && outputFile == "-") {
    llvm::errs() << "bnnc: error: compile needs -o NAME\n";
    return 1;
  }

  mlir::MLIRContext context;
  context.loadDialect<bnn::BnnDialect, mlir::func::FuncDialect>();
  llvm::SourceMgr sources;
  bnnc::DiagnosticSink diagnostics(sources, context);

  std::string errorMessage;
  std::unique_ptr<llvm::ToolOutputFile> output = mlir::openOutputFile(
      compileMode ? std::string("-") : std::string(outputFile), &errorMessage);
  if (!output) {
    llvm::errs() << "bnnc: " << errorMessage << "\n";
    return 1;
  }

  if (verifyDiagnostics) {
    // The handler reads expected-* comments from the buffers it can see, so
    // the main file is loaded before it is created.
    auto buffer = llvm::MemoryBuffer::getFile(inputFile, /*IsText=*/true);
    if (!buffer) {
      llvm::errs() << "bnnc: cannot read '" << inputFile
                   << "': " << buffer.getError().message() << "\n";
      return 1;
    }
    sources.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
    mlir::SourceMgrDiagnosticVerifierHandler handler(sources, &context);
    (void)compile(diagnostics, output->os());
    return mlir::failed(handler.verify()) ? 1 : 0;
  }

  mlir::SourceMgrDiagnosticHandler handler(sources, &context);
  if (!compile(diagnostics, output->os()))
    return 1;
  output->keep();
  return 0;
}
