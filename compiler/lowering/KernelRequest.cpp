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
  case KernelRequest::Kind::BatchNormSignTrain: stem = "batchnorm_sign_train"; break;
  case KernelRequest::Kind::BatchNormSteGrad: stem = "batchnorm_ste_grad"; break;
  case KernelRequest::Kind::BatchNormSign: stem = "batchnorm_sign"; break;
  }
  request.symbol = "bnnk_" + std::string(stem) + (request.binary ? "_binary" : "") +
                   "_" + std::to_string(request.length) +
                   (request.units ? "x" + std::to_string(request.units) : "");
  // Kernels that differ only in epsilon or momentum need distinct names.
  for (const KernelRequest &existing : requests)
    if (existing.symbol == request.symbol)
      request.symbol += "_" + std::to_string(requests.size());
  requests.push_back(request);
  return request.symbol;
}
