//===- BinaryDense.h - XNOR-popcount dense layer in Halide ----------------===//
//
// The forward dot product of a binary dense layer. Activations and weights
// are signs packed 64 to a word (bit 1 for -1, bit 0 for +1, padding bits 0
// in both); for vectors of length n,
//   dot(a, w) = n - 2 * popcount(a XOR w),
// because each differing sign contributes -1 and each equal one +1.
// Algorithm and schedule are kept apart, as in Halide's apps.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_LOWERING_BINARYDENSE_H
#define BNNC_LOWERING_BINARYDENSE_H

#include "Halide.h"

#include <cstdint>
#include <vector>

namespace bnnc {

struct BinaryDenseForward {
  Halide::ImageParam activations{Halide::UInt(64), 2, "activations"}; // (word, row)
  Halide::ImageParam weights{Halide::UInt(64), 2, "weights"};         // (word, unit)
  Halide::Param<int32_t> length{"length"}; // n: real (unpadded) vector length
  Halide::Var unit{"unit"}, row{"row"};
  Halide::Func mismatches{"mismatches"};
  Halide::Func output{"output"}; // (unit, row), int32
};

/// The algorithm only: what each output is.
BinaryDenseForward defineBinaryDenseForward();

/// A CPU schedule: rows in parallel, units vectorised.
void scheduleBinaryDenseForwardCPU(BinaryDenseForward &kernel);

/// Packs `rows` vectors of `length` floats (row-major) into sign bits:
/// `wordsPerRow(length)` words a row, bit i of word j is x[64 j + i] < 0.
std::vector<uint64_t> packSigns(const float *values, int rows, int length);
inline int wordsPerRow(int length) { return (length + 63) / 64; }

} // namespace bnnc

#endif // BNNC_LOWERING_BINARYDENSE_H
