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
