// RUN: bnn-opt %s -split-input-file -verify-diagnostics

func.func @update_computed(%x: tensor<4xf32>, %lr: f32, %step: i64) {
  // expected-error @+1 {{updates a bnn.param, not a computed value}}
  bnn.adam_update %x, %x, %lr, %step : tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @update_state(%g: tensor<4xf32>, %lr: f32, %step: i64) {
  %m = bnn.param "bn.running_mean" : tensor<4xf32> init #bnn.init<constant, 0.0> {state}
  // expected-error @+1 {{cannot update running statistics ({state} params)}}
  bnn.adam_update %m, %g, %lr, %step : tensor<4xf32>, tensor<4xf32>
  return
}

// -----

func.func @update_shape(%g: tensor<5xf32>, %lr: f32, %step: i64) {
  %w = bnn.param "w" : tensor<4xf32> init #bnn.init<constant, 0.0>
  // expected-error @+1 {{gradient type 'tensor<5xf32>' differs from the param's 'tensor<4xf32>'}}
  bnn.adam_update %w, %g, %lr, %step : tensor<4xf32>, tensor<5xf32>
  return
}

// -----

func.func @batch_sums_shape(%x: tensor<8x4xf32>, %p: tensor<4xf32>, %sums: tensor<2x4xf32>) {
  // expected-error @+1 {{batch_sums (Σx, Σx², count) has shape [2, 4], expected [3, 4]}}
  %y, %m, %i = bnn.batchnorm_train %x, %p, %p, %p, %p, %sums {epsilon = 1.0e-5, momentum = 0.9} : (tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x4xf32>) -> (tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @grad_sums_channels(%x: tensor<8x4xf32>, %p: tensor<4xf32>, %sums: tensor<2x5xf32>) {
  // expected-error @+1 {{grad_sums (Σdy, Σdy·x̂) has shape [2, 5], expected [2, 4]}}
  %dx, %dg, %db = bnn.batchnorm_grad %x, %p, %x, %p, %p, %sums : (tensor<8x4xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<2x5xf32>) -> (tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @dense_grad_weight_packed_length(%x: tensor<8x1xi64, #bnn.packed<axis = 1, bits = 5>>, %w: tensor<3x4xf32>, %dy: tensor<8x3xf32>) {
  // expected-error @+1 {{reads 5 packed signs a row for 4 weights a unit}}
  %dw = bnn.dense_grad_weight %x, %w, %dy {weights = #bnn.quant<binary>} : (tensor<8x1xi64, #bnn.packed<axis = 1, bits = 5>>, tensor<3x4xf32>, tensor<8x3xf32>) -> tensor<3x4xf32>
  return
}

// -----

// maxpool_grad reads winners only of windows that tile the image.
func.func @maxpool_grad_winners_overlapping(%i: tensor<?x4x3x3xi32>, %dy: tensor<?x4x3x3xf32>) {
  // expected-error @+1 {{reads winners only of square windows (at least 1x1) that tile the image (stride = kernel, no padding)}}
  %dx = bnn.maxpool_grad %i, %dy {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x3x3xi32>, tensor<?x4x3x3xf32>) -> tensor<?x4x7x7xf32>
  return
}

// -----

// An empty window would divide the image by zero.
func.func @maxpool_grad_winners_empty_window(%i: tensor<?x4x3x3xi32>, %dy: tensor<?x4x3x3xf32>) {
  // expected-error @+1 {{reads winners only of square windows (at least 1x1)}}
  %dx = bnn.maxpool_grad %i, %dy {kernel = array<i64: 0, 0>, stride = array<i64: 0, 0>, pad = array<i64: 0, 0>} : (tensor<?x4x3x3xi32>, tensor<?x4x3x3xf32>) -> tensor<?x4x6x6xf32>
  return
}

// -----

func.func @maxpool_grad_winners_shape(%i: tensor<?x4x4x4xi32>, %dy: tensor<?x4x3x3xf32>) {
  // expected-error @+1 {{winners and the output gradient must be [?, 4, 3, 3] for an input gradient of [?, 4, 7, 7]}}
  %dx = bnn.maxpool_grad %i, %dy {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x4x4xi32>, tensor<?x4x3x3xf32>) -> tensor<?x4x7x7xf32>
  return
}
