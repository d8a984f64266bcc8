//===- Checkpoint.h - Atomic, checked save and load of a training run -----===//
//
// Format (version 2, little-endian): the magic "BNNCHKPT", uint32 version,
// uint64 payload size, uint32 CRC-32 of the payload, then the payload: the
// model fingerprint (name; per param its name and shape), the run state, and
// per param its values and Adam moments (sizes implied by the shape). The
// checksum catches any damaged byte, the size a truncation, the fingerprint
// a checkpoint of another model or width.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_CHECKPOINT_H
#define BNNRT_CHECKPOINT_H

#include "bnnrt/Model.h"

#include <string>

namespace bnnrt {

/// Where a run stands: `epochsDone` whole epochs, then `stepInEpoch`
/// batches of the next one (its data order follows from seed and epoch),
/// `steps` Adam steps in all.
struct RunState {
  int64_t epochsDone = 0;
  int64_t stepInEpoch = 0;
  int64_t steps = 0;
  uint64_t seed = 0;
  /// The partial epoch's loss sum and misclassified count, so a resumed
  /// epoch reports the metrics of an uninterrupted one.
  double epochLossSum = 0.0;
  int64_t epochWrong = 0;
  std::map<std::string, double> hyperParams;
};

/// Everything a checkpoint file holds, read without a ModelSpec (for tools
/// that compare two checkpoints).
struct CheckpointContents {
  struct Param {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> value, firstMoment, secondMoment;
  };
  std::string model;
  RunState state;
  std::vector<Param> params;
};

/// Writes params, Adam moments and `state` to `path` atomically: to a
/// temporary file in the same folder, flushed to disk, then renamed, so a
/// crash leaves the old checkpoint or the new one, never half of one.
bool saveCheckpoint(const std::string &path, const ModelSpec &spec,
                    const Params &params, const RunState &state,
                    std::string &error);

/// saveCheckpoint that first keeps the file at `path` (if any) as
/// `previous`: the new one is written to a temporary file and synced, then
/// path → previous and temporary → path are renamed. A kill at any point
/// leaves a good file at `path` or at `previous` (see loadLatestCheckpoint).
bool saveCheckpointKeepingPrevious(const std::string &path,
                                   const std::string &previous,
                                   const ModelSpec &spec, const Params &params,
                                   const RunState &state, std::string &error);

/// Reads and verifies (format, version, size, checksum) a checkpoint file.
bool readCheckpoint(const std::string &path, CheckpointContents &contents,
                    std::string &error);

/// Reads a checkpoint written by saveCheckpoint for the same model: its
/// fingerprint must match `spec` (an error names what differs).
bool loadCheckpoint(const std::string &path, const ModelSpec &spec,
                    Params &params, RunState &state, std::string &error);

/// For --resume: loads `path`, or if it is missing or damaged, `previous`,
/// then setting `warning` to a line saying so. `loaded` is the file used.
/// Fails if neither is usable, or if a readable one is of another model.
bool loadLatestCheckpoint(const std::string &path, const std::string &previous,
                          const ModelSpec &spec, Params &params,
                          RunState &state, std::string &loaded,
                          std::string &warning, std::string &error);

} // namespace bnnrt

#endif // BNNRT_CHECKPOINT_H
