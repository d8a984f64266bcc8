// RUN: bnn-opt %s -pass-pipeline='builtin.module(func.func(bnn-bitpack))' | FileCheck %s

// CHECK-LABEL: func.func @binary_on_signs
// CHECK: %[[S:.*]] = bnn.sign %arg0
// CHECK: %[[PA:.*]] = bnn.pack_signs %[[S]] : (tensor<?x100xf32>) -> tensor<?x2xi64>
// CHECK: %[[PW:.*]] = bnn.pack_signs %w : (tensor<8x100xf32>) -> tensor<8x2xi64>
// CHECK: bnn.xnor_dense %[[PA]], %[[PW]] {length = 100 : i64} : (tensor<?x2xi64>, tensor<8x2xi64>) -> tensor<?x8xf32>
// CHECK-NOT: bnn.dense
func.func @binary_on_signs(%x: tensor<?x100xf32>) -> tensor<?x8xf32> {
  %s = bnn.sign %x : (tensor<?x100xf32>) -> tensor<?x100xf32>
  %w = bnn.param "w" : tensor<8x100xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %s, %w {weights = #bnn.quant<binary>} : (tensor<?x100xf32>, tensor<8x100xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// Real input (the first layer), real weights or a bias keep the float path.
// CHECK-LABEL: func.func @float_paths
// CHECK-COUNT-3: bnn.dense
// CHECK-NOT: bnn.xnor_dense
func.func @float_paths(%x: tensor<?x64xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %w = bnn.param "w" : tensor<4x64xf32> init #bnn.init<glorot_uniform>
  %b = bnn.param "b" : tensor<4xf32> init #bnn.init<constant, 0.0>
  %y0 = bnn.dense %x, %w {weights = #bnn.quant<binary>} : (tensor<?x64xf32>, tensor<4x64xf32>) -> tensor<?x4xf32>
  %s = bnn.sign %x : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %y1 = bnn.dense %s, %w {weights = #bnn.quant<real>} : (tensor<?x64xf32>, tensor<4x64xf32>) -> tensor<?x4xf32>
  %y2 = bnn.dense %s, %w, %b {weights = #bnn.quant<binary>} : (tensor<?x64xf32>, tensor<4x64xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %y0, %y1, %y2 : tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}
