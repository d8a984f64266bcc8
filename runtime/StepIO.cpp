//===- StepIO.cpp - Files of the `step` command ---------------------------===//

#include "bnnrt/StepIO.h"

#include "bnnrt/Files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

// The formats are little-endian and read and written as raw memory.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "StepIO.cpp assumes a little-endian host"
#endif

using namespace bnnrt;

namespace {

constexpr int64_t kBatchHeaderBytes = 16;  // batch, features
constexpr int64_t kOutputHeaderBytes = 20; // batch, classes, loss

std::string errorAt(const std::string &path, int64_t offset) {
  return path + ": error: at offset " + std::to_string(offset) + ": ";
}

bool readWholeFile(const std::string &path, std::vector<char> &bytes,
                   std::string &error) {
  FILE *file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = path + ": error: cannot open: " + std::strerror(errno);
    return false;
  }
  bytes.clear();
  char chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file)) > 0)
    bytes.insert(bytes.end(), chunk, chunk + got);
  bool failed = std::ferror(file);
  std::fclose(file);
  if (failed)
    error = path + ": error: cannot read: " + std::strerror(errno);
  return !failed;
}

template <typename T> T load(const std::vector<char> &bytes, int64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

template <typename T> void append(std::vector<char> &bytes, const T *values,
                                  int64_t count) {
  const char *data = reinterpret_cast<const char *>(values);
  bytes.insert(bytes.end(), data, data + count * int64_t(sizeof(T)));
}

template <typename T> void append(std::vector<char> &bytes, T value) {
  append(bytes, &value, 1);
}

/// The size of a file of a header then `rows` × `width` 4-byte values, or
/// -1 when that does not fit in 63 bits.
int64_t expectedSize(int64_t header, int64_t rows, int64_t width) {
  int64_t values, payload, total;
  if (__builtin_mul_overflow(rows, width, &values) ||
      __builtin_mul_overflow(values, int64_t(4), &payload) ||
      __builtin_add_overflow(payload, header, &total))
    return -1;
  return total;
}

/// Checks that a file of `actual` bytes has the `expected` size its header
/// implies; `parts` names the parts of the file, in order, and where each
/// ends, to say in which one a short file ends.
bool checkFileSize(const std::string &path, int64_t actual, int64_t expected,
                   const std::vector<std::pair<const char *, int64_t>> &parts,
                   std::string &error) {
  if (expected < 0) {
    error = errorAt(path, 0) + "the sizes in the header are implausibly large";
    return false;
  }
  if (actual > expected) {
    error = errorAt(path, expected) + std::to_string(actual - expected) +
            " bytes after the end: the header implies exactly " +
            std::to_string(expected) + " bytes";
    return false;
  }
  for (const auto &[part, end] : parts)
    if (actual < end) {
      error = errorAt(path, actual) + "file ends in " + part +
              ": the header implies " + std::to_string(expected) +
              " bytes, the file has " + std::to_string(actual);
      return false;
    }
  return true;
}

bool checkHeader(const std::string &path, const std::vector<char> &bytes,
                 int64_t headerBytes, std::string &error) {
  if (int64_t(bytes.size()) >= headerBytes)
    return true;
  error = errorAt(path, int64_t(bytes.size())) + "file ends in the header: " +
          std::to_string(headerBytes) + " bytes expected";
  return false;
}

/// A count from the header at `offset` must be at least 1.
bool checkCount(const std::string &path, int64_t value, int64_t offset,
                const char *what, std::string &error) {
  if (value >= 1)
    return true;
  error = errorAt(path, offset) + what + " is " + std::to_string(value) +
          "; it must be at least 1";
  return false;
}

int64_t labelsOffset(const Batch &batch) {
  return kBatchHeaderBytes + batch.size * batch.features * 4;
}

} // namespace

