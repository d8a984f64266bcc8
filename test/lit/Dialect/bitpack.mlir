// RUN: bnn-opt %s -pass-pipeline='builtin.module(func.func(bnn-bitpack))' | FileCheck %s

// CHECK-LABEL: func.func @binary_on_signs
// CHECK: %[[S:.*]] = bnn.sign %arg0
// CHECK: %[[PA:.*]] = bnn.pack_signs %[[S]] : (tensor<?x100xf32>) -> tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>
// CHECK: %[[PW:.*]] = bnn.pack_signs %w : (tensor<8x100xf32>) -> tensor<8x2xi64, #bnn.packed<axis = 1, bits = 100>>
// CHECK: bnn.xnor_dense %[[PA]], %[[PW]] {length = 100 : i64} : (tensor<?x2xi64, #bnn.packed<axis = 1, bits = 100>>, tensor<8x2xi64, #bnn.packed<axis = 1, bits = 100>>) -> tensor<?x8xf32>
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

// An xnor_dense whose result feeds batchnorm_sign_train (and that
// batchnorm's backward) becomes one op: the whole binary layer.
// CHECK-LABEL: func.func @fused_layer
// CHECK: %[[PA:.*]] = bnn.pack_signs %{{[0-9]+}}
// CHECK: %[[PW:.*]] = bnn.pack_signs %w
// CHECK: %[[S:.*]], %[[P:.*]], %[[M:.*]], %[[I:.*]] = bnn.xnor_dense_batchnorm_sign_train %[[PA]], %[[PW]], %arg1, %arg2, %arg3, %arg4 {epsilon = 1.000000e-05 : f64, length = 64 : i64, momentum = 9.000000e-01 : f64}
// CHECK-NOT: bnn.xnor_dense %
// CHECK: bnn.batchnorm_ste_grad %[[P]], %arg1, %arg2, %arg5, %[[M]], %[[I]]
func.func @fused_layer(%s: tensor<?x64xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>, %dy: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %x = bnn.sign %s : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %w = bnn.param "w" : tensor<4x64xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %x, %w {weights = #bnn.quant<binary>} : (tensor<?x64xf32>, tensor<4x64xf32>) -> tensor<?x4xf32>
  %o, %mean, %inv = bnn.batchnorm_sign_train %y, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>)
  %dx, %dg, %db = bnn.batchnorm_ste_grad %y, %g, %b, %dy, %mean, %inv : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return %o, %dx : tensor<?x4xf32>, tensor<?x4xf32>
}

