//===- bnn-reference.cpp - The reference executor's command line ----------===//
//
//   bnn-reference make-batch IR.mlir --batch N --seed S -o BATCH.bin
//   bnn-reference run IR.mlir --checkpoint IN.bin --batch BATCH.bin --out DIR [--lr X]
//   bnn-reference compare DIR_A DIR_B [--rtol R] [--atol A]
//
// `run` does what a compiled model's `step` command does (bnnrt's Trainer):
// the evaluation function on the batch, then one train step with Adam step
// count = the checkpoint's + 1, writing DIR/eval.bin, DIR/train.bin and
// DIR/checkpoint.bin; but every op runs through bnnrt::reference, one op at
// a time, from the IR. `compare` then checks two such folders against each
// other.
//
//===----------------------------------------------------------------------===//
#include "reference/Compare.h"
#include "reference/ReferenceExecutor.h"

#include "bnn/BnnDialect.h"
#include "bnn/BnnPasses.h"
#include "bnnrt/Checkpoint.h"
#include "bnnrt/Files.h"
#include "bnnrt/StepIO.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace bnnc::reference;

namespace {

// Default tolerances of `compare`: an element passes when
//   |a - b| <= atol + rtol·|b| + stol·scale,   scale = max |b| of its tensor,
// and a param's value after the step gets lr·|u_a - u_b| more (below).
//
// The executors agree on every op's definition but not on its arithmetic:
// the reference sums dense and convolution products in double, the kernels
// in float, blocked and in other orders (GEMM tiles, Halide vectors), and
// batchnorm statistics and bias and weight gradients are sums over the
// batch. Measured on the tests' models (the MLP of examples/ and a small
// CNN, Halide and C++ kernels, 12 random batches each): values of a
// tensor's own magnitude differ by up to 2e-6 relative, hence rtol = 1e-4
// (a margin of 50); values far smaller than their tensor's largest (a
// gradient summed over the batch that nearly cancels, a running mean near
// 0) keep the absolute error of the sum they come from: up to 3.3e-6 of
// the tensor's largest value (Adam's v, whose error is twice its
// gradient's), hence stol = 3e-5 (a margin of 9). A real bug (a wrong
// index, a missing STE window, a factor) is off by far more.
//
// Scaling by the tensor keeps the check meaningful for tensors of any
// magnitude: Adam's second moments are about 1e-9, where any fixed atol
// would accept everything. atol = 0: a tensor that is exactly 0 in one run
// (the moments of running statistics) must be exactly 0 in the other.
//
// The binary parts are exact on both sides (±1 products are integers); a
// sign flipping for a value within rounding of 0 is not an honest
// difference these tolerances hide: it changes a whole unit downstream and
// fails, and the report names the tensors.
//
// Params after the step: Adam's first step moves a param by lr·g/(|g|+ε),
// so a gradient that is float noise around 0 (e.g. the weights fed by a
// binary unit that has the same sign for the whole batch: their gradient
// is a sum of batchnorm's input gradient, which is 0 in exact arithmetic)
// moves its param by up to lr in a direction the noise picks, differently
// in each run. The moments, which hold the gradients, are compared with
// the tolerance above; the param values get the extra allowance
// lr·|u_a - u_b|, u = m̂/(sqrt(v̂) + ε) from each run's own moments
// (adamAllowance): each run must have moved its param as its own moments
// say. That is why compare takes the runs' --lr.
constexpr double kDefaultRtol = 1e-4;
constexpr double kDefaultStol = 3e-5;
constexpr double kDefaultAtol = 0.0;
constexpr double kDefaultLr = 1e-3;

int usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  bnn-reference make-batch IR.mlir --batch N --seed S -o BATCH.bin\n"
               "  bnn-reference run IR.mlir --checkpoint IN.bin --batch BATCH.bin "
               "--out DIR [--lr X]\n"
               "  bnn-reference compare DIR_A DIR_B [--rtol R] [--stol S] [--atol A] "
               "[--lr X]\n"
               "                [--params-only] [--exact-signs NAME,...]\n"
               "\n"
               "IR.mlir is `bnnc --emit=train` output (any later stage runs too).\n"
               "run: the evaluation function, then one train step (Adam step = the\n"
               "checkpoint's + 1, lr default 1e-3), every op by bnnrt's reference;\n"
               "writes DIR/eval.bin, DIR/train.bin, DIR/checkpoint.bin like a\n"
               "compiled model's `step` command.\n"
               "compare: eval and train loss and logits, and every param, Adam m and\n"
               "Adam v of the checkpoints; fails (exit 1) when an element has\n"
               "|a-b| > atol + rtol*|b| + stol*max|b| (defaults rtol %g, stol %g,\n"
               "atol %g); param values also get lr*|u_a-u_b|, Adam's update from\n"
               "each run's moments (--lr: the runs' learning rate, default %g).\n"
               "--params-only: the checkpoints alone (a process of a data-parallel\n"
               "step holds the logits of its rows only); --exact-signs: these\n"
               "params' values must have the same sign in both, element by element\n"
               "(the binary weights a model uses).\n",
               kDefaultRtol, kDefaultStol, kDefaultAtol, kDefaultLr);
  return 2;
}

