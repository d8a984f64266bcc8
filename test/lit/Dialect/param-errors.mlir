// RUN: bnn-opt %s -split-input-file -verify-diagnostics

func.func @unknown_hyperparam() {
  // expected-error @+1 {{init policy refers to @lambda, which is not a bnn.hyperparam}}
  %0 = bnn.param "b" : tensor<4xf32> init #bnn.init<uniform, -1.0 * @lambda, @lambda>
  return
}

// -----

func.func @fan_init_rank() {
  // expected-error @+1 {{init policy 'glorot_uniform' computes fan-in and fan-out and needs a rank-2 or rank-4 weight, got rank 1}}
  %0 = bnn.param "b" : tensor<4xf32> init #bnn.init<glorot_uniform>
  return
}

// -----

func.func @empty_name() {
  // expected-error @+1 {{needs a non-empty name}}
  %0 = bnn.param "" : tensor<4xf32> init #bnn.init<constant, 0.0>
  return
}

// -----

func.func @dynamic_param() {
  // expected-error @+1 {{must be statically shaped tensor of 32-bit float values}}
  %0 = bnn.param "w" : tensor<?x4xf32> init #bnn.init<constant, 0.0>
  return
}

// -----

func.func @uniform_arity() {
  // expected-error @+1 {{init policy 'uniform' takes 2 arguments, got 1}}
  %0 = bnn.param "w" : tensor<4xf32> init #bnn.init<uniform, 1.0>
  return
}

// -----

func.func @uniform_order() {
  // expected-error @+1 {{uniform(2.0, 1.0) has its low bound above its high bound}}
  %0 = bnn.param "w" : tensor<4xf32> init #bnn.init<uniform, 2.0, 1.0>
  return
}

// -----

func.func @normal_std() {
  // expected-error @+1 {{normal(mean, std) needs std >= 0, got -1.0}}
  %0 = bnn.param "w" : tensor<4xf32> init #bnn.init<normal, 0.0, -1.0>
  return
}

// -----

func.func @unknown_kind() {
  // expected-error @+1 {{unknown init policy 'xavier'; expected constant, uniform, normal, glorot_uniform or he_normal}}
  %0 = bnn.param "w" : tensor<4x4xf32> init #bnn.init<xavier>
  return
}

// -----

func.func @bad_quant(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>) {
  // expected-error @+2 {{expected ::bnn::Quantization to be one of: real, binary, binary_scaled}}
  // expected-error @+1 {{failed to parse Bnn_QuantizationAttr parameter}}
  %0 = bnn.dense %x, %w {weights = #bnn.quant<ternary>} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  return
}
