#include "lowering/algorithms/Algorithms.h"

namespace bnnc {

void defineAlgorithm(Kernel &kernel) {
  using namespace algorithms;
  using Kind = KernelRequest::Kind;
  switch (kernel.request().kind) {
  case Kind::PackSigns: return definePackSigns(kernel);
  case Kind::XnorDense: return defineXnorDense(kernel);
  case Kind::PackChannels: return definePackChannels(kernel);
  case Kind::FlattenSigns: return defineFlattenSigns(kernel);
  case Kind::XnorConv2D: return defineXnorConv2D(kernel);
  case Kind::XnorDenseBatchNormSignTrain: return defineXnorDenseBatchNormSign(kernel, true);
  case Kind::XnorDenseBatchNormSign: return defineXnorDenseBatchNormSign(kernel, false);
  case Kind::DenseForward: return defineDenseForward(kernel);
  case Kind::DenseGradInput: return defineDenseGradInput(kernel);
  case Kind::DenseGradWeight: return defineDenseGradWeight(kernel);
  case Kind::BatchNormTrain: return defineBatchNormTrain(kernel, false);
  case Kind::BatchNormSignTrain: return defineBatchNormTrain(kernel, true);
  case Kind::BatchNormGrad: return defineBatchNormGrad(kernel, false);
  case Kind::BatchNormSteGrad: return defineBatchNormGrad(kernel, true);
  case Kind::BatchNormEval: return defineBatchNormEval(kernel);
  case Kind::BatchNormSums: return defineBatchNormSums(kernel);
  case Kind::BatchNormGradSums: return defineBatchNormGradSums(kernel);
  case Kind::BatchNormSign: return defineBatchNormSign(kernel);
  case Kind::BiasGrad: return defineBiasGrad(kernel);
  case Kind::Adam: return defineAdam(kernel);
  case Kind::Sign: case Kind::HTanh: case Kind::Relu:
  case Kind::SteGrad: case Kind::ReluGrad: case Kind::Add:
    return defineElementwise(kernel);
  case Kind::CrossEntropy: case Kind::SquaredHinge: return defineLoss(kernel);
  case Kind::Conv2D: return defineConv2D(kernel);
  case Kind::Conv2DGradInput: return defineConv2DGradInput(kernel);
  case Kind::Conv2DGradWeight: return defineConv2DGradWeight(kernel);
  case Kind::MaxPool: case Kind::AvgPool: return definePool(kernel);
  case Kind::MaxPoolGrad: case Kind::AvgPoolGrad: return definePoolGrad(kernel);
  }
}

} // namespace bnnc
