// RUN: bnn-opt %s --bnn-generate-train-step --bnn-data-parallel | FileCheck %s --check-prefix=ONE
// RUN: bnn-opt %s --bnn-generate-train-step --bnn-data-parallel=bucket-bytes=64 | FileCheck %s --check-prefix=SMALL
// RUN: bnn-opt %s --bnn-generate-train-step --bnn-data-parallel --bnn-data-parallel | FileCheck %s --check-prefix=TWICE

// The MLP of generate-train-step.mlir: gradients become ready in the
// backward pass in the order d1.weight (48 bytes), d1.bias (12), then
// bn.gamma and bn.beta (16 each, one op), then d0.weight (96).
func.func @mlp(%x: tensor<?x6xf32>, %labels: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
  %w0 = bnn.param "d0.weight" : tensor<4x6xf32> init #bnn.init<glorot_uniform>
  %h0 = bnn.dense %x, %w0 {weights = #bnn.quant<binary>} : (tensor<?x6xf32>, tensor<4x6xf32>) -> tensor<?x4xf32>
  %g = bnn.param "bn.gamma" : tensor<4xf32> init #bnn.init<constant, 1.0>
  %b = bnn.param "bn.beta" : tensor<4xf32> init #bnn.init<constant, 0.0>
  %m = bnn.param "bn.running_mean" : tensor<4xf32> init #bnn.init<constant, 0.0> {state}
  %v = bnn.param "bn.running_var" : tensor<4xf32> init #bnn.init<constant, 1.0> {state}
  %n = bnn.batchnorm %h0, %g, %b, %m, %v {epsilon = 1.0e-5, momentum = 0.9} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %s = bnn.sign %n : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %w1 = bnn.param "d1.weight" : tensor<3x4xf32> init #bnn.init<glorot_uniform>
  %c = bnn.param "d1.bias" : tensor<3xf32> init #bnn.init<constant, 0.0>
  %y = bnn.dense %s, %w1, %c {weights = #bnn.quant<binary>} : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  %l = bnn.cross_entropy %y, %labels : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
  return %y, %l : tensor<?x3xf32>, tensor<f32>
}

// The evaluation function has no collective.
// ONE-LABEL: func.func @mlp(
// ONE-NOT: bnn.allreduce
// ONE-LABEL: func.func @mlp_train_step(

// The default bucket (4 MiB) takes all five gradients: one all-reduce,
// right after the last gradient (d0.weight's), before the Adam updates,
// which read its means.
// ONE: %[[DW1:.*]] = bnn.dense_grad_weight
// ONE: %[[DC:.*]] = bnn.bias_grad
// ONE: %{{.*}}, %[[DG:.*]], %[[DB:.*]] = bnn.batchnorm_grad
// ONE: %[[DW0:.*]] = bnn.dense_grad_weight
// ONE-NEXT: %[[MEAN:.*]]:5 = bnn.allreduce %[[DW1]], %[[DC]], %[[DG]], %[[DB]], %[[DW0]] : (tensor<3x4xf32>, tensor<3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4x6xf32>) -> (tensor<3x4xf32>, tensor<3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4x6xf32>)
// ONE-NOT: bnn.allreduce
// The updates in bucket order (the order the gradients became ready):
// ONE: bnn.adam_update %d1.weight, %[[MEAN]]#0, {{.*}} {clip}
// ONE: bnn.adam_update %d1.bias, %[[MEAN]]#1,
// ONE: bnn.adam_update %bn.gamma, %[[MEAN]]#2,
// ONE: bnn.adam_update %bn.beta, %[[MEAN]]#3,
// ONE: bnn.adam_update %d0.weight, %[[MEAN]]#4, {{.*}} {clip}
// ONE-NEXT: return

// 64-byte buckets: d1.weight + d1.bias (60 bytes) stay open, bn.gamma
// closes the first bucket (76 bytes); bn.beta and d0.weight (112 bytes)
// are the second. Each all-reduce follows its bucket's last gradient, so
// the first one travels while d0.weight's gradient is computed.
// SMALL-LABEL: func.func @mlp_train_step(
// SMALL: %[[DW1:.*]] = bnn.dense_grad_weight
// SMALL: %[[DC:.*]] = bnn.bias_grad
// SMALL: %{{.*}}, %[[DG:.*]], %[[DB:.*]] = bnn.batchnorm_grad
// SMALL-NEXT: %[[FIRST:.*]]:3 = bnn.allreduce %[[DW1]], %[[DC]], %[[DG]] :
// SMALL-NEXT: %[[DW0:.*]] = bnn.dense_grad_weight
// SMALL-NEXT: %[[SECOND:.*]]:2 = bnn.allreduce %[[DB]], %[[DW0]] : (tensor<4xf32>, tensor<4x6xf32>) -> (tensor<4xf32>, tensor<4x6xf32>)
// SMALL: bnn.adam_update %d1.weight, %[[FIRST]]#0,
// SMALL: bnn.adam_update %d1.bias, %[[FIRST]]#1,
// SMALL: bnn.adam_update %bn.gamma, %[[FIRST]]#2,
// SMALL: bnn.adam_update %bn.beta, %[[SECOND]]#0,
// SMALL: bnn.adam_update %d0.weight, %[[SECOND]]#1,

// A second run leaves a data-parallel train step as it is.
// TWICE-LABEL: func.func @mlp_train_step(
// TWICE-COUNT-1: bnn.allreduce
// TWICE-NOT: bnn.allreduce
