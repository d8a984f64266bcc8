#include "lowering/KernelRequest.h"

std::string bnnc::requestKernel(std::vector<KernelRequest> &requests,
                                KernelRequest request) {
  for (const KernelRequest &existing : requests)
    if (existing.sameKernel(request))
      return existing.symbol;
  const char *stem =
      request.kind == KernelRequest::Kind::PackSigns ? "pack_signs" : "xnor_dense";
  request.symbol = "bnnk_" + std::string(stem) + "_" +
                   std::to_string(request.length) +
                   (request.units ? "x" + std::to_string(request.units) : "");
  requests.push_back(request);
  return request.symbol;
}
