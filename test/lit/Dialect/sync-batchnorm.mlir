// RUN: bnn-opt %s --bnn-generate-train-step --bnn-fuse --bnn-sync-batchnorm | FileCheck %s
// RUN: bnn-opt %s --bnn-generate-train-step --bnn-fuse --bnn-sync-batchnorm --bnn-sync-batchnorm | FileCheck %s --check-prefix=TWICE

// A binary MLP with a batchnorm before a sign (fused: batchnorm_sign_train,
// batchnorm_ste_grad) and one before the loss (batchnorm_train,
// batchnorm_grad).
func.func @mlp(%x: tensor<?x6xf32>, %labels: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
  %w0 = bnn.param "d0.weight" : tensor<4x6xf32> init #bnn.init<glorot_uniform>
  %h0 = bnn.dense %x, %w0 {weights = #bnn.quant<binary>} : (tensor<?x6xf32>, tensor<4x6xf32>) -> tensor<?x4xf32>
  %g0 = bnn.param "bn0.gamma" : tensor<4xf32> init #bnn.init<constant, 1.0>
  %b0 = bnn.param "bn0.beta" : tensor<4xf32> init #bnn.init<constant, 0.0>
  %m0 = bnn.param "bn0.running_mean" : tensor<4xf32> init #bnn.init<constant, 0.0> {state}
  %v0 = bnn.param "bn0.running_var" : tensor<4xf32> init #bnn.init<constant, 1.0> {state}
  %n0 = bnn.batchnorm %h0, %g0, %b0, %m0, %v0 {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %s = bnn.sign %n0 : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %w1 = bnn.param "d1.weight" : tensor<3x4xf32> init #bnn.init<glorot_uniform>
  %y = bnn.dense %s, %w1 {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  %g1 = bnn.param "bn1.gamma" : tensor<3xf32> init #bnn.init<constant, 1.0>
  %b1 = bnn.param "bn1.beta" : tensor<3xf32> init #bnn.init<constant, 0.0>
  %m1 = bnn.param "bn1.running_mean" : tensor<3xf32> init #bnn.init<constant, 0.0> {state}
  %v1 = bnn.param "bn1.running_var" : tensor<3xf32> init #bnn.init<constant, 1.0> {state}
  %z = bnn.batchnorm %y, %g1, %b1, %m1, %v1 {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %l = bnn.cross_entropy %z, %labels : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
  return %z, %l : tensor<?x3xf32>, tensor<f32>
}

// Evaluation uses running statistics: nothing to synchronise.
// CHECK-LABEL: func.func @mlp(
// CHECK-NOT: batchnorm_sums
// CHECK-NOT: bnn.allreduce
// CHECK-LABEL: func.func @mlp_train_step(

// Forward: the local Σx, Σx², count, summed over the processes, feed the
// batchnorm as its batch_sums.
// CHECK: %[[H0:.*]] = bnn.dense %arg0
// CHECK: %[[S0:.*]] = bnn.batchnorm_sums %[[H0]] : (tensor<?x4xf32>) -> tensor<3x4xf32>
// CHECK: %[[R0:.*]] = bnn.allreduce %[[S0]] {sum, sync_batchnorm} : (tensor<3x4xf32>) -> tensor<3x4xf32>
// CHECK: %[[SIGNS:.*]], %[[MEAN0:.*]], %[[INV0:.*]] = bnn.batchnorm_sign_train %[[H0]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[R0]] {
// CHECK: %[[Y:.*]] = bnn.dense %[[SIGNS]]
// CHECK: %[[S1:.*]] = bnn.batchnorm_sums %[[Y]] : (tensor<?x3xf32>) -> tensor<3x3xf32>
// CHECK: %[[R1:.*]] = bnn.allreduce %[[S1]] {sum, sync_batchnorm}
// CHECK: %[[Z:.*]], %[[MEAN1:.*]], %[[INV1:.*]] = bnn.batchnorm_train %[[Y]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[R1]] {

// Backward: Σdy and Σdy·x̂ (with the STE window after a sign: beta comes
// last), averaged (no `sum`), feed the backward op as its grad_sums.
// CHECK: %[[DZ:.*]] = bnn.cross_entropy_grad
// CHECK: %[[G1:.*]] = bnn.batchnorm_grad_sums %[[Y]], %{{.*}}, %[[DZ]], %[[MEAN1]], %[[INV1]] : (tensor<?x3xf32>, tensor<3xf32>, tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK: %[[A1:.*]] = bnn.allreduce %[[G1]] {sync_batchnorm} : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK: bnn.batchnorm_grad %[[Y]], %{{.*}}, %[[DZ]], %[[MEAN1]], %[[INV1]], %[[A1]] :
// CHECK: %[[DS:.*]] = bnn.dense_grad_input
// CHECK: %[[G0:.*]] = bnn.batchnorm_grad_sums %[[H0]], %[[GAMMA0:[^,]*]], %[[DS]], %[[MEAN0]], %[[INV0]], %[[BETA0:[^ ]*]] :
// CHECK: %[[A0:.*]] = bnn.allreduce %[[G0]] {sync_batchnorm}
// CHECK: bnn.batchnorm_ste_grad %[[H0]], %[[GAMMA0]], %[[BETA0]], %[[DS]], %[[MEAN0]], %[[INV0]], %[[A0]] :

// Applied twice, the ops that have their sums keep them.
// TWICE-COUNT-2: bnn.batchnorm_sums
// TWICE-NOT: bnn.batchnorm_sums
// TWICE-COUNT-2: bnn.batchnorm_grad_sums
// TWICE-NOT: bnn.batchnorm_grad_sums
