// RUN: bnn-opt %s -split-input-file -verify-diagnostics

func.func @empty_bucket() {
  // expected-error @+1 {{needs at least one tensor (an empty bucket)}}
  "bnn.allreduce"() : () -> ()
  return
}

// -----

func.func @fewer_results(%a: tensor<4xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{has 2 operands but 1 results: one mean per operand}}
  %m = "bnn.allreduce"(%a, %b) : (tensor<4xf32>, tensor<3xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @mismatched_types(%a: tensor<4xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{result #1 has type 'tensor<4xf32>', its operand 'tensor<3xf32>'}}
  %m:2 = bnn.allreduce %a, %b : (tensor<4xf32>, tensor<3xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @dynamic_bucket(%a: tensor<?x4xf32>) {
  // expected-error @+1 {{operand #0 has the dynamic type 'tensor<?x4xf32>': a bucket's size must be known at compile time}}
  %m = bnn.allreduce %a : (tensor<?x4xf32>) -> tensor<?x4xf32>
  return
}

