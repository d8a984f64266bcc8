// RUN: bnn-opt %s -split-input-file -verify-diagnostics

func.func @pack_shape(%x: tensor<?x100xf32>) {
  // expected-error @+1 {{packs [?, 100] into [?, 2], not [?, 3]}}
  %p = bnn.pack_signs %x : (tensor<?x100xf32>) -> tensor<?x3xi64, #bnn.packed<axis = 1, bits = 100>>
  return
}

// -----

func.func @pack_without_encoding(%x: tensor<?x100xf32>) {
  // expected-error @+1 {{result needs a #bnn.packed<axis = A, bits = N> encoding}}
  %p = bnn.pack_signs %x : (tensor<?x100xf32>) -> tensor<?x2xi64>
  return
}

// -----

func.func @pack_bits(%x: tensor<?x100xf32>) {
  // expected-error @+1 {{packs 100 signs along axis 1, but the encoding says 90}}
  %p = bnn.pack_signs %x : (tensor<?x100xf32>) -> tensor<?x2xi64, #bnn.packed<axis = 1, bits = 90>>
  return
}

// -----

func.func @pack_axis(%x: tensor<?x100xf32>) {
  // expected-error @+1 {{packs axis 2 of a rank-2 tensor}}
  %p = bnn.pack_signs %x : (tensor<?x100xf32>) -> tensor<?x2xi64, #bnn.packed<axis = 2, bits = 100>>
  return
}

// -----

func.func @pack_channels_shape(%x: tensor<?x70x9x9xf32>) {
  // expected-error @+1 {{packs [?, 70, 9, 9] into [?, 9, 9, 2], not [?, 70, 9, 2]}}
  %p = bnn.pack_signs %x : (tensor<?x70x9x9xf32>) -> tensor<?x70x9x2xi64, #bnn.packed<axis = 1, bits = 70>>
  return
}

// -----

// expected-error @+1 {{a packed axis holds at least 1 bit, not 0}}
func.func @encoding_bits(%x: tensor<?x2xi64, #bnn.packed<axis = 1, bits = 0>>) {
  return
}

// -----

