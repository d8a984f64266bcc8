//===- Results.h - The results folder of an experiment --------------------===//
//
// DIR/experiment.json     the manifest: variants and points (written by
//                         `bnnc experiment`, read by `bnnc report`)
// DIR/experiment.toml     the experiment file as last run
// DIR/experiment.lock     held by the running `bnnc experiment`
// DIR/bin/VARIANT         each variant's compiled binary
// DIR/VARIANT/POINT/      run.toml, metrics.jsonl, checkpoint.bin, log.txt,
//                         attempts.jsonl (one line per run of the binary:
//                         wall seconds and how it ended)
//
// A point is done once an attempt ended with "done"; one with a checkpoint
// and no such attempt is resumed from it.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_EXPERIMENT_RESULTS_H
#define BNNC_EXPERIMENT_RESULTS_H

#include "experiment/Experiment.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bnnc::experiment {

struct EpochRecord {
  int64_t epoch = 0;
  double testError = 0, trainError = 0, trainLoss = 0, seconds = 0;
};

/// What one point left in its folder.
struct PointResult {
  std::string dir, variant;
  std::vector<std::pair<std::string, double>> values; // the seed last
  /// One record per epoch, in order; a repeated epoch (a run killed
  /// between its metrics line and its checkpoint) keeps the later line.
  std::vector<EpochRecord> epochs;
  double wallSeconds = 0; // over all attempts
  int attempts = 0;
  std::string status; // of the last attempt: done, interrupted, failed; "" if none
};

struct VariantInfo {
  std::string name, label;
};

struct ResultsFolder {
  std::string dir;
  int64_t epochs = 0;
  std::vector<VariantInfo> variants;
  std::vector<PointResult> points;
};

/// The folder of `point` under the results folder.
std::string pointPath(const Experiment &experiment, const Point &point);

/// Writes DIR/experiment.json (atomically).
bool writeManifest(const Experiment &experiment, std::string &error);

/// Appends an attempt line to POINT/attempts.jsonl.
bool recordAttempt(const std::string &pointDir, double seconds,
                   llvm::StringRef status, int exitCode, std::string &error);

/// POINT/attempts.jsonl and POINT/metrics.jsonl read back; a missing file
/// is an empty record, a malformed line an error.
bool readPoint(const std::string &pointDir, PointResult &result, std::string &error);

/// The manifest and every point it lists.
bool readResults(const std::string &dir, ResultsFolder &results, std::string &error);

} // namespace bnnc::experiment

#endif // BNNC_EXPERIMENT_RESULTS_H
