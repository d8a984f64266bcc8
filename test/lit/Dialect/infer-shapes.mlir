// RUN: bnn-opt %s -pass-pipeline='builtin.module(func.func(bnn-infer-shapes))' | FileCheck %s

// CHECK-LABEL: func.func @mlp
// CHECK-SAME: -> (tensor<?x16xf32>, tensor<f32>)
func.func @mlp(%x: tensor<?x1x28x28xf32>, %labels: tensor<?xi32>) -> (tensor<*xf32>, tensor<f32>) {
  // CHECK: bnn.flatten {{.*}} -> tensor<?x784xf32>
  %0 = bnn.flatten %x : (tensor<?x1x28x28xf32>) -> tensor<*xf32>
  %w = bnn.param "w" : tensor<16x784xf32> init #bnn.init<glorot_uniform>
  // CHECK: bnn.dense {{.*}} : (tensor<?x784xf32>, tensor<16x784xf32>) -> tensor<?x16xf32>
  %1 = bnn.dense %0, %w {weights = #bnn.quant<binary>} : (tensor<*xf32>, tensor<16x784xf32>) -> tensor<*xf32>
  // CHECK: bnn.sign {{.*}} : (tensor<?x16xf32>) -> tensor<?x16xf32>
  %2 = bnn.sign %1 : (tensor<*xf32>) -> tensor<*xf32>
  %l = bnn.cross_entropy %2, %labels : (tensor<*xf32>, tensor<?xi32>) -> tensor<f32>
  // CHECK: return {{.*}} : tensor<?x16xf32>, tensor<f32>
  return %2, %l : tensor<*xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @conv_pool
func.func @conv_pool(%x: tensor<?x3x32x32xf32>) -> tensor<*xf32> {
  %w = bnn.param "w" : tensor<8x3x3x3xf32> init #bnn.init<glorot_uniform>
  // CHECK: bnn.conv2d {{.*}} -> tensor<?x8x16x16xf32>
  %0 = bnn.conv2d %x, %w {weights = #bnn.quant<binary>, stride = array<i64: 2, 2>, pad = array<i64: 1, 1>} : (tensor<?x3x32x32xf32>, tensor<8x3x3x3xf32>) -> tensor<*xf32>
  // CHECK: bnn.maxpool {{.*}} -> tensor<?x8x8x8xf32>
  %1 = bnn.maxpool %0 {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: bnn.avgpool {{.*}} -> tensor<?x8x2x2xf32>
  %2 = bnn.avgpool %1 {kernel = array<i64: 3, 3>, stride = array<i64: 3, 3>, pad = array<i64: 0, 0>} : (tensor<*xf32>) -> tensor<*xf32>
  // CHECK: bnn.add {{.*}} -> tensor<?x8x2x2xf32>
  %3 = bnn.add %2, %2 : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xf32>
  return %3 : tensor<*xf32>
}

// Already-ranked results are left alone.
// CHECK-LABEL: func.func @ranked
// CHECK: bnn.relu %arg0 : (tensor<4x4xf32>) -> tensor<4x4xf32>
func.func @ranked(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = bnn.relu %x : (tensor<4x4xf32>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}
