//===- FuzzModel.h - A small model and framed files for the file readers --===//
//
// The checkpoint and weights readers check a CRC-32 before they read the
// payload, so random bytes almost never get past the header. The first
// input byte chooses: even, the rest is a payload framed with a correct
// header (the payload's parser is fuzzed); odd, the rest is the whole file
// (the header checks are fuzzed).
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_FUZZ_FUZZMODEL_H
#define BNNC_FUZZ_FUZZMODEL_H

#include "FileFormat.h"

#include "bnnrt/Model.h"

#include <cstdlib>

namespace bnnc::fuzz {

/// The frames of runtime/Checkpoint.cpp (version 2) and
/// runtime/PackedWeights.cpp (version 1).
inline const bnnrt::fileformat::Format kCheckpointFormat = {
    {'B', 'N', 'N', 'C', 'H', 'K', 'P', 'T'}, 2, "checkpoint"};
inline const bnnrt::fileformat::Format kWeightsFormat = {
    {'B', 'N', 'N', 'W', 'E', 'I', 'G', 'H'}, 1, "weights file"};

/// What the seeds were written for: a binary weight, a batchnorm shift and a
/// running statistic.
inline const bnnrt::ModelSpec &smallModel() {
  static const bnnrt::ModelSpec spec = [] {
    bnnrt::ModelSpec model;
    model.name = "tiny";
    bnnrt::ParamSpec weight, shift, mean;
    weight.name = "w0";
    weight.shape = {4, 3};
    weight.clip = weight.signsOnly = true;
    shift.name = "beta0";
    shift.shape = {3};
    mean.name = "mean0";
    mean.shape = {3};
    mean.state = true;
    model.params = {weight, shift, mean};
    return model;
  }();
  return spec;
}

/// The file the input stands for (see above).
inline std::string fileOf(const uint8_t *data, size_t size,
                          const bnnrt::fileformat::Format &format) {
  if (size == 0)
    return "";
  std::string rest(reinterpret_cast<const char *>(data + 1), size - 1);
  return data[0] % 2 ? rest : bnnrt::fileformat::frame(format, rest);
}

/// What every load of the small model must give: either params of their
/// shapes' sizes, or an error that says what failed.
inline void checkLoad(bool loaded, const bnnrt::Params &params,
                      const std::string &error) {
  if (!loaded) {
    if (error.empty())
      std::abort();
    return;
  }
  const bnnrt::ModelSpec &spec = smallModel();
  for (size_t i = 0; i < spec.params.size(); ++i)
    if (params.values[i].size() != size_t(spec.params[i].size()))
      std::abort();
}

} // namespace bnnc::fuzz

#endif // BNNC_FUZZ_FUZZMODEL_H
