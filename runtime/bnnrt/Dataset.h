//===- Dataset.h - Labelled image sets for training and evaluation --------===//
//
// Loads IDX files (MNIST / Fashion-MNIST format, gzipped or raw) and CIFAR-10
// binary batches. Pixels are scaled to [-1, 1]. Every problem with a file is
// an error naming the file and the byte offset where it was found.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_DATASET_H
#define BNNRT_DATASET_H

#include <cstdint>
#include <string>
#include <vector>

namespace bnnrt {

struct Dataset {
  int64_t count = 0;
  int64_t channels = 0, height = 0, width = 0;
  std::vector<float> images; // count × channels × height × width, in [-1, 1]
  std::vector<int32_t> labels;
  int32_t numClasses = 0; // 1 + the largest label

  int64_t imageSize() const { return channels * height * width; }
  const float *image(int64_t index) const {
    return images.data() + index * imageSize();
  }
};

/// Where `fashion-mnist:train` and `fashion-mnist:test` are looked for: the
/// Debian package's folder, or $BNN_FASHION_MNIST_DIR when set.
std::string fashionMnistDir();

/// Loads a dataset from a spec:
///   fashion-mnist:train | fashion-mnist:test
///   idx:IMAGES,LABELS          (IDX files, each gzipped or not)
///   cifar10:BATCH[,BATCH...]   (CIFAR-10 binary batches)
/// Returns false with `error` = "FILE: error: ..." (with "at offset N" where
/// it applies).
bool loadDataset(const std::string &spec, Dataset &dataset, std::string &error);

/// The IDX pair loader behind `idx:` and `fashion-mnist:`.
bool loadIdx(const std::string &imagesPath, const std::string &labelsPath,
             Dataset &dataset, std::string &error);

/// CIFAR-10 binary: records of 1 label byte + 3072 pixel bytes (R, G, B
/// planes of 32×32).
bool loadCifar10(const std::vector<std::string> &paths, Dataset &dataset,
                 std::string &error);

} // namespace bnnrt

#endif // BNNRT_DATASET_H
