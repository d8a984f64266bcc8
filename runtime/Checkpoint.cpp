//===- Checkpoint.cpp - Atomic, checked save and load of a training run ---===//
#include "bnnrt/Checkpoint.h"

#include "FileFormat.h"
#include "bnnrt/Files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

using namespace bnnrt;
using namespace bnnrt::fileformat;

namespace {

const Format kFormat = {{'B', 'N', 'N', 'C', 'H', 'K', 'P', 'T'}, 2, "checkpoint"};
/// The magic of the format before version 2 (no version, no checksum).
constexpr char kOldMagic[8] = {'B', 'N', 'N', 'C', 'K', 'P', 'T', '1'};

void writeRunState(Writer &out, const RunState &state) {
  out.scalar<int64_t>(state.epochsDone);
  out.scalar<int64_t>(state.stepInEpoch);
  out.scalar<int64_t>(state.steps);
  out.scalar<uint64_t>(state.seed);
  out.scalar<double>(state.epochLossSum);
  out.scalar<int64_t>(state.epochWrong);
  out.scalar<uint32_t>(uint32_t(state.hyperParams.size()));
  for (const auto &[name, value] : state.hyperParams) {
    out.string(name);
    out.scalar<double>(value);
  }
}

void readRunState(Reader &in, RunState &state) {
  state.epochsDone = in.scalar<int64_t>("the run state");
  state.stepInEpoch = in.scalar<int64_t>("the run state");
  state.steps = in.scalar<int64_t>("the run state");
  state.seed = in.scalar<uint64_t>("the run state");
  state.epochLossSum = in.scalar<double>("the run state");
  state.epochWrong = in.scalar<int64_t>("the run state");
  uint32_t count = in.scalar<uint32_t>("the hyper-parameters");
  state.hyperParams.clear();
  for (uint32_t i = 0; i < count && in.error.empty(); ++i) {
    std::string name = in.string("a hyper-parameter name");
    state.hyperParams[name] = in.scalar<double>("a hyper-parameter");
  }
}

/// The whole file: header (with the payload's checksum), then payload.
std::string serialize(const ModelSpec &spec, const Params &params,
                      const RunState &state) {
  Writer payload;
  writeFingerprint(payload, spec);
  writeRunState(payload, state);
  for (size_t i = 0; i < spec.params.size(); ++i) {
    payload.floats(params.values[i]);
    payload.floats(params.firstMoments[i]);
    payload.floats(params.secondMoments[i]);
  }
  return frame(kFormat, payload.buffer);
}

/// The shared header check, after telling the old format apart.
std::string checkHeader(const std::string &data) {
  if (data.size() >= 8 && !std::memcmp(data.data(), kOldMagic, 8))
    return "unsupported checkpoint format (written before format version " +
           std::to_string(kFormat.version) + "); train again or re-run init";
  return fileformat::checkHeader(data, kFormat);
}

void readPayload(Reader &in, CheckpointContents &contents) {
  std::vector<ParamShape> shapes;
  readFingerprint(in, contents.model, shapes);
  for (ParamShape &shape : shapes)
    contents.params.push_back(
        {std::move(shape.name), std::move(shape.shape), {}, {}, {}});
  readRunState(in, contents.state);
  for (CheckpointContents::Param &param : contents.params) {
    size_t size = elementCount(param.shape);
    in.floats(param.value, size, "a param");
    in.floats(param.firstMoment, size, "an Adam moment");
    in.floats(param.secondMoment, size, "an Adam moment");
  }
  if (in.error.empty() && !in.atEnd())
    in.fail("bytes after the last param");
}

/// "" if the checkpoint's fingerprint is the model's, else what differs.
std::string compareFingerprint(const CheckpointContents &contents,
                               const ModelSpec &spec) {
  std::vector<ParamShape> shapes;
  for (const CheckpointContents::Param &param : contents.params)
    shapes.push_back({param.name, param.shape});
  return fileformat::compareFingerprint(
      "checkpoint of model '" + contents.model + "'", contents.model, shapes,
      spec);
}

} // namespace

