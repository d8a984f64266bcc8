//===- fuzz_cifar10.cpp - The CIFAR-10 binary loader ----------------------===//
//
// The input is split into two batch files (see splitInput), raw or gzipped,
// loaded together as `cifar10:A,B`.
//
//===----------------------------------------------------------------------===//
#include "FuzzInput.h"

#include "bnnrt/Dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *first, *second;
  size_t firstSize, secondSize;
  bnnc::fuzz::splitInput(data, size, first, firstSize, second, secondSize);
  bnnc::fuzz::MemoryFile a(first, firstSize), b(second, secondSize);
  bnnrt::Dataset dataset;
  std::string error;
  if (!bnnrt::loadDataset("cifar10:" + a.path() + "," + b.path(), dataset,
                          error)) {
    if (error.empty())
      std::abort();
    return 0;
  }
  if (dataset.count <= 0 || dataset.imageSize() != 3 * 32 * 32 ||
      dataset.images.size() != size_t(dataset.count * dataset.imageSize()) ||
      dataset.labels.size() != size_t(dataset.count))
    std::abort();
  for (int32_t label : dataset.labels)
    if (label < 0 || label >= dataset.numClasses)
      std::abort();
  return 0;
}
