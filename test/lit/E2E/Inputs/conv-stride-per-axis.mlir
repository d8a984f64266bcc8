// A model whose convolution strides its two axes differently: valid IR, which the back end cannot compile.
module {
  func.func @m(%arg0: tensor<?x1x6x6xf32>, %arg1: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
    %w = bnn.param "conv2d0.weight" : tensor<2x1x3x3xf32> init #bnn.init<glorot_uniform>
    %0 = bnn.conv2d %arg0, %w {pad = array<i64: 0, 0>, stride = array<i64: 1, 2>, weights = #bnn.quant<binary>} : (tensor<?x1x6x6xf32>, tensor<2x1x3x3xf32>) -> tensor<?x2x4x2xf32>
    %1 = bnn.flatten %0 : (tensor<?x2x4x2xf32>) -> tensor<?x16xf32>
    %dw = bnn.param "dense0.weight" : tensor<3x16xf32> init #bnn.init<glorot_uniform>
    %2 = bnn.dense %1, %dw {weights = #bnn.quant<real>} : (tensor<?x16xf32>, tensor<3x16xf32>) -> tensor<?x3xf32>
    %3 = bnn.cross_entropy %2, %arg1 : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
    return %2, %3 : tensor<?x3xf32>, tensor<f32>
  }
}
