// RUN: bnn-opt %s --bnn-generate-train-step -split-input-file -verify-diagnostics

// An op without GradientOpInterface that a gradient reaches: bnn-fuse's
// evaluation threshold has no backward pass.
func.func @no_gradient_rule(%x: tensor<?x4xf32>, %labels: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
  %w0 = bnn.param "d0.weight" : tensor<4x4xf32> init #bnn.init<glorot_uniform>
  %h = bnn.dense %x, %w0 {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %g = bnn.param "bn.gamma" : tensor<4xf32> init #bnn.init<constant, 1.0>
  %b = bnn.param "bn.beta" : tensor<4xf32> init #bnn.init<constant, 0.0>
  %m = bnn.param "bn.running_mean" : tensor<4xf32> init #bnn.init<constant, 0.0> {state}
  %v = bnn.param "bn.running_var" : tensor<4xf32> init #bnn.init<constant, 1.0> {state}
  // expected-error @+1 {{'bnn.batchnorm_sign' op has no gradient rule in bnn-generate-train-step}}
  %s = bnn.batchnorm_sign %h, %g, %b, %m, %v {epsilon = 1.0e-5} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %w1 = bnn.param "d1.weight" : tensor<3x4xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %s, %w1 {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x3xf32>, tensor<f32>
}

// -----

// The backward pass starts at a loss op (LossOpInterface).
// expected-error @+1 {{the loss a bnn.model returns must be computed by a loss op}}
func.func @not_a_loss(%x: tensor<?x3xf32>, %labels: tensor<?xi32>, %l: tensor<f32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
  %w = bnn.param "w" : tensor<3x3xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %x, %w {weights = #bnn.quant<real>} : (tensor<?x3xf32>, tensor<3x3xf32>) -> tensor<?x3xf32>
  return %y, %l : tensor<?x3xf32>, tensor<f32>
}

// -----

// batchnorm_train's statistics are saved for the backward pass; a gradient
// reaching them (here through a bias) has no rule.
func.func @gradient_of_statistics(%x: tensor<?x4xf32>, %labels: tensor<?xi32>) -> (tensor<?x4xf32>, tensor<f32>) attributes {bnn.model} {
  %w0 = bnn.param "d0.weight" : tensor<4x4xf32> init #bnn.init<glorot_uniform>
  %h = bnn.dense %x, %w0 {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %g = bnn.param "bn.gamma" : tensor<4xf32> init #bnn.init<constant, 1.0>
  %b = bnn.param "bn.beta" : tensor<4xf32> init #bnn.init<constant, 0.0>
  %m = bnn.param "bn.running_mean" : tensor<4xf32> init #bnn.init<constant, 0.0> {state}
  %v = bnn.param "bn.running_var" : tensor<4xf32> init #bnn.init<constant, 1.0> {state}
  // expected-error @+1 {{'bnn.batchnorm_train' op has no gradient rule for its batch statistics (mean, inv_std)}}
  %n, %mean, %inv = bnn.batchnorm_train %h, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>)
  %w1 = bnn.param "d1.weight" : tensor<4x4xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %n, %w1, %mean {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x4xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x4xf32>, tensor<f32>
}
