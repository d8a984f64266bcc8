//===- EmitCpp.h - A model's execution plan as C++ ------------------------===//
//
// Turns a module that has been through bnn-generate-train-step into one C++
// file: the training step and the evaluation function as sequences of
// bnnrt kernel calls over workspace buffers, the model's params and
// hyper-parameters as a bnnrt::ModelSpec, and a main() that runs the
// compiled binary's command line. `bnnc compile` builds it against libbnnrt.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_CODEGEN_EMITCPP_H
#define BNNC_CODEGEN_EMITCPP_H

#include "lowering/KernelRequest.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace bnnc {

struct EmitOptions {
  /// For testing the differential checker only: "FAMILY:ARG1,ARG2" swaps
  /// the buffers bound to two arguments of every call of a kernel family.
  std::string swapKernelArgs;
  /// Also request the bf16 variants of the convolution gradients, chosen at
  /// run time by `backward = "bf16"`. Off for the CUDA target: Halide 14's
  /// NVPTX code generation cannot lower bf16 arithmetic.
  bool bf16Kernels = true;
  /// --target=host-cuda: also emit the train step and the evaluation with
  /// every kernel compiled for an NVIDIA GPU (KernelRequest::cuda) and
  /// their buffers mirrored on it (bnnrt/CudaDevice.h); the binary runs
  /// them, or the host functions with `--device cpu`.
  bool cudaKernels = false;
  /// `bnnc compile --mpi`: the binary opens MPI's collectives
  /// (bnnrt/MpiCollectives.h, libbnnrt_mpi) for its bnn.allreduce ops and
  /// its trainer; without it they run as one process.
  bool mpi = false;
};

/// Writes the plan of the (single) bnn.model function of `module` and its
/// train step. `sourceName` is recorded for --help. With `halideKernels`,
/// packed ops call AOT Halide kernels, requested there; without it they call
/// bnnrt's C++ kernels. Fails with a diagnostic on an op it cannot place.
mlir::LogicalResult emitCpp(mlir::ModuleOp module, llvm::StringRef sourceName,
                            llvm::raw_ostream &os,
                            std::vector<KernelRequest> *halideKernels = nullptr,
                            const EmitOptions &options = {});

} // namespace bnnc

#endif // BNNC_CODEGEN_EMITCPP_H