// At evaluation the product is compared with the thresholds and never stored.
// CHECK-LABEL: func.func @fused_eval
// CHECK: bnn.xnor_dense_batchnorm_sign %{{.*}}, %{{.*}}, %arg1, %arg2, %arg3, %arg4 {epsilon = 1.000000e-05 : f64, length = 64 : i64}
// CHECK-NOT: bnn.xnor_dense %
// CHECK-NOT: bnn.batchnorm_sign %
func.func @fused_eval(%s: tensor<?x64xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>) -> tensor<?x4xf32> {
  %x = bnn.sign %s : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %w = bnn.param "w" : tensor<4x64xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %x, %w {weights = #bnn.quant<binary>} : (tensor<?x64xf32>, tensor<4x64xf32>) -> tensor<?x4xf32>
  %o = bnn.batchnorm_sign %y, %g, %b, %m, %v {epsilon = 1.0e-5} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %o : tensor<?x4xf32>
}

// A binary dense after a whole fused binary layer reads ±1 too (SignValued):
// its input is packed as well, and as the packed signs are all that is read
// of the fused layer, it writes them packed (1 bit a unit), never as floats.
// CHECK-LABEL: func.func @after_fused_layer
// CHECK: %[[S:.*]] = bnn.xnor_dense_batchnorm_sign {{.*}} -> tensor<?x1xi64, #bnn.packed<axis = 1, bits = 4>>
// CHECK-NOT: bnn.pack_signs %[[S]]
// CHECK: bnn.xnor_dense %[[S]], %{{.*}} {length = 4 : i64}
// CHECK-NOT: bnn.dense
func.func @after_fused_layer(%p: tensor<?x1xi64, #bnn.packed<axis = 1, bits = 64>>, %pw: tensor<4x1xi64, #bnn.packed<axis = 1, bits = 64>>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>) -> tensor<?x2xf32> {
  %s = bnn.xnor_dense_batchnorm_sign %p, %pw, %g, %b, %m, %v {epsilon = 1.0e-5, length = 64 : i64} : (tensor<?x1xi64, #bnn.packed<axis = 1, bits = 64>>, tensor<4x1xi64, #bnn.packed<axis = 1, bits = 64>>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %w = bnn.param "w" : tensor<2x4xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %s, %w {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// A flatten keeps the values it reshapes (KeepsValues): the signs of an
// image, flattened, are still ±1, so the binary dense after them packs its
// input too (in the flattened order, as its weights).
// The signs of an image reach a binary dense layer through its flatten:
// they are packed along channels, as a convolution's sign writer packs
// them, and flatten_signs repacks the words in flatten order, so no ±1
// float is stored at the boundary.
// CHECK-LABEL: func.func @dense_after_flatten
// CHECK: %[[S:.*]] = bnn.sign %arg0
// CHECK: %[[PI:.*]] = bnn.pack_signs %[[S]] : (tensor<?x4x3x3xf32>) -> tensor<?x3x3x1xi64, #bnn.packed<axis = 1, bits = 4>>
// CHECK: %[[PA:.*]] = bnn.flatten_signs %[[PI]] : (tensor<?x3x3x1xi64, #bnn.packed<axis = 1, bits = 4>>) -> tensor<?x1xi64, #bnn.packed<axis = 1, bits = 36>>
// CHECK: bnn.xnor_dense %[[PA]], %{{.*}} {length = 36 : i64}
// CHECK-NOT: bnn.dense
// CHECK-NOT: bnn.flatten
func.func @dense_after_flatten(%x: tensor<?x4x3x3xf32>) -> tensor<?x2xf32> {
  %s = bnn.sign %x : (tensor<?x4x3x3xf32>) -> tensor<?x4x3x3xf32>
  %f = bnn.flatten %s : (tensor<?x4x3x3xf32>) -> tensor<?x36xf32>
  %w = bnn.param "w" : tensor<2x36xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %f, %w {weights = #bnn.quant<binary>} : (tensor<?x36xf32>, tensor<2x36xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// A max pool whose windows do not tile the product (7 × 7, 2 × 2 windows:
// the last row and column are dropped, as bnn.maxpool drops them) fuses
// into the XNOR convolution all the same.
// CHECK-LABEL: func.func @partial_window_pool
// CHECK: bnn.xnor_conv2d {{.*}} sign_of_batchnorm({{.*}}pool = array<i64: 2, 2>{{.*}} -> tensor<?x4x3x3xf32>
// CHECK-NOT: bnn.maxpool
func.func @partial_window_pool(%x: tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %v: tensor<4xf32>) -> tensor<?x4x3x3xf32> {
  %y = bnn.xnor_conv2d %x, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>) -> tensor<?x4x7x7xf32>
  %p = bnn.maxpool %y {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>) -> tensor<?x4x3x3xf32>
  %o = bnn.batchnorm_sign %p, %g, %b, %m, %v {epsilon = 1.0e-5} : (tensor<?x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x3x3xf32>
  return %o : tensor<?x4x3x3xf32>
}


// At evaluation the first layer (a real image) is one convolution with its
// threshold fused, writing the signs packed for the binary layer after it.
// CHECK-LABEL: func.func @first_layer
// CHECK: %[[S:.*]] = bnn.conv2d_batchnorm_sign %arg0, %{{.*}}, %arg1, %arg2, %arg3, %arg4 {epsilon = 1.000000e-05 : f64, pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, weights = #bnn.quant<binary>} : {{.*}} -> tensor<?x6x6x1xi64, #bnn.packed<axis = 1, bits = 8>>
// CHECK-NOT: bnn.batchnorm_sign
// CHECK: bnn.xnor_conv2d %[[S]]
func.func @first_layer(%x: tensor<?x1x6x6xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>) -> tensor<?x4x6x6xf32> {
  %w = bnn.param "w" : tensor<8x1x3x3xf32> init #bnn.init<glorot_uniform>
  %y = bnn.conv2d %x, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, weights = #bnn.quant<binary>} : (tensor<?x1x6x6xf32>, tensor<8x1x3x3xf32>) -> tensor<?x8x6x6xf32>
  %s = bnn.batchnorm_sign %y, %g, %b, %m, %v {epsilon = 1.0e-5} : (tensor<?x8x6x6xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8x6x6xf32>
  %w2 = bnn.param "w2" : tensor<4x8x3x3xf32> init #bnn.init<glorot_uniform>
  %z = bnn.conv2d %s, %w2 {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>, weights = #bnn.quant<binary>} : (tensor<?x8x6x6xf32>, tensor<4x8x3x3xf32>) -> tensor<?x4x6x6xf32>
  return %z : tensor<?x4x6x6xf32>
}

// Training between binary dense layers: the weight gradient reads the
// input signs packed, so the fused layer writes its signs packed only; the
// next XNOR layer and both weight gradients read the words. A float input
// (the first layer's images) stays float.
// CHECK-LABEL: func.func @packed_signs_in_training
// CHECK: %[[PW2:.*]] = bnn.pack_signs %arg7
// CHECK: %[[PW:.*]] = bnn.pack_signs %arg2
// CHECK: %[[S:.*]], %[[P:.*]], %{{.*}}, %{{.*}} = bnn.xnor_dense_batchnorm_sign_train %arg0, %[[PW]], {{.*}} -> (tensor<?x1xi64, #bnn.packed<axis = 1, bits = 4>>, tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK-NOT: bnn.pack_signs %[[S]]
// CHECK: bnn.xnor_dense %[[S]], %[[PW2]]
// CHECK: bnn.dense_grad_weight %[[S]], %arg7, %arg6 {{.*}} : (tensor<?x1xi64, #bnn.packed<axis = 1, bits = 4>>, tensor<3x4xf32>, tensor<?x3xf32>) -> tensor<3x4xf32>
// CHECK: bnn.dense_grad_weight %arg1, %arg2, %{{.*}} : (tensor<?x64xf32>,
func.func @packed_signs_in_training(%p: tensor<?x1xi64, #bnn.packed<axis = 1, bits = 64>>, %x: tensor<?x64xf32>, %w: tensor<4x64xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %dy: tensor<?x3xf32>, %w2: tensor<3x4xf32>) -> (tensor<?x3xf32>, tensor<3x4xf32>, tensor<4x64xf32>) {
  %pw = bnn.pack_signs %w : (tensor<4x64xf32>) -> tensor<4x1xi64, #bnn.packed<axis = 1, bits = 64>>
  %y = bnn.xnor_dense %p, %pw {length = 64 : i64} : (tensor<?x1xi64, #bnn.packed<axis = 1, bits = 64>>, tensor<4x1xi64, #bnn.packed<axis = 1, bits = 64>>) -> tensor<?x4xf32>
  %s, %mean, %inv = bnn.batchnorm_sign_train %y, %g, %b, %m, %m {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>)
  %next = bnn.dense %s, %w2 {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  %dw2 = bnn.dense_grad_weight %s, %w2, %dy {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<?x3xf32>) -> tensor<3x4xf32>
  %dx = bnn.dense_grad_input %w2, %dy {weights = #bnn.quant<binary>} : (tensor<3x4xf32>, tensor<?x3xf32>) -> tensor<?x4xf32>
  %dy1, %dg, %db = bnn.batchnorm_ste_grad %y, %g, %b, %dx, %mean, %inv : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>)
  %dw = bnn.dense_grad_weight %x, %w, %dy1 {weights = #bnn.quant<binary>} : (tensor<?x64xf32>, tensor<4x64xf32>, tensor<?x4xf32>) -> tensor<4x64xf32>
  return %next, %dw2, %dw : tensor<?x3xf32>, tensor<3x4xf32>, tensor<4x64xf32>
}

// Training at the same boundary: the batchnorm_sign_train of the last
// convolution writes its signs packed along channels; one flatten_signs
// feeds both the binary dense layer and its weight gradient.
// CHECK-LABEL: func.func @flatten_in_training
// CHECK: %[[S:.*]], %{{.*}}, %{{.*}} = bnn.batchnorm_sign_train {{.*}} -> (tensor<?x3x3x1xi64, #bnn.packed<axis = 1, bits = 4>>,
// CHECK: %[[F:.*]] = bnn.flatten_signs %[[S]] : {{.*}} -> tensor<?x1xi64, #bnn.packed<axis = 1, bits = 36>>
// CHECK-NOT: bnn.flatten_signs
// CHECK: bnn.xnor_dense %[[F]]
// CHECK: bnn.dense_grad_weight %[[F]], %arg4, %arg5 {{.*}} : (tensor<?x1xi64, #bnn.packed<axis = 1, bits = 36>>, tensor<2x36xf32>, tensor<?x2xf32>) -> tensor<2x36xf32>
// CHECK-NOT: bnn.flatten
func.func @flatten_in_training(%y: tensor<?x4x3x3xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>, %m: tensor<4xf32>, %w: tensor<2x36xf32>, %dy: tensor<?x2xf32>) -> (tensor<?x2xf32>, tensor<2x36xf32>) {
  %s, %mean, %inv = bnn.batchnorm_sign_train %y, %g, %b, %m, %m {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>)
  %f = bnn.flatten %s : (tensor<?x4x3x3xf32>) -> tensor<?x36xf32>
  %next = bnn.dense %f, %w {weights = #bnn.quant<binary>} : (tensor<?x36xf32>, tensor<2x36xf32>) -> tensor<?x2xf32>
  %dw = bnn.dense_grad_weight %f, %w, %dy {weights = #bnn.quant<binary>} : (tensor<?x36xf32>, tensor<2x36xf32>, tensor<?x2xf32>) -> tensor<2x36xf32>
  return %next, %dw : tensor<?x2xf32>, tensor<2x36xf32>
}

// In training, maxpool(xnor_conv2d) read otherwise only by the pool's
// backward pass is one XNOR convolution that writes the pooled product and
// each window's winner; maxpool_grad reads the winners, so the unpooled
// product is never stored.
// CHECK-LABEL: func.func @pool_in_training
// CHECK: %[[Y:.*]], %[[WIN:.*]] = bnn.xnor_conv2d %arg0, %arg1 {pad = array<i64: 1, 1>, pool = array<i64: 2, 2>, stride = array<i64: 1, 1>} : ({{.*}}) -> tensor<?x4x3x3xf32> winners tensor<?x4x3x3xi32>
// CHECK-NOT: bnn.maxpool %
// CHECK: bnn.maxpool_grad %[[WIN]], %arg2 {{.*}} : (tensor<?x4x3x3xi32>, tensor<?x4x3x3xf32>) -> tensor<?x4x7x7xf32>
// CHECK: return %[[Y]]
func.func @pool_in_training(%x: tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>, %dy: tensor<?x4x3x3xf32>) -> (tensor<?x4x3x3xf32>, tensor<?x4x7x7xf32>) {
  %y = bnn.xnor_conv2d %x, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>) -> tensor<?x4x7x7xf32>
  %p = bnn.maxpool %y {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>) -> tensor<?x4x3x3xf32>
  %dx = bnn.maxpool_grad %y, %dy {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>, tensor<?x4x3x3xf32>) -> tensor<?x4x7x7xf32>
  return %p, %dx : tensor<?x4x3x3xf32>, tensor<?x4x7x7xf32>
}

// Not fused: the product has another reader (it must be stored anyway),
// or the windows overlap (an input may win two windows).
// CHECK-LABEL: func.func @pool_in_training_not_fused
// CHECK-NOT: pool = array
// CHECK-COUNT-2: bnn.maxpool %
// CHECK-NOT: xi32
func.func @pool_in_training_not_fused(%x: tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>, %dy: tensor<?x4x3x3xf32>) -> (tensor<?x4x3x3xf32>, tensor<?x4x7x7xf32>, tensor<?x4x7x7xf32>, tensor<?x4x3x3xf32>) {
  %y = bnn.xnor_conv2d %x, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>) -> tensor<?x4x7x7xf32>
  %p = bnn.maxpool %y {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>) -> tensor<?x4x3x3xf32>
  %dx = bnn.maxpool_grad %y, %dy {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>, tensor<?x4x3x3xf32>) -> tensor<?x4x7x7xf32>
  %z = bnn.xnor_conv2d %x, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>) -> tensor<?x4x7x7xf32>
  %q = bnn.maxpool %z {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>) -> tensor<?x4x3x3xf32>
  %dz = bnn.maxpool_grad %z, %dy {kernel = array<i64: 3, 3>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>, tensor<?x4x3x3xf32>) -> tensor<?x4x7x7xf32>
  return %p, %y, %dz, %q : tensor<?x4x3x3xf32>, tensor<?x4x7x7xf32>, tensor<?x4x7x7xf32>, tensor<?x4x3x3xf32>
}

// The fused convolution takes the place of the product, so readers of it
// that come before the pool or the batchnorm (here the pool's gradient)
// still follow their operand.
// CHECK-LABEL: func.func @fused_before_early_readers
// CHECK: %[[Y:.*]], %[[WIN:.*]], %[[SUMS:.*]] = bnn.xnor_conv2d %arg0, %arg1 {{.*}} winners tensor<?x4x3x3xi32> batch_sums tensor<3x4xf32>
// CHECK-NEXT: bnn.maxpool_grad %[[WIN]], %arg2
// CHECK-NEXT: bnn.batchnorm_sign_train %[[Y]], %arg3, %arg3, %arg3, %arg3, %[[SUMS]]
func.func @fused_before_early_readers(%x: tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>, %dy: tensor<?x4x3x3xf32>, %g: tensor<4xf32>) -> (tensor<?x4x3x3xf32>, tensor<?x4x7x7xf32>) {
  %y = bnn.xnor_conv2d %x, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>) -> tensor<?x4x7x7xf32>
  %dx = bnn.maxpool_grad %y, %dy {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>, tensor<?x4x3x3xf32>) -> tensor<?x4x7x7xf32>
  %p = bnn.maxpool %y {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>) -> tensor<?x4x3x3xf32>
  %s, %mean, %inv = bnn.batchnorm_sign_train %p, %g, %g, %g, %g {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>)
  return %s, %dx : tensor<?x4x3x3xf32>, tensor<?x4x7x7xf32>
}

// Not fused: a gradient that reads the product as its dy too (1 x 1
// windows make the shapes agree) needs the product itself.
// CHECK-LABEL: func.func @pool_grad_reads_product_as_dy
// CHECK-NOT: winners
// CHECK: bnn.maxpool %
func.func @pool_grad_reads_product_as_dy(%x: tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>) -> (tensor<?x4x7x7xf32>, tensor<?x4x7x7xf32>) {
  %y = bnn.xnor_conv2d %x, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>) -> tensor<?x4x7x7xf32>
  %p = bnn.maxpool %y {kernel = array<i64: 1, 1>, stride = array<i64: 1, 1>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>) -> tensor<?x4x7x7xf32>
  %dx = bnn.maxpool_grad %y, %y {kernel = array<i64: 1, 1>, stride = array<i64: 1, 1>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>, tensor<?x4x7x7xf32>) -> tensor<?x4x7x7xf32>
  return %p, %dx : tensor<?x4x7x7xf32>, tensor<?x4x7x7xf32>
}

// In training, the XNOR convolution before a batchnorm_sign_train sums the
// batch statistics itself (its batch_sums), which the batchnorm reads;
// with the pool fused too, both extra results. A batchnorm that already
// has its sums (synchronised batchnorm: from the all-reduce) keeps them.
// CHECK-LABEL: func.func @batch_sums_in_training
// CHECK: %[[Y:.*]], %[[WIN:.*]], %[[SUMS:.*]] = bnn.xnor_conv2d %arg0, %arg1 {{.*}} -> tensor<?x4x3x3xf32> winners tensor<?x4x3x3xi32> batch_sums tensor<3x4xf32>
// CHECK: bnn.batchnorm_sign_train %[[Y]], %arg3, %arg3, %arg3, %arg3, %[[SUMS]] {{.*}} : (tensor<?x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<3x4xf32>)
// CHECK: bnn.maxpool_grad %[[WIN]]
// CHECK: %[[Z:.*]] = bnn.xnor_conv2d %arg0, %arg1 {{.*}} -> tensor<?x4x7x7xf32>{{$}}
// CHECK: bnn.batchnorm_sign_train %[[Z]], %arg3, %arg3, %arg3, %arg3, %arg4 {
func.func @batch_sums_in_training(%x: tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, %w: tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>, %dy: tensor<?x4x3x3xf32>, %g: tensor<4xf32>, %given: tensor<3x4xf32>) -> (tensor<?x4x3x3xf32>, tensor<?x4x7x7xf32>, tensor<?x4x7x7xf32>) {
  %y = bnn.xnor_conv2d %x, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>) -> tensor<?x4x7x7xf32>
  %p = bnn.maxpool %y {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>) -> tensor<?x4x3x3xf32>
  %s, %mean, %inv = bnn.batchnorm_sign_train %p, %g, %g, %g, %g {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x4x3x3xf32>, tensor<4xf32>, tensor<4xf32>)
  %dx = bnn.maxpool_grad %y, %dy {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x4x7x7xf32>, tensor<?x4x3x3xf32>) -> tensor<?x4x7x7xf32>
  %z = bnn.xnor_conv2d %x, %w {pad = array<i64: 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x7x7x1xi64, #bnn.packed<axis = 1, bits = 8>>, tensor<4x3x3x1xi64, #bnn.packed<axis = 1, bits = 8>>) -> tensor<?x4x7x7xf32>
  %t, %mean2, %inv2 = bnn.batchnorm_sign_train %z, %g, %g, %g, %g, %given {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4x7x7xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<3x4xf32>) -> (tensor<?x4x7x7xf32>, tensor<4xf32>, tensor<4xf32>)
  return %s, %dx, %t : tensor<?x4x3x3xf32>, tensor<?x4x7x7xf32>, tensor<?x4x7x7xf32>
}