int fail(const std::string &message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return 1;
}

/// Command-line arguments after the subcommand: positionals and --options.
struct Args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;

  bool parse(int argc, char **argv, const std::vector<std::string> &known,
             const std::vector<std::string> &flags = {}) {
    for (int i = 2; i < argc; ++i) {
      std::string arg = argv[i];
      if (std::find(flags.begin(), flags.end(), arg) != flags.end()) {
        options.push_back({arg, ""});
      } else if (arg.size() > 1 && arg[0] == '-') {
        std::string value;
        size_t equals = arg.find('=');
        if (equals != std::string::npos) {
          value = arg.substr(equals + 1);
          arg = arg.substr(0, equals);
        } else if (i + 1 < argc) {
          value = argv[++i];
        } else {
          std::fprintf(stderr, "bnn-reference: error: %s needs a value\n", arg.c_str());
          return false;
        }
        if (std::find(known.begin(), known.end(), arg) == known.end()) {
          std::fprintf(stderr, "bnn-reference: error: unknown option %s\n", arg.c_str());
          return false;
        }
        options.push_back({arg, value});
      } else {
        positional.push_back(arg);
      }
    }
    return true;
  }
  const std::string *get(const std::string &name) const {
    const std::string *found = nullptr;
    for (const auto &[option, value] : options)
      if (option == name)
        found = &value;
    return found;
  }
};

bool parseInt(const std::string &text, int64_t &value) {
  char *end = nullptr;
  errno = 0;
  long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || errno)
    return false;
  value = parsed;
  return true;
}

bool parseDouble(const std::string &text, double &value) {
  char *end = nullptr;
  errno = 0;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && !*end && !errno;
}

/// The IR, parsed and verified, with its train step (generated here if the
/// file has none). Diagnostics go to stderr with their source lines.
struct LoadedModule {
  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> diagnostics;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  LoadedModule() {
    mlir::DialectRegistry registry;
    registry.insert<bnn::BnnDialect, mlir::func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    diagnostics =
        std::make_unique<mlir::SourceMgrDiagnosticHandler>(sourceMgr, &context);
  }

  bool load(const std::string &path) {
    module = mlir::parseSourceFile<mlir::ModuleOp>(path, sourceMgr, &context);
    if (!module)
      return false; // the parser reported why

    bool hasTrainStep = false;
    for (auto function : module->getOps<mlir::func::FuncOp>())
      hasTrainStep |= function->hasAttr("bnn.train_step");
    if (hasTrainStep)
      return true;
    mlir::PassManager pm(&context);
    pm.addPass(bnn::createBnnGenerateTrainStep());
    return mlir::succeeded(pm.run(*module));
  }
};

/// An IR file loaded and ready to run, and its input's features per item.
struct LoadedModel {
  LoadedModule loaded; // owns the IR the executor runs
  std::unique_ptr<ReferenceExecutor> executor;
  int64_t features = 1;

  bool load(const std::string &path) {
    if (!loaded.load(path) || !(executor = ReferenceExecutor::create(*loaded.module)))
      return false;
    for (int64_t extent : executor->spec().inputShape)
      features *= extent;
    return true;
  }
};

