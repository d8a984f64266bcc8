//===- KernelSignature.cpp - The argument list of every kernel family -----===//
//
// The one place that says in which order a kernel takes its buffers. Layouts
// (innermost first): rows (length, batch); per-channel values (spatial,
// channel, batch); images (x, y, channel, batch); conv weights (kernel x,
// kernel y, in channel, out channel); per-channel vectors (channel); packed
// signs (word, the other axes innermost first): (word, x, y, batch) for an
// image packed along channels, (word, kernel x, kernel y, out channel) for
// conv weights.
//
//===----------------------------------------------------------------------===//

#include "lowering/KernelRequest.h"

namespace bnnc {
namespace {

using Kind = KernelRequest::Kind;

KernelArg in(const char *name, int rank, ArgType type = ArgType::F32) {
  return {name, ArgRole::Input, type, rank};
}
KernelArg out(const char *name, int rank, ArgType type = ArgType::F32) {
  return {name, ArgRole::Output, type, rank};
}
KernelArg scalar(const char *name, ArgType type) {
  return {name, ArgRole::Scalar, type, 0};
}

/// gamma, beta, running mean, running variance: the state of a batchnorm.
void appendBatchNormParams(KernelSignature &signature) {
  for (const char *name : {"gamma", "beta", "running_mean", "running_var"})
    signature.push_back(in(name, 1));
}

/// The outputs of batch-statistics batchnorm after the normalised values.
void appendBatchStatistics(KernelSignature &signature) {
  for (const char *name :
       {"mean", "inv_std", "new_running_mean", "new_running_var"})
    signature.push_back(out(name, 1));
}

KernelSignature withOptionalBias(KernelSignature head, bool bias,
                                 KernelArg output) {
  if (bias)
    head.push_back(in("bias", 1));
  head.push_back(output);
  return head;
}

} // namespace

KernelSignature signatureOf(const KernelRequest &request) {
  const ArgType u64 = ArgType::U64;
  switch (request.kind) {
  case Kind::PackSigns:
    return {in("x", 2), out("packed", 2, u64)};
  case Kind::XnorDense:
    return {in("input", 2, u64), in("weight", 2, u64), out("output", 2)};
  case Kind::PackChannels:
    return {in("x", 4), out("packed", 4, u64)};
  case Kind::FlattenSigns:
    return {in("input", 4, u64), out("packed", 2, u64)};
  case Kind::XnorConv2D: {
    KernelSignature signature{in("input", 4, u64), in("weight", 4, u64)};
    if (request.fusedSign)
      appendBatchNormParams(signature);
    signature.push_back(out("output", 4, request.packed ? u64 : ArgType::F32));
    if (request.winners)
      signature.push_back(out("winners", 4, ArgType::I32)); // (x, y, filter, batch)
    if (request.batchSums)
      signature.push_back(out("batch_sums", 2)); // (filter, Σx | Σx² | count)
    return signature;
  }
  case Kind::DenseForward:
    return withOptionalBias({in("x", 2), in("w", 2)}, request.bias, out("y", 2));
  case Kind::DenseGradInput:
    return {in("w", 2), in("dy", 2), out("dx", 2)};
  case Kind::DenseGradWeight:
    return {in("x", 2, request.packed ? u64 : ArgType::F32), in("w", 2), in("dy", 2),
            out("dw", 2)};
  case Kind::BatchNormTrain:
  case Kind::BatchNormSignTrain: {
    KernelSignature signature{in("x", 3)};
    appendBatchNormParams(signature);
    if (request.givenSums)
      signature.push_back(in("batch_sums", 2)); // (channel, Σx | Σx² | count)
    signature.push_back(out("output", 3, request.packed ? u64 : ArgType::F32));
    appendBatchStatistics(signature);
    return signature;
  }
  case Kind::BatchNormGrad:
  case Kind::BatchNormSteGrad:
  case Kind::BatchNormGradSums: {
    // beta: for the STE window of sign(batchnorm).
    bool window = request.kind == Kind::BatchNormSteGrad ||
                  (request.kind == Kind::BatchNormGradSums && request.fusedSign);
    KernelSignature signature{in("x", 3), in("gamma", 1)};
    if (window)
      signature.push_back(in("beta", 1));
    for (KernelArg arg : {in("dy", 3), in("mean", 1), in("inv_std", 1)})
      signature.push_back(arg);
    if (request.kind == Kind::BatchNormGradSums) {
      signature.push_back(out("sums", 2)); // (channel, Σdy | Σdy·x̂)
      return signature;
    }
    if (request.givenSums)
      signature.push_back(in("grad_sums", 2));
    for (KernelArg arg : {out("dx", 3), out("dgamma", 1), out("dbeta", 1)})
      signature.push_back(arg);
    return signature;
  }
  case Kind::BatchNormSums:
    return {in("x", 3), out("sums", 2)}; // (channel, Σx | Σx² | count)
  case Kind::BatchNormSign:
  case Kind::BatchNormEval: {
    KernelSignature signature{in("x", 3)};
    appendBatchNormParams(signature);
    signature.push_back(out("output", 3, request.packed ? u64 : ArgType::F32));
    return signature;
  }
  case Kind::BiasGrad:
    return {in("dy", 3), out("db", 1)};
  case Kind::Adam:
    return {in("param", 1),          in("grad", 1),
            in("m", 1),              in("v", 1),
            scalar("lr", ArgType::F32), scalar("step", ArgType::I32),
            out("new_param", 1),     out("new_m", 1),
            out("new_v", 1)};
  case Kind::Sign:
  case Kind::HTanh:
  case Kind::Relu:
    return {in("x", 2), out("y", 2)};
  case Kind::SteGrad:
  case Kind::ReluGrad:
    return {in("x", 2), in("dy", 2), out("dx", 2)};
  case Kind::Add:
    return {in("lhs", 2), in("rhs", 2), out("y", 2)};
  case Kind::CrossEntropy:
  case Kind::SquaredHinge:
    return {in("logits", 2), in("labels", 1, ArgType::I32),
            out("row_loss", 1), out("dlogits", 2)};
  case Kind::Conv2D: {
    if (!request.fusedSign)
      return withOptionalBias({in("input", 4), in("weight", 4)}, request.bias,
                              out("output", 4));
    KernelSignature signature{in("input", 4), in("weight", 4)};
    appendBatchNormParams(signature);
    signature.push_back(out("output", 4, request.packed ? u64 : ArgType::F32));
    return signature;
  }
  case Kind::Conv2DGradInput:
    return {in("weight", 4), in("dy", 4), out("dx", 4)};
  case Kind::Conv2DGradWeight:
    return {in("input", 4, request.packed ? u64 : ArgType::F32), in("weight", 4),
            in("dy", 4), out("dw", 4)};
  case Kind::MaxPool:
  case Kind::AvgPool:
    return {in("input", 4), out("output", 4)};
  case Kind::MaxPoolGrad:
    if (request.winners)
      return {in("winners", 4, ArgType::I32), in("dy", 4), out("dx", 4)};
    return {in("input", 4), in("dy", 4), out("dx", 4)};
  case Kind::AvgPoolGrad:
    return {in("dy", 4), out("dx", 4)};
  case Kind::XnorDenseBatchNormSignTrain: {
    KernelSignature signature{in("input", 2, u64), in("weight", 2, u64)};
    appendBatchNormParams(signature);
    signature.push_back(out("output", 3, request.packed ? u64 : ArgType::F32));
    signature.push_back(out("product", 2));
    appendBatchStatistics(signature);
    return signature;
  }
  case Kind::XnorDenseBatchNormSign: {
    KernelSignature signature{in("input", 2, u64), in("weight", 2, u64)};
    appendBatchNormParams(signature);
    signature.push_back(out("output", 3, request.packed ? u64 : ArgType::F32));
    return signature;
  }
  }
  return {};
}

} // namespace bnnc
