//===- fuzz_checkpoint.cpp - The checkpoint reader ------------------------===//
//
// A fuzzed file (see FuzzModel.h) through readCheckpoint and, for the small
// model, loadLatestCheckpoint (with the fallback to a previous file).
//
//===----------------------------------------------------------------------===//
#include "FuzzInput.h"
#include "FuzzModel.h"

#include "bnnrt/Checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes = bnnc::fuzz::fileOf(data, size, bnnc::fuzz::kCheckpointFormat);
  bnnc::fuzz::MemoryFile file(reinterpret_cast<const uint8_t *>(bytes.data()),
                              bytes.size());
  std::string error;
  bnnrt::CheckpointContents contents;
  if (bnnrt::readCheckpoint(file.path(), contents, error)) {
    // Every tensor has the size its shape says.
    for (const auto &param : contents.params)
      if (param.value.size() != bnnrt::fileformat::elementCount(param.shape) ||
          param.firstMoment.size() != param.value.size() ||
          param.secondMoment.size() != param.value.size())
        std::abort();
  } else if (error.empty()) {
    std::abort();
  }

  const bnnrt::ModelSpec &spec = bnnc::fuzz::smallModel();
  bnnrt::Params params(spec.params);
  bnnrt::RunState state;
  // The file as the damaged latest checkpoint and as the previous one.
  for (bool latest : {true, false}) {
    std::string loaded, warning, error;
    std::string path = latest ? file.path() : "/nonexistent/checkpoint.bin";
    std::string previous = latest ? "/nonexistent/checkpoint.prev.bin" : file.path();
    bnnc::fuzz::checkLoad(bnnrt::loadLatestCheckpoint(path, previous, spec,
                                                      params, state, loaded,
                                                      warning, error),
                          params, error);
  }
  return 0;
}
