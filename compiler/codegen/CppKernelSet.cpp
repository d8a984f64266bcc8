#include "codegen/CppKernelSet.h"

const char *bnnc::cppKernelTemplate(const KernelRequest &request) {
  using Kind = KernelRequest::Kind;
  if (request.givenSums) // synchronised batchnorm: the sums are an input
    switch (request.kind) {
    case Kind::BatchNormSignTrain:
      if (request.packed)
        return "kernels::batchnormSignTrainPacked({x}, {gamma}, {beta}, {output}, {mean}, "
               "{inv_std}, {running_mean}, {running_var}, {channels:x}, {epsilon}, {momentum}, "
               "{batch_sums});";
      return "kernels::batchnormSignTrain({x}, {gamma}, {beta}, {output}, {mean}, {inv_std}, "
             "{running_mean}, {running_var}, {channels:x}, {epsilon}, {momentum}, {batch_sums});";
    case Kind::BatchNormTrain:
      return "reference::batchnormTrainForward({x}, {gamma}, {beta}, {output}, {mean}, "
             "{inv_std}, {running_mean}, {running_var}, {channels:x}, {epsilon}, {momentum}, "
             "{batch_sums});";
    case Kind::BatchNormSteGrad:
      return "kernels::batchnormSteGrad({x}, {gamma}, {beta}, {dy}, {mean}, {inv_std}, {dx}, "
             "{dgamma}, {dbeta}, {channels:x}, {grad_sums});";
    case Kind::BatchNormGrad:
      return "reference::batchnormBackward({x}, {gamma}, {dy}, {mean}, {inv_std}, {dx}, "
             "{dgamma}, {dbeta}, {channels:x}, {grad_sums});";
    default:
      return "";
    }
  if (request.packed)
    switch (request.kind) {
    case Kind::BatchNormSignTrain:
      return "kernels::batchnormSignTrainPacked({x}, {gamma}, {beta}, {output}, {mean}, "
             "{inv_std}, {running_mean}, {running_var}, {channels:x}, {epsilon}, {momentum});";
    case Kind::BatchNormSign:
      return "kernels::batchnormSignPacked({x}, {gamma}, {beta}, {running_mean}, {running_var}, "
             "{output}, {channels:x}, {epsilon});";
    case Kind::XnorConv2D:
      return "kernels::xnorConv2dSignPacked({input}, {weight}, {gamma}, {beta}, "
             "{running_mean}, {running_var}, {output}, {conv}, {epsilon}, {pool_window});";
    case Kind::Conv2D:
      return "kernels::conv2dSignPacked({input}, {weight}, {gamma}, {beta}, {running_mean}, "
             "{running_var}, {output}, {conv}, {quantization}, {epsilon});";
    case Kind::XnorDenseBatchNormSign:
      return "kernels::xnorDenseBatchNormSignPacked({input}, {weight}, {gamma}, {beta}, "
             "{running_mean}, {running_var}, {output}, n, {units}, {words}, {length}, "
             "{epsilon});";
    case Kind::Conv2DGradWeight:
      return "kernels::conv2dGradWeightPacked({input}, {weight}, {dy}, {dw}, {conv}, "
             "{quantization});";
    case Kind::XnorDenseBatchNormSignTrain:
      return "kernels::xnorDense({input}, {weight}, {product}, n, {units}, {words}, {length});\n"
             "  kernels::batchnormSignTrainPacked({product}, {gamma}, {beta}, {output}, {mean}, "
             "{inv_std}, {running_mean}, {running_var}, {channels:product}, {epsilon}, "
             "{momentum});";
    case Kind::DenseGradWeight:
      return "kernels::denseGradWeightPacked({x}, {w}, {dy}, {dw}, n, {length}, {units}, "
             "{quantization});";
    default:
      return "";
    }
  switch (request.kind) {
  case Kind::PackSigns:
    return "kernels::packSigns({x}, {packed}, {rows:x}, {length});";
  case Kind::XnorDense:
    return "kernels::xnorDense({input}, {weight}, {output}, n, {units}, {words}, {length});";
  case Kind::PackChannels:
    return "kernels::packChannels({x}, {packed}, {rows:x}, {length}, {spatial:x});";
  case Kind::FlattenSigns:
    return "kernels::flattenSigns({input}, {packed}, {conv});";
  case Kind::XnorConv2D:
    // The workspace holds the i32 winners in float slots.
    if (request.winners && request.batchSums)
      return "kernels::xnorConv2dMaxPool({input}, {weight}, {output}, "
             "reinterpret_cast<int32_t *>({winners}), {conv}, {pool_window});\n"
             "  reference::batchnormSums({output}, {batch_sums}, {channels:output});";
    if (request.winners)
      return "kernels::xnorConv2dMaxPool({input}, {weight}, {output}, "
             "reinterpret_cast<int32_t *>({winners}), {conv}, {pool_window});";
    if (request.batchSums)
      return "kernels::xnorConv2d({input}, {weight}, {output}, {conv});\n"
             "  reference::batchnormSums({output}, {batch_sums}, {channels:output});";
    if (request.fusedSign)
      return "kernels::xnorConv2dSign({input}, {weight}, {gamma}, {beta}, {running_mean}, "
             "{running_var}, {output}, {conv}, {epsilon}, {pool_window});";
    return "kernels::xnorConv2d({input}, {weight}, {output}, {conv});";
  case Kind::DenseForward:
    return "kernels::dense({x}, {w}, {bias}, {y}, n, {length}, {units}, {quantization});";
  case Kind::DenseGradInput:
    return "kernels::denseGradInput({w}, {dy}, {dx}, n, {length}, {units}, {quantization});";
  case Kind::DenseGradWeight:
    return "kernels::denseGradWeight({x}, {w}, {dy}, {dw}, n, {length}, {units}, {quantization});";
  case Kind::BatchNormSignTrain:
    return "kernels::batchnormSignTrain({x}, {gamma}, {beta}, {output}, {mean}, {inv_std}, "
           "{running_mean}, {running_var}, {channels:x}, {epsilon}, {momentum});";
  case Kind::BatchNormTrain:
    return "reference::batchnormTrainForward({x}, {gamma}, {beta}, {output}, {mean}, {inv_std}, "
           "{running_mean}, {running_var}, {channels:x}, {epsilon}, {momentum});";
  case Kind::BatchNormSteGrad:
    return "kernels::batchnormSteGrad({x}, {gamma}, {beta}, {dy}, {mean}, {inv_std}, {dx}, "
           "{dgamma}, {dbeta}, {channels:x});";
  case Kind::BatchNormGrad:
    return "reference::batchnormBackward({x}, {gamma}, {dy}, {mean}, {inv_std}, {dx}, {dgamma}, "
           "{dbeta}, {channels:x});";
  case Kind::BatchNormSign:
    return "kernels::batchnormSign({x}, {gamma}, {beta}, {running_mean}, {running_var}, "
           "{output}, {channels:x}, {epsilon});";
  case Kind::BatchNormEval:
    return "reference::batchnormEvalForward({x}, {gamma}, {beta}, {running_mean}, "
           "{running_var}, {output}, {channels:x}, {epsilon});";
  case Kind::BatchNormSums:
    return "reference::batchnormSums({x}, {sums}, {channels:x});";
  case Kind::BatchNormGradSums:
    if (request.fusedSign)
      return "reference::batchnormGradSums({x}, {gamma}, {beta}, {dy}, {mean}, {inv_std}, "
             "{sums}, {channels:x});";
    return "reference::batchnormGradSums({x}, {gamma}, nullptr, {dy}, {mean}, {inv_std}, "
           "{sums}, {channels:x});";
  case Kind::BiasGrad:
    return "kernels::biasGrad({dy}, {db}, n, {units}, {length});";
  case Kind::Adam:
    return "p.adam({param}, {grad}, in.lr, in.step);";
  case Kind::Sign: return "reference::signForward({x}, {y}, {size:y});";
  case Kind::HTanh: return "reference::htanhForward({x}, {y}, {size:y});";
  case Kind::Relu: return "reference::reluForward({x}, {y}, {size:y});";
  case Kind::SteGrad: return "reference::signBackward({x}, {dy}, {dx}, {size:dx});";
  case Kind::ReluGrad: return "reference::reluBackward({x}, {dy}, {dx}, {size:dx});";
  case Kind::Add: return "kernels::elementwiseAdd({lhs}, {rhs}, {y}, {size:y});";
  case Kind::CrossEntropy:
    return "{loss}reference::crossEntropy({logits}, {labels}, {dlogits}, n, {units});";
  case Kind::SquaredHinge:
    return "{loss}reference::squaredHinge({logits}, {labels}, {dlogits}, n, {units});";
  case Kind::Conv2D:
    if (request.fusedSign)
      return "kernels::conv2dSign({input}, {weight}, {gamma}, {beta}, {running_mean}, "
             "{running_var}, {output}, {conv}, {quantization}, {epsilon});";
    return "kernels::conv2d({input}, {weight}, {bias}, {output}, {conv}, {quantization});";
  case Kind::Conv2DGradInput:
    return "kernels::conv2dGradInput({weight}, {dy}, {dx}, {conv}, {quantization});";
  case Kind::Conv2DGradWeight:
    return "kernels::conv2dGradWeight({input}, {weight}, {dy}, {dw}, {conv}, {quantization});";
  case Kind::MaxPool: return "reference::maxpoolForward({input}, {output}, {pool});";
  case Kind::AvgPool: return "reference::avgpoolForward({input}, {output}, {pool});";
  case Kind::MaxPoolGrad:
    if (request.winners)
      return "reference::maxpoolBackwardFromWinners(reinterpret_cast<const int32_t *>("
             "{winners}), {dy}, {dx}, {pool});";
    return "reference::maxpoolBackward({input}, {dy}, {dx}, {pool});";
  case Kind::AvgPoolGrad: return "reference::avgpoolBackward({dy}, {dx}, {pool});";
  case Kind::XnorDenseBatchNormSignTrain:
    // The same computation in two C++ kernels.
    return "kernels::xnorDense({input}, {weight}, {product}, n, {units}, {words}, {length});\n"
           "  kernels::batchnormSignTrain({product}, {gamma}, {beta}, {output}, {mean}, "
           "{inv_std}, {running_mean}, {running_var}, {channels:output}, {epsilon}, {momentum});";
  case Kind::XnorDenseBatchNormSign:
    return "kernels::xnorDense({input}, {weight}, {scratch}, n, {units}, {words}, {length});\n"
           "  kernels::batchnormSign({scratch}, {gamma}, {beta}, {running_mean}, {running_var}, "
           "{output}, {channels:output}, {epsilon});";
  }
  return "";
}
