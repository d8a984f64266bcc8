//===- StepIO.h - Files of the `step` command (differential testing) ------===//
//
// `NAME step` runs one evaluation and one train step on a batch read from a
// file and writes what they returned, so another executor (e.g. a reference
// interpreter that links bnnrt) can run the same batch and compare. Both
// formats are little-endian and headed by their sizes:
//
//   batch file:   int64 batch; int64 features; float32 x[batch*features];
//                 int32 labels[batch]
//   step outputs: int64 batch; int64 classes; float32 loss;
//                 float32 logits[batch*classes]
//
// Every problem with a file is a one-line error naming the file and the
// byte offset where it was found.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_STEPIO_H
#define BNNRT_STEPIO_H

#include <cstdint>
#include <string>
#include <vector>

namespace bnnrt {

struct Batch {
  int64_t size = 0;     // items (rows)
  int64_t features = 0; // values per item
  std::vector<float> x; // size × features
  std::vector<int32_t> labels;
};

struct StepOutputs {
  int64_t batch = 0, classes = 0;
  float loss = 0;
  std::vector<float> logits; // batch × classes
};

/// Reads a batch file: at least one item and one feature, labels not
/// negative, exactly the size its header implies.
bool readBatch(const std::string &path, Batch &out, std::string &error);

/// Checks a batch read from `path` against a model that takes `features`
/// values per item and has `classes` classes; errors point into the file.
bool checkBatchShape(const std::string &path, const Batch &batch,
                     int64_t features, int64_t classes, std::string &error);

/// Writes a batch file, atomically.
bool writeBatch(const std::string &path, const Batch &batch,
                std::string &error);

/// Writes a step's results, atomically.
bool writeStepOutputs(const std::string &path, int64_t batch, int64_t classes,
                      float loss, const float *logits, std::string &error);

/// Reads what writeStepOutputs wrote.
bool readStepOutputs(const std::string &path, StepOutputs &out,
                     std::string &error);

} // namespace bnnrt

#endif // BNNRT_STEPIO_H
