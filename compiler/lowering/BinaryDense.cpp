#include "lowering/BinaryDense.h"

using namespace Halide;

bnnc::BinaryDenseForward bnnc::defineBinaryDenseForward() {
  BinaryDenseForward kernel;
  RDom word(0, kernel.activations.dim(0).extent(), "word");
  Expr differing = kernel.activations(word, kernel.row) ^
                   kernel.weights(word, kernel.unit);
  kernel.mismatches(kernel.unit, kernel.row) = 0;
  kernel.mismatches(kernel.unit, kernel.row) +=
      cast<int32_t>(popcount(differing));
  kernel.output(kernel.unit, kernel.row) =
      kernel.length - 2 * kernel.mismatches(kernel.unit, kernel.row);
  return kernel;
}

void bnnc::scheduleBinaryDenseForwardCPU(BinaryDenseForward &kernel) {
  kernel.output.parallel(kernel.row).vectorize(kernel.unit, 8, TailStrategy::GuardWithIf);
  kernel.mismatches.compute_at(kernel.output, kernel.row)
      .vectorize(kernel.unit, 8, TailStrategy::GuardWithIf);
  kernel.mismatches.update().vectorize(kernel.unit, 8, TailStrategy::GuardWithIf);
}

std::vector<uint64_t> bnnc::packSigns(const float *values, int rows,
                                      int length) {
  int words = wordsPerRow(length);
  std::vector<uint64_t> packed(size_t(rows) * words, 0);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < length; ++i)
      if (values[size_t(r) * length + i] < 0.0f)
        packed[size_t(r) * words + i / 64] |= uint64_t(1) << (i % 64);
  return packed;
}