int makeBatch(const Args &args) {
  const std::string *batchText = args.get("--batch"), *seedText = args.get("--seed"),
                    *output = args.get("-o");
  int64_t batch = 0, seed = 0;
  if (args.positional.size() != 1 || !batchText || !seedText || !output)
    return usage();
  if (!parseInt(*batchText, batch) || batch < 1)
    return fail("bnn-reference: error: --batch must be a positive integer");
  if (!parseInt(*seedText, seed))
    return fail("bnn-reference: error: --seed must be an integer");
  LoadedModel model;
  if (!model.load(args.positional[0]))
    return 1;
  auto &executor = model.executor;
  const bnnrt::ModelSpec &spec = executor->spec();
  int64_t features = model.features;

  // mt19937_64's sequence is fixed by the C++ standard; the conversions
  // below are explicit (not std:: distributions), so a seed gives the same
  // batch with any standard library.
  std::mt19937_64 rng{static_cast<uint64_t>(seed)};
  bnnrt::Batch out;
  out.size = batch;
  out.features = features;
  out.x.resize(size_t(batch * features));
  for (float &x : out.x)
    x = float(double(rng() >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  for (int64_t i = 0; i < batch; ++i)
    out.labels.push_back(int32_t(rng() % uint64_t(spec.classes)));
  std::string error;
  if (!bnnrt::writeBatch(*output, out, error))
    return fail(error);
  return 0;
}

int run(const Args &args) {
  const std::string *checkpoint = args.get("--checkpoint"),
                    *batchPath = args.get("--batch"), *outDir = args.get("--out"),
                    *lrText = args.get("--lr");
  if (args.positional.size() != 1 || !checkpoint || !batchPath || !outDir)
    return usage();
  double lr = kDefaultLr;
  if (lrText && !parseDouble(*lrText, lr))
    return fail("bnn-reference: error: --lr must be a number");

  LoadedModel model;
  if (!model.load(args.positional[0]))
    return 1;
  auto &executor = model.executor;
  const bnnrt::ModelSpec &spec = executor->spec();
  int64_t features = model.features;

  std::string error;
  bnnrt::RunState state;
  bnnrt::Batch batch;
  if (!bnnrt::loadCheckpoint(*checkpoint, spec, executor->params(), state, error) ||
      !bnnrt::readBatch(*batchPath, batch, error) ||
      !bnnrt::checkBatchShape(*batchPath, batch, features, spec.classes, error) ||
      !bnnrt::makeDirectories(*outDir, error))
    return fail(error);

  StepResult eval, train;
  if (mlir::failed(executor->evaluate(batch.x.data(), batch.labels.data(),
                                      batch.size, eval)))
    return 1;
  if (!bnnrt::writeStepOutputs(*outDir + "/eval.bin", eval.batch, eval.classes,
                               eval.loss, eval.logits.data(), error))
    return fail(error);
  // Adam continues the checkpoint's moments, as the runtime's `step` does.
  state.steps += 1;
  if (mlir::failed(executor->trainStepOnce(batch.x.data(), batch.labels.data(),
                                           batch.size, float(lr), state.steps,
                                           train)))
    return 1;
  if (!bnnrt::writeStepOutputs(*outDir + "/train.bin", train.batch,
                               train.classes, train.loss, train.logits.data(),
                               error) ||
      !bnnrt::saveCheckpoint(*outDir + "/checkpoint.bin", spec,
                             executor->params(), state, error))
    return fail(error);
  return 0;
}

/// "a,b,c" as {"a", "b", "c"}.
std::vector<std::string> splitNames(const std::string &text) {
  std::vector<std::string> names;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start)
      names.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return names;
}

/// The elements whose signs (as a binary layer reads them: w < 0 or not)
/// differ: none may.
TensorDiff compareSigns(const std::string &name, const std::vector<float> &a,
                        const std::vector<float> &b) {
  TensorDiff d;
  d.name = name;
  d.elements = int64_t(a.size());
  if (a.size() != b.size()) {
    d.problem = "sizes differ";
    return d;
  }
  for (size_t i = 0; i < a.size(); ++i)
    d.failures += (a[i] < 0) != (b[i] < 0);
  return d;
}

/// What a compare line adds after the numbers.
std::string notes(const TensorDiff &d) {
  std::string text;
  if (d.allowed)
    text += " (" + std::to_string(d.allowed) + " within Adam's noise allowance)";
  if (d.failures)
    text += " " + std::to_string(d.failures) + " elements over tolerance";
  return text;
}

int compare(const Args &args) {
  if (args.positional.size() != 2)
    return usage();
  Tolerance tolerance{kDefaultRtol, kDefaultAtol, kDefaultStol};
  double lr = kDefaultLr;
  for (auto [option, target] : {std::pair{"--rtol", &tolerance.rtol},
                                {"--atol", &tolerance.atol},
                                {"--stol", &tolerance.stol}, {"--lr", &lr}})
    if (const std::string *text = args.get(option))
      if (!parseDouble(*text, *target) || *target < 0)
        return fail(std::string("bnn-reference: error: ") + option +
                    " must be a number >= 0");
  const std::string &dirA = args.positional[0], &dirB = args.positional[1];

  bool paramsOnly = args.get("--params-only") != nullptr;
  std::vector<std::string> exactSigns;
  if (const std::string *names = args.get("--exact-signs"))
    exactSigns = splitNames(*names);

  std::string error;
  bnnrt::StepOutputs evalA, evalB, trainA, trainB;
  CheckpointTensors checkA, checkB;
  if ((!paramsOnly && (!bnnrt::readStepOutputs(dirA + "/eval.bin", evalA, error) ||
                       !bnnrt::readStepOutputs(dirB + "/eval.bin", evalB, error) ||
                       !bnnrt::readStepOutputs(dirA + "/train.bin", trainA, error) ||
                       !bnnrt::readStepOutputs(dirB + "/train.bin", trainB, error))) ||
      !readCheckpointTensors(dirA + "/checkpoint.bin", checkA, error) ||
      !readCheckpointTensors(dirB + "/checkpoint.bin", checkB, error))
    return fail(error);

  std::vector<TensorDiff> diffs;
  std::vector<std::string> problems;
  if (!paramsOnly) {
    diffs.push_back(compareTensors("eval.loss", {evalA.loss}, {evalB.loss}, tolerance));
    diffs.push_back(compareTensors("eval.logits", evalA.logits, evalB.logits, tolerance));
    diffs.push_back(compareTensors("train.loss", {trainA.loss}, {trainB.loss}, tolerance));
    diffs.push_back(compareTensors("train.logits", trainA.logits, trainB.logits, tolerance));
  }
  if (checkA.model != checkB.model)
    problems.push_back("checkpoints of models '" + checkA.model + "' and '" +
                       checkB.model + "'");
  if (checkA.steps != checkB.steps)
    problems.push_back("checkpoints after " + std::to_string(checkA.steps) +
                       " and " + std::to_string(checkB.steps) + " steps");
  if (checkA.params.size() != checkB.params.size())
    problems.push_back("checkpoints with " + std::to_string(checkA.params.size()) +
                       " and " + std::to_string(checkB.params.size()) + " params");
  for (size_t i = 0; i < std::min(checkA.params.size(), checkB.params.size()); ++i) {
    const CheckpointTensors::Param &a = checkA.params[i], &b = checkB.params[i];
    if (a.name != b.name) {
      problems.push_back("param " + std::to_string(i) + " is '" + a.name +
                         "' and '" + b.name + "'");
      continue;
    }
    std::vector<double> allowance = adamAllowance(a, b, checkB.steps, lr);
    diffs.push_back(compareTensors(a.name, a.value, b.value, tolerance, &allowance));
    diffs.push_back(compareTensors(a.name + ".m", a.firstMoment, b.firstMoment, tolerance));
    diffs.push_back(compareTensors(a.name + ".v", a.secondMoment, b.secondMoment, tolerance));
    auto named = std::find(exactSigns.begin(), exactSigns.end(), a.name);
    if (named != exactSigns.end()) {
      diffs.push_back(compareSigns(a.name + ".sign", a.value, b.value));
      exactSigns.erase(named);
    }
  }
  for (const std::string &name : exactSigns)
    problems.push_back("--exact-signs names '" + name + "', which the checkpoints lack");

  std::printf("comparing %s against %s (rtol %g, stol %g, atol %g, lr %g)\n",
              dirA.c_str(), dirB.c_str(), tolerance.rtol, tolerance.stol,
              tolerance.atol, lr);
  std::vector<std::string> failed;
  for (const TensorDiff &d : diffs) {
    if (!d.problem.empty())
      std::printf("FAIL %-34s %s\n", d.name.c_str(), d.problem.c_str());
    else
      std::printf("%s %-30s n=%-8lld max_abs=%-9.3g max_rel=%-9.3g scale=%-9.3g%s\n",
                  d.ok() ? "ok  " : "FAIL", d.name.c_str(), (long long)d.elements,
                  d.maxAbs, d.maxRel, d.scale, notes(d).c_str());
    if (!d.ok())
      failed.push_back(d.name);
  }
  for (const std::string &problem : problems)
    std::printf("FAIL %s\n", problem.c_str());
  if (failed.empty() && problems.empty()) {
    std::printf("PASS: %zu tensors within tolerance\n", diffs.size());
    return 0;
  }
  std::string names;
  for (const std::string &name : failed)
    names += (names.empty() ? "" : ", ") + name;
  std::printf("FAIL: %zu of %zu tensors exceed tolerance%s%s%s\n", failed.size(),
              diffs.size(), names.empty() ? "" : ": ", names.c_str(),
              problems.empty() ? "" : " (and the checkpoints differ in structure)");
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return usage();
  std::string command = argv[1];
  if (command == "--help" || command == "-h") {
    usage();
    return 0;
  }
  Args args;
  if (command == "make-batch") {
    if (!args.parse(argc, argv, {"--batch", "--seed", "-o"}))
      return 2;
    return makeBatch(args);
  }
  if (command == "run") {
    if (!args.parse(argc, argv, {"--checkpoint", "--batch", "--out", "--lr"}))
      return 2;
    return run(args);
  }
  if (command == "compare") {
    if (!args.parse(argc, argv, {"--rtol", "--stol", "--atol", "--lr", "--exact-signs"},
                    {"--params-only"}))
      return 2;
    return compare(args);
  }
  std::fprintf(stderr, "bnn-reference: error: unknown command '%s'\n", command.c_str());
  return usage();
}
