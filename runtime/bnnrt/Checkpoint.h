//===- Checkpoint.h - Atomic save and load of a training run --------------===//
#ifndef BNNRT_CHECKPOINT_H
#define BNNRT_CHECKPOINT_H

#include "bnnrt/Model.h"

#include <string>

namespace bnnrt {

/// Where a run stands after `epochsDone` epochs and `steps` Adam steps.
struct RunState {
  int64_t epochsDone = 0;
  int64_t steps = 0;
  uint64_t seed = 0;
  std::map<std::string, double> hyperParams;
};

/// Writes params, Adam moments and `state` to `path` atomically: to a
/// temporary file in the same folder, flushed to disk, then renamed, so a
/// crash leaves the old checkpoint or the new one, never half of one.
bool saveCheckpoint(const std::string &path, const ModelSpec &spec,
                    const Params &params, const RunState &state,
                    std::string &error);

/// Reads a checkpoint written by saveCheckpoint for the same model; params
/// must match by name and size.
bool loadCheckpoint(const std::string &path, const ModelSpec &spec,
                    Params &params, RunState &state, std::string &error);

} // namespace bnnrt

#endif // BNNRT_CHECKPOINT_H
