//===- CppKernelSet.h - bnnrt's C++ kernels as calls of kernel families ---===//
//
// `--kernels=cpp` runs the plan on bnnrt's C++ kernels instead of Halide's.
// Each family maps to one C++ statement with named holes: `{arg}` is the
// buffer bound to a signature argument (nullptr when an optional one is
// unbound), `{size:arg}` its element count, `{channels:arg}` its
// [n, C, spatial] batchnorm shape, `{spatial:arg}` the spatial extent of
// an [n, C, ...] tensor, and {length}, {units}, {quantization},
// {epsilon}, {momentum}, {conv}, {pool}, {words}, {rows:arg}, {scratch},
// {param}, {pool_window} come from the call.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_CODEGEN_CPPKERNELSET_H
#define BNNC_CODEGEN_CPPKERNELSET_H

#include "lowering/KernelRequest.h"

namespace bnnc {

/// The C++ statement(s) of a family's call, with holes (packed signs in or
/// out, `request.packed`, have kernels of their own).
const char *cppKernelTemplate(const KernelRequest &request);

} // namespace bnnc

#endif // BNNC_CODEGEN_CPPKERNELSET_H
