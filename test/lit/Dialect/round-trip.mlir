// RUN: bnn-opt %s | FileCheck %s
// RUN: bnn-opt %s | bnn-opt | FileCheck %s
// RUN: bnn-opt %s -mlir-print-op-generic | bnn-opt | FileCheck %s

// CHECK: bnn.hyperparam @lambda = 2.000000e+00
bnn.hyperparam @lambda = 2.0

// CHECK-LABEL: func.func @every_op
func.func @every_op(%x: tensor<?x3x8x8xf32>, %labels: tensor<?xi32>) -> (tensor<?x10xf32>, tensor<f32>) {
  // CHECK: %[[W:.*]] = bnn.param "conv.weight" : tensor<4x3x3x3xf32> init #bnn.init<glorot_uniform>
  %w = bnn.param "conv.weight" : tensor<4x3x3x3xf32> init #bnn.init<glorot_uniform>
  // CHECK: bnn.param "conv.bias" : tensor<4xf32> init #bnn.init<normal, 0.0, 0.01>
  %b = bnn.param "conv.bias" : tensor<4xf32> init #bnn.init<normal, 0.0, 0.01>
  // CHECK: bnn.conv2d %{{.*}}, %[[W]], %{{.*}} {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, weights = #bnn.quant<binary>}
  %c = bnn.conv2d %x, %w, %b {weights = #bnn.quant<binary>, stride = array<i64: 1, 1>, pad = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  // CHECK: bnn.param "bn.beta" : tensor<4xf32> init #bnn.init<uniform, -1.0 * @lambda, @lambda>
  %g = bnn.param "bn.gamma" : tensor<4xf32> init #bnn.init<constant, 1.0>
  %be = bnn.param "bn.beta" : tensor<4xf32> init #bnn.init<uniform, -1.0 * @lambda, @lambda>
  // CHECK: init #bnn.init<constant, 0.0> {state}
  %m = bnn.param "bn.mean" : tensor<4xf32> init #bnn.init<constant, 0.0> {state}
  %v = bnn.param "bn.var" : tensor<4xf32> init #bnn.init<constant, 1.0> {state}
  // CHECK: bnn.batchnorm {{.*}} {epsilon = 1.000000e-05 : f64, momentum = 9.000000e-01 : f64}
  %n = bnn.batchnorm %c, %g, %be, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  // CHECK: bnn.sign
  %s = bnn.sign %n : (tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  // CHECK: bnn.htanh
  %h = bnn.htanh %n : (tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  // CHECK: bnn.add
  %a = bnn.add %s, %h : (tensor<?x4x8x8xf32>, tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  // CHECK: bnn.relu
  %r = bnn.relu %a : (tensor<?x4x8x8xf32>) -> tensor<?x4x8x8xf32>
  // CHECK: bnn.maxpool {{.*}} {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0>, stride = array<i64: 2, 2>}
  %p = bnn.maxpool %r {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x8x8xf32>) -> tensor<?x4x4x4xf32>
  // CHECK: bnn.avgpool
  %q = bnn.avgpool %p {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x4x4xf32>) -> tensor<?x4x2x2xf32>
  // CHECK: bnn.flatten {{.*}} -> tensor<?x16xf32>
  %f = bnn.flatten %q : (tensor<?x4x2x2xf32>) -> tensor<?x16xf32>
  %dw = bnn.param "fc.weight" : tensor<10x16xf32> init #bnn.init<he_normal>
  // CHECK: bnn.dense {{.*}} {weights = #bnn.quant<real>}
  %d = bnn.dense %f, %dw {weights = #bnn.quant<real>} : (tensor<?x16xf32>, tensor<10x16xf32>) -> tensor<?x10xf32>
  // CHECK: bnn.cross_entropy
  %l = bnn.cross_entropy %d, %labels : (tensor<?x10xf32>, tensor<?xi32>) -> tensor<f32>
  // CHECK: bnn.squared_hinge
  %l2 = bnn.squared_hinge %d, %labels : (tensor<?x10xf32>, tensor<?xi32>) -> tensor<f32>
  return %d, %l : tensor<?x10xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @init_bounds
func.func @init_bounds() {
  // CHECK: #bnn.init<uniform, 0.5 + -2.0 * @lambda, 0.5 + 2.0 * @lambda>
  %0 = bnn.param "a" : tensor<2xf32> init #bnn.init<uniform, 0.5 + -2.0 * @lambda, 0.5 + 2.0 * @lambda>
  // CHECK: #bnn.init<constant, 0.1>
  %1 = bnn.param "b" : tensor<2xf32> init #bnn.init<constant, 0.1>
  // CHECK: #bnn.init<constant, 1.0e-05>
  %2 = bnn.param "c" : tensor<2xf32> init #bnn.init<constant, 0.00001>
  // CHECK: #bnn.init<normal, @lambda, 0.25>
  %3 = bnn.param "d" : tensor<2xf32> init #bnn.init<normal, 1.0 * @lambda, 0.25>
  return
}
