//===- KernelLibrary.h - Compile the plan's Halide kernels ahead of time --===//
#ifndef BNNC_LOWERING_KERNELLIBRARY_H
#define BNNC_LOWERING_KERNELLIBRARY_H

#include "lowering/KernelRequest.h"

#include "Halide.h"

#include <string>
#include <vector>

namespace bnnc {

/// The pipeline of a request (algorithm and CPU schedule) and its
/// arguments in call order: inputs, then the output buffer.
struct Kernel {
  Halide::Pipeline pipeline;
  std::vector<Halide::ImageParam> inputs; // the outputs follow, in order
  /// Adam's scalars, passed after the input buffers when `usesScalars`.
  Halide::Param<float> learningRate{"lr"};
  Halide::Param<int32_t> step{"step"};
  bool usesScalars = false;
  std::vector<Halide::Argument> arguments() const {
    std::vector<Halide::Argument> all(inputs.begin(), inputs.end());
    if (usesScalars) {
      all.push_back(learningRate);
      all.push_back(step);
    }
    return all;
  }
};
/// Throws Halide::Error on a bad request.
Kernel buildKernel(const KernelRequest &request);

/// Compiles each request to `<dir>/<symbol>.o` for the host (without the
/// Halide runtime), and the runtime once to `<dir>/halide_runtime.o`.
/// Appends the object files to `objects`; returns false with `error` set.
bool compileKernels(const std::vector<KernelRequest> &requests,
                    const std::string &dir, std::vector<std::string> &objects,
                    std::string &error);

/// The lowered statement (loop nests after scheduling) of every request,
/// for `bnnc --emit=halide`.
bool lowerKernels(const std::vector<KernelRequest> &requests,
                  std::string &text, std::string &error);

} // namespace bnnc

#endif // BNNC_LOWERING_KERNELLIBRARY_H
