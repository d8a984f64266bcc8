// RUN: bnn-opt %s -pass-pipeline='builtin.module(func.func(bnn-fuse))' | FileCheck %s

// Evaluation: sign(batchnorm(x)) is a threshold.
// CHECK-LABEL: func.func @eval
// CHECK: %[[S:.*]] = bnn.batchnorm_sign %arg0, %arg1, %arg2, %arg3, %arg4 {epsilon = 1.000000e-05 : f64}
// CHECK-NOT: bnn.batchnorm %
// CHECK-NOT: bnn.sign
// CHECK: return %[[S]]
func.func @eval(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>) -> tensor<?x8xf32> {
  %n = bnn.batchnorm %x, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %s = bnn.sign %n : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %s : tensor<?x8xf32>
}

// A batchnorm whose output is also used elsewhere stays as it is.
// CHECK-LABEL: func.func @eval_shared
// CHECK: bnn.batchnorm %
// CHECK: bnn.sign
func.func @eval_shared(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %n = bnn.batchnorm %x, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %s = bnn.sign %n : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return %s, %n : tensor<?x8xf32>, tensor<?x8xf32>
}

// Training: forward batchnorm + sign writes only signs; the backward STE is
// folded into the batchnorm backward, which recomputes its window from x.
// CHECK-LABEL: func.func @train
// CHECK: %[[S:.*]], %[[MEAN:.*]], %[[INV:.*]] = bnn.batchnorm_sign_train %arg0, %arg1, %arg2, %arg3, %arg4
// CHECK-NOT: bnn.sign
// CHECK-NOT: bnn.ste_grad
// CHECK: %[[DX:.*]], %[[DG:.*]], %[[DB:.*]] = bnn.batchnorm_ste_grad %arg0, %arg1, %arg2, %arg5, %[[MEAN]], %[[INV]]
// CHECK: return %[[S]], %[[DX]], %[[DG]], %[[DB]]
func.func @train(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %dy: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>) {
  %n, %mean, %inv = bnn.batchnorm_train %x, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>)
  %s = bnn.sign %n : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %dn = bnn.ste_grad %n, %dy : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %dx, %dg, %db = bnn.batchnorm_grad %x, %g, %dn, %mean, %inv : (tensor<?x8xf32>, tensor<8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %s, %dx, %dg, %db : tensor<?x8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>
}

// htanh has the same straight-through window, so its backward fuses too;
// its forward is no sign and stays.
// CHECK-LABEL: func.func @train_htanh
// CHECK: %[[N:.*]], %{{.*}}, %{{.*}} = bnn.batchnorm_train
// CHECK: bnn.htanh %[[N]]
// CHECK: bnn.batchnorm_ste_grad %arg0, %arg1, %arg2, %arg5
func.func @train_htanh(%x: tensor<?x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>, %m: tensor<8xf32>, %v: tensor<8xf32>, %dy: tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>) {
  %n, %mean, %inv = bnn.batchnorm_train %x, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>)
  %h = bnn.htanh %n : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %dn = bnn.ste_grad %n, %dy : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %dx, %dg, %db = bnn.batchnorm_grad %x, %g, %dn, %mean, %inv : (tensor<?x8xf32>, tensor<8xf32>, tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %h, %dx : tensor<?x8xf32>, tensor<?x8xf32>
}
