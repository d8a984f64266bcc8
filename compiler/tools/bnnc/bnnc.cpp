//===- bnnc.cpp - The bnnc compiler driver --------------------------------===//
//
// Reads a model file and prints the pipeline stage asked for with --emit.
// Every stage is text a user can read and feed to the next tool.
//
//===----------------------------------------------------------------------===//

#include "frontend/Diagnostics.h"
#include "codegen/EmitCpp.h"
#include "experiment/Commands.h"
#include "irgen/Loader.h"
#include "irgen/ModelGen.h"
#include "lowering/HalideInfo.h"
#include "lowering/KernelLibrary.h"

#include "bnn/BnnDialect.h"
#include "bnn/BnnPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
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
#ifndef BNNC_MPI_RUNTIME_LIBRARY // bnnc configured without Open MPI
#define BNNC_MPI_RUNTIME_LIBRARY ""
#define BNNC_MPI_LIBRARIES ""
#endif
#ifndef BNNC_HALIDE_INCLUDE_DIR
#define BNNC_HALIDE_INCLUDE_DIR ""
#endif

namespace cl = llvm::cl;

namespace {

cl::OptionCategory bnncCategory("bnnc options");

enum class Stage { AST, Bnn, Train, Fused, Packed, Cpp, Halide, Schedule, Asm, Ptx };

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.bnn | stage.mlir>"),
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
                          "the plan"),
               clEnumValN(Stage::Schedule, "schedule",
                          "every kernel's schedule parameters, as a TOML "
                          "file for --schedule"),
               clEnumValN(Stage::Asm, "asm",
                          "the assembly of each kernel for the target"),
               clEnumValN(Stage::Ptx, "ptx",
                          "the PTX of each kernel for an NVIDIA GPU "
                          "(implies --target=host-cuda)")),
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

cl::opt<std::string> scheduleOption(
    "schedule",
    cl::desc("Kernel schedules: a TOML file of schedule parameters (see "
             "--emit=schedule), or auto:Mullapudi2016 | auto:Adams2019 | "
             "auto:Li2018 for one of Halide's autoschedulers"),
    cl::value_desc("FILE.toml|auto:NAME"), cl::cat(bnncCategory));

enum class Target { Host, HostCuda };
cl::opt<Target> target(
    "target", cl::desc("Where the kernels run"), cl::init(Target::Host),
    cl::values(clEnumValN(Target::Host, "host", "the host CPU (default)"),
               clEnumValN(Target::HostCuda, "host-cuda",
                          "an NVIDIA GPU through Halide's CUDA backend: "
                          "the binary holds host and GPU kernels and trains "
                          "on the GPU (--device cpu: on the host)")),
    cl::cat(bnncCategory));

cl::opt<int> batchEstimate(
    "batch-estimate",
    cl::desc("Batch size the autoschedulers plan for (default 100)"),
    cl::init(100), cl::cat(bnncCategory));

cl::opt<std::string> swapKernelArgs(
    "debug-swap-kernel-args",
    cl::desc("Testing the differential test only: FAMILY:ARG1,ARG2 swaps two "
             "arguments of a kernel family's calls"),
    cl::Hidden, cl::cat(bnncCategory));

cl::opt<bool> mpi(
    "mpi",
    cl::desc("Data-parallel training: average the gradients over the processes "
             "of an mpirun (bnn-data-parallel) and link Open MPI; started "
             "without mpirun the binary runs as one process"),
    cl::init(false), cl::cat(bnncCategory));

cl::opt<int64_t> bucketBytes(
    "bucket-bytes",
    cl::desc("With --mpi: fuse gradients into all-reduces of at least this many "
             "bytes (default 4 MiB)"),
    cl::init(4194304), cl::cat(bnncCategory));

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
bool buildExecutable(llvm::StringRef cppPath, llvm::StringRef kernelDir,
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
      "-I", BNNC_RUNTIME_INCLUDE_DIR, "-I", BNNC_HALIDE_INCLUDE_DIR,
      "-I", kernelDir, cppPath};
  // libbnnrt built with -DBNNC_SANITIZE: the model is built the same way.
  std::string sanitize = std::string("-fsanitize=") + BNNC_SANITIZE;
  if (*BNNC_SANITIZE)
    args.append({sanitize, "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"});
  for (const std::string &object : objects)
    args.push_back(object);
  // --mpi: the MPI side of the runtime, before libbnnrt which it calls.
  llvm::SmallVector<llvm::StringRef> mpiLibraries;
  if (mpi) {
    args.push_back(BNNC_MPI_RUNTIME_LIBRARY);
    llvm::StringRef(BNNC_MPI_LIBRARIES).split(mpiLibraries, ',', -1, false);
  }
  for (llvm::StringRef arg : {llvm::StringRef(BNNC_RUNTIME_LIBRARY),
                              llvm::StringRef("-ltomlplusplus"),
                              llvm::StringRef("-lz"), llvm::StringRef("-lpthread"),
                              llvm::StringRef("-ldl"), llvm::StringRef("-o"),
                              outputPath})
    args.push_back(arg);
  args.append(mpiLibraries.begin(), mpiLibraries.end());
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

