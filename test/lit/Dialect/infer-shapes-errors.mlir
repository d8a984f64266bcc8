// RUN: bnn-opt %s -pass-pipeline='builtin.module(func.func(bnn-infer-shapes))' -split-input-file -verify-diagnostics

// Unranked operands hide the mismatch from the verifier; the pass finds it
// once the shapes are known.
func.func @late_mismatch(%x: tensor<?x1x28x28xf32>) -> tensor<*xf32> {
  %0 = bnn.flatten %x : (tensor<?x1x28x28xf32>) -> tensor<*xf32>
  %w = bnn.param "w" : tensor<16x100xf32> init #bnn.init<glorot_uniform>
  // expected-error @+1 {{weight has shape [16, 100], expected [16, 784]}}
  %1 = bnn.dense %0, %w {weights = #bnn.quant<binary>} : (tensor<*xf32>, tensor<16x100xf32>) -> tensor<*xf32>
  return %1 : tensor<*xf32>
}
