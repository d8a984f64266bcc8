//===- RunConfig.h - Run configuration of a compiled model (TOML) ---------===//
//
// Hyper-parameters and data live outside the model, so one compiled binary
// serves many runs. Every key is checked: an unknown key or a value of the
// wrong type is an error naming the file, the line and the key, never
// silently ignored.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_RUNCONFIG_H
#define BNNRT_RUNCONFIG_H

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bnnrt {

struct DataConfig {
  std::string train = "fashion-mnist:train";
  std::string test = "fashion-mnist:test";
};

struct TrainConfig {
  int64_t epochs = 10;
  int64_t batch = 100;
  uint64_t seed = 0;
  /// Arithmetic of the convolution gradients: "bf16" (products of
  /// bfloat16 values, `vdpbf16ps`, summed in f32; the default: 1.46× faster
  /// on the example CNN, and over 4 seeds within 0.03 points of f32's test
  /// error, docs/performance.md), "f32", or "int8" (`vpdpbusd`: the weight
  /// gradients of binary convolutions over packed signs, dy quantised per
  /// filter, and their stride-1 input gradients with ≥ 16 channels and
  /// ±1 weights, dy quantised per image
  /// with stochastic rounding; the other gradients bf16; 1.17× bf16's
  /// speed, but 0.72 points above f32's test error over 4 seeds).
  std::string backward = "bf16";
  /// Whether the run configuration names `backward` (notes about it are
  /// for those who chose it).
  bool backwardChosen = false;
};

struct OptimizerConfig {
  std::string kind = "adam";
  double lr = 1e-3;
  double lrFinal = 1e-5; // decayed geometrically from lr over the run
};

/// [distributed]: data-parallel runs under mpirun (docs/distributed.md).
struct DistributedConfig {
  /// Average the batchnorm running statistics over the processes after
  /// every step; without it each process keeps its own during an epoch and
  /// they are averaged once, before the epoch's evaluation and checkpoint.
  bool syncBatchnorm = false;
  /// Start each gradient bucket's all-reduce as soon as it is ready
  /// (MPI_Iallreduce); false: a blocking MPI_Allreduce where the plan
  /// waits for it (to measure how much communication the overlap hides).
  bool overlap = true;
  /// A collective that has not completed after this long means another
  /// process died or hangs: the run stops with an error.
  double timeoutSeconds = 120;
};

struct RunConfig {
  DataConfig data;
  TrainConfig train;
  OptimizerConfig optimizer;
  DistributedConfig distributed;
  /// [params]: run-time hyper-parameters of the model, e.g. lambda.
  std::map<std::string, double> params;
  /// [sweep]: one run per combination of the values (a grid), e.g.
  /// lambda = [0.0, 1.0, 2.0] and seed = [0, 1]; `seed` sets [train] seed.
  std::map<std::string, std::vector<double>> sweep;
};

/// Parses TOML `text`; `sourceName` names it in errors. Returns false and
/// sets `error` to "file:line:col: error: ..." on the first problem.
/// `otherSections` are top-level tables a caller reads itself (bnnc's
/// experiment files add [experiment] and [variants]); they are skipped.
bool parseRunConfig(std::string_view text, const std::string &sourceName,
                    RunConfig &config, std::string &error,
                    const std::vector<std::string> &otherSections = {});

/// Reads and parses the file at `path`.
bool loadRunConfig(const std::string &path, RunConfig &config,
                   std::string &error);

/// Levenshtein distance, for "did you mean" on unknown keys.
size_t editDistance(std::string_view a, std::string_view b);

} // namespace bnnrt

#endif // BNNRT_RUNCONFIG_H
