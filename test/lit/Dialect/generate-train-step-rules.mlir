// RUN: bnn-opt %s --bnn-generate-train-step | FileCheck %s

// The gradient rule of each op (GradientOpInterface, Gradients.cpp) on the
// paths generate-train-step.mlir does not take: real weights, relu, conv2d
// with a bias and an input gradient, a 4-D batchnorm, a weight used twice,
// and operands that need no gradient.

// relu, real dense layers with and without bias: no clipping of real weights.
func.func @relu_real(%x: tensor<?x6xf32>, %labels: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
  %w0 = bnn.param "d0.weight" : tensor<4x6xf32> init #bnn.init<glorot_uniform>
  %b0 = bnn.param "d0.bias" : tensor<4xf32> init #bnn.init<constant, 0.0>
  %h = bnn.dense %x, %w0, %b0 {weights = #bnn.quant<real>} : (tensor<?x6xf32>, tensor<4x6xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %r = bnn.relu %h : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %w1 = bnn.param "d1.weight" : tensor<3x4xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %r, %w1 {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x3xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @relu_real_train_step(
// CHECK: %[[H:.*]] = bnn.dense %arg0, %[[W0:d0.weight]], %[[B0:d0.bias]] {weights = #bnn.quant<real>}
// CHECK: %[[R:.*]] = bnn.relu %[[H]]
// CHECK: %[[DY:.*]] = bnn.cross_entropy_grad
// CHECK: %[[DR:.*]] = bnn.dense_grad_input %[[W1:d1.weight]], %[[DY]] {weights = #bnn.quant<real>}
// CHECK: %[[DW1:.*]] = bnn.dense_grad_weight %[[R]], %[[W1]], %[[DY]]
// CHECK: %[[DH:.*]] = bnn.relu_grad %[[H]], %[[DR]]
// CHECK-NOT: bnn.dense_grad_input
// CHECK: %[[DW0:.*]] = bnn.dense_grad_weight %arg0, %[[W0]], %[[DH]]
// CHECK: %[[DB0:.*]] = bnn.bias_grad %[[DH]]
// CHECK: bnn.adam_update %[[W0]], %[[DW0]], %arg2, %arg3 :
// CHECK: bnn.adam_update %[[B0]], %[[DB0]], %arg2, %arg3 :
// CHECK: bnn.adam_update %[[W1]], %[[DW1]], %arg2, %arg3 :

// Convolutions: the second one passes its input gradient back, the first
// (on the images) does not; batchnorm on NCHW trains as batchnorm_train.
func.func @convs(%x: tensor<?x1x4x4xf32>, %labels: tensor<?xi32>) -> (tensor<?x2xf32>, tensor<f32>) attributes {bnn.model} {
  %w0 = bnn.param "c0.weight" : tensor<2x1x3x3xf32> init #bnn.init<glorot_uniform>
  %b0 = bnn.param "c0.bias" : tensor<2xf32> init #bnn.init<constant, 0.0>
  %c0 = bnn.conv2d %x, %w0, %b0 {weights = #bnn.quant<binary>, stride = array<i64: 1, 1>, pad = array<i64: 1, 1>} : (tensor<?x1x4x4xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<?x2x4x4xf32>
  %g = bnn.param "bn.gamma" : tensor<2xf32> init #bnn.init<constant, 1.0>
  %b = bnn.param "bn.beta" : tensor<2xf32> init #bnn.init<constant, 0.0>
  %m = bnn.param "bn.running_mean" : tensor<2xf32> init #bnn.init<constant, 0.0> {state}
  %v = bnn.param "bn.running_var" : tensor<2xf32> init #bnn.init<constant, 1.0> {state}
  %n = bnn.batchnorm %c0, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<?x2x4x4xf32>
  %r = bnn.relu %n : (tensor<?x2x4x4xf32>) -> tensor<?x2x4x4xf32>
  %w1 = bnn.param "c1.weight" : tensor<2x2x3x3xf32> init #bnn.init<glorot_uniform>
  %c1 = bnn.conv2d %r, %w1 {weights = #bnn.quant<real>, stride = array<i64: 1, 1>, pad = array<i64: 1, 1>} : (tensor<?x2x4x4xf32>, tensor<2x2x3x3xf32>) -> tensor<?x2x4x4xf32>
  %a = bnn.avgpool %c1 {kernel = array<i64: 4, 4>, stride = array<i64: 4, 4>, pad = array<i64: 0, 0>} : (tensor<?x2x4x4xf32>) -> tensor<?x2x1x1xf32>
  %f = bnn.flatten %a : (tensor<?x2x1x1xf32>) -> tensor<?x2xf32>
  %l = bnn.squared_hinge %f, %labels : (tensor<?x2xf32>, tensor<?xi32>) -> tensor<f32>
  return %f, %l : tensor<?x2xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @convs_train_step(
// CHECK: %[[C0:.*]] = bnn.conv2d %arg0, %[[W0:c0.weight]], %[[B0:c0.bias]]
// CHECK: %[[N:.*]], %[[MEAN:.*]], %[[INV:.*]] = bnn.batchnorm_train %[[C0]], %[[G:bn.gamma]], %[[B:bn.beta]]
// CHECK-SAME: -> (tensor<?x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>)
// CHECK: %[[R:.*]] = bnn.relu %[[N]]
// CHECK: %[[DF:.*]] = bnn.squared_hinge_grad
// CHECK: %[[DA:.*]] = bnn.reshape %[[DF]]
// CHECK: %[[DC1:.*]] = bnn.avgpool_grad %[[DA]]
// CHECK: %[[DR:.*]] = bnn.conv2d_grad_input %[[W1:c1.weight]], %[[DC1]] {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, weights = #bnn.quant<real>}
// CHECK: %[[DW1:.*]] = bnn.conv2d_grad_weight %[[R]], %[[W1]], %[[DC1]]
// CHECK: %[[DN:.*]] = bnn.relu_grad %[[N]], %[[DR]]
// CHECK: %[[DC0:.*]], %[[DG:.*]], %[[DB:.*]] = bnn.batchnorm_grad %[[C0]], %[[G]], %[[DN]], %[[MEAN]], %[[INV]]
// CHECK-NOT: bnn.conv2d_grad_input
// CHECK: %[[DW0:.*]] = bnn.conv2d_grad_weight %arg0, %[[W0]], %[[DC0]] {{.*}}weights = #bnn.quant<binary>}
// CHECK: %[[DB0:.*]] = bnn.bias_grad %[[DC0]] : (tensor<?x2x4x4xf32>) -> tensor<2xf32>
// CHECK: bnn.adam_update %[[W0]], %[[DW0]], %arg2, %arg3 {clip}
// CHECK: bnn.adam_update %[[B0]], %[[DB0]], %arg2, %arg3 :
// CHECK: bnn.adam_update %[[G]], %[[DG]], %arg2, %arg3 :
// CHECK: bnn.adam_update %[[B]], %[[DB]], %arg2, %arg3 :
// CHECK: bnn.adam_update %[[W1]], %[[DW1]], %arg2, %arg3 :
// CHECK-NOT: bnn.adam_update

// A weight read by two layers gets the sum of both gradients, one update.
func.func @shared_weight(%x: tensor<?x4xf32>, %labels: tensor<?xi32>) -> (tensor<?x4xf32>, tensor<f32>) attributes {bnn.model} {
  %w = bnn.param "w" : tensor<4x4xf32> init #bnn.init<glorot_uniform>
  %h = bnn.dense %x, %w {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %s = bnn.sign %h : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %y = bnn.dense %s, %w {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x4xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @shared_weight_train_step(
// CHECK: %[[DY:.*]] = bnn.cross_entropy_grad
// CHECK: %[[DS:.*]] = bnn.dense_grad_input %w, %[[DY]]
// CHECK: %[[DW1:.*]] = bnn.dense_grad_weight %{{.*}}, %w, %[[DY]]
// CHECK: %[[DH:.*]] = bnn.ste_grad %{{.*}}, %[[DS]]
// CHECK: %[[DW0:.*]] = bnn.dense_grad_weight %arg0, %w, %[[DH]]
// CHECK: %[[DW:.*]] = bnn.add %[[DW1]], %[[DW0]]
// CHECK: bnn.adam_update %w, %[[DW]], %arg2, %arg3 {clip}
// CHECK-NOT: bnn.adam_update

// Nothing before the first param needs a gradient: maxpool, htanh and
// flatten of the images get no gradient ops.
func.func @frozen_front(%x: tensor<?x1x4x4xf32>, %labels: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
  %p = bnn.maxpool %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x1x4x4xf32>) -> tensor<?x1x2x2xf32>
  %h = bnn.htanh %p : (tensor<?x1x2x2xf32>) -> tensor<?x1x2x2xf32>
  %f = bnn.flatten %h : (tensor<?x1x2x2xf32>) -> tensor<?x4xf32>
  %w = bnn.param "w" : tensor<3x4xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %f, %w {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x3xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @frozen_front_train_step(
// CHECK: bnn.cross_entropy_grad
// CHECK-NEXT: bnn.dense_grad_weight
// CHECK-NEXT: bnn.adam_update
// CHECK-NEXT: return

// add hands its gradient to both summands; the images drop theirs.
func.func @add_input(%x: tensor<?x4xf32>, %labels: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
  %w0 = bnn.param "d0.weight" : tensor<4x4xf32> init #bnn.init<glorot_uniform>
  %h = bnn.dense %x, %w0 {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %r = bnn.add %x, %h : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %w1 = bnn.param "d1.weight" : tensor<3x4xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %r, %w1 {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x3xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @add_input_train_step(
// CHECK: %[[DY:.*]] = bnn.cross_entropy_grad
// CHECK: %[[DR:.*]] = bnn.dense_grad_input %[[W1:d1.weight]], %[[DY]]
// CHECK: bnn.dense_grad_weight %{{.*}}, %[[W1]], %[[DY]]
// CHECK-NOT: bnn.add
// CHECK: bnn.dense_grad_weight %arg0, %d0.weight, %[[DR]]
// CHECK-NOT: bnn.add
// CHECK: return
