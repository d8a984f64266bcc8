// RUN: bnn-opt %s | bnn-opt | FileCheck %s --check-prefix=ROUND
// RUN: bnn-opt %s --bnn-generate-train-step | FileCheck %s --check-prefix=TRAIN
// RUN: bnn-opt %s -pass-pipeline='builtin.module(func.func(bnn-bitpack))' | FileCheck %s --check-prefix=PACK

// XNOR-Net's scaled binary weights (#bnn.quant<binary_scaled>) on a conv2d
// and on a dense whose input is ±1.
func.func @scaled(%x: tensor<?x2x4x4xf32>, %labels: tensor<?xi32>) -> (tensor<?x4xf32>, tensor<f32>) attributes {bnn.model} {
  %cw = bnn.param "conv.weight" : tensor<2x2x3x3xf32> init #bnn.init<glorot_uniform>
  %c = bnn.conv2d %x, %cw {weights = #bnn.quant<binary_scaled>, stride = array<i64: 1, 1>, pad = array<i64: 1, 1>} : (tensor<?x2x4x4xf32>, tensor<2x2x3x3xf32>) -> tensor<?x2x4x4xf32>
  %s = bnn.sign %c : (tensor<?x2x4x4xf32>) -> tensor<?x2x4x4xf32>
  %f = bnn.flatten %s : (tensor<?x2x4x4xf32>) -> tensor<?x32xf32>
  %w = bnn.param "dense.weight" : tensor<4x32xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %f, %w {weights = #bnn.quant<binary_scaled>} : (tensor<?x32xf32>, tensor<4x32xf32>) -> tensor<?x4xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x4xf32>, tensor<f32>
}

// ROUND: bnn.conv2d {{.*}}weights = #bnn.quant<binary_scaled>
// ROUND: bnn.dense {{.*}} {weights = #bnn.quant<binary_scaled>}

// The gradient ops keep the quantisation; the latent weights are clipped
// like binary ones.
// TRAIN-LABEL: func.func @scaled_train_step(
// TRAIN: bnn.dense_grad_input %dense.weight, %{{.*}} {weights = #bnn.quant<binary_scaled>}
// TRAIN: bnn.dense_grad_weight %{{.*}}, %dense.weight, %{{.*}} {weights = #bnn.quant<binary_scaled>}
// TRAIN: bnn.conv2d_grad_weight %{{.*}}, %conv.weight, %{{.*}} {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, weights = #bnn.quant<binary_scaled>}
// TRAIN: bnn.adam_update %conv.weight, {{.*}} {clip}
// TRAIN: bnn.adam_update %dense.weight, {{.*}} {clip}

// bnn-bitpack packs only `binary`: the scaled dense on ±1 inputs stays.
// PACK-LABEL: func.func @scaled(
// PACK-NOT: bnn.pack_signs
// PACK: bnn.dense %{{.*}}, %dense.weight {weights = #bnn.quant<binary_scaled>}
// PACK-NOT: bnn.xnor_dense
