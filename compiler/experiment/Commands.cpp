//===- Commands.cpp - `bnnc experiment` and `bnnc report` -----------------===//

#include "experiment/Commands.h"

#include "experiment/Experiment.h"
#include "experiment/Report.h"
#include "experiment/Runner.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;
using namespace bnnc::experiment;

namespace {

cl::OptionCategory experimentCategory("bnnc experiment options");

cl::SubCommand experimentCommand(
    "experiment",
    "Compile every model variant of an experiment file and run every point of "
    "its grid; a rerun does only what is missing");

cl::SubCommand reportCommand(
    "report", "Tables (markdown) and plots (PNG, SVG, index.html) of a results folder");

cl::opt<std::string> experimentFile(cl::Positional, cl::Required,
                                    cl::desc("<experiment.toml>"),
                                    cl::sub(experimentCommand),
                                    cl::cat(experimentCategory));

cl::opt<std::string> resultsOption(
    "o", cl::desc("Results folder (default: [experiment] results, else "
                  "results/<file stem>)"),
    cl::value_desc("dir"), cl::sub(experimentCommand), cl::cat(experimentCategory));

cl::opt<bool> dryRun("dry-run",
                     cl::desc("Print each point's state (done, to resume, to "
                              "run) and run nothing"),
                     cl::sub(experimentCommand), cl::cat(experimentCategory));

cl::opt<bool> reportAfter("report",
                          cl::desc("Write the report when every point is done"),
                          cl::sub(experimentCommand), cl::cat(experimentCategory));

cl::opt<std::string> debugInterrupt(
    "debug-interrupt",
    cl::desc("Tests only: N:STEPS interrupts the N-th point this run starts "
             "after STEPS steps, as if killed there"),
    cl::Hidden, cl::sub(experimentCommand), cl::cat(experimentCategory));

cl::opt<std::string> resultsFolder(cl::Positional, cl::Required,
                                   cl::desc("<results folder>"),
                                   cl::sub(reportCommand), cl::cat(experimentCategory));

cl::opt<bool> noPlots("no-plots",
                      cl::desc("Only the table (report.md); no gnuplot needed"),
                      cl::sub(reportCommand), cl::cat(experimentCategory));

bool parseInterrupt(RunOptions &options) {
  if (debugInterrupt.empty())
    return true;
  auto [point, steps] = llvm::StringRef(debugInterrupt).split(':');
  if (point.getAsInteger(10, options.interruptPoint) ||
      steps.getAsInteger(10, options.interruptSteps))
    return llvm::errs() << "bnnc: error: --debug-interrupt expects N:STEPS\n", false;
  return true;
}

int runExperimentCommand(const char *argv0) {
  Experiment experiment;
  std::string error;
  if (!loadExperiment(experimentFile, resultsOption, experiment, error))
    return llvm::errs() << error << "\n", 1;
  RunOptions options;
  options.bnncPath = llvm::sys::fs::getMainExecutable(
      argv0, reinterpret_cast<void *>(&runExperimentCommand));
  options.dryRun = dryRun;
  if (!parseInterrupt(options))
    return 1;
  int status = runExperiment(experiment, options);
  if (status != 0 || !reportAfter || dryRun)
    return status;
  return writeReport(experiment.resultsDir, /*plots=*/true);
}

} // namespace

std::optional<int> bnnc::experiment::runSubcommand(const char *argv0) {
  if (experimentCommand)
    return runExperimentCommand(argv0);
  if (reportCommand)
    return writeReport(resultsFolder, !noPlots);
  return std::nullopt;
}
