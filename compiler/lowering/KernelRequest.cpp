#include "lowering/KernelRequest.h"

std::string bnnc::requestKernel(std::vector<KernelRequest> &requests,
                                KernelRequest request) {
  for (const KernelRequest &existing : requests)
    if (existing.sameKernel(request))
      return existing.symbol;
  const char *stem = "";
  switch (request.kind) {
  case KernelRequest::Kind::PackSigns: stem = "pack_signs"; break;
  case KernelRequest::Kind::XnorDense: stem = "xnor_dense"; break;
  case KernelRequest::Kind::DenseForward: stem = "dense"; break;
  case KernelRequest::Kind::DenseGradInput: stem = "dense_grad_input"; break;
  case KernelRequest::Kind::DenseGradWeight: stem = "dense_grad_weight"; break;
  }
  request.symbol = "bnnk_" + std::string(stem) + (request.binary ? "_binary" : "") +
                   "_" + std::to_string(request.length) +
                   (request.units ? "x" + std::to_string(request.units) : "");
  requests.push_back(request);
  return request.symbol;
}
