// RUN: bnn-opt %s -split-input-file -verify-diagnostics

func.func @pack_shape(%x: tensor<?x100xf32>) {
  // expected-error @+1 {{packs [?, 100] into [?, 2], not [?, 3]}}
  %p = bnn.pack_signs %x : (tensor<?x100xf32>) -> tensor<?x3xi64>
  return
}

// -----

func.func @xnor_words(%a: tensor<?x2xi64>, %w: tensor<8x2xi64>) {
  // expected-error @+1 {{length 200 needs 4 words a row}}
  %y = bnn.xnor_dense %a, %w {length = 200 : i64} : (tensor<?x2xi64>, tensor<8x2xi64>) -> tensor<?x8xf32>
  return
}

// -----

func.func @xnor_result(%a: tensor<?x2xi64>, %w: tensor<8x2xi64>) {
  // expected-error @+1 {{result must be [batch, units]}}
  %y = bnn.xnor_dense %a, %w {length = 100 : i64} : (tensor<?x2xi64>, tensor<8x2xi64>) -> tensor<?x9xf32>
  return
}
