//===- HalideInfo.h - What the Halide backend will target -----------------===//
//
// Plain functions so that tools compiled without exceptions (and without
// Halide.h) can ask.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_LOWERING_HALIDEINFO_H
#define BNNC_LOWERING_HALIDEINFO_H

#include <string>

namespace bnnc {
/// Version of the Halide library bnnc was built against, e.g. "14.0.0".
std::string halideVersion();
/// Halide's description of this machine, e.g. "x86-64-linux-avx-avx2-...".
std::string halideHostTarget();
} // namespace bnnc

#endif // BNNC_LOWERING_HALIDEINFO_H
