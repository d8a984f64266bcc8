// RUN: bnn-opt %s --bnn-generate-train-step | FileCheck %s

bnn.hyperparam @lambda = 2.0

// A binary dense layer between a real input and batchnorm + sign, a binary
// classifier on top: the BinaryNet MLP in miniature.
func.func @mlp(%x: tensor<?x6xf32>, %labels: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
  %w0 = bnn.param "d0.weight" : tensor<4x6xf32> init #bnn.init<glorot_uniform>
  %h0 = bnn.dense %x, %w0 {weights = #bnn.quant<binary>} : (tensor<?x6xf32>, tensor<4x6xf32>) -> tensor<?x4xf32>
  %g = bnn.param "bn.gamma" : tensor<4xf32> init #bnn.init<constant, 1.0>
  %b = bnn.param "bn.beta" : tensor<4xf32> init #bnn.init<uniform, -1.0 * @lambda, @lambda>
  %m = bnn.param "bn.running_mean" : tensor<4xf32> init #bnn.init<constant, 0.0> {state}
  %v = bnn.param "bn.running_var" : tensor<4xf32> init #bnn.init<constant, 1.0> {state}
  %n = bnn.batchnorm %h0, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %s = bnn.sign %n : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %w1 = bnn.param "d1.weight" : tensor<3x4xf32> init #bnn.init<glorot_uniform>
  %c = bnn.param "d1.bias" : tensor<3xf32> init #bnn.init<constant, 0.0>
  %y = bnn.dense %s, %w1, %c {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x3xf32>, tensor<f32>
}

// The model function stays as the evaluation function.
// CHECK-LABEL: func.func @mlp(
// CHECK: bnn.batchnorm %{{.*}} : (tensor<?x4xf32>

// CHECK-LABEL: func.func @mlp_train_step(
// CHECK-SAME: %[[X:.*]]: tensor<?x6xf32>, %[[Y:.*]]: tensor<?xi32>, %[[LR:.*]]: f32, %[[STEP:.*]]: i64) -> (tensor<f32>, tensor<?x3xf32>)
// CHECK-SAME: attributes {bnn.train_step = @mlp}
// Forward, with batch statistics:
// CHECK: %[[H0:.*]] = bnn.dense %[[X]], %[[W0:d0.weight]]
// CHECK: %[[N:.*]], %[[MEAN:.*]], %[[INVSTD:.*]] = bnn.batchnorm_train %[[H0]], %[[G:bn.gamma]], %[[B:bn.beta]], %bn.running_mean, %bn.running_var
// CHECK: %[[S:.*]] = bnn.sign %[[N]]
// CHECK: %[[LOGITS:.*]] = bnn.dense %[[S]], %[[W1:d1.weight]], %[[C:d1.bias]]
// CHECK: %[[LOSS:.*]] = bnn.cross_entropy %[[LOGITS]], %[[Y]]
// Backward, in reverse:
// CHECK: %[[DY:.*]] = bnn.cross_entropy_grad %[[LOGITS]], %[[Y]]
// CHECK: %[[DS:.*]] = bnn.dense_grad_input %[[W1]], %[[DY]] {weights = #bnn.quant<binary>}
// CHECK: %[[DW1:.*]] = bnn.dense_grad_weight %[[S]], %[[W1]], %[[DY]] {weights = #bnn.quant<binary>}
// CHECK: %[[DC:.*]] = bnn.bias_grad %[[DY]]
// The straight-through estimator through sign:
// CHECK: %[[DN:.*]] = bnn.ste_grad %[[N]], %[[DS]]
// CHECK: %[[DH0:.*]], %[[DG:.*]], %[[DB:.*]] = bnn.batchnorm_grad %[[H0]], %[[G]], %[[DN]], %[[MEAN]], %[[INVSTD]]
// No gradient for the input images:
// CHECK-NOT: bnn.dense_grad_input %[[W0]]
// CHECK: %[[DW0:.*]] = bnn.dense_grad_weight %[[X]], %[[W0]], %[[DH0]]
// One Adam step per trainable param; binary latent weights are clipped,
// running statistics are not trained:
// CHECK: bnn.adam_update %[[W0]], %[[DW0]], %[[LR]], %[[STEP]] {clip}
// CHECK: bnn.adam_update %[[G]], %[[DG]], %[[LR]], %[[STEP]] :
// CHECK: bnn.adam_update %[[B]], %[[DB]], %[[LR]], %[[STEP]] :
// CHECK: bnn.adam_update %[[W1]], %[[DW1]], %[[LR]], %[[STEP]] {clip}
// CHECK: bnn.adam_update %[[C]], %[[DC]], %[[LR]], %[[STEP]] :
// CHECK-NOT: bnn.adam_update
// CHECK: return %[[LOSS]], %[[LOGITS]]

// A value used twice (residual) gets the sum of both gradients; flatten's
// backward is a reshape, maxpool's routes to the winners.
func.func @residual(%x: tensor<?x2x4x4xf32>, %labels: tensor<?xi32>) -> (tensor<?x2xf32>, tensor<f32>) attributes {bnn.model} {
  %w = bnn.param "conv.weight" : tensor<2x2x3x3xf32> init #bnn.init<glorot_uniform>
  %c = bnn.conv2d %x, %w {weights = #bnn.quant<binary>, stride = array<i64: 1, 1>, pad = array<i64: 1, 1>} : (tensor<?x2x4x4xf32>, tensor<2x2x3x3xf32>) -> tensor<?x2x4x4xf32>
  %h = bnn.htanh %c : (tensor<?x2x4x4xf32>) -> tensor<?x2x4x4xf32>
  %r = bnn.add %h, %c : (tensor<?x2x4x4xf32>, tensor<?x2x4x4xf32>) -> tensor<?x2x4x4xf32>
  %p = bnn.maxpool %r {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x2x4x4xf32>) -> tensor<?x2x2x2xf32>
  %a = bnn.avgpool %p {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x2x2x2xf32>) -> tensor<?x2x1x1xf32>
  %f = bnn.flatten %a : (tensor<?x2x1x1xf32>) -> tensor<?x2xf32>
  %l = bnn.squared_hinge %f, %labels : (tensor<?x2xf32>, tensor<?xi32>) -> tensor<f32>
  return %f, %l : tensor<?x2xf32>, tensor<f32>
}
// CHECK-LABEL: func.func @residual_train_step(
// CHECK: %[[DF:.*]] = bnn.squared_hinge_grad
// CHECK: %[[DA:.*]] = bnn.reshape %[[DF]] : (tensor<?x2xf32>) -> tensor<?x2x1x1xf32>
// CHECK: %[[DP:.*]] = bnn.avgpool_grad %[[DA]] {{.*}} -> tensor<?x2x2x2xf32>
// CHECK: %[[DR:.*]] = bnn.maxpool_grad %{{.*}}, %[[DP]] {{.*}} -> tensor<?x2x4x4xf32>
// CHECK: %[[DH:.*]] = bnn.ste_grad %{{.*}}, %[[DR]]
// CHECK: %[[DC:.*]] = bnn.add %[[DR]], %[[DH]]
// CHECK-NOT: bnn.conv2d_grad_input
// CHECK: %[[DW:.*]] = bnn.conv2d_grad_weight %{{.*}}, %conv.weight, %[[DC]] {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, weights = #bnn.quant<binary>}
// CHECK: bnn.adam_update %conv.weight, %[[DW]], {{.*}} {clip}
