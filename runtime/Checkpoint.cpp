#include "bnnrt/Checkpoint.h"

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

using namespace bnnrt;

namespace {

constexpr char kMagic[8] = {'B', 'N', 'N', 'C', 'K', 'P', 'T', '1'};

class Writer {
public:
  explicit Writer(FILE *file) : file(file) {}
  void bytes(const void *data, size_t size) {
    ok = ok && std::fwrite(data, 1, size, file) == size;
  }
  template <typename T> void scalar(T value) { bytes(&value, sizeof(T)); }
  void string(const std::string &text) {
    scalar<uint32_t>(uint32_t(text.size()));
    bytes(text.data(), text.size());
  }
  void floats(const std::vector<float> &values) {
    scalar<uint64_t>(values.size());
    bytes(values.data(), values.size() * sizeof(float));
  }
  bool ok = true;

private:
  FILE *file;
};

class Reader {
public:
  Reader(FILE *file, std::string path) : file(file), path(std::move(path)) {}
  bool bytes(void *data, size_t size, const char *what) {
    if (!error.empty())
      return false;
    long offset = std::ftell(file);
    if (std::fread(data, 1, size, file) != size)
      error = path + ": error: at offset " + std::to_string(offset) +
              ": file ends in " + what;
    return error.empty();
  }
  template <typename T> T scalar(const char *what) {
    T value{};
    bytes(&value, sizeof(T), what);
    return value;
  }
  std::string string(const char *what) {
    uint32_t size = scalar<uint32_t>(what);
    if (size > (1u << 20)) {
      fail("implausible string length");
      return {};
    }
    std::string text(size, '\0');
    bytes(text.data(), size, what);
    return text;
  }
  bool floats(std::vector<float> &values, const std::string &what) {
    uint64_t size = scalar<uint64_t>(what.c_str());
    if (error.empty() && size != values.size())
      fail(what + " has " + std::to_string(size) + " values, the model " +
           std::to_string(values.size()));
    return bytes(values.data(), values.size() * sizeof(float), what.c_str());
  }
  void fail(const std::string &message) {
    if (error.empty())
      error = path + ": error: at offset " + std::to_string(std::ftell(file)) +
              ": " + message;
  }
  std::string error;

private:
  FILE *file;
  std::string path;
};

} // namespace

bool bnnrt::saveCheckpoint(const std::string &path, const ModelSpec &spec,
                           const Params &params, const RunState &state,
                           std::string &error) {
  std::string temporary = path + ".tmp";
  FILE *file = std::fopen(temporary.c_str(), "wb");
  if (!file) {
    error = temporary + ": error: cannot write the checkpoint";
    return false;
  }
  Writer out(file);
  out.bytes(kMagic, sizeof(kMagic));
  out.string(spec.name);
  out.scalar<int64_t>(state.epochsDone);
  out.scalar<int64_t>(state.steps);
  out.scalar<uint64_t>(state.seed);
  out.scalar<uint32_t>(uint32_t(state.hyperParams.size()));
  for (const auto &[name, value] : state.hyperParams) {
    out.string(name);
    out.scalar<double>(value);
  }
  out.scalar<uint32_t>(uint32_t(spec.params.size()));
  for (size_t i = 0; i < spec.params.size(); ++i) {
    out.string(spec.params[i].name);
    out.floats(params.values[i]);
    out.floats(params.firstMoments[i]);
    out.floats(params.secondMoments[i]);
  }
  bool flushed = out.ok && std::fflush(file) == 0 && fsync(fileno(file)) == 0;
  bool closed = std::fclose(file) == 0;
  if (!flushed || !closed ||
      std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    error = path + ": error: writing the checkpoint failed: " +
            std::strerror(errno);
    return false;
  }
  return true;
}

bool bnnrt::loadCheckpoint(const std::string &path, const ModelSpec &spec,
                           Params &params, RunState &state,
                           std::string &error) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = path + ": error: cannot open the checkpoint";
    return false;
  }
  Reader in(file, path);
  char magic[8];
  if (in.bytes(magic, sizeof(magic), "the header") &&
      std::memcmp(magic, kMagic, sizeof(magic)) != 0)
    in.fail("not a bnnc checkpoint");
  std::string model = in.string("the model name");
  if (in.error.empty() && model != spec.name)
    in.fail("checkpoint of model '" + model + "', not '" + spec.name + "'");
  state.epochsDone = in.scalar<int64_t>("the run state");
  state.steps = in.scalar<int64_t>("the run state");
  state.seed = in.scalar<uint64_t>("the run state");
  uint32_t hyperCount = in.scalar<uint32_t>("the hyper-parameters");
  state.hyperParams.clear();
  for (uint32_t i = 0; i < hyperCount && in.error.empty(); ++i) {
    std::string name = in.string("the hyper-parameters");
    state.hyperParams[name] = in.scalar<double>("the hyper-parameters");
  }
  uint32_t count = in.scalar<uint32_t>("the params");
  if (in.error.empty() && count != spec.params.size())
    in.fail("it holds " + std::to_string(count) + " params, the model " +
            std::to_string(spec.params.size()));
  for (size_t i = 0; i < spec.params.size() && in.error.empty(); ++i) {
    std::string name = in.string("a param name");
    if (in.error.empty() && name != spec.params[i].name)
      in.fail("param " + std::to_string(i) + " is '" + name +
              "', the model's is '" + spec.params[i].name + "'");
    in.floats(params.values[i], name);
    in.floats(params.firstMoments[i], name + " (Adam m)");
    in.floats(params.secondMoments[i], name + " (Adam v)");
  }
  std::fclose(file);
  error = in.error;
  return error.empty();
}
