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
  case KernelRequest::Kind::BatchNormTrain: stem = "batchnorm_train"; break;
  case KernelRequest::Kind::BatchNormGrad: stem = "batchnorm_grad"; break;
  case KernelRequest::Kind::BatchNormEval: stem = "batchnorm"; break;
  case KernelRequest::Kind::BiasGrad: stem = "bias_grad"; break;
  case KernelRequest::Kind::Adam: stem = "adam"; break;
  case KernelRequest::Kind::Sign: stem = "sign"; break;
  case KernelRequest::Kind::HTanh: stem = "htanh"; break;
  case KernelRequest::Kind::Relu: stem = "relu"; break;
  case KernelRequest::Kind::SteGrad: stem = "ste_grad"; break;
  case KernelRequest::Kind::ReluGrad: stem = "relu_grad"; break;
  case KernelRequest::Kind::Add: stem = "add"; break;
  case KernelRequest::Kind::CrossEntropy: stem = "cross_entropy"; break;
  case KernelRequest::Kind::SquaredHinge: stem = "squared_hinge"; break;
  case KernelRequest::Kind::Conv2D: stem = "conv2d"; break;
  case KernelRequest::Kind::Conv2DGradInput: stem = "conv2d_grad_input"; break;
  case KernelRequest::Kind::Conv2DGradWeight: stem = "conv2d_grad_weight"; break;
  case KernelRequest::Kind::MaxPool: stem = "maxpool"; break;
  case KernelRequest::Kind::AvgPool: stem = "avgpool"; break;
  case KernelRequest::Kind::MaxPoolGrad: stem = "maxpool_grad"; break;
  case KernelRequest::Kind::AvgPoolGrad: stem = "avgpool_grad"; break;
  case KernelRequest::Kind::XnorDenseBatchNormSignTrain:
    stem = "xnor_dense_batchnorm_sign_train";
    break;
  case KernelRequest::Kind::XnorDenseBatchNormSign:
    stem = "xnor_dense_batchnorm_sign";
    break;
  }
  bool flagged = request.binary;
  const char *flag = request.kind == KernelRequest::Kind::Adam ? "_clip" : "_binary";
  request.symbol = "bnnk_" + std::string(stem) + (flagged ? flag : "") +
                   (request.bias ? "_bias" : "");
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
  // Kernels that differ only in epsilon or momentum need distinct names.
  for (const KernelRequest &existing : requests)
    if (existing.symbol == request.symbol)
      request.symbol += "_" + std::to_string(requests.size());
  requests.push_back(request);
  return request.symbol;
}
