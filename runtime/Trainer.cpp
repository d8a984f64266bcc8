//===- Trainer.cpp - The command line of a compiled model -----------------===//

#include "bnnrt/Checkpoint.h"
#include "bnnrt/Collectives.h"
#include "bnnrt/Dataset.h"
#include "bnnrt/Files.h"
#include "bnnrt/Kernels.h"
#include "bnnrt/Model.h"
#include "bnnrt/PackedWeights.h"
#include "bnnrt/Reference.h"
#include "bnnrt/RunConfig.h"
#include "bnnrt/StepIO.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

using namespace bnnrt;

//===----------------------------------------------------------------------===//
// Params
//===----------------------------------------------------------------------===//

Params::Params(const std::vector<ParamSpec> &specs) : specs(specs) {
  for (const ParamSpec &spec : specs) {
    values.emplace_back(size_t(spec.size()), 0.0f);
    firstMoments.emplace_back(size_t(spec.size()), 0.0f);
    secondMoments.emplace_back(size_t(spec.size()), 0.0f);
  }
}

void Params::adam(size_t index, const float *grad, float lr, int64_t step) {
  kernels::adamStep(values[index].data(), grad, firstMoments[index].data(),
                    secondMoments[index].data(), specs[index].size(), step, lr,
                    reference::AdamState(), specs[index].clip);
}

static std::pair<double, double> fans(const std::vector<int64_t> &shape) {
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i)
    receptive *= shape[i];
  double fanIn = double(shape.size() > 1 ? shape[1] : shape[0]) * receptive;
  double fanOut = double(shape[0]) * receptive;
  return {fanIn, fanOut};
}

void Params::initialize(const std::map<std::string, double> &hyperParams,
                        uint64_t seed) {
  for (size_t i = 0; i < specs.size(); ++i) {
    const ParamSpec &spec = specs[i];
    std::vector<double> args;
    for (const InitArg &arg : spec.args)
      args.push_back(arg.hyperParam.empty()
                         ? arg.offset
                         : arg.offset + arg.scale * hyperParams.at(arg.hyperParam));
    // A stream per param: seed and index only, never a hyper-parameter.
    std::seed_seq seq{uint32_t(seed), uint32_t(seed >> 32), uint32_t(i), 0x626e6eu};
    std::mt19937_64 rng(seq);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::normal_distribution<double> gauss(0.0, 1.0);
    auto [fanIn, fanOut] = fans(spec.shape);
    for (float &value : values[i]) {
      switch (spec.init) {
      case InitKind::Constant: value = float(args[0]); break;
      case InitKind::Uniform:
        value = float(args[0] + (args[1] - args[0]) * unit(rng));
        break;
      case InitKind::Normal: value = float(args[0] + args[1] * gauss(rng)); break;
      case InitKind::GlorotUniform: {
        double limit = std::sqrt(6.0 / (fanIn + fanOut));
        value = float(-limit + 2 * limit * unit(rng));
        break;
      }
      case InitKind::HeNormal:
        value = float(std::sqrt(2.0 / fanIn) * gauss(rng));
        break;
      }
    }
    std::fill(firstMoments[i].begin(), firstMoments[i].end(), 0.0f);
    std::fill(secondMoments[i].begin(), secondMoments[i].end(), 0.0f);
  }
}

/// An init argument as the model wrote it: "-lambda", "0.5 * lambda + 1".
static std::string formatInitArg(const InitArg &arg) {
  auto number = [](double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return std::string(text);
  };
  if (arg.hyperParam.empty())
    return number(arg.offset);
  std::string text = arg.scale == 1    ? arg.hyperParam
                     : arg.scale == -1 ? "-" + arg.hyperParam
                                       : number(arg.scale) + " * " + arg.hyperParam;
  if (arg.offset != 0)
    text += (arg.offset < 0 ? " - " : " + ") + number(std::fabs(arg.offset));
  return text;
}

/// Why `spec`'s policy cannot be drawn from with these arguments; empty if
/// it can. Compile-time bounds were checked by bnnc, so only an f32 param
/// (`uniform(-lambda, lambda)` with lambda < 0) gets here.
static std::string initArgProblem(const ParamSpec &spec,
                                  const std::vector<double> &args) {
  char text[128];
  for (double value : args)
    if (!std::isfinite(value)) {
      std::snprintf(text, sizeof text, "gives the non-finite bound %g", value);
      return text;
    }
  if (spec.init == InitKind::Uniform && args[0] > args[1]) {
    std::snprintf(text, sizeof text, "gives the empty/reversed range [%g, %g]",
                  args[0], args[1]);
    return text;
  }
  if (spec.init == InitKind::Normal && args[1] < 0) {
    std::snprintf(text, sizeof text, "gives the negative std %g", args[1]);
    return text;
  }
  return "";
}

