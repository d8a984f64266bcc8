//===- KernelCall.h - How an op lowers to a call of a kernel family -------===//
//
// An op of the execution plan describes its kernel call once, through
// KernelCallOpInterface (dialect/lib/KernelCalls.cpp): which kernel family
// (compiler/lowering/KernelFamilies.def), its static sizes and attributes,
// and which value goes to which argument of the family's signature, by
// name, with the layout the kernel sees it in. The plan emitter turns that
// into a call (Halide or bnnrt's C++ kernels) without knowing the op.
//
//===----------------------------------------------------------------------===//
#ifndef BNN_KERNELCALL_H
#define BNN_KERNELCALL_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

namespace bnn {

/// How a tensor is laid out as a kernel buffer (extents innermost first).
enum class KernelView {
  Rows,       // [n, d1, ...] -> (d1·..., n)
  Channels,   // [n, C, rest...] -> (Π rest, C, n)
  Image,      // [n, C, H, W] -> (W, H, C, n)
  ConvWeight, // [O, C, KH, KW] -> (KW, KH, C, O)
  Matrix,     // static [a, b] -> (b, a)
  Flat,       // every element -> (size)
  Words,      // packed signs [d0, ..., words] (i64) -> (words, ..., d0), u64
  PackedChannels, // signs packed along channels [n, rest..., words] -> (words, Π rest, n)
  Batch,      // one value per batch item -> (n); labels are i32
};

/// A value bound to a signature argument.
struct KernelOperand {
  llvm::StringRef arg;
  mlir::Value value;
  KernelView view;
};

struct KernelCall {
  llvm::StringRef family; // a stem of KernelFamilies.def
  int64_t length = 0, units = 0;
  bool binary = false; // sign-quantised weights (Adam: clip)
  bool scaled = false; // binary weights scaled by α = mean |w| per unit
  bool bias = false;
  /// batchnorm_sign(_train): writes the signs packed along channels;
  /// conv2d_grad_weight: reads its input as such packed signs;
  /// dense_grad_weight: reads its input as signs packed along rows.
  bool packed = false;
  /// xnor_conv2d: sign(batchnorm(·)) fused (a per-channel threshold), after
  /// a fused `pool` × `pool` max pool (1: none).
  bool fusedSign = false;
  int64_t pool = 1;
  /// xnor_conv2d: a fused max pool without the sign (training) also
  /// writes each window's winner; maxpool_grad: reads those winners.
  bool winners = false;
  /// xnor_conv2d: also writes the batch statistics' sums of its product.
  bool batchSums = false;
  /// Batch-statistics batchnorm and its backward pass: the per-channel sums
  /// come in as `batch_sums` / `grad_sums` (synchronised batchnorm).
  bool givenSums = false;
  double epsilon = 0.0, momentum = 0.0;
  /// Convolution / pooling window (filters = channels for pooling).
  struct Window {
    int64_t channels = 0, height = 0, width = 0, filters = 0;
    int64_t kernelH = 0, kernelW = 0, stride = 1, pad = 0;
  } window;

  /// Buffers read and written, by argument name. An output bound to an
  /// operand (not a result) is written in place (Adam's param).
  llvm::SmallVector<KernelOperand> inputs, outputs;
  /// Outputs that replace a param's state after the call (new running
  /// statistics): argument name and the param they update.
  llvm::SmallVector<KernelOperand> stateUpdates;
  /// Outputs nobody reads but the kernel writes (shaped like `value`).
  llvm::SmallVector<KernelOperand> scratch;
  /// Scalar arguments: the function argument that holds them.
  llvm::SmallVector<std::pair<llvm::StringRef, mlir::Value>> scalars;
  /// Adam: the param whose runtime-owned moments are m/v and new_m/new_v.
  mlir::Value adamMoments;
  /// Losses: the output whose mean over the batch is the step's loss.
  llvm::StringRef stepLoss;

  /// Arithmetic per batch item, for the profiler: 2 per multiply-add of a
  /// product (float, or XNOR-popcount bits when `binaryOps`); 0 = not counted.
  double opsPerItem = 0;
  bool binaryOps = false;

  void input(llvm::StringRef arg, mlir::Value value, KernelView view) {
    inputs.push_back({arg, value, view});
  }
  void output(llvm::StringRef arg, mlir::Value value, KernelView view) {
    outputs.push_back({arg, value, view});
  }
};

} // namespace bnn

#endif // BNN_KERNELCALL_H
