//===- fuzz_packed_weights.cpp - The packed-weights (.bnnw) reader --------===//
//
// A fuzzed file (see FuzzModel.h) through loadPackedWeights for the small
// model: an error, or every param at its shape's size.
//
//===----------------------------------------------------------------------===//
#include "FuzzInput.h"
#include "FuzzModel.h"

#include "bnnrt/PackedWeights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes = bnnc::fuzz::fileOf(data, size, bnnc::fuzz::kWeightsFormat);
  bnnc::fuzz::MemoryFile file(reinterpret_cast<const uint8_t *>(bytes.data()),
                              bytes.size());
  const bnnrt::ModelSpec &spec = bnnc::fuzz::smallModel();
  bnnrt::Params params(spec.params);
  std::string error;
  bnnc::fuzz::checkLoad(
      bnnrt::loadPackedWeights(file.path(), spec, params, error), params,
      error);
  return 0;
}
