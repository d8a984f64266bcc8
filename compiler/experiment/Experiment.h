//===- Experiment.h - A grid of training runs over model variants ---------===//
//
// An experiment file is a run configuration (the [data], [train],
// [optimizer], [params] and [sweep] of a compiled model's RUN.toml) plus the
// model variants to compile:
//
//   [experiment]
//   results = "results/fmnist_mlp"      # default: results/<file stem>
//   [sweep]                             # the grid: every combination
//   seed = [0, 1, 2]
//   lambda = [0.0, 2.0]
//   [variants.binary]
//   model = "../fmnist_mlp.bnn"         # relative to the experiment file
//   label = "binary (sign)"
//   sweep = { lambda = [0.0, 0.5, 1.0, 2.0, 3.0] }   # replaces keys of [sweep]
//   set = { hidden = 512 }              # compile-time params (bnnc --set)
//
// Each variant is compiled once; each point of its grid is one training run
// with its own folder under the results folder. `seed` sets [train] seed;
// every other key is a run-time hyper-parameter of the model ([params]).
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_EXPERIMENT_EXPERIMENT_H
#define BNNC_EXPERIMENT_EXPERIMENT_H

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bnnc::experiment {

/// A model compiled once for the whole experiment.
struct Variant {
  std::string name;      // the key in [variants]: a folder name
  std::string label;     // for tables and legends; defaults to the name
  std::string modelPath; // absolute, or relative to the working directory
  std::string modelName; // bnnc --model, for files that define several
  std::vector<std::string> sets; // compile-time overrides, "name=value"
};

/// One training run: a variant and one value for every grid key.
struct Point {
  size_t variant = 0;
  /// Grid values in the experiment's key order; `seed` among them.
  std::vector<std::pair<std::string, double>> values;
  /// Under the results folder: "VARIANT/KEY=VALUE,KEY=VALUE".
  std::string dir;
  /// The run configuration the binary is given (TOML, without [sweep]).
  std::string runConfig;
};

struct Experiment {
  std::string sourcePath;
  std::string resultsDir;
  int64_t epochs = 0;
  std::vector<Variant> variants;
  std::vector<Point> points;
};

/// Reads and checks the experiment file at `path` and expands its grid.
/// `resultsDir` overrides [experiment] results when not empty. On failure
/// `error` is "file:line:col: error: ...".
bool loadExperiment(const std::string &path, const std::string &resultsDir,
                    Experiment &experiment, std::string &error);

/// "0.5", "2", "1e-05": the shortest text that reads back as `value`, for
/// folder names and labels.
std::string formatValue(double value);

/// The setting of a point without its seed: "lambda=0.5" (empty if the grid
/// has no other key).
std::string settingName(const Point &point);

} // namespace bnnc::experiment

#endif // BNNC_EXPERIMENT_EXPERIMENT_H