/// The plan as C++; with Halide kernels (the default), the kernels it asks
/// for are appended to `requests`.
mlir::LogicalResult emitPlan(mlir::ModuleOp module, llvm::raw_ostream &os,
                             std::vector<bnnc::KernelRequest> &requests) {
  bnnc::EmitOptions options;
  options.swapKernelArgs = swapKernelArgs;
  options.bf16Kernels = emit != Stage::Ptx;
  options.cudaKernels = target == Target::HostCuda || emit == Stage::Ptx;
  options.mpi = mpi;
  return bnnc::emitCpp(module, inputFile, os,
                       kernels == KernelBackend::Halide ? &requests : nullptr,
                       options);
}

/// Runs `body` with the schedule options of the command line (a schedule
/// file is loaded first) and prints its errors; returns whether it worked.
bool withScheduleOptions(
    llvm::function_ref<bool(const bnnc::ScheduleOptions &, std::vector<std::string> &)> body) {
  bnnc::ScheduleOptions options;
  options.batchEstimate = batchEstimate;
  std::unique_ptr<bnnc::ScheduleFile> file;
  std::vector<std::string> errors;
  llvm::StringRef choice = scheduleOption;
  if (choice.consume_front("auto:")) {
    options.autoscheduler = choice.str();
  } else if (!choice.empty()) {
    std::string error;
    file = bnnc::ScheduleFile::load(choice.str(), error);
    if (!file) {
      llvm::errs() << error << "\n";
      return false;
    }
    options.file = file.get();
  }
  bool ok = body(options, errors);
  for (const std::string &error : errors)
    llvm::errs() << (llvm::StringRef(error).contains(": error: ") ? "" : "bnnc: error: ")
                 << error << "\n";
  return ok && errors.empty();
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
    if (ec || mlir::failed(emitPlan(module, cpp, requests)))
      return false;
  }
  std::vector<std::string> objects;
  if (!requests.empty() &&
      !withScheduleOptions([&](const bnnc::ScheduleOptions &options,
                               std::vector<std::string> &errors) {
        return bnnc::compileKernels(requests, options, std::string(dir), objects, errors);
      }))
    return false;
  return buildExecutable(cppPath, dir, objects, outputFile);
}

/// The module of a model file (front end and IR generation), or null after
/// reporting errors; `--emit=ast` prints the tree and returns null.
mlir::OwningOpRef<mlir::ModuleOp> moduleFromModelFile(bnnc::DiagnosticSink &diagnostics,
                                                      llvm::raw_ostream &os, bool &printedAst) {
  std::vector<std::string> searchDirs(includeDirs.begin(), includeDirs.end());
  searchDirs.push_back(BNNC_STDLIB_DIR);
  bnnc::Program program;
  if (!bnnc::loadProgram(inputFile, searchDirs, diagnostics, program))
    return nullptr;
  if (emit == Stage::AST) {
    if (!diagnostics.hadErrors()) {
      bnnc::dumpAST(program.mainFile(), diagnostics.sourceManager(), os);
      printedAst = true;
    }
    return nullptr;
  }
  bnnc::GenOptions options;
  options.modelName = modelName;
  for (const std::string &text : overrides) {
    auto parsed = bnnc::parseOverride(text);
    if (!parsed) {
      diagnostics.commandLineError("--set: expected name=value, got '" + text + "'");
      continue;
    }
    options.overrides.push_back(*parsed);
  }
  mlir::OwningOpRef<mlir::ModuleOp> module =
      bnnc::generateModule(program, options, diagnostics);
  if (!module || diagnostics.hadErrors())
    return nullptr;
  return module;
}

/// The module of an IR file of any stage (bnn, train, fused, packed): what
/// a user edited or ran passes on with bnn-opt.
mlir::OwningOpRef<mlir::ModuleOp> moduleFromIR(bnnc::DiagnosticSink &diagnostics) {
  if (emit == Stage::AST) {
    llvm::errs() << "bnnc: error: --emit=ast needs a model file, not IR\n";
    return nullptr;
  }
  if (!overrides.empty()) {
    llvm::errs() << "bnnc: error: --set applies to model files; IR has its "
                    "params' values already\n";
    return nullptr;
  }
  std::string error;
  auto buffer = mlir::openInputFile(inputFile, &error);
  if (!buffer) {
    llvm::errs() << "bnnc: error: " << error << "\n";
    return nullptr;
  }
  diagnostics.sourceManager().AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  return mlir::parseSourceFile<mlir::ModuleOp>(diagnostics.sourceManager(),
                                               &diagnostics.mlirContext());
}

