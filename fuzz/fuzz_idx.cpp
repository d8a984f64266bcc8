//===- fuzz_idx.cpp - The IDX loader (images and labels) ------------------===//
//
// The input is split into an images file and a labels file (see
// splitInput), each raw or gzipped, and loaded as `idx:IMAGES,LABELS`.
//
//===----------------------------------------------------------------------===//
#include "FuzzInput.h"

#include "bnnrt/Dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *labels, *images;
  size_t labelsSize, imagesSize;
  bnnc::fuzz::splitInput(data, size, labels, labelsSize, images, imagesSize);
  bnnc::fuzz::MemoryFile imagesFile(images, imagesSize);
  bnnc::fuzz::MemoryFile labelsFile(labels, labelsSize);
  bnnrt::Dataset dataset;
  std::string error;
  if (!bnnrt::loadDataset("idx:" + imagesFile.path() + "," + labelsFile.path(),
                          dataset, error)) {
    if (error.empty())
      std::abort();
    return 0;
  }
  // A loaded set is consistent with its header.
  if (dataset.count <= 0 ||
      dataset.images.size() != size_t(dataset.count * dataset.imageSize()) ||
      dataset.labels.size() != size_t(dataset.count) || dataset.numClasses < 1)
    std::abort();
  return 0;
}
