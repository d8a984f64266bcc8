//===- Checkpoint.cpp - Atomic, checked save and load of a training run ---===//
#include "bnnrt/Checkpoint.h"

#include "bnnrt/Files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <zlib.h>

using namespace bnnrt;

namespace {

constexpr char kMagic[8] = {'B', 'N', 'N', 'C', 'H', 'K', 'P', 'T'};
/// The magic of the format before version 2 (no version, no checksum).
constexpr char kOldMagic[8] = {'B', 'N', 'N', 'C', 'K', 'P', 'T', '1'};
constexpr uint32_t kVersion = 2;
/// Magic, version, payload size, CRC-32.
constexpr size_t kHeaderSize = 8 + 4 + 8 + 4;

/// Appends little-endian fields to a byte buffer.
class Writer {
public:
  void bytes(const void *data, size_t size) {
    buffer.append(static_cast<const char *>(data), size);
  }
  template <typename T> void scalar(T value) { bytes(&value, sizeof(T)); }
  void string(const std::string &text) {
    scalar<uint32_t>(uint32_t(text.size()));
    bytes(text.data(), text.size());
  }
  void floats(const std::vector<float> &values) {
    bytes(values.data(), values.size() * sizeof(float));
  }
  std::string buffer;
};

/// Reads fields from a verified payload; offsets in errors are the file's.
class Reader {
public:
  Reader(const std::string &data, size_t offset, const std::string &path)
      : data(data), offset(offset), path(path) {}
  bool bytes(void *out, size_t size, const char *what) {
    if (!error.empty())
      return false;
    if (size > data.size() - offset) {
      fail(std::string("the payload ends in ") + what);
      return false;
    }
    std::memcpy(out, data.data() + offset, size);
    offset += size;
    return true;
  }
  template <typename T> T scalar(const char *what) {
    T value{};
    bytes(&value, sizeof(T), what);
    return value;
  }
  std::string string(const char *what) {
    uint32_t size = scalar<uint32_t>(what);
    std::string text;
    if (error.empty() && size > data.size() - offset)
      fail(std::string("implausible length of ") + what);
    else
      text.resize(size);
    bytes(text.data(), text.size(), what);
    return text;
  }
  void floats(std::vector<float> &values, size_t count, const char *what) {
    if (error.empty() && count > (data.size() - offset) / sizeof(float)) {
      fail(std::string("implausible size of ") + what);
      return;
    }
    values.resize(count);
    bytes(values.data(), count * sizeof(float), what);
  }
  void fail(const std::string &message) {
    if (error.empty())
      error = path + ": error: at offset " + std::to_string(offset) + ": " +
              message;
  }
  bool atEnd() const { return offset == data.size(); }
  std::string error;

private:
  const std::string &data;
  size_t offset;
  const std::string &path;
};

uint32_t crc32Of(const char *data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes lengths as uInt: feed large payloads in pieces.
  while (size > 0) {
    uInt piece = uInt(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef *>(data), piece);
    data += piece;
    size -= piece;
  }
  return uint32_t(crc);
}

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
  payload.string(spec.name);
  payload.scalar<uint32_t>(uint32_t(spec.params.size()));
  for (const ParamSpec &param : spec.params) {
    payload.string(param.name);
    payload.scalar<uint32_t>(uint32_t(param.shape.size()));
    for (int64_t d : param.shape)
      payload.scalar<int64_t>(d);
  }
  writeRunState(payload, state);
  for (size_t i = 0; i < spec.params.size(); ++i) {
    payload.floats(params.values[i]);
    payload.floats(params.firstMoments[i]);
    payload.floats(params.secondMoments[i]);
  }
  Writer file;
  file.bytes(kMagic, sizeof(kMagic));
  file.scalar<uint32_t>(kVersion);
  file.scalar<uint64_t>(payload.buffer.size());
  file.scalar<uint32_t>(crc32Of(payload.buffer.data(), payload.buffer.size()));
  file.bytes(payload.buffer.data(), payload.buffer.size());
  return std::move(file.buffer);
}

bool readWholeFile(const std::string &path, std::string &data,
                   std::string &error) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = path + ": error: cannot open the checkpoint: " +
            std::strerror(errno);
    return false;
  }
  char chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0)
    data.append(chunk, got);
  bool failed = std::ferror(file);
  std::fclose(file);
  if (failed)
    error = path + ": error: cannot read the checkpoint";
  return !failed;
}

