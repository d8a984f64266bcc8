//===- Compare.cpp - Compare the results of two executors -----------------===//
#include "reference/Compare.h"

#include "bnnrt/Reference.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace bnnc::reference {

namespace {

/// The reading half of bnnrt's checkpoint format (runtime/Checkpoint.cpp):
/// magic, model name, run state, hyper-parameters, then per param its name
/// and three float arrays (value, Adam m, Adam v), each with its length.
class Reader {
public:
  Reader(FILE *file, const std::string &path) : file(file), path(path) {}

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
  void floats(std::vector<float> &values, const char *what) {
    uint64_t size = scalar<uint64_t>(what);
    if (!error.empty())
      return;
    if (size > (uint64_t(1) << 36)) {
      fail("implausible tensor size");
      return;
    }
    values.resize(size_t(size));
    bytes(values.data(), values.size() * sizeof(float), what);
  }
  void fail(const std::string &message) {
    if (error.empty())
      error = path + ": error: at offset " + std::to_string(std::ftell(file)) +
              ": " + message;
  }

  std::string error;

private:
  FILE *file;
  const std::string &path;
};

} // namespace

bool readCheckpointTensors(const std::string &path, CheckpointTensors &out,
                           std::string &error) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = path + ": error: cannot open the checkpoint: " + std::strerror(errno);
    return false;
  }
  Reader in(file, path);
  char magic[8];
  if (in.bytes(magic, sizeof(magic), "the header") &&
      std::memcmp(magic, "BNNCKPT1", sizeof(magic)) != 0)
    in.fail("not a bnnc checkpoint");
  out.model = in.string("the model name");
  out.epochsDone = in.scalar<int64_t>("the run state");
  out.steps = in.scalar<int64_t>("the run state");
  out.seed = in.scalar<uint64_t>("the run state");
  uint32_t hyperCount = in.scalar<uint32_t>("the hyper-parameters");
  for (uint32_t i = 0; i < hyperCount && in.error.empty(); ++i) {
    in.string("the hyper-parameters");
    in.scalar<double>("the hyper-parameters");
  }
  uint32_t count = in.scalar<uint32_t>("the params");
  out.params.clear();
  for (uint32_t i = 0; i < count && in.error.empty(); ++i) {
    CheckpointTensors::Param param;
    param.name = in.string("a param name");
    in.floats(param.value, "a param");
    in.floats(param.firstMoment, "a first moment");
    in.floats(param.secondMoment, "a second moment");
    out.params.push_back(std::move(param));
  }
  char extra;
  if (in.error.empty() && std::fread(&extra, 1, 1, file) == 1)
    in.fail("bytes after the last param");
  std::fclose(file);
  error = in.error;
  return error.empty();
}

TensorDiff compareTensors(const std::string &name, const std::vector<float> &a,
                          const std::vector<float> &b, const Tolerance &tolerance,
                          const std::vector<double> *allowance) {
  TensorDiff diff;
  diff.name = name;
  diff.elements = int64_t(b.size());
  if (a.size() != b.size()) {
    diff.problem = std::to_string(a.size()) + " elements against " +
                   std::to_string(b.size());
    return diff;
  }
  for (float y : b)
    if (!std::isnan(y))
      diff.scale = std::max(diff.scale, std::fabs(double(y)));
  double floor = tolerance.atol + tolerance.stol * diff.scale;
  for (size_t i = 0; i < a.size(); ++i) {
    double x = a[i], y = b[i];
    if (std::isnan(x) || std::isnan(y)) {
      if (!(std::isnan(x) && std::isnan(y))) {
        ++diff.failures;
        diff.maxAbs = diff.maxRel = INFINITY;
      }
      continue;
    }
    if (x == y) // equal, infinities included
      continue;
    double abs = std::fabs(x - y);
    double magnitude = std::max(std::fabs(x), std::fabs(y));
    diff.maxAbs = std::max(diff.maxAbs, abs);
    if (magnitude > 0.0)
      diff.maxRel = std::max(diff.maxRel, abs / magnitude);
    double limit = floor + tolerance.rtol * std::fabs(y);
    if (abs <= limit)
      continue;
    if (allowance && i < allowance->size() && abs <= limit + (*allowance)[i])
      ++diff.allowed;
    else
      ++diff.failures;
  }
  return diff;
}

std::vector<double> adamAllowance(const CheckpointTensors::Param &a,
                                  const CheckpointTensors::Param &b,
                                  int64_t step, double lr) {
  size_t size = b.value.size();
  std::vector<double> allowance(size, 0.0);
  if (a.firstMoment.size() != size || a.secondMoment.size() != size ||
      b.firstMoment.size() != size || b.secondMoment.size() != size || step < 1)
    return allowance;
  bnnrt::reference::AdamState adam;
  double correction1 = 1.0 - std::pow(double(adam.beta1), double(step));
  double correction2 = 1.0 - std::pow(double(adam.beta2), double(step));
  auto update = [&](float m, float v) {
    return (double(m) / correction1) /
           (std::sqrt(std::max(0.0, double(v) / correction2)) + adam.epsilon);
  };
  for (size_t i = 0; i < size; ++i)
    allowance[i] = lr * std::fabs(update(a.firstMoment[i], a.secondMoment[i]) -
                                  update(b.firstMoment[i], b.secondMoment[i]));
  return allowance;
}

} // namespace bnnc::reference
