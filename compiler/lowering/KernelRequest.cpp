#include "lowering/KernelRequest.h"

#include <algorithm>

const char *bnnc::familyName(KernelRequest::Kind kind) {
  switch (kind) {
#define KERNEL_FAMILY(kind, stem)                                              \
  case KernelRequest::Kind::kind:                                              \
    return stem;
#include "lowering/KernelFamilies.def"
  }
  return "unknown";
}

bool bnnc::hasBf16Variant(const KernelRequest &request) {
  using Kind = KernelRequest::Kind;
  // The input gradient's operands are dy and the weights: only ±1 weights
  // (binary, unscaled) are exact in bf16, and only those are tested.
  return request.kind == Kind::Conv2DGradWeight ||
         (request.kind == Kind::Conv2DGradInput && request.conv.stride == 1 &&
          request.binary && !request.scaled);
}

bool bnnc::hasInt8Variant(const KernelRequest &request) {
  // The weight gradient over packed signs (dy quantised per filter) and the
  // input gradient of ±1 weights at stride 1 and ≥ 16 input channels (whole
  // 16-lane vectors: see scheduleConvGradInput; dy quantised per image, with
  // stochastic rounding: with round-to-nearest the example CNN had ended
  // 1.4 points worse than f32 over 2 seeds; docs/performance.md).
  using Kind = KernelRequest::Kind;
  return (request.kind == Kind::Conv2DGradWeight && request.packed) ||
         (request.kind == Kind::Conv2DGradInput && request.conv.stride == 1 &&
          request.conv.channels >= 16 && request.binary && !request.scaled);
}

std::string bnnc::requestKernel(std::vector<KernelRequest> &requests,
                                KernelRequest request) {
  for (KernelRequest &existing : requests)
    if (existing.sameKernel(request)) {
      for (const std::string &caller : request.callers)
        if (std::find(existing.callers.begin(), existing.callers.end(), caller) ==
            existing.callers.end())
          existing.callers.push_back(caller);
      return existing.symbol;
    }
  bool flagged = request.binary;
  const char *flag = request.kind == KernelRequest::Kind::Adam ? "_clip" : "_binary";
  request.symbol = "bnnk_" + std::string(familyName(request.kind)) +
                   (flagged ? flag : "") + (request.scaled ? "_scaled" : "") +
                   (request.bias ? "_bias" : "") + (request.fusedSign ? "_sign" : "") +
                   (request.pool > 1 ? "_pool" + std::to_string(request.pool) : "") +
                   (request.winners ? "_winners" : "") + (request.batchSums ? "_sums" : "") +
                   (request.packed ? "_packed" : "") + (request.bf16 ? "_bf16" : "") + (request.int8 ? "_int8" : "") +
                   (request.givenSums ? "_sync" : "");
  if (request.length || request.units)
    request.symbol += "_" + std::to_string(request.length) +
                      (request.units ? "x" + std::to_string(request.units) : "");
  if (request.conv.channels) {
    const KernelRequest::Geometry &g = request.conv;
    request.symbol += "_" + std::to_string(g.channels) + "x" +
                      std::to_string(g.height) + "x" + std::to_string(g.width) +
                      "_k" + std::to_string(g.kernelH) + "s" +
                      std::to_string(g.stride) + "p" + std::to_string(g.pad) +
                      "_f" + std::to_string(g.filters);
  }
  if (request.cuda)
    request.symbol += "_cuda";
  // Kernels that differ only in the extents of their arguments are named
  // after their first argument's (e.g. signs of a weight, not of a batch);
  // those that differ in epsilon or momentum get a number.
  auto taken = [&](const std::string &symbol) {
    return std::any_of(requests.begin(), requests.end(),
                       [&](const KernelRequest &r) { return r.symbol == symbol; });
  };
  if (taken(request.symbol) && !request.argExtents.empty()) {
    std::string extents;
    for (int64_t extent : request.argExtents.front())
      extents += (extents.empty() ? "" : "x") + (extent < 0 ? std::string("n") : std::to_string(extent));
    request.symbol += "_" + extents;
  }
  if (taken(request.symbol))
    request.symbol += "_" + std::to_string(requests.size());
  requests.push_back(request);
  return request.symbol;
}
