// RUN: bnn-opt %s -split-input-file -verify-diagnostics

func.func @dense_input_rank(%x: tensor<?x1x28x28xf32>, %w: tensor<10x784xf32>) {
  // expected-error @+1 {{dense expects a rank-2 input [batch, features], got [?, 1, 28, 28]; flatten it first}}
  %0 = bnn.dense %x, %w {weights = #bnn.quant<binary>} : (tensor<?x1x28x28xf32>, tensor<10x784xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @dense_weight_shape(%x: tensor<?x784xf32>, %w: tensor<10x100xf32>) {
  // expected-error @+1 {{weight has shape [10, 100], expected [10, 784]}}
  %0 = bnn.dense %x, %w {weights = #bnn.quant<binary>} : (tensor<?x784xf32>, tensor<10x100xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @dense_bias_shape(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{bias has shape [4], expected [3]}}
  %0 = bnn.dense %x, %w, %b {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<?x3xf32>
  return
}

// -----

func.func @dense_result_type(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>) {
  // expected-error @+1 {{result type 'tensor<?x5xf32>' does not match the inferred 'tensor<?x3xf32>'}}
  %0 = bnn.dense %x, %w {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x5xf32>
  return
}

// -----

func.func @conv_kernel_too_large(%x: tensor<?x1x2x2xf32>, %w: tensor<4x1x5x5xf32>) {
  // expected-error @+1 {{conv2d kernel 5 is larger than the padded input height 2}}
  %0 = bnn.conv2d %x, %w {weights = #bnn.quant<binary>, stride = array<i64: 1, 1>, pad = array<i64: 0, 0>} : (tensor<?x1x2x2xf32>, tensor<4x1x5x5xf32>) -> tensor<?x4x1x1xf32>
  return
}

// -----

func.func @conv_channels(%x: tensor<?x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+1 {{weight has shape [4, 2, 3, 3], expected [4, 3, 3, 3]}}
  %0 = bnn.conv2d %x, %w {weights = #bnn.quant<binary>, stride = array<i64: 1, 1>, pad = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<?x4x8x8xf32>
  return
}

// -----

func.func @conv_stride_entries(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{kernel, stride and pad need two entries each}}
  %0 = bnn.conv2d %x, %w {weights = #bnn.quant<binary>, stride = array<i64: 1>, pad = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x8x8xf32>
  return
}

// -----

func.func @batchnorm_params(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<7xf32>) {
  // expected-error @+1 {{beta has shape [7], expected [8]}}
  %0 = bnn.batchnorm %x, %g, %b, %g, %g {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x8xf32>, tensor<8xf32>, tensor<7xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @batchnorm_momentum(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{momentum must be in [0, 1)}}
  %0 = bnn.batchnorm %x, %g, %g, %g, %g {epsilon = 1.0e-5, momentum = 1.5} : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @batchnorm_rank(%x: tensor<?x8x3xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{batchnorm expects [batch, features] or [batch, channels, height, width], got [?, 8, 3]}}
  %0 = bnn.batchnorm %x, %g, %g, %g, %g {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x8x3xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8x3xf32>
  return
}

// -----

func.func @add_shapes(%a: tensor<?x8xf32>, %b: tensor<?x9xf32>) {
  // expected-error @+1 {{add needs operands of one shape, got [?, 8] and [?, 9]}}
  %0 = bnn.add %a, %b : (tensor<?x8xf32>, tensor<?x9xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @sign_type(%a: tensor<?x8xf32>) {
  // expected-error @+1 {{does not match the inferred}}
  %0 = bnn.sign %a : (tensor<?x8xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @loss_labels(%l: tensor<4x10xf32>, %y: tensor<5xi32>) {
  // expected-error @+1 {{labels has shape [5], expected [4]}}
  %0 = bnn.cross_entropy %l, %y : (tensor<4x10xf32>, tensor<5xi32>) -> tensor<f32>
  return
}

// -----

func.func @loss_classes(%l: tensor<4x1xf32>, %y: tensor<4xi32>) {
  // expected-error @+1 {{squared_hinge needs at least 2 classes, got 1}}
  %0 = bnn.squared_hinge %l, %y : (tensor<4x1xf32>, tensor<4xi32>) -> tensor<f32>
  return
}

// -----

func.func @pool_window(%x: tensor<?x3x8x8xf32>) {
  // expected-error @+1 {{maxpool needs kernel >= 1, stride >= 1 and pad >= 0, got kernel 2, stride 0, pad 0}}
  %0 = bnn.maxpool %x {kernel = array<i64: 2, 2>, stride = array<i64: 0, 0>, pad = array<i64: 0, 0>} : (tensor<?x3x8x8xf32>) -> tensor<?x3x4x4xf32>
  return
}

// -----

func.func @flatten_rank(%x: tensor<?xf32>) {
  // expected-error @+1 {{flatten expects an input with a batch axis and at least one more, got [?]}}
  %0 = bnn.flatten %x : (tensor<?xf32>) -> tensor<?x1xf32>
  return
}