bool bnnrt::readBatch(const std::string &path, Batch &out,
                      std::string &error) {
  std::vector<char> bytes;
  if (!readWholeFile(path, bytes, error) ||
      !checkHeader(path, bytes, kBatchHeaderBytes, error))
    return false;
  out.size = load<int64_t>(bytes, 0);
  out.features = load<int64_t>(bytes, 8);
  if (!checkCount(path, out.size, 0, "the batch size", error) ||
      !checkCount(path, out.features, 8, "the feature count", error))
    return false;
  int64_t expected = expectedSize(kBatchHeaderBytes, out.size, out.features + 1);
  int64_t inputsEnd = expected < 0 ? 0 : labelsOffset(out);
  if (!checkFileSize(path, int64_t(bytes.size()), expected,
                     {{"the inputs", inputsEnd}, {"the labels", expected}},
                     error))
    return false;
  out.x.resize(size_t(out.size * out.features));
  out.labels.resize(size_t(out.size));
  std::memcpy(out.x.data(), bytes.data() + kBatchHeaderBytes,
              out.x.size() * sizeof(float));
  std::memcpy(out.labels.data(), bytes.data() + inputsEnd,
              out.labels.size() * sizeof(int32_t));
  for (int64_t i = 0; i < out.size; ++i)
    if (out.labels[size_t(i)] < 0) {
      error = errorAt(path, inputsEnd + 4 * i) + "the label of item " +
              std::to_string(i) + " is " +
              std::to_string(out.labels[size_t(i)]) + "; labels are >= 0";
      return false;
    }
  return true;
}

bool bnnrt::checkBatchShape(const std::string &path, const Batch &batch,
                            int64_t features, int64_t classes,
                            std::string &error) {
  if (batch.features != features) {
    error = errorAt(path, 8) + "the batch has " +
            std::to_string(batch.features) +
            " features per item; the model takes " + std::to_string(features);
    return false;
  }
  for (int64_t i = 0; i < batch.size; ++i)
    if (batch.labels[size_t(i)] < 0 || batch.labels[size_t(i)] >= classes) {
      error = errorAt(path, labelsOffset(batch) + 4 * i) + "the label of item " +
              std::to_string(i) + " is " +
              std::to_string(batch.labels[size_t(i)]) + "; the model has " +
              std::to_string(classes) + " classes (0 to " +
              std::to_string(classes - 1) + ")";
      return false;
    }
  return true;
}

bool bnnrt::writeBatch(const std::string &path, const Batch &batch,
                       std::string &error) {
  if (int64_t(batch.x.size()) != batch.size * batch.features ||
      int64_t(batch.labels.size()) != batch.size) {
    error = path + ": error: the batch's arrays do not match its sizes";
    return false;
  }
  std::vector<char> bytes;
  append(bytes, batch.size);
  append(bytes, batch.features);
  append(bytes, batch.x.data(), int64_t(batch.x.size()));
  append(bytes, batch.labels.data(), int64_t(batch.labels.size()));
  return writeFileAtomically(path, bytes.data(), bytes.size(), error);
}

bool bnnrt::writeStepOutputs(const std::string &path, int64_t batch,
                             int64_t classes, float loss, const float *logits,
                             std::string &error) {
  if (batch < 0 || classes < 0 || (!logits && batch * classes > 0)) {
    error = path + ": error: no valid step results to write";
    return false;
  }
  std::vector<char> bytes;
  append(bytes, batch);
  append(bytes, classes);
  append(bytes, loss);
  append(bytes, logits, batch * classes);
  return writeFileAtomically(path, bytes.data(), bytes.size(), error);
}

bool bnnrt::readStepOutputs(const std::string &path, StepOutputs &out,
                            std::string &error) {
  std::vector<char> bytes;
  if (!readWholeFile(path, bytes, error) ||
      !checkHeader(path, bytes, kOutputHeaderBytes, error))
    return false;
  out.batch = load<int64_t>(bytes, 0);
  out.classes = load<int64_t>(bytes, 8);
  out.loss = load<float>(bytes, 16);
  if (!checkCount(path, out.batch, 0, "the batch size", error) ||
      !checkCount(path, out.classes, 8, "the class count", error))
    return false;
  int64_t expected = expectedSize(kOutputHeaderBytes, out.batch, out.classes);
  if (!checkFileSize(path, int64_t(bytes.size()), expected,
                     {{"the logits", expected}}, error))
    return false;
  out.logits.resize(size_t(out.batch * out.classes));
  std::memcpy(out.logits.data(), bytes.data() + kOutputHeaderBytes,
              out.logits.size() * sizeof(float));
  return true;
}