template <typename T> T fieldAt(const std::string &data, size_t offset) {
  T value;
  std::memcpy(&value, data.data() + offset, sizeof(T));
  return value;
}

/// Checks the header against the file: magic, version, size, checksum.
/// Returns "" or what is wrong.
std::string checkHeader(const std::string &data) {
  if (data.size() >= 8 && !std::memcmp(data.data(), kOldMagic, 8))
    return "unsupported checkpoint format (written before format version " +
           std::to_string(kVersion) + "); train again or re-run init";
  if (data.size() < 8 || std::memcmp(data.data(), kMagic, 8) != 0)
    return data.size() < 8 && !std::memcmp(data.data(), kMagic, data.size())
               ? "truncated at offset " + std::to_string(data.size()) +
                     ", in the header"
               : "not a bnnc checkpoint";
  if (data.size() < kHeaderSize)
    return "truncated at offset " + std::to_string(data.size()) +
           ", in the header";
  uint32_t version = fieldAt<uint32_t>(data, 8);
  if (version != kVersion)
    return "unknown checkpoint format version " + std::to_string(version) +
           " (this binary reads version " + std::to_string(kVersion) + ")";
  uint64_t size = fieldAt<uint64_t>(data, 12);
  uint64_t available = data.size() - kHeaderSize;
  if (available < size)
    return "truncated at offset " + std::to_string(data.size()) +
           " (the header promises " + std::to_string(kHeaderSize + size) +
           " bytes)";
  if (available > size)
    return std::to_string(available - size) +
           " bytes after the end of the checkpoint at offset " +
           std::to_string(kHeaderSize + size);
  uint32_t stored = fieldAt<uint32_t>(data, 20);
  uint32_t actual = crc32Of(data.data() + kHeaderSize, size);
  if (stored != actual) {
    char text[96];
    std::snprintf(text, sizeof(text),
                  "checksum mismatch (CRC-32 %08x stored, %08x computed): "
                  "the file is damaged",
                  stored, actual);
    return text;
  }
  return "";
}

void readPayload(Reader &in, CheckpointContents &contents) {
  contents.model = in.string("the model name");
  uint32_t count = in.scalar<uint32_t>("the param count");
  for (uint32_t i = 0; i < count && in.error.empty(); ++i) {
    CheckpointContents::Param param;
    param.name = in.string("a param name");
    uint32_t rank = in.scalar<uint32_t>("a param shape");
    for (uint32_t d = 0; d < rank && in.error.empty(); ++d)
      param.shape.push_back(in.scalar<int64_t>("a param shape"));
    contents.params.push_back(std::move(param));
  }
  readRunState(in, contents.state);
  for (CheckpointContents::Param &param : contents.params) {
    size_t size = 1;
    for (int64_t d : param.shape)
      size *= size_t(d);
    in.floats(param.value, size, "a param");
    in.floats(param.firstMoment, size, "an Adam moment");
    in.floats(param.secondMoment, size, "an Adam moment");
  }
  if (in.error.empty() && !in.atEnd())
    in.fail("bytes after the last param");
}

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// "" if the checkpoint's fingerprint is the model's, else what differs.
std::string compareFingerprint(const CheckpointContents &contents,
                               const ModelSpec &spec) {
  std::string of = "checkpoint of model '" + contents.model + "'";
  if (contents.model != spec.name)
    return of + ", not '" + spec.name + "'";
  if (contents.params.size() != spec.params.size())
    return of + " with " + std::to_string(contents.params.size()) +
           " params; this binary's has " + std::to_string(spec.params.size());
  for (size_t i = 0; i < spec.params.size(); ++i) {
    const CheckpointContents::Param &param = contents.params[i];
    const ParamSpec &expected = spec.params[i];
    if (param.name != expected.name)
      return of + " with param " + std::to_string(i) + " '" + param.name +
             "'; this binary's is '" + expected.name + "'";
    if (param.shape != expected.shape)
      return of + " with " + param.name + " " + formatShape(param.shape) +
             "; this binary's is " + formatShape(expected.shape);
  }
  return "";
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
  if (!readWholeFile(path, data, error))
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