func.func @xnor_words(%a: tensor<?x2xi64, #bnn.packed<axis = 1, bits = 200>>, %w: tensor<8x2xi64, #bnn.packed<axis = 1, bits = 200>>) {
  // expected-error @+1 {{length 200 needs 4 words a row}}
  %y = bnn.xnor_dense %a, %w {length = 200 : i64} : (tensor<?x2xi64, #bnn.packed<axis = 1, bits = 200>>, tensor<8x2xi64, #bnn.packed<axis = 1, bits = 200>>) -> tensor<?x8xf32>
  return
}

// -----

func.func @xnor_length(%a: tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>, %w: tensor<8x2xi64, #bnn.packed<axis = 1, bits = 100>>) {
  // expected-error @+1 {{length 128 differs from the 100 signs an operand holds}}
  %y = bnn.xnor_dense %a, %w {length = 128 : i64} : (tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>, tensor<8x2xi64, #bnn.packed<axis = 1, bits = 100>>) -> tensor<?x8xf32>
  return
}

// -----

func.func @xnor_unpacked(%a: tensor<?x2xi64>, %w: tensor<8x2xi64, #bnn.packed<axis = 1, bits = 100>>) {
  // expected-error @+1 {{needs signs packed along axis 1 (a rank-2 i64 tensor with #bnn.packed<axis = 1, ...>), not 'tensor<?x2xi64>'}}
  %y = bnn.xnor_dense %a, %w {length = 100 : i64} : (tensor<?x2xi64>, tensor<8x2xi64, #bnn.packed<axis = 1, bits = 100>>) -> tensor<?x8xf32>
  return
}

// -----

func.func @xnor_result(%a: tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>, %w: tensor<8x2xi64, #bnn.packed<axis = 1, bits = 100>>) {
  // expected-error @+1 {{result must be [batch, units]}}
  %y = bnn.xnor_dense %a, %w {length = 100 : i64} : (tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>, tensor<8x2xi64, #bnn.packed<axis = 1, bits = 100>>) -> tensor<?x9xf32>
  return
}

// -----

func.func @xnor_conv_channels(%a: tensor<?x9x9x2xi64, #bnn.packed<axis = 1, bits = 70>>, %w: tensor<16x3x3x2xi64, #bnn.packed<axis = 1, bits = 80>>) {
  // expected-error @+1 {{input has 70 channels, weights 80}}
  %y = bnn.xnor_conv2d %a, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x9x9x2xi64, #bnn.packed<axis = 1, bits = 70>>, tensor<16x3x3x2xi64, #bnn.packed<axis = 1, bits = 80>>) -> tensor<?x16x9x9xf32>
  return
}

// -----

func.func @xnor_conv_result(%a: tensor<?x9x9x2xi64, #bnn.packed<axis = 1, bits = 70>>, %w: tensor<16x3x3x2xi64, #bnn.packed<axis = 1, bits = 70>>) {
  // expected-error @+1 {{result must be [?, 16, 5, 5], not [?, 16, 9, 9]}}
  %y = bnn.xnor_conv2d %a, %w {pad = array<i64: 1, 1>, stride = array<i64: 2, 2>} : (tensor<?x9x9x2xi64, #bnn.packed<axis = 1, bits = 70>>, tensor<16x3x3x2xi64, #bnn.packed<axis = 1, bits = 70>>) -> tensor<?x16x9x9xf32>
  return
}

// -----

func.func @xnor_conv_rank(%a: tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>, %w: tensor<16x3x3x2xi64, #bnn.packed<axis = 1, bits = 100>>) {
  // expected-error @+1 {{needs an [N, C, H, W] image packed along axis 1 (a rank-4 i64 tensor}}
  %y = bnn.xnor_conv2d %a, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>, tensor<16x3x3x2xi64, #bnn.packed<axis = 1, bits = 100>>) -> tensor<?x16x9x9xf32>
  return
}

// -----

func.func @xnor_dense_sign_packed_units(%a: tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>, %w: tensor<70x2xi64, #bnn.packed<axis = 1, bits = 100>>, %g: tensor<70xf32>) {
  // expected-error @+1 {{packs the signs of its 70 units into [?, 2] i64 with bits = 70}}
  %y = bnn.xnor_dense_batchnorm_sign %a, %w, %g, %g, %g, %g {epsilon = 1.0e-5, length = 100 : i64} : (tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>, tensor<70x2xi64, #bnn.packed<axis = 1, bits = 100>>, tensor<70xf32>, tensor<70xf32>, tensor<70xf32>, tensor<70xf32>) -> tensor<?x2xi64, #bnn.packed<axis = 1, bits = 64>>
  return
}

// -----

func.func @conv_sign_packed_bits(%x: tensor<?x1x6x6xf32>, %w: tensor<8x1x3x3xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{packs the signs of 8 filters, not 16}}
  %y = bnn.conv2d_batchnorm_sign %x, %w, %g, %g, %g, %g {epsilon = 1.0e-5, pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, weights = #bnn.quant<binary>} : (tensor<?x1x6x6xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x6x6x1xi64, #bnn.packed<axis = 1, bits = 16>>
  return
}

// -----

func.func @conv_sign_shape(%x: tensor<?x1x6x6xf32>, %w: tensor<8x1x3x3xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{result must be [?, 8, 3, 3], not [?, 8, 6, 6]}}
  %y = bnn.conv2d_batchnorm_sign %x, %w, %g, %g, %g, %g {epsilon = 1.0e-5, pad = array<i64: 1, 1>, stride = array<i64: 2, 2>, weights = #bnn.quant<binary>} : (tensor<?x1x6x6xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8x6x6xf32>
  return
}

// -----

func.func @batchnorm_sums_rows(%x: tensor<8x4x3x3xf32>) {
  // expected-error @+1 {{result has shape [2, 4], expected [3, 4]}}
  %s = bnn.batchnorm_sums %x : (tensor<8x4x3x3xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @batchnorm_sums_no_channels(%x: tensor<8xf32>) {
  // expected-error @+1 {{takes an input with a channel axis ([N, C, ...])}}
  %s = bnn.batchnorm_sums %x : (tensor<8xf32>) -> tensor<3x1xf32>
  return
}

// -----

func.func @grad_sums_rows(%x: tensor<8x4xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{result has shape [3, 4], expected [2, 4]}}
  %s = bnn.batchnorm_grad_sums %x, %p, %x, %p, %p, %p : (tensor<8x4xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @ste_grad_sums_shape(%x: tensor<8x4xf32>, %p: tensor<4xf32>, %sums: tensor<4xf32>) {
  // expected-error @+1 {{grad_sums (Σdy, Σdy·x̂) has shape [4], expected [2, 4]}}
  %dx, %dg, %db = bnn.batchnorm_ste_grad %x, %p, %p, %x, %p, %p, %sums : (tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

// A fused max pool without the sign is training's: it must write winners.
func.func @xnor_conv_pool_without_winners(%a: tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) {
  // expected-error @+1 {{fuses a max pool without a sign only with a `winners` result}}
  %y = bnn.xnor_conv2d %a, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, pool = array<i64: 2, 2>} : (tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) -> tensor<?x4x4x4xf32>
  return
}

// -----

func.func @xnor_conv_winners_without_pool(%a: tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) {
  // expected-error @+1 {{has `winners` only with a fused max pool and no fused sign}}
  %y, %i = bnn.xnor_conv2d %a, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) -> tensor<?x4x8x8xf32> winners tensor<?x4x8x8xi32>
  return
}

// -----

func.func @xnor_conv_winners_shape(%a: tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) {
  // expected-error @+1 {{`winners` must have the shape of the pooled output}}
  %y, %i = bnn.xnor_conv2d %a, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, pool = array<i64: 2, 2>} : (tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) -> tensor<?x4x4x4xf32> winners tensor<?x4x8x8xi32>
  return
}

// -----

func.func @xnor_conv_pool_not_square(%a: tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) {
  // expected-error @+1 {{fuses only a square max pool [k, k]}}
  %y, %i = bnn.xnor_conv2d %a, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, pool = array<i64: 2, 1>} : (tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) -> tensor<?x4x4x8xf32> winners tensor<?x4x4x8xi32>
  return
}

// -----

func.func @xnor_conv_batch_sums_shape(%a: tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) {
  // expected-error @+1 {{`batch_sums` must be [3, 4] (Σx, Σx², count)}}
  %y, %s = bnn.xnor_conv2d %a, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x8x8x1xi64, #bnn.packed<axis = 1, bits = 16>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 16>>) -> tensor<?x4x8x8xf32> batch_sums tensor<2x4xf32>
  return
}

// -----

func.func @flatten_signs_bits(%x: tensor<?x3x3x2xi64, #bnn.packed<axis = 1, bits = 70>>) {
  // expected-error @+1 {{flattens 70 x 3 x 3 = 630 signs an image, but the result holds 640}}
  %f = bnn.flatten_signs %x : (tensor<?x3x3x2xi64, #bnn.packed<axis = 1, bits = 70>>) -> tensor<?x10xi64, #bnn.packed<axis = 1, bits = 640>>
  return
}

// -----

func.func @flatten_signs_shape(%x: tensor<?x3x3x2xi64, #bnn.packed<axis = 1, bits = 70>>) {
  // expected-error @+1 {{writes [?, 10], not [?, 11]}}
  %f = bnn.flatten_signs %x : (tensor<?x3x3x2xi64, #bnn.packed<axis = 1, bits = 70>>) -> tensor<?x11xi64, #bnn.packed<axis = 1, bits = 630>>
  return
}

// -----

func.func @flatten_signs_words(%x: tensor<?x3x3x1xi64, #bnn.packed<axis = 1, bits = 70>>) {
  // expected-error @+1 {{input holds 70 channels in 1 words a pixel, not 2}}
  %f = bnn.flatten_signs %x : (tensor<?x3x3x1xi64, #bnn.packed<axis = 1, bits = 70>>) -> tensor<?x10xi64, #bnn.packed<axis = 1, bits = 630>>
  return
}

// -----

func.func @flatten_signs_not_an_image(%x: tensor<?x2xi64, #bnn.packed<axis = 1, bits = 70>>) {
  // expected-error @+1 {{needs an [N, C, H, W] image packed along axis 1 (a rank-4 i64 tensor}}
  %f = bnn.flatten_signs %x : (tensor<?x2xi64, #bnn.packed<axis = 1, bits = 70>>) -> tensor<?x2xi64, #bnn.packed<axis = 1, bits = 70>>
  return
}

// -----

func.func @flatten_signs_dynamic(%x: tensor<?x?x3x1xi64, #bnn.packed<axis = 1, bits = 4>>) {
  // expected-error @+1 {{needs a static number of channels, height and width}}
  %f = bnn.flatten_signs %x : (tensor<?x?x3x1xi64, #bnn.packed<axis = 1, bits = 4>>) -> tensor<?x1xi64, #bnn.packed<axis = 1, bits = 36>>
  return
}