bool bnnrt::checkInitArgs(const ModelSpec &model,
                          const std::map<std::string, double> &hyperParams,
                          std::string &error) {
  for (const ParamSpec &spec : model.params) {
    std::vector<double> args;
    std::string call = spec.init == InitKind::Uniform  ? "uniform("
                       : spec.init == InitKind::Normal ? "normal("
                                                       : "constant(";
    std::string with; // " with lambda = -1", each param once
    for (const InitArg &arg : spec.args) {
      const std::string &name = arg.hyperParam;
      double value = name.empty() ? 0.0 : hyperParams.at(name);
      args.push_back(arg.offset + arg.scale * value);
      call += (args.size() > 1 ? ", " : "") + formatInitArg(arg);
      char text[64];
      std::snprintf(text, sizeof text, " = %g", value);
      if (!name.empty() && with.find(" " + name + text) == std::string::npos)
        with += (with.empty() ? " with " : ", ") + name + text;
    }
    std::string problem = initArgProblem(spec, args);
    if (!problem.empty()) {
      error = "error: init of " + spec.name + ": " + call + ")" + with + " " + problem;
      return false;
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// The training loop
//===----------------------------------------------------------------------===//

namespace {

struct CliOptions {
  std::string command, configPath, metricsPath, checkpointDir, checkpointPath;
  std::vector<std::pair<std::string, std::string>> overrides;
  bool resume = false;
  bool appendMetrics = false; // later runs of a sweep add to the same file
  int64_t maxSteps = -1; // for tests: stop (as if killed) after this many steps
  int64_t interruptAfterSteps = -1; // for tests: raise SIGINT after this many
  /// For tests of a data-parallel run: process `failRank` exits (or, with
  /// failByHanging, stops answering) after `failAfterSteps` steps.
  int failRank = -1;
  int64_t failAfterSteps = -1;
  bool failByHanging = false;
  bool profile = false;
  std::string profilePath; // --profile=FILE.json; empty: the table only
  std::string batchPath, outDir; // step
  double lr = 1e-3;              // step
  std::string outputPath;        // export -o
  std::string weightsPath, dataSpec; // infer FILE.bnnw --data SPEC
  std::string device; // --device cpu|cuda; empty: the GPU if the binary has kernels for one
};

/// The GPU the step functions run on (null: the host); set once by runCli.
Device *activeDevice = nullptr;

/// The host wrote params: device copies are stale.
void paramsWrittenOnHost() {
  if (activeDevice)
    activeDevice->forgetAll();
}

/// The host is about to read params: bring them back from the GPU.
void paramsReadOnHost() {
  if (activeDevice)
    activeDevice->syncToHost();
}

struct EpochMetrics {
  double loss = 0, trainError = 0, testError = 0, seconds = 0;
};

bool fail(const std::string &message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return false;
}

/// Whether this process speaks for a data-parallel run: prints, writes
/// metrics, checkpoints and profiles (every process when run alone).
bool isLeader() { return collectives().rank() == 0; }

/// Every process's params, Adam moments and run state become rank 0's:
/// all start from the same point, however each one got its own (its own
/// initialisation, or rank 0 alone read a checkpoint).
void shareLeaderState(Params &params, RunState &state) {
  Collectives &comm = collectives();
  if (comm.size() == 1)
    return;
  for (auto *tensors : {&params.values, &params.firstMoments, &params.secondMoments})
    for (std::vector<float> &tensor : *tensors)
      comm.broadcast(tensor.data(), int64_t(tensor.size() * sizeof(float)));
  double counters[] = {double(state.epochsDone), double(state.stepInEpoch),
                       double(state.steps), state.epochLossSum, double(state.epochWrong)};
  comm.broadcast(counters, sizeof counters);
  state.epochsDone = int64_t(counters[0]);
  state.stepInEpoch = int64_t(counters[1]);
  state.steps = int64_t(counters[2]);
  state.epochLossSum = counters[3];
  state.epochWrong = int64_t(counters[4]);
}

/// Averages the running statistics ({state} params) over the processes,
/// which each update them from their own rows.
void averageRunningStatistics(const ModelSpec &spec, Params &params) {
  Collectives &comm = collectives();
  if (comm.size() == 1)
    return;
  for (size_t i = 0; i < spec.params.size(); ++i)
    if (spec.params[i].state)
      comm.average(params.value(i), spec.params[i].size());
}

/// Whether every process agrees that `ok`; false on all of them if one
/// failed (which printed why).
bool allSucceeded(bool ok) {
  double failures = ok ? 0 : 1;
  collectives().sum(&failures, 1);
  return failures == 0;
}

/// A number as %g writes it: "0.5", "2", "1e-05".
std::string formatNumber(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

int64_t predictedClass(const float *logits, int64_t classes) {
  return std::max_element(logits, logits + classes) - logits;
}

/// Values per input item (the product of the input shape).
int64_t inputSize(const ModelSpec &spec) {
  int64_t size = 1;
  for (int64_t d : spec.inputShape)
    size *= d;
  return size;
}

/// The signal (SIGINT, SIGTERM) that asked `train` to stop at the next step
/// boundary; 0 while none has.
volatile std::sig_atomic_t stopSignal = 0;

/// The first signal only sets stopSignal: the loop writes a checkpoint and
/// stops. A second one means "now": exit at once, the previous checkpoint
/// (complete, written atomically) is what is left.
void onStopSignal(int signal) {
  if (stopSignal) {
    static const char message[] = "\nsecond signal: stopping at once\n";
    ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
    (void)ignored;
    _exit(128 + signal);
  }
  stopSignal = signal;
}

/// Installs onStopSignal for SIGINT and SIGTERM while it lives.
class StopSignals {
public:
  StopSignals() {
    struct sigaction action = {};
    action.sa_handler = onStopSignal;
    action.sa_flags = SA_RESTART; // the loop polls; no EINTR in its I/O
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previousInt);
    sigaction(SIGTERM, &action, &previousTerm);
  }
  ~StopSignals() {
    sigaction(SIGINT, &previousInt, nullptr);
    sigaction(SIGTERM, &previousTerm, nullptr);
    stopSignal = 0;
  }
  StopSignals(const StopSignals &) = delete;
  StopSignals &operator=(const StopSignals &) = delete;

private:
  struct sigaction previousInt = {}, previousTerm = {};
};

/// The kernel a call site runs: its GPU kernel on the GPU; on the host
/// with backward = "int8" its int8 one, else (and with "bf16") its bf16
/// one, if it has them.
const std::string &calledKernel(const KernelSite &site, const std::string &backward, bool gpu) {
  if (gpu && !site.cudaKernel.empty())
    return site.cudaKernel;
  if (gpu)
    return site.kernel;
  if (backward == "int8" && !site.int8Kernel.empty())
    return site.int8Kernel;
  if ((backward == "bf16" || backward == "int8") && !site.bf16Kernel.empty())
    return site.bf16Kernel;
  return site.kernel;
}

/// Keeps the kernel calls of a replay out of --profile's report.
class ProfilerPause {
public:
  ProfilerPause() : wasOn(detail::profilingOn) { detail::profilingOn = false; }
  ~ProfilerPause() { detail::profilingOn = wasOn; }
  ProfilerPause(const ProfilerPause &) = delete;
  ProfilerPause &operator=(const ProfilerPause &) = delete;

private:
  bool wasOn;
};

class Trainer {
public:
  Trainer(const ModelSpec &spec, const RunConfig &config, const CliOptions &cli)
      : params(spec.params), spec(spec), config(config), cli(cli) {
    workspace.device = activeDevice;
  }

  bool checkData(const Dataset &data, const std::string &what) {
    int64_t expected = inputSize(spec);
    if (data.imageSize() != expected)
      return fail("error: " + what + " images have " +
                  std::to_string(data.imageSize()) +
                  " values each; model '" + spec.name + "' takes " +
                  std::to_string(expected));
    if (data.numClasses > spec.classes)
      return fail("error: " + what + " has labels up to " +
                  std::to_string(data.numClasses - 1) + "; model '" +
                  spec.name + "' has " + std::to_string(spec.classes) +
                  " classes");
    return true;
  }

  /// Test error in percent, with the evaluation function. In a
  /// data-parallel run each process evaluates a contiguous share of `data`
  /// and the misclassified counts are summed.
  double evaluate(const Dataset &data) {
    int64_t batch = config.train.batch, wrong = 0;
    int64_t rank = comm.rank(), processes = comm.size();
    int64_t first = data.count * rank / processes, end = data.count * (rank + 1) / processes;
    for (int64_t start = first; start < end; start += batch) {
      int64_t n = std::min(batch, end - start);
      StepInput in{data.image(start), data.labels.data() + start, n, 0.0f, 0};
      in.paramsUnchanged = start > first; // this process's first batch packs the weights
      StepOutput out;
      {
        StepTimer timer("eval");
        spec.evalStep(params, workspace, in, out);
      }
      for (int64_t r = 0; r < n; ++r)
        wrong += predictedClass(out.logits + r * spec.classes, spec.classes) !=
                 data.labels[start + r];
    }
    double total = double(wrong);
    comm.sum(&total, 1);
    return 100.0 * total / double(data.count);
  }

  /// Trains from scratch or, with --resume, from the last checkpoint.
  /// Returns the exit status: 0, 1 (error, divergence), or 128 + the
  /// signal that stopped it.
  int run(const std::map<std::string, double> &hyperParams,
          const Dataset &train, const Dataset &test,
          std::vector<EpochMetrics> &history) {
    int64_t batches = train.count / config.train.batch; // drop the last partial batch
    if (batches == 0)
      return fail("error: the training set (" + std::to_string(train.count) +
                  " images) is smaller than one batch (" +
                  std::to_string(config.train.batch) + ")"),
             1;
    if (config.train.batch % comm.size() != 0)
      return fail("error: [train] batch " + std::to_string(config.train.batch) +
                  " does not split evenly over " + std::to_string(comm.size()) +
                  " processes; make the batch a multiple of the process count"),
             1;
    RunState state;
    if (!allSucceeded(startOrResume(hyperParams, state)))
      return 1;
    shareLeaderState(params, state);
    paramsWrittenOnHost();
    bool append = state.epochsDone || state.stepInEpoch || cli.appendMetrics;
    FILE *metrics = nullptr;
    if (!cli.metricsPath.empty() && isLeader()) {
      metrics = std::fopen(cli.metricsPath.c_str(), append ? "a" : "w");
      if (!metrics)
        return fail(cli.metricsPath + ": error: cannot write metrics"), 1;
    }
    int status = 0;
    for (int64_t epoch = state.epochsDone;
         epoch < config.train.epochs && status == 0; ++epoch)
      status = trainEpoch(epoch, batches, train, test, state, history, metrics);
    if (metrics)
      std::fclose(metrics);
    return status;
  }

  Params params;

private:
  /// Initial params, replaced by the checkpoint's with --resume.
  bool startOrResume(const std::map<std::string, double> &hyperParams,
                     RunState &state) {
    state.seed = config.train.seed;
    state.hyperParams = hyperParams;
    startHyperParams = hyperParams;
    params.initialize(hyperParams, config.train.seed);
    paramsWrittenOnHost();
    // In a data-parallel run rank 0 alone reads the checkpoint (the others
    // need no shared file system) and hands it on (shareLeaderState).
    if (!cli.resume || checkpointPath().empty() || !isLeader())
      return true;
    if (access(checkpointPath().c_str(), F_OK) != 0 &&
        access(previousPath().c_str(), F_OK) != 0) {
      std::fprintf(stderr, "no checkpoint in %s: starting from scratch\n",
                   cli.checkpointDir.c_str());
      return true;
    }
    std::string loaded, warning, error;
    if (!loadLatestCheckpoint(checkpointPath(), previousPath(), spec, params,
                              state, loaded, warning, error))
      return fail(error);
    paramsWrittenOnHost();
    replayStart = loaded;
    if (!warning.empty()) {
      std::fprintf(stderr, "%s\n", warning.c_str());
      setAsideDamaged();
    }
    if (state.stepInEpoch == 0)
      std::fprintf(stderr, "resuming from %s after epoch %lld\n",
                   loaded.c_str(), (long long)state.epochsDone);
    else
      std::fprintf(stderr, "resuming from %s in epoch %lld after step %lld\n",
                   loaded.c_str(), (long long)state.epochsDone + 1,
                   (long long)state.stepInEpoch);
    return true;
  }

  /// After a fallback, moves a damaged checkpoint.bin out of the way: the
  /// next save would otherwise keep it as the previous checkpoint, in place
  /// of the good one.
  void setAsideDamaged() {
    std::string aside = cli.checkpointDir + "/checkpoint.damaged.bin";
    if (access(checkpointPath().c_str(), F_OK) == 0 &&
        std::rename(checkpointPath().c_str(), aside.c_str()) == 0)
      std::fprintf(stderr, "the damaged file is kept as %s\n", aside.c_str());
  }

  std::string checkpointPath() const {
    return cli.checkpointDir.empty() ? "" : cli.checkpointDir + "/checkpoint.bin";
  }
  std::string previousPath() const {
    return cli.checkpointDir + "/checkpoint.prev.bin";
  }

  /// The rest of epoch `epoch` from state.stepInEpoch, then its evaluation
  /// and checkpoint. Returns 0 to go on, else the run's exit status.
  int trainEpoch(int64_t epoch, int64_t batches, const Dataset &train,
                 const Dataset &test, RunState &state,
                 std::vector<EpochMetrics> &history, FILE *metrics) {
    int64_t batch = config.train.batch;
    double lr = learningRate(epoch);
    std::vector<int64_t> order = epochOrder(epoch, train.count);
    bool terminal = isatty(fileno(stderr)) && isLeader();
    auto started = std::chrono::steady_clock::now();
    for (int64_t b = state.stepInEpoch; b < batches; ++b) {
      // The step boundary: the state is that of b whole steps.
      if (stopAgreed())
        return stopForSignal(epoch, batches, state);
      fillBatch(train, order, b);
      StepInput in = trainInput(lr, ++state.steps);
      StepOutput out;
      {
        StepTimer timer("train");
        spec.trainStep(params, workspace, in, out);
      }
      StepMetrics step = globalMetrics(out);
      if (!std::isfinite(step.loss))
        return diverged(std::string("the training loss became ") +
                            (std::isnan(step.loss) ? "NaN" : "infinite"),
                        epoch, b + 1, batches, state,
                        whereItBegan(train, batches, epoch, b, state.steps));
      state.epochLossSum += step.loss;
      state.epochWrong += step.wrong;
      state.stepInEpoch = b + 1;
      if (terminal)
        progress(epoch, b + 1, batches, state.epochLossSum / double(b + 1));
      if (int status = testHooks(state))
        return status;
    }
    EpochMetrics m;
    m.seconds = std::chrono::duration<double>(
                    std::chrono::steady_clock::now() - started)
                    .count();
    m.loss = state.epochLossSum / double(batches);
    m.trainError = 100.0 * double(state.epochWrong) / double(batches * batch);
    // The checkpoint and the evaluation get one set of running statistics.
    averageRunningStatistics(spec, params);
    m.testError = evaluate(test);
    history.push_back(m);
    state.epochsDone = epoch + 1;
    state.stepInEpoch = 0;
    state.epochLossSum = 0;
    state.epochWrong = 0;
    report(epoch, m, lr, double(batches * batch) / m.seconds, state.hyperParams,
           metrics, terminal);
    paramsReadOnHost();
    // Unlike a loss, a param is checked once per epoch, and the step that
    // broke it could be any of the epoch's: finding its op would replay the
    // whole epoch with every step checked, so this error names no op.
    if (!paramsFinite())
      return diverged("a param became NaN or infinite", epoch, batches,
                      batches, state);
    return saveProgress(state) ? 0 : 1;
  }

  /// The input of a train step on the batch in xBatch/yBatch.
  StepInput trainInput(double lr, int64_t adamStep) {
    StepInput in{xBatch.data(), yBatch.data(), localBatch(), float(lr), adamStep,
                 config.train.backward == "bf16" || config.train.backward == "int8"};
    in.int8Backward = config.train.backward == "int8";
    in.syncBatchnorm = config.distributed.syncBatchnorm;
    return in;
  }

  /// This process's rows of each global batch ([train] batch).
  int64_t localBatch() const { return config.train.batch / comm.size(); }

  /// A step's loss (the mean over the global batch), misclassified rows
  /// and whether a process was asked to stop, all over the processes.
  struct StepMetrics {
    double loss = 0;
    int64_t wrong = 0;
  };
  StepMetrics globalMetrics(const StepOutput &out) {
    int64_t rows = localBatch();
    double wrong = 0;
    for (int64_t r = 0; r < rows; ++r)
      wrong += predictedClass(out.logits + r * spec.classes, spec.classes) != yBatch[size_t(r)];
    double values[] = {out.loss, wrong, stopSignal ? 1.0 : 0.0};
    comm.sum(values, 3);
    stopRequested = values[2] > 0;
    return {values[0] / comm.size(), int64_t(values[1])};
  }

  /// Whether to stop for a signal at this step boundary. A process alone
  /// stops when it got one; the processes of a data-parallel run stop
  /// together at the boundary after the step in which any of them got one.
  bool stopAgreed() const { return comm.size() == 1 ? stopSignal != 0 : stopRequested; }

  /// Where the non-finite loss of step `b` of epoch `epoch` (Adam step
  /// `failingStep`) began, as a clause of the error: "; it first appeared
  /// in the output of OP (LOCATION, kernel K)". Checking every kernel call
  /// of every step would slow all runs, and keeping the params of the step
  /// before would double their memory; but the run is deterministic (a
  /// resumed run is bit-identical), so the steps since the last state it
  /// can return to (the checkpoint it resumed from or last wrote, else its
  /// initialisation) are run again, the failing one with a finite check
  /// after every kernel call. The replay has params and a workspace of its
  /// own and writes nothing: no checkpoint, no metrics.
  std::string whereItBegan(const Dataset &train, int64_t batches, int64_t epoch,
                           int64_t b, int64_t failingStep) {
    // A replay would need every process to replay in step (rank 0 alone
    // holds the checkpoint it starts from).
    if (comm.size() > 1)
      return "; the op where it first appeared is unknown in a data-parallel run (resume "
             "from the last checkpoint with one process to find it)";
    Params replay(spec.params);
    RunState at;
    std::string error;
    if (replayStart.empty())
      replay.initialize(startHyperParams, config.train.seed);
    else if (!loadCheckpoint(replayStart, spec, replay, at, error))
      return "; the op where it first appeared is unknown (" + error + ")";
    if (at.epochsDone > epoch || (at.epochsDone == epoch && at.stepInEpoch > b))
      return "; the op where it first appeared is unknown (" + replayStart +
             " is past the failing step)";
    int64_t steps = failingStep - at.steps;
    std::fprintf(stderr,
                 "replaying %lld step%s from %s to find the op where the "
                 "non-finite value first appeared\n",
                 (long long)steps, steps == 1 ? "" : "s",
                 replayStart.empty() ? "the initial params" : replayStart.c_str());
    bool reproduced = replaySteps(replay, at, train, batches, epoch, b, failingStep);
    return describeFirstNonFinite(reproduced);
  }

  /// Runs the train steps from `at` through step `b` of epoch `epoch` on
  /// `replay`, exactly as the run did (same batches, learning rates and
  /// Adam steps), with the finite check in Adam step `failingStep` only.
  /// True if that step's loss is non-finite again.
  bool replaySteps(Params &replay, RunState &at, const Dataset &train,
                   int64_t batches, int64_t epoch, int64_t b, int64_t failingStep) {
    paramsWrittenOnHost(); // the GPU holds nothing of the replay's params
    Workspace replayWorkspace;
    replayWorkspace.device = activeDevice;
    ProfilerPause pause;
    StepOutput out;
    for (int64_t e = at.epochsDone; e <= epoch; ++e) {
      std::vector<int64_t> order = epochOrder(e, train.count);
      int64_t first = e == at.epochsDone ? at.stepInEpoch : 0;
      int64_t last = e == epoch ? b : batches - 1;
      for (int64_t step = first; step <= last; ++step) {
        fillBatch(train, order, step);
        StepInput in = trainInput(learningRate(e), ++at.steps);
        in.checkFinite = at.steps == failingStep;
        resetNonFinite();
        out = StepOutput();
        spec.trainStep(replay, replayWorkspace, in, out);
      }
    }
    return at.steps == failingStep && !std::isfinite(out.loss);
  }

  /// The clause of whereItBegan for what the checked step recorded.
  std::string describeFirstNonFinite(bool reproduced) const {
    if (!reproduced)
      return "; the op where it first appeared is unknown (a replay of the "
             "step gave a finite loss)";
    int site = firstNonFiniteSite();
    if (site < 0 || size_t(site) >= spec.kernelSites.size())
      return "; the first non-finite value was not in a kernel's output";
    const KernelSite &where = spec.kernelSites[size_t(site)];
    std::string kernel =
        "kernel " + calledKernel(where, config.train.backward, activeDevice != nullptr);
    return "; it first appeared in the output of " + where.op + " (" +
           (where.location.empty() ? kernel : where.location + ", " + kernel) + ")";
  }

  /// The order of epoch e depends only on the seed and e, so a resumed run
  /// sees the same batches as an uninterrupted one.
  std::vector<int64_t> epochOrder(int64_t epoch, int64_t count) const {
    std::vector<int64_t> order(static_cast<size_t>(count));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 shuffle(config.train.seed * 1000003u + uint64_t(epoch));
    std::shuffle(order.begin(), order.end(), shuffle);
    return order;
  }

  /// This process's rows of batch `b` of the epoch's order into xBatch and
  /// yBatch: every process has the same order and takes its own
  /// consecutive rows of the global batch, so the shards are disjoint and
  /// together they are the batch a single process would train on.
  void fillBatch(const Dataset &train, const std::vector<int64_t> &order,
                 int64_t b) {
    int64_t batch = localBatch(), size = train.imageSize();
    int64_t first = b * config.train.batch + comm.rank() * batch;
    xBatch.resize(size_t(batch * size));
    yBatch.resize(size_t(batch));
    for (int64_t r = 0; r < batch; ++r) {
      int64_t index = order[size_t(first + r)];
      std::copy(train.image(index), train.image(index) + size,
                xBatch.begin() + r * size);
      yBatch[size_t(r)] = train.labels[size_t(index)];
    }
  }

  /// --max-steps: stop as if killed (no checkpoint); --interrupt-after-steps:
  /// raise SIGINT, to test the signal path at a known step.
  int testHooks(const RunState &state) {
    if (cli.interruptAfterSteps >= 0 && state.steps == cli.interruptAfterSteps)
      std::raise(SIGINT);
    if (comm.rank() == cli.failRank && state.steps == cli.failAfterSteps)
      failThisProcess();
    if (cli.maxSteps >= 0 && state.steps >= cli.maxSteps)
      return fail("stopped after " + std::to_string(state.steps) +
                  " steps (--max-steps), mid-epoch, without a checkpoint"),
             1;
    return 0;
  }

  /// --debug-fail-rank: this process dies (exit 3, MPI left unfinished) or
  /// stops answering, as a crashed or wedged machine would.
  [[noreturn]] void failThisProcess() const {
    std::fprintf(stderr, "process %d: --debug-fail-rank: %s\n", comm.rank(),
                 cli.failByHanging ? "hanging" : "exiting");
    std::fflush(stderr);
    while (cli.failByHanging)
      sleep(60);
    _exit(3);
  }

  bool paramsFinite() const {
    for (const std::vector<float> &values : params.values)
      for (float value : values)
        if (!std::isfinite(value))
          return false;
    return true;
  }

  /// Stops the run without writing a checkpoint, so the last one stays the
  /// last good one.
  int diverged(const std::string &what, int64_t epoch, int64_t step,
               int64_t batches, const RunState &state,
               const std::string &where = "") {
    std::string kept =
        checkpointPath().empty() ? ""
        : access(checkpointPath().c_str(), F_OK) == 0
            ? "; the last checkpoint (" + checkpointPath() + ") is kept"
            : "; no checkpoint written";
    if (!isLeader())
      return 1; // every process diverged in the same step: one says so
    return fail("error: " + what + " in epoch " + std::to_string(epoch + 1) +
                " at step " + std::to_string(step) + " of " +
                std::to_string(batches) + " (Adam step " +
                std::to_string(state.steps) + ")" + where + kept +
                "; try a smaller learning rate"),
           1;
  }

  /// The first SIGINT/SIGTERM: a checkpoint of where the run stands, a line
  /// saying how to go on, and the status of a process killed by it.
  int stopForSignal(int64_t epoch, int64_t batches, const RunState &state) {
    // A process of a data-parallel run that got no signal itself stops
    // with the others, as if it had got the common SIGTERM.
    int signal = stopSignal ? int(stopSignal) : SIGTERM;
    std::string where = "in epoch " + std::to_string(epoch + 1) +
                        " after step " + std::to_string(state.stepInEpoch) +
                        " of " + std::to_string(batches);
    paramsReadOnHost();
    if (!paramsFinite())
      return diverged("a param became NaN or infinite", epoch,
                      state.stepInEpoch, batches, state);
    if (!saveProgress(state))
      return 1;
    if (!isLeader())
      return 128 + signal;
    std::string saved =
        checkpointPath().empty()
            ? "; nothing saved (no --checkpoint-dir)"
            : "; checkpoint " + checkpointPath() +
                  " written: run the same command with --resume to continue";
    if (isatty(fileno(stderr)))
      std::fprintf(stderr, "\n");
    std::fprintf(stderr, "stopped by %s %s%s\n",
                 signal == SIGINT ? "SIGINT" : "SIGTERM", where.c_str(),
                 saved.c_str());
    return 128 + signal;
  }

  /// The checkpoint, written by rank 0 alone (atomically, as always).
  bool saveProgress(const RunState &state) {
    std::string error;
    if (checkpointPath().empty() || !isLeader())
      return true;
    if (!saveCheckpointKeepingPrevious(checkpointPath(), previousPath(), spec,
                                       params, state, error))
      return fail(error);
    replayStart = checkpointPath();
    return true;
  }

  /// Geometric decay from lr (first epoch) to lr_final (last epoch).
  double learningRate(int64_t epoch) const {
    int64_t epochs = config.train.epochs;
    if (epochs <= 1)
      return config.optimizer.lr;
    double ratio = config.optimizer.lrFinal / config.optimizer.lr;
    return config.optimizer.lr * std::pow(ratio, double(epoch) / double(epochs - 1));
  }

  void progress(int64_t epoch, int64_t done, int64_t total, double loss) {
    if (done != total && done % 10 != 0)
      return;
    int width = 30, filled = int(width * done / total);
    std::fprintf(stderr, "\repoch %lld/%lld [%.*s%*s] %lld/%lld loss %.4f",
                 (long long)epoch + 1, (long long)config.train.epochs, filled,
                 "==============================", width - filled, "",
                 (long long)done, (long long)total, loss);
    std::fflush(stderr);
  }

  void report(int64_t epoch, const EpochMetrics &m, double lr,
              double imagesPerSecond,
              const std::map<std::string, double> &hyperParams, FILE *metrics,
              bool terminal) {
    if (!isLeader())
      return;
    if (terminal)
      std::fprintf(stderr, "\n");
    std::printf("epoch %lld/%lld  loss %.4f  train error %.2f%%  test error "
                "%.2f%%  %.1f s  %.0f images/s  lr %.2e\n",
                (long long)epoch + 1, (long long)config.train.epochs, m.loss,
                m.trainError, m.testError, m.seconds, imagesPerSecond, lr);
    std::fflush(stdout);
    if (!metrics)
      return;
    std::fprintf(metrics,
                 "{\"epoch\": %lld, \"train_loss\": %.6f, \"train_error\": %.4f, "
                 "\"test_error\": %.4f, \"seconds\": %.3f, \"images_per_s\": "
                 "%.1f, \"lr\": %.6g, \"seed\": %llu, \"backward\": \"%s\"",
                 (long long)epoch + 1, m.loss, m.trainError, m.testError,
                 m.seconds, imagesPerSecond, lr,
                 (unsigned long long)config.train.seed, config.train.backward.c_str());
    for (const auto &[name, value] : hyperParams)
      std::fprintf(metrics, ", \"%s\": %.6g", name.c_str(), value);
    std::fprintf(metrics, "}\n");
    std::fflush(metrics);
  }

  const ModelSpec &spec;
  const RunConfig &config;
  const CliOptions &cli;
  Collectives &comm = collectives();
  bool stopRequested = false; // by any process, as of the last step
  Workspace workspace;
  /// The checkpoint this run resumed from or last wrote: the state a replay
  /// (whereItBegan) starts from. Empty: the run's initial params (another
  /// run's checkpoint may lie in the folder, but is not this run's past).
  std::string replayStart;
  std::map<std::string, double> startHyperParams; // what the initial params were drawn with
  std::vector<float> xBatch;
  std::vector<int32_t> yBatch;
};

//===----------------------------------------------------------------------===//
// Command line
//===----------------------------------------------------------------------===//

void printHelp(const ModelSpec &spec, const char *program) {
  std::printf(
      "%s: model '%s' compiled by bnnc from %s\n\n"
      "usage:\n"
      "  %s train [--config RUN.toml] [--set NAME=VALUE]... [--metrics FILE.jsonl]\n"
      "           [--checkpoint-dir DIR] [--resume] [--profile[=FILE.json]]\n"
      "  %s eval --checkpoint FILE [--config RUN.toml] [--profile[=FILE.json]]\n"
      "  %s init --checkpoint FILE [--config RUN.toml] [--set NAME=VALUE]...\n"
      "  %s step --checkpoint FILE --batch BATCH.bin --out DIR [--lr X]\n"
      "          [--set NAME=VALUE]... [--profile[=FILE.json]]\n"
      "  %s export --checkpoint FILE -o FILE.bnnw\n"
      "  %s infer FILE.bnnw [--data SPEC] [--batch N] [--config RUN.toml]\n"
      "           [--profile[=FILE.json]]\n\n"
      "train   trains with the run configuration (defaults: Fashion-MNIST, 10\n"
      "        epochs, batch 100, Adam 1e-3 -> 1e-5, seed 0); with a [sweep]\n"
      "        section, one run per combination of the swept values (a grid\n"
      "        over hyper-parameters and seed) and a table of test errors\n"
      "        SIGINT/SIGTERM stop it at the next step with a checkpoint\n"
      "        (exit status 130/143; a second signal stops at once); --resume\n"
      "        continues from DIR/checkpoint.bin, or if that is damaged from\n"
      "        DIR/checkpoint.prev.bin\n"
      "eval    prints the test error of a checkpoint\n"
      "init    writes the initial params (epoch 0) as a checkpoint\n"
      "step    for differential testing: on one batch, runs the evaluation\n"
      "        (twice: the second reuses the packed weights), then one train\n"
      "        step (learning rate --lr, default 1e-3; Adam continues from\n"
      "        the checkpoint), and writes DIR/eval.bin,\n"
      "        DIR/train.bin (int64 batch, int64 classes, float32 loss,\n"
      "        float32 logits[batch*classes]) and DIR/checkpoint.bin (after\n"
      "        the step). BATCH.bin: int64 batch, int64 features, float32\n"
      "        x[batch*features], int32 labels[batch]; all little-endian\n"
      "export  writes a checkpoint's params for inference only: 1 bit per\n"
      "        binary weight (its sign), float32 for the rest, no optimizer\n"
      "        state; versioned and checksummed\n"
      "infer   prints the test error and images/s of an exported file on\n"
      "        SPEC (default: the run configuration's test set) in batches of\n"
      "        N (default: its batch size); SPEC as in [data]:\n"
      "        fashion-mnist:test, idx:IMAGES,LABELS, cifar10:BATCH,...\n\n"
      "--profile[=FILE.json]\n"
      "        times every kernel call and step; at the end prints, for the\n"
      "        train step and the evaluation apart, each kernel call site's\n"
      "        calls, time, share of the step time and GFLOP/s (binary GOP/s\n"
      "        for XNOR-popcount kernels), slowest first; with FILE, also\n"
      "        writes the table as JSON\n"
      "--device cpu|cuda\n"
      "        where train, eval, step and infer run their kernels: cuda (the\n"
      "        default of a binary compiled with --target=host-cuda) keeps the\n"
      "        data on the GPU; cpu runs the host kernels\n\n"
      "mpirun -n P %s train|eval|step ...\n"
      "        a binary compiled with bnnc compile --mpi trains data-parallel:\n"
      "        each process takes batch/P rows of every batch, the gradients are\n"
      "        averaged over MPI, rank 0 prints and writes checkpoints ([distributed]\n"
      "        in the run configuration; docs/distributed.md)\n\n"
      "hyper-parameters:",
      program, spec.name.c_str(), spec.source.c_str(), program, program,
      program, program, program, program, program);
  for (const HyperParamSpec &h : spec.hyperParams)
    std::printf(" %s (default %g)", h.name.c_str(), h.defaultValue);
  std::printf("%s\n", spec.hyperParams.empty() ? " none" : "");
}

bool parseNumber(const std::string &text, double &value) {
  char *end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return end != text.c_str() && !*end;
}

/// --debug-fail-rank RANK:STEPS[:hang] (tests of a data-parallel run).
bool parseFailRank(const std::string &text, CliOptions &cli) {
  int rank = -1;
  long long steps = -1;
  char how[8] = "exit";
  int fields = std::sscanf(text.c_str(), "%d:%lld:%7s", &rank, &steps, how);
  std::string mode = how;
  if (fields < 2 || rank < 0 || steps < 1 || (mode != "exit" && mode != "hang"))
    return fail("error: --debug-fail-rank expects RANK:STEPS[:exit|:hang], got '" + text + "'");
  cli.failRank = rank;
  cli.failAfterSteps = steps;
  cli.failByHanging = mode == "hang";
  return true;
}

bool parseCli(int argc, char **argv, CliOptions &cli) {
  if (argc < 2)
    return false;
  cli.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string &out) {
      if (i + 1 >= argc)
        return fail("error: " + arg + " needs a value");
      out = argv[++i];
      return true;
    };
    std::string text;
    if (arg == "--config") {
      if (!value(cli.configPath)) return false;
    } else if (arg == "--metrics") {
      if (!value(cli.metricsPath)) return false;
    } else if (arg == "--checkpoint-dir") {
      if (!value(cli.checkpointDir)) return false;
    } else if (arg == "--checkpoint") {
      if (!value(cli.checkpointPath)) return false;
    } else if (arg == "--resume") {
      cli.resume = true;
    } else if (arg == "--profile") {
      cli.profile = true;
    } else if (arg.rfind("--profile=", 0) == 0) {
      cli.profile = true;
      cli.profilePath = arg.substr(std::strlen("--profile="));
      if (cli.profilePath.empty())
        return fail("error: --profile= needs a file name");
    } else if (arg == "--batch") {
      if (!value(cli.batchPath)) return false;
    } else if (arg == "--out") {
      if (!value(cli.outDir)) return false;
    } else if (arg == "-o") {
      if (!value(cli.outputPath)) return false;
    } else if (arg == "--device") {
      if (!value(cli.device)) return false;
      if (cli.device != "cpu" && cli.device != "cuda")
        return fail("error: --device " + cli.device + ": expected cpu or cuda");
    } else if (arg == "--data") {
      if (!value(cli.dataSpec)) return false;
    } else if (cli.command == "infer" && cli.weightsPath.empty() &&
               arg[0] != '-') {
      cli.weightsPath = arg;
    } else if (arg == "--lr") {
      if (!value(text)) return false;
      if (!parseNumber(text, cli.lr) || !std::isfinite(cli.lr))
        return fail("error: --lr " + text + ": not a number");
      if (cli.lr <= 0)
        return fail("error: --lr " + text + ": must be positive");
    } else if (arg == "--max-steps") {
      if (!value(text)) return false;
      cli.maxSteps = std::atoll(text.c_str());
    } else if (arg == "--interrupt-after-steps") {
      if (!value(text)) return false;
      cli.interruptAfterSteps = std::atoll(text.c_str());
    } else if (arg == "--debug-fail-rank") {
      if (!value(text) || !parseFailRank(text, cli)) return false;
    } else if (arg == "--set") {
      if (!value(text)) return false;
      auto eq = text.find('=');
      if (eq == std::string::npos || eq == 0)
        return fail("error: --set expects NAME=VALUE, got '" + text + "'");
      cli.overrides.emplace_back(text.substr(0, eq), text.substr(eq + 1));
    } else {
      return fail("error: unknown option '" + arg + "' (see --help)");
    }
  }
  return true;
}

/// --set NAME=VALUE... onto `values`; each NAME must be a hyper-parameter.
bool applyOverrides(const ModelSpec &spec, const CliOptions &cli,
                    std::map<std::string, double> &values) {
  for (const auto &[name, text] : cli.overrides) {
    double value;
    if (!parseNumber(text, value))
      return fail("error: --set " + name + "=" + text + ": not a number");
    bool known = std::any_of(
        spec.hyperParams.begin(), spec.hyperParams.end(),
        // (clang cannot capture a structured binding under -fopenmp)
        [&key = name](const HyperParamSpec &h) { return h.name == key; });
    if (!known)
      return fail("error: --set: model '" + spec.name +
                  "' has no hyper-parameter '" + name + "'");
    values[name] = value;
  }
  return true;
}

/// Hyper-parameter values: defaults, then [params], then --set.
bool resolveHyperParams(const ModelSpec &spec, const RunConfig &config,
                        const CliOptions &cli,
                        std::map<std::string, double> &values) {
  for (const HyperParamSpec &h : spec.hyperParams)
    values[h.name] = h.defaultValue;
  auto assign = [&](const std::string &name, double value, const char *where) {
    if (!values.count(name))
      return fail(std::string("error: ") + where + ": model '" + spec.name +
                  "' has no hyper-parameter '" + name + "'");
    values[name] = value;
    return true;
  };
  for (const auto &[name, value] : config.params)
    if (!assign(name, value, "[params]"))
      return false;
  if (!applyOverrides(spec, cli, values))
    return false;
  for (const auto &[name, grid] : config.sweep) {
    if (name == "seed") {
      for (double seed : grid)
        if (seed < 0 || std::floor(seed) != seed)
          return fail("error: [sweep]: seeds are whole numbers >= 0, got " +
                      formatNumber(seed));
    } else if (!values.count(name)) {
      return fail("error: [sweep]: model '" + spec.name +
                  "' has no hyper-parameter '" + name + "' (nor is it seed)");
    }
  }
  return true;
}

/// One point of a [sweep] grid: a value for every swept name.
using GridPoint = std::vector<std::pair<std::string, double>>;

/// Every combination of the swept values, the last name fastest (names in
/// the map's order); one empty point without a sweep.
std::vector<GridPoint> gridPoints(const std::map<std::string, std::vector<double>> &sweep) {
  std::vector<GridPoint> points = {{}};
  for (const auto &[name, grid] : sweep) {
    std::vector<GridPoint> longer;
    for (const GridPoint &point : points)
      for (double value : grid) {
        longer.push_back(point);
        longer.back().emplace_back(name, value);
      }
    points = std::move(longer);
  }
  return points;
}

/// The configuration and hyper-parameters of one grid point.
void applyGridPoint(const GridPoint &point, RunConfig &config,
                    std::map<std::string, double> &hyper) {
  for (const auto &[name, value] : point) {
    if (name == "seed")
      config.train.seed = uint64_t(value);
    else
      hyper[name] = value;
  }
}

/// The init policies with `hyper` and with each value of the swept
/// hyper-parameter, all before any data is loaded or any run starts.
bool checkSweepInits(const ModelSpec &spec, const RunConfig &config,
                     std::map<std::string, double> hyper) {
  std::string error;
  for (const GridPoint &point : gridPoints(config.sweep)) {
    RunConfig ignored = config;
    applyGridPoint(point, ignored, hyper);
    if (!checkInitArgs(spec, hyper, error))
      return fail(error);
  }
  return true;
}

bool loadData(const std::string &spec, Dataset &data) {
  std::string error;
  if (isLeader())
    std::fprintf(stderr, "loading %s\n", spec.c_str());
  return loadDataset(spec, data, error) || fail(error);
}

int trainGrid(const ModelSpec &spec, const RunConfig &config, const CliOptions &cli,
              std::map<std::string, double> hyper, const Dataset &trainSet,
              const Dataset &testSet);

int train(const ModelSpec &spec, const RunConfig &config, const CliOptions &cli) {
  std::map<std::string, double> hyper;
  if (!resolveHyperParams(spec, config, cli, hyper) ||
      !checkSweepInits(spec, config, hyper))
    return 1;
  if (!cli.checkpointDir.empty())
    mkdir(cli.checkpointDir.c_str(), 0777);
  Dataset trainSet, testSet;
  Trainer probe(spec, config, cli);
  if (!loadData(config.data.train, trainSet) || !loadData(config.data.test, testSet) ||
      !probe.checkData(trainSet, config.data.train) ||
      !probe.checkData(testSet, config.data.test))
    return 1;
  StopSignals stopSignals;
  if (config.sweep.empty()) {
    std::vector<EpochMetrics> history;
    Trainer trainer(spec, config, cli);
    return trainer.run(hyper, trainSet, testSet, history);
  }
  return trainGrid(spec, config, cli, hyper, trainSet, testSet);
}

/// "lambda=0.500000,seed=1": a grid point's checkpoint folder.
std::string gridPointName(const GridPoint &point) {
  std::string name;
  for (const auto &[key, value] : point)
    name += (name.empty() ? "" : ",") + key + "=" + std::to_string(value);
  return name;
}

/// "lambda = 0.5, seed = 1": a grid point for people.
std::string formatGridPoint(const GridPoint &point) {
  std::string text;
  for (const auto &[key, value] : point)
    text += (text.empty() ? "" : ", ") + key + " = " + formatNumber(value);
  return text;
}

/// A [sweep]: one run per point of the grid (the product of every swept
/// list; `seed` among them or not), then a table of test errors.
int trainGrid(const ModelSpec &spec, const RunConfig &config, const CliOptions &cli,
              std::map<std::string, double> hyper, const Dataset &trainSet,
              const Dataset &testSet) {
  std::vector<std::pair<GridPoint, std::vector<EpochMetrics>>> results;
  for (const GridPoint &point : gridPoints(config.sweep)) {
    std::string name = gridPointName(point);
    if (isLeader())
      std::printf("== %s\n", formatGridPoint(point).c_str());
    RunConfig pointConfig = config;
    applyGridPoint(point, pointConfig, hyper);
    CliOptions runCli = cli;
    runCli.appendMetrics = !results.empty();
    if (!cli.checkpointDir.empty()) {
      runCli.checkpointDir = cli.checkpointDir + "/" + name;
      mkdir(runCli.checkpointDir.c_str(), 0777);
    }
    Trainer trainer(spec, pointConfig, runCli);
    std::vector<EpochMetrics> history;
    if (int status = trainer.run(hyper, trainSet, testSet, history))
      return status;
    results.emplace_back(point, history);
  }
  if (!isLeader())
    return 0;
  std::printf("\n");
  for (const auto &[name, grid] : config.sweep)
    std::printf("%-10s ", name.c_str());
  std::printf("%14s %14s\n", "test error %", "best epoch %");
  for (const auto &[point, history] : results) {
    double best = 100.0;
    for (const EpochMetrics &m : history)
      best = std::min(best, m.testError);
    // A run resumed after its last epoch trained no epoch here.
    double last = history.empty() ? NAN : history.back().testError;
    for (const auto &[name, value] : point)
      std::printf("%-10s ", formatNumber(value).c_str());
    std::printf("%14.2f %14.2f\n", last, best);
  }
  return 0;
}

/// `init`: the run's initial params as a checkpoint (epoch 0), e.g. to
/// compare initialisations across hyper-parameters.
int initialize(const ModelSpec &spec, const RunConfig &config,
               const CliOptions &cli) {
  std::map<std::string, double> hyper;
  if (!resolveHyperParams(spec, config, cli, hyper))
    return 1;
  if (cli.checkpointPath.empty())
    return fail("error: init needs --checkpoint FILE"), 1;
  std::string error;
  if (!checkInitArgs(spec, hyper, error))
    return fail(error), 1;
  Params params(spec.params);
  params.initialize(hyper, config.train.seed);
  RunState state;
  state.seed = config.train.seed;
  state.hyperParams = hyper;
  if (!saveCheckpoint(cli.checkpointPath, spec, params, state, error))
    return fail(error), 1;
  return 0;
}

int evaluateCheckpoint(const ModelSpec &spec, const RunConfig &config,
                       const CliOptions &cli) {
  if (cli.checkpointPath.empty())
    return fail("error: eval needs --checkpoint FILE"), 1;
  Trainer trainer(spec, config, cli);
  RunState state;
  std::string error;
  bool loaded = !isLeader() ||
                loadCheckpoint(cli.checkpointPath, spec, trainer.params, state, error) ||
                fail(error);
  if (!allSucceeded(loaded))
    return 1;
  shareLeaderState(trainer.params, state);
  paramsWrittenOnHost();
  Dataset testSet;
  if (!loadData(config.data.test, testSet) ||
      !trainer.checkData(testSet, config.data.test))
    return 1;
  double testError = trainer.evaluate(testSet);
  if (isLeader())
    std::printf("test error %.2f%% on %s (%lld images, checkpoint after epoch %lld)\n",
                testError, config.data.test.c_str(), (long long)testSet.count,
                (long long)state.epochsDone);
  return 0;
}

/// `export`: a checkpoint's params as a packed inference file.
int exportWeights(const ModelSpec &spec, const CliOptions &cli) {
  if (cli.checkpointPath.empty() || cli.outputPath.empty())
    return fail("error: export needs --checkpoint FILE -o FILE.bnnw"), 1;
  Params params(spec.params);
  RunState state;
  std::string error;
  if (!loadCheckpoint(cli.checkpointPath, spec, params, state, error) ||
      !savePackedWeights(cli.outputPath, spec, params, error))
    return fail(error), 1;
  struct stat checkpoint = {}, weights = {};
  stat(cli.checkpointPath.c_str(), &checkpoint);
  stat(cli.outputPath.c_str(), &weights);
  std::printf("wrote %s: %lld bytes (the checkpoint: %lld bytes, %.1fx)\n",
              cli.outputPath.c_str(), (long long)weights.st_size,
              (long long)checkpoint.st_size,
              double(checkpoint.st_size) / double(weights.st_size));
  return 0;
}

/// `infer`: the test error and speed of a packed inference file, through
/// eval's code path with the params unpacked from it.
int inferPacked(const ModelSpec &spec, RunConfig config, const CliOptions &cli) {
  if (cli.weightsPath.empty())
    return fail("error: infer needs a weights file: infer FILE.bnnw"), 1;
  // --batch names step's batch file; for infer it is the batch size.
  if (!cli.batchPath.empty()) {
    double batch;
    if (!parseNumber(cli.batchPath, batch) || batch < 1 ||
        std::floor(batch) != batch)
      return fail("error: --batch " + cli.batchPath +
                  ": not a positive whole number"),
             1;
    config.train.batch = int64_t(batch);
  }
  std::string data = cli.dataSpec.empty() ? config.data.test : cli.dataSpec;
  Trainer trainer(spec, config, cli);
  std::string error;
  if (!loadPackedWeights(cli.weightsPath, spec, trainer.params, error))
    return fail(error), 1;
  paramsWrittenOnHost();
  Dataset testSet;
  if (!loadData(data, testSet) || !trainer.checkData(testSet, data))
    return 1;
  auto started = std::chrono::steady_clock::now();
  double testError = trainer.evaluate(testSet);
  double seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - started)
                       .count();
  if (!isLeader())
    return 0;
  std::printf("test error %.2f%% on %s (%lld images, batch %lld, %.0f "
              "images/s)\n",
              testError, data.c_str(), (long long)testSet.count,
              (long long)config.train.batch, double(testSet.count) / seconds);
  return 0;
}

/// The inputs of `step`, checked against the model.
bool loadStepInputs(const ModelSpec &spec, const CliOptions &cli,
                    Params &params, RunState &state, Batch &batch) {
  if (cli.checkpointPath.empty() || cli.batchPath.empty() || cli.outDir.empty())
    return fail("error: step needs --checkpoint FILE --batch FILE --out DIR");
  std::string error;
  if (!loadCheckpoint(cli.checkpointPath, spec, params, state, error) ||
      !readBatch(cli.batchPath, batch, error) ||
      !checkBatchShape(cli.batchPath, batch, inputSize(spec), spec.classes,
                       error) ||
      !makeDirectories(cli.outDir, error))
    return fail(error);
  // Hyper-parameters only shape the initialisation, which a step does not
  // redo; --set is recorded in the checkpoint it writes, like train's.
  return applyOverrides(spec, cli, state.hyperParams);
}

/// `step`: the evaluation and one train step on one batch from a file, each
/// result written out, so another executor can be compared on the same
/// inputs and params.
///
/// Under mpirun each process takes its consecutive share of the batch's
/// rows (the global batch) and writes its results to DIR/rank<R> (rank 0:
/// DIR): its logits, the loss of the global batch, its params after the
/// step, which the tests compare with each other and with one process's
/// step on the whole batch.
int runOneStep(const ModelSpec &spec, const RunConfig &config, const CliOptions &cli) {
  Collectives &comm = collectives();
  Params params(spec.params);
  RunState state;
  Batch batch;
  if (!loadStepInputs(spec, cli, params, state, batch))
    return 1;
  if (batch.size % comm.size() != 0)
    return fail("error: " + cli.batchPath + ": " + std::to_string(batch.size) +
                " rows do not split evenly over " + std::to_string(comm.size()) +
                " processes"),
           1;
  int64_t rows = batch.size / comm.size(), first = rows * comm.rank();
  std::string outDir =
      comm.rank() == 0 ? cli.outDir : cli.outDir + "/rank" + std::to_string(comm.rank());
  std::string error;
  if (!makeDirectories(outDir, error))
    return fail(error), 1;
  paramsWrittenOnHost();
  Workspace workspace;
  workspace.device = activeDevice;
  StepInput in{batch.x.data() + first * inputSize(spec), batch.labels.data() + first, rows,
               0.0f, 0};
  StepOutput evalOut, trainOut;
  {
    StepTimer timer("eval");
    spec.evalStep(params, workspace, in, evalOut);
    // Again as a later batch of an evaluation, from the values of the
    // params alone that the first call kept (packed weights): what it
    // writes is then checked against the reference too.
    in.paramsUnchanged = true;
    spec.evalStep(params, workspace, in, evalOut);
    in.paramsUnchanged = false;
  }
  // Written before the train step, which may reuse the logits' buffer.
  if (!writeStepOutputs(outDir + "/eval.bin", rows, spec.classes,
                        evalOut.loss, evalOut.logits, error))
    return fail(error), 1;
  in.lr = float(cli.lr);
  in.step = ++state.steps; // Adam continues the checkpoint's moments
  in.syncBatchnorm = config.distributed.syncBatchnorm;
  {
    StepTimer timer("train");
    spec.trainStep(params, workspace, in, trainOut);
  }
  double loss = trainOut.loss;
  comm.sum(&loss, 1);
  paramsReadOnHost();
  if (!writeStepOutputs(outDir + "/train.bin", rows, spec.classes,
                        float(loss / comm.size()), trainOut.logits, error) ||
      !saveCheckpoint(outDir + "/checkpoint.bin", spec, params, state, error))
    return fail(error), 1;
  return 0;
}

int runCommand(const ModelSpec &spec, const RunConfig &config,
               const CliOptions &cli) {
  // Writing one file needs one process.
  if ((cli.command == "init" || cli.command == "export") && !isLeader())
    return 0;
  if (cli.command == "init")
    return initialize(spec, config, cli);
  if (cli.command == "step")
    return runOneStep(spec, config, cli);
  if (cli.command == "export")
    return exportWeights(spec, cli);
  if (cli.command == "infer")
    return inferPacked(spec, config, cli);
  return cli.command == "train" ? train(spec, config, cli)
                                : evaluateCheckpoint(spec, config, cli);
}

/// The call sites as the run calls them: when `train` runs with backward =
/// "bf16" or "int8", a site with such a kernel reports that one (`step`,
/// the differential tests' command, always runs the f32 kernels).
std::vector<KernelSite> profiledSites(std::vector<KernelSite> sites, const std::string &backward,
                                      bool gpu) {
  for (KernelSite &site : sites)
    site.kernel = calledKernel(site, backward, gpu);
  return sites;
}

/// The step functions of the device the run asked for (--device; by
/// default the GPU where the binary has GPU kernels), opening the GPU.
/// Null `opened` with an error for a GPU the binary or the machine lacks.
bool chooseDevice(const ModelSpec &spec, const CliOptions &cli, ModelSpec &active,
                  std::unique_ptr<Device> &opened) {
  active = spec;
  bool usesKernels = cli.command != "init" && cli.command != "export";
  std::string device = cli.device.empty() ? (spec.openCuda ? "cuda" : "cpu") : cli.device;
  if (device == "cpu" || !usesKernels)
    return true;
  if (!spec.openCuda)
    return fail("error: --device cuda: this binary has no GPU kernels (compile the model "
                "with bnnc compile --target=host-cuda)");
  std::string why;
  opened = spec.openCuda(why);
  if (!opened)
    return fail("error: no GPU found (" + why + "); run with --device cpu to use the CPU kernels");
  active.trainStep = spec.cudaTrainStep;
  active.evalStep = spec.cudaEvalStep;
  return true;
}

/// Prints the profile (whatever ran, even when the command failed, e.g.
/// after --max-steps) and writes it as JSON if asked to.
int reportProfile(const CliOptions &cli, int status) {
  Profiler &profiler = Profiler::global();
  profiler.stop();
  if (!isLeader())
    return status; // rank 0's profile stands for the run's
  ProfileReport report = profiler.report();
  std::printf("\n%s", formatProfileTable(report).c_str());
  std::fflush(stdout);
  if (cli.profilePath.empty())
    return status;
  std::string json = formatProfileJson(report), error;
  if (!writeFileAtomically(cli.profilePath, json.data(), json.size(), error))
    return fail(error), 1;
  return status;
}

/// Runs the command; under mpirun a process that failed ends the others
/// at once (they would wait for it until the timeout), and every process
/// leaves MPI before it exits.
int runAsProcessOfRun(const ModelSpec &spec, const RunConfig &config, const CliOptions &cli,
                      const ModelSpec &active, const std::string &backward, bool gpu) {
  if (cli.profile)
    Profiler::global().start(
        profiledSites(spec.kernelSites, cli.command == "train" ? backward : "f32", gpu));
  int status = runCommand(active, config, cli);
  status = cli.profile ? reportProfile(cli, status) : status;
  if (status == 1 && collectives().size() > 1) {
    std::fflush(stdout);
    std::fflush(stderr);
    collectives().abortAll(1);
  }
  return status;
}

/// The command line, with the processes of the run set up.
int runCliIn(int argc, char **argv, const ModelSpec &spec) {
  CliOptions cli;
  if (argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    printHelp(spec, argv[0]);
    return 0;
  }
  if (!parseCli(argc, argv, cli) ||
      (cli.command != "train" && cli.command != "eval" &&
       cli.command != "init" && cli.command != "step" &&
       cli.command != "export" && cli.command != "infer")) {
    printHelp(spec, argv[0]);
    return 2;
  }
  RunConfig config;
  if (!cli.configPath.empty()) {
    std::string error;
    if (!loadRunConfig(cli.configPath, config, error))
      return fail(error), 1;
  }
  const std::string &backward = config.train.backward;
  bool anyBf16Kernel = std::any_of(spec.kernelSites.begin(), spec.kernelSites.end(),
                                   [](const KernelSite &s) { return !s.bf16Kernel.empty(); });
  bool anyInt8Kernel = std::any_of(spec.kernelSites.begin(), spec.kernelSites.end(),
                                   [](const KernelSite &s) { return !s.int8Kernel.empty(); });
  bool noteBf16 = backward != "f32" && config.train.backwardChosen && cli.command == "train";
  if (noteBf16 && backward == "int8" && !anyInt8Kernel)
    std::fprintf(stderr, "note: %s: backward = \"int8\", but this binary has no int8 "
                         "gradient kernels (only binary convolutions have them, and only "
                         "with Halide kernels): its gradients run in %s\n",
                 cli.configPath.c_str(), anyBf16Kernel ? "bf16 where they can, else f32" : "f32");
  else if (noteBf16 && !anyBf16Kernel)
    std::fprintf(stderr, "note: %s: backward = \"bf16\", but this binary has no bf16 "
                         "gradient kernels (only convolutions have them, and only with "
                         "Halide kernels): its gradients run in f32\n",
                 cli.configPath.c_str());
  ModelSpec active;
  std::unique_ptr<Device> gpu;
  if (!chooseDevice(spec, cli, active, gpu))
    return 1;
  activeDevice = gpu.get();
  if (gpu && noteBf16)
    std::fprintf(stderr, "note: %s: backward = \"%s\" has no GPU kernels: on the GPU the "
                         "gradients run in f32\n",
                 cli.configPath.c_str(), backward.c_str());
  collectives().configure(config.distributed.overlap, config.distributed.timeoutSeconds);
  return runAsProcessOfRun(spec, config, cli, active, backward, gpu != nullptr);
}

} // namespace

int bnnrt::runCli(int argc, char **argv, const ModelSpec &spec) {
  // MPI first: a run of several processes, or this one alone.
  std::unique_ptr<Collectives> processes = spec.openMpi ? spec.openMpi() : nullptr;
  setCollectives(processes.get());
  int status = runCliIn(argc, argv, spec);
  setCollectives(nullptr);
  return status;
}