/// Whether IR already holds a train step (then bnn-generate-train-step is
/// not run again; bnn-fuse and bnn-bitpack leave finished IR as it is).
bool hasTrainStep(mlir::ModuleOp module) {
  for (auto function : module.getOps<mlir::func::FuncOp>())
    if (function->hasAttr("bnn.train_step"))
      return true;
  return false;
}

/// Runs the stage; returns false if anything was reported as an error.
bool compile(bnnc::DiagnosticSink &diagnostics, llvm::raw_ostream &os) {
  bool fromIR = llvm::StringRef(inputFile).endswith(".mlir");
  bool printedAst = false;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      fromIR ? moduleFromIR(diagnostics) : moduleFromModelFile(diagnostics, os, printedAst);
  if (!module)
    return printedAst;
  // Each stage is the one before plus a pass; --emit stops after it.
  Stage last = compileMode ? Stage::Cpp : Stage(emit);
  if (last >= Stage::Halide)
    last = Stage::Cpp; // the kernels of the finished plan
  if (last >= Stage::Train) {
    mlir::PassManager passes(&diagnostics.mlirContext());
    if (!hasTrainStep(*module))
      passes.addPass(bnn::createBnnGenerateTrainStep());
    if (mpi) {
      bnn::BnnDataParallelOptions dataParallel;
      dataParallel.bucketBytes = bucketBytes;
      passes.addPass(bnn::createBnnDataParallel(dataParallel));
    }
    if (last >= Stage::Fused) {
      passes.addNestedPass<mlir::func::FuncOp>(bnn::createBnnFuse());
      if (mpi) // its collectives run when the run configuration asks
        passes.addNestedPass<mlir::func::FuncOp>(bnn::createBnnSyncBatchNorm());
    }
    if (last >= Stage::Packed)
      passes.addNestedPass<mlir::func::FuncOp>(bnn::createBnnBitpack());
    if (mlir::failed(passes.run(*module)))
      return false;
  }
  if (mpi && target == Target::HostCuda) {
    llvm::errs() << "bnnc: error: --mpi trains on the host; drop --target=host-cuda\n";
    return false;
  }
  if (mpi && compileMode && !*BNNC_MPI_RUNTIME_LIBRARY) {
    llvm::errs() << "bnnc: error: --mpi: this bnnc was built without Open MPI "
                    "(install libopenmpi-dev and configure again)\n";
    return false;
  }
  if (target == Target::HostCuda && kernels != KernelBackend::Halide) {
    llvm::errs() << "bnnc: error: --target=host-cuda needs Halide kernels; drop "
                    "--kernels=cpp\n";
    return false;
  }
  if (compileMode)
    return compileToExecutable(*module);
  if (emit == Stage::Cpp) {
    std::vector<bnnc::KernelRequest> requests;
    return mlir::succeeded(emitPlan(*module, os, requests));
  }
  if (emit >= Stage::Halide) {
    std::vector<bnnc::KernelRequest> requests;
    std::string ignored, text;
    llvm::raw_string_ostream plan(ignored);
    if (kernels != KernelBackend::Halide) {
      llvm::errs() << "bnnc: error: --emit="
                   << (emit == Stage::Halide   ? "halide"
                       : emit == Stage::Ptx    ? "ptx"
                       : emit == Stage::Asm    ? "asm"
                                               : "schedule")
                   << " shows Halide kernels; drop --kernels=cpp\n";
      return false;
    }
    if (mlir::failed(emitPlan(*module, plan, requests)))
      return false;
    if (emit == Stage::Ptx) // only the GPU kernels have PTX
      llvm::erase_if(requests, [](const bnnc::KernelRequest &r) { return !r.cuda; });
    bool printed = withScheduleOptions([&](const bnnc::ScheduleOptions &options,
                                           std::vector<std::string> &errors) {
      if (emit == Stage::Ptx || emit == Stage::Asm)
        return bnnc::assemblyOfKernels(requests, options, emit == Stage::Ptx, text, errors);
      return emit == Stage::Halide ? bnnc::lowerKernels(requests, options, text, errors)
                                   : bnnc::printSchedules(requests, options, text, errors);
    });
    if (!printed)
      return false;
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
      "  bnnc compile m.bnn -o NAME     build the training binary NAME\n"
      "  bnnc compile m.mlir -o NAME    the same from IR of any stage\n"
      "  bnnc compile --mpi m.bnn -o NAME   data-parallel: mpirun -n 2 ./NAME train\n"
      "  bnnc --emit=schedule m.bnn     the kernels' schedule parameters\n"
      "  bnnc compile --schedule=S.toml m.bnn -o NAME   with edited schedules\n"
      "  bnnc experiment E.toml         compile model variants, train every point of a grid (resumable)\n"
      "  bnnc report DIR                tables and plots of an experiment's results\n");
  if (std::optional<int> status = bnnc::experiment::runSubcommand(argv[0]))
    return *status;
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
