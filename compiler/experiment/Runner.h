//===- Runner.h - Running an experiment's points, resumably ---------------===//
#ifndef BNNC_EXPERIMENT_RUNNER_H
#define BNNC_EXPERIMENT_RUNNER_H

#include "experiment/Experiment.h"

#include <cstdint>
#include <string>

namespace bnnc::experiment {

struct RunOptions {
  /// The bnnc that compiles the variants (this executable).
  std::string bnncPath;
  /// Print every point's state and what a run would do; run nothing.
  bool dryRun = false;
  /// For tests: the `interruptPoint`-th point run by this invocation (from
  /// 1) gets --interrupt-after-steps `interruptSteps`, as if killed there.
  int64_t interruptPoint = 0, interruptSteps = 0;
};

/// Compiles each variant that has points left (once; again only if its
/// model file or options changed) and runs every point that is not done:
/// a point with a checkpoint resumes from it. SIGINT/SIGTERM are passed to
/// the running binary, which stops with a checkpoint; the experiment then
/// stops too. Returns the exit status: 0 when every point is done, 1 after
/// an error or a failed point, 128 + signal when stopped.
int runExperiment(const Experiment &experiment, const RunOptions &options);

} // namespace bnnc::experiment

#endif // BNNC_EXPERIMENT_RUNNER_H