static bool fileExists(const std::string &path) {
  return access(path.c_str(), F_OK) == 0;
}

bool bnnrt::saveCheckpoint(const std::string &path, const ModelSpec &spec,
                           const Params &params, const RunState &state,
                           std::string &error) {
  std::string data = serialize(spec, params, state);
  return writeFileAtomically(path, data.data(), data.size(), error);
}

bool bnnrt::saveCheckpointKeepingPrevious(const std::string &path,
                                          const std::string &previous,
                                          const ModelSpec &spec,
                                          const Params &params,
                                          const RunState &state,
                                          std::string &error) {
  std::string data = serialize(spec, params, state);
  std::string temporary = path + ".tmp";
  // Killed while writing: path and previous are untouched.
  if (!writeFileSynced(temporary, data.data(), data.size(), error))
    return false;
  // Killed between the renames: path is missing, previous is the last good
  // checkpoint, and --resume falls back to it.
  if (fileExists(path) && std::rename(path.c_str(), previous.c_str()) != 0) {
    error = previous + ": error: cannot keep the previous checkpoint: " +
            std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    error = path + ": error: writing the checkpoint failed: " +
            std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  syncParentDirectory(path);
  return true;
}

bool bnnrt::readCheckpoint(const std::string &path,
                           CheckpointContents &contents, std::string &error) {
  std::string data;
  if (!readWholeFile(path, kFormat, data, error))
    return false;
  std::string problem = checkHeader(data);
  if (!problem.empty()) {
    error = path + ": error: " + problem;
    return false;
  }
  Reader in(data, kHeaderSize, path);
  contents = CheckpointContents();
  readPayload(in, contents);
  error = in.error;
  return error.empty();
}

/// Moves a verified checkpoint's tensors and state into the model's, if its
/// fingerprint is the model's.
static bool applyContents(const std::string &path,
                          CheckpointContents &contents, const ModelSpec &spec,
                          Params &params, RunState &state,
                          std::string &error) {
  std::string difference = compareFingerprint(contents, spec);
  if (!difference.empty()) {
    error = path + ": error: " + difference;
    return false;
  }
  for (size_t i = 0; i < spec.params.size(); ++i) {
    params.values[i] = std::move(contents.params[i].value);
    params.firstMoments[i] = std::move(contents.params[i].firstMoment);
    params.secondMoments[i] = std::move(contents.params[i].secondMoment);
  }
  state = std::move(contents.state);
  return true;
}

bool bnnrt::loadCheckpoint(const std::string &path, const ModelSpec &spec,
                           Params &params, RunState &state,
                           std::string &error) {
  CheckpointContents contents;
  return readCheckpoint(path, contents, error) &&
         applyContents(path, contents, spec, params, state, error);
}

bool bnnrt::loadLatestCheckpoint(const std::string &path,
                                 const std::string &previous,
                                 const ModelSpec &spec, Params &params,
                                 RunState &state, std::string &loaded,
                                 std::string &warning, std::string &error) {
  // Only damage or absence falls back: a readable checkpoint of another
  // model is the user's mistake, and the previous one would be the same.
  CheckpointContents contents;
  std::string damage;
  if (readCheckpoint(path, contents, damage)) {
    loaded = path;
    return applyContents(path, contents, spec, params, state, error);
  }
  std::string previousError;
  if (!loadCheckpoint(previous, spec, params, state, previousError)) {
    error = damage + "\n" + previousError +
            "\nerror: no usable checkpoint to resume from";
    return false;
  }
  loaded = previous;
  // "PATH: error: WHAT" becomes "warning: PATH: WHAT; ...".
  size_t tag = damage.find(" error: ");
  warning = "warning: " + damage.erase(tag, std::strlen(" error:")) +
            "; resuming from the previous checkpoint " + previous;
  return true;
}
