// RUN: bnn-opt %s -canonicalize | FileCheck %s

// sign(sign(x)) is sign(x), in value and in its straight-through gradient.
// CHECK-LABEL: func.func @sign_of_sign
// CHECK: %[[S:.*]] = bnn.sign %arg0
// CHECK-NOT: bnn.sign
// CHECK: return %[[S]]
func.func @sign_of_sign(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = bnn.sign %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %1 = bnn.sign %0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @htanh_of_sign
// CHECK: %[[S:.*]] = bnn.sign %arg0
// CHECK-NOT: bnn.htanh
// CHECK: return %[[S]]
func.func @htanh_of_sign(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = bnn.sign %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %1 = bnn.htanh %0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// sign(htanh(x)) is not folded: htanh changes the value before the sign.
// CHECK-LABEL: func.func @sign_of_htanh
// CHECK: bnn.htanh
// CHECK: bnn.sign
func.func @sign_of_htanh(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = bnn.htanh %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %1 = bnn.sign %0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @relu_of_relu
// CHECK-COUNT-1: bnn.relu
// CHECK-NOT: bnn.relu
func.func @relu_of_relu(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = bnn.relu %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %1 = bnn.relu %0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// A flatten of an already flat tensor is its input.
// CHECK-LABEL: func.func @flatten_flat
// CHECK-NOT: bnn.flatten
// CHECK: return %arg0
func.func @flatten_flat(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = bnn.flatten %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// Unused params and layers are pure and go away.
// CHECK-LABEL: func.func @dead_layers
// CHECK-NOT: bnn.
// CHECK: return
func.func @dead_layers(%x: tensor<?x4xf32>) {
  %w = bnn.param "w" : tensor<3x4xf32> init #bnn.init<glorot_uniform>
  %0 = bnn.dense %x, %w {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  return
}

// Any SignValued producer is absorbed, not only bnn.sign: here bnn-fuse's
// evaluation threshold.
// CHECK-LABEL: func.func @sign_of_batchnorm_sign
// CHECK: %[[S:.*]] = bnn.batchnorm_sign
// CHECK-NOT: bnn.sign
// CHECK-NOT: bnn.htanh
// CHECK: return %[[S]], %[[S]]
func.func @sign_of_batchnorm_sign(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %0 = bnn.batchnorm_sign %x, %g, %b, %m, %v {epsilon = 1.0e-5} : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %1 = bnn.sign %0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %2 = bnn.htanh %0 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %1, %2 : tensor<?x8xf32>, tensor<?x8xf32>
}

// Only result 0 of a SignValued op is ±1: the batch statistics are not.
// CHECK-LABEL: func.func @sign_of_statistics
// CHECK: %{{.*}}, %[[MEAN:.*]], %{{.*}} = bnn.batchnorm_sign_train
// CHECK: bnn.sign %[[MEAN]]
func.func @sign_of_statistics(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>) -> tensor<8xf32> {
  %s, %mean, %inv = bnn.batchnorm_sign_train %x, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>)
  %0 = bnn.sign %mean : (tensor<8xf32>) -> tensor<8xf32>
  return %0 : tensor<8xf32>
}
