//===- KernelRequest.h - A kernel the execution plan calls, and its signature ===//
//
// Plain data, without Halide.h: the C++ plan emitter asks for kernels by
// family and static size, and the Halide side (KernelLibrary) compiles them
// ahead of time. Identical requests share one kernel.
//
// The signature of a family (signatureOf) is the one place that says which
// buffers and scalars a kernel takes, in which order: the generator creates
// its Halide parameters and outputs from it and the plan emitter binds
// values to it by name, so the order is written down once.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_LOWERING_KERNELREQUEST_H
#define BNNC_LOWERING_KERNELREQUEST_H

#include <cstdint>
#include <string>
#include <vector>

namespace bnnc {

struct KernelRequest {
  enum class Kind {
#define KERNEL_FAMILY(kind, stem) kind,
#include "lowering/KernelFamilies.def"
  };
  /// Sizes of a convolution or pooling window (filters = channels for
  /// pooling).
  struct Geometry {
    int64_t channels = 0, height = 0, width = 0, filters = 0;
    int64_t kernelH = 0, kernelW = 0, stride = 1, pad = 0;
    bool operator==(const Geometry &o) const {
      return channels == o.channels && height == o.height && width == o.width &&
             filters == o.filters && kernelH == o.kernelH &&
             kernelW == o.kernelW && stride == o.stride && pad == o.pad;
    }
  };
  Kind kind;
  int64_t length = 0; // signs a row / input features / spatial size
  int64_t units = 0;  // output units / channels
  std::string symbol; // the C function name in the object file
  bool binary = false; // dense and conv kernels: sign-quantised weights; Adam: clip
  double epsilon = 0.0, momentum = 0.0; // the batchnorm kernels
  Geometry conv;                        // convolution and pooling kernels
  bool bias = false; // dense and conv2d forward: a bias input follows the weight
  /// Dense and conv kernels with `binary`: the signs are scaled by α = mean
  /// |w| per output unit (binary_scaled). After the fields that braced
  /// initialisers set by position, so that those keep their meaning.
  bool scaled = false;
  /// batchnorm_sign(_train): the signs are written packed along channels,
  /// (word, spatial, batch) u64; conv2d_grad_weight: its input is read as
  /// such packed signs, (word, x, y, batch); dense_grad_weight: its input
  /// is signs packed along rows, (word, batch).
  bool packed = false;
  /// xnor_conv2d: sign(batchnorm(·)) fused as a per-channel threshold
  /// (inputs gamma, beta, running_mean, running_var; `epsilon`), after a
  /// fused `pool` × `pool` max pool of the product (1: none).
  bool fusedSign = false;
  int64_t pool = 1;
  /// xnor_conv2d with `pool` > 1 and no fused sign (training): the pooled
  /// product and, as a second output, the index y · pool + x of each
  /// window's first maximum (i32). maxpool_grad: reads those winners
  /// (input `winners`) instead of searching the input again.
  bool winners = false;
  /// xnor_conv2d (training): also writes `batch_sums` (filter, Σx | Σx² |
  /// count) of its (pooled) product, each image summed in the loop that
  /// computes it; batchnorm_sign_train reads them (givenSums).
  bool batchSums = false;
  /// conv2d_grad_input (stride 1) and conv2d_grad_weight: products in
  /// bfloat16 (`vdpbf16ps`), sums in f32 — the run configuration's
  /// `backward = "bf16"`. The plan calls it instead of the f32 kernel.
  bool bf16 = false;
  /// conv2d_grad_weight of packed ±1 inputs (dy quantised to int8 per
  /// filter) and conv2d_grad_input of ±1 weights (dy quantised per image):
  /// the products in `vpdpbusd` (AVX-512 VNNI), sums in i32 — the run
  /// configuration's `backward = "int8"`.
  bool int8 = false;
  /// Compiled for an NVIDIA GPU (Halide's CUDA back end, the CUDA hand
  /// schedules): the plan of a `--target=host-cuda` binary calls it when
  /// the run uses the GPU, and the host kernel otherwise.
  bool cuda = false;
  /// batchnorm_train, batchnorm_sign_train, batchnorm_grad,
  /// batchnorm_ste_grad: the per-channel sums behind the statistics are an
  /// input (`batch_sums` [3, C] / `grad_sums` [2, C], over every process of
  /// a data-parallel run) instead of summed over `x`. batchnorm_grad_sums
  /// uses `fusedSign` for the STE window.
  bool givenSums = false;

  /// The extents of each signature argument (-1 for the batch). Part of
  /// the kernel's identity: calls with other extents (packing the signs of
  /// weights and of activations) get their own kernel, whose schedule the
  /// autoschedulers plan for those extents.
  std::vector<std::vector<int64_t>> argExtents;
  /// Not part of the identity: the op and location of every call.
  std::vector<std::string> callers;

  bool sameKernel(const KernelRequest &other) const {
    return kind == other.kind && length == other.length &&
           units == other.units && binary == other.binary &&
           epsilon == other.epsilon && momentum == other.momentum &&
           conv == other.conv && bias == other.bias && scaled == other.scaled &&
           packed == other.packed && fusedSign == other.fusedSign && pool == other.pool &&
           winners == other.winners && batchSums == other.batchSums &&
           bf16 == other.bf16 && int8 == other.int8 && cuda == other.cuda &&
           givenSums == other.givenSums &&
           argExtents == other.argExtents;
  }
};

/// Whether the plan also gets a bf16 variant of `request` (bf16 set) to
/// call when the run configuration says `backward = "bf16"`: the
/// convolution gradients (the input gradient at stride 1, with binary
/// unscaled weights).
bool hasBf16Variant(const KernelRequest &request);

/// Whether the plan also gets an int8 variant of `request` (int8 set) for
/// `backward = "int8"`: the weight gradient of a binary convolution whose
/// input is packed signs. Kernels without one run their bf16 variant.
bool hasInt8Variant(const KernelRequest &request);

/// The family name of a kind ("xnor_dense", ...).
const char *familyName(KernelRequest::Kind kind);

//===--- signatures -------------------------------------------------------===//

enum class ArgRole { Input, Scalar, Output };
enum class ArgType { F32, I32, U64 };

/// One parameter of a kernel's C function.
struct KernelArg {
  std::string name; // also the Halide parameter / output Func name
  ArgRole role;
  ArgType type;
  int rank; // 0 for scalars
};

/// Inputs, then scalars, then outputs: the order of the C function that
/// Halide generates (outputs last, in the order the pipeline lists them).
using KernelSignature = std::vector<KernelArg>;

/// The signature of a request's family (some depend on the request, e.g.
/// an optional bias).
KernelSignature signatureOf(const KernelRequest &request);

/// Returns the symbol of an equal request in `requests` (adding the caller
/// to it), adding the request if new.
std::string requestKernel(std::vector<KernelRequest> &requests,
                          KernelRequest request);

} // namespace bnnc

#endif // BNNC_LOWERING_KERNELREQUEST_H
