// RUN: not bnn-opt %s --bnn-data-parallel 2>&1 | FileCheck %s
// RUN: not bnn-opt %s --bnn-generate-train-step --bnn-data-parallel=bucket-bytes=0 2>&1 | FileCheck %s --check-prefix=ZERO

// CHECK: error: bnn-data-parallel needs a train step (run bnn-generate-train-step first)
// ZERO: error: bnn-data-parallel: bucket-bytes must be positive, got 0
func.func @m(%x: tensor<?x2xf32>, %labels: tensor<?xi32>) -> (tensor<?x2xf32>, tensor<f32>) attributes {bnn.model} {
  %w = bnn.param "w" : tensor<2x2xf32> init #bnn.init<constant, 0.5>
  %y = bnn.dense %x, %w {weights = #bnn.quant<real>} : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x2xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x2xf32>, tensor<f32>
}
