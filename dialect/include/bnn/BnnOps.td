#ifndef BNN_OPS_TD
#define BNN_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "bnn/BnnDialect.td"
include "bnn/BnnAttrs.td"
include "bnn/BnnInterfaces.td"

def Bnn_LabelTensor : 1DTensorOf<[I32]>;

//===----------------------------------------------------------------------===//
// Model state
//===----------------------------------------------------------------------===//

def Bnn_HyperParamOp : Bnn_Op<"hyperparam", [Symbol]> {
  let summary = "a run-time hyper-parameter with its default value";
  let description = [{
    `bnn.hyperparam @lambda = 2.0` declares a scalar that init policies refer
    to as `@lambda`. Its value can be changed when a compiled model is run,
    without compiling again.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, F64Attr:$default_value);
  let assemblyFormat = "$sym_name `=` $default_value attr-dict";
}

def Bnn_ParamOp : Bnn_Op<"param", [Pure,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>,
    DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]> {
  let summary = "a parameter tensor of the model and its init policy";
  let description = [{
    A weight, bias, gamma or beta (updated by the optimizer), or with `state`
    a running statistic that the layer itself updates. `name` is unique in
    the model and names the tensor in checkpoints and exports.
  }];
  let arguments = (ins StrAttr:$name, Bnn_InitAttr:$init, UnitAttr:$state);
  let results = (outs StaticShapeTensorOf<[F32]>:$value);
  // The init attribute comes last: a trailing `: type` would be read as its type.
  let assemblyFormat = "$name `:` type($value) `init` qualified($init) attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The weight of a layer with binary weights (QuantizedWeightsOpInterface):
    /// its latent real value is clipped to [-1, 1] after each step.
    bool isLatentBinaryWeight();
    /// A weight whose layers read only its signs (binary, not scaled): an
    /// inference export may keep 1 bit an element.
    bool isSignOnlyWeight();
  }];
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

// A layer that training can differentiate declares GradientOpInterface in
// its own traits (the rules' C++ is in Gradients.cpp, in this order).
class Bnn_LayerOp<string mnemonic, list<Trait> traits = []>
    : Bnn_Op<mnemonic, !listconcat(traits, [Pure,
        DeclareOpInterfaceMethods<Bnn_LayerOpInterface>])> {
  let results = (outs F32Tensor:$output);
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def Bnn_DenseOp : Bnn_LayerOp<"dense", [Bnn_QuantizedWeightsOpInterface, Bnn_KernelCall,
    DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]> {
  let summary = "fully connected layer: output = input · weightᵀ (+ bias)";
  let description = [{
    input [batch, in], weight [units, in], optional bias [units]. With
    `weights = #bnn.quant<binary>` the forward pass uses sign(weight); the
    gradient reaches the real latent weight through the straight-through
    estimator.
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$weight,
                       Optional<F32Tensor>:$bias,
                       Bnn_QuantizationAttr:$weights);
}

def Bnn_Conv2DOp : Bnn_LayerOp<"conv2d", [Bnn_QuantizedWeightsOpInterface, Bnn_KernelCall,
    DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]> {
  let summary = "2-D convolution, NCHW input, OIHW weight";
  let arguments = (ins F32Tensor:$input, F32Tensor:$weight,
                       Optional<F32Tensor>:$bias,
                       Bnn_QuantizationAttr:$weights,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$pad);
}

// Trained as batchnorm_train, which has the gradient rule.
def Bnn_BatchNormOp : Bnn_LayerOp<"batchnorm",
    [Bnn_KernelCall, DeclareOpInterfaceMethods<Bnn_TrainingFormOpInterface>]> {
  let summary = "batch normalisation over the feature (rank 2) or channel (rank 4) axis";
  let description = [{
    Training normalises with batch statistics and updates the running ones
    (`running = momentum·running + (1-momentum)·batch`); evaluation uses the
    running statistics. gamma, beta, running_mean and running_var have one
    entry per feature or channel.
  }];
  let arguments = (ins F32Tensor:$input, F32Tensor:$gamma, F32Tensor:$beta,
                       F32Tensor:$running_mean, F32Tensor:$running_var,
                       F64Attr:$epsilon, F64Attr:$momentum);
}

class Bnn_PoolOp<string mnemonic, string what, list<Trait> traits = []>
    : Bnn_LayerOp<mnemonic, !listconcat(traits, [Bnn_KernelCall])> {
  let summary = what # " pooling over H and W of an NCHW tensor";
  let arguments = (ins F32Tensor:$input, DenseI64ArrayAttr:$kernel,
                       DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$pad);
}
def Bnn_MaxPoolOp : Bnn_PoolOp<"maxpool", "max",
    [DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]>;
def Bnn_AvgPoolOp : Bnn_PoolOp<"avgpool", "average",
    [DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]>;

def Bnn_FlattenOp : Bnn_LayerOp<"flatten",
    [Bnn_KeepsValues, DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]> {
  let summary = "[batch, d1, d2, ...] -> [batch, d1·d2·...]";
  let arguments = (ins F32Tensor:$input);
  let hasFolder = 1;
}

def Bnn_AddOp : Bnn_LayerOp<"add", [Commutative, Bnn_KernelCall,
    DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]> {
  let summary = "element-wise sum of two tensors of one shape (residual connections)";
  let arguments = (ins F32Tensor:$lhs, F32Tensor:$rhs);
}

class Bnn_ActivationOp<string mnemonic, string what, list<Trait> traits = []>
    : Bnn_LayerOp<mnemonic, !listconcat(traits, [Bnn_KernelCall])> {
  let summary = what;
  let arguments = (ins F32Tensor:$input);
  let hasFolder = 1;
}
def Bnn_SignOp : Bnn_ActivationOp<"sign",
    "sign to {-1, +1} (0 maps to +1); backward: straight-through estimator grad·1{|x| ≤ 1}",
    [Bnn_SignValued, DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]>;
def Bnn_HTanhOp : Bnn_ActivationOp<"htanh",
    "hard tanh, clamp(x, -1, 1); backward grad·1{|x| ≤ 1}",
    [DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]>;
def Bnn_ReluOp : Bnn_ActivationOp<"relu", "max(x, 0); backward grad·1{x > 0}",
    [DeclareOpInterfaceMethods<Bnn_GradientOpInterface>]>;

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

class Bnn_LossOp<string mnemonic, string what>
    : Bnn_LayerOp<mnemonic, [Bnn_KernelCall,
                             DeclareOpInterfaceMethods<Bnn_LossOpInterface>]> {
  let summary = what # ", averaged over the batch";
  let arguments = (ins F32Tensor:$logits, Bnn_LabelTensor:$labels);
}
def Bnn_CrossEntropyOp : Bnn_LossOp<"cross_entropy",
    "softmax cross-entropy of logits [batch, classes] against class indices">;
def Bnn_SquaredHingeOp : Bnn_LossOp<"squared_hinge",
    "multi-class squared hinge, sum_k max(0, 1 - t_k·y_k)² with t = ±1 one-hot">;

// i64 words of packed signs; the `#bnn.packed<axis, bits>` encoding says
// which axis of the unpacked tensor they hold (the verifiers check it).
def Bnn_PackedTensor : TensorOf<[I64]>;

include "bnn/BnnTrainOps.td"
include "bnn/BnnKernelOps.td"

#endif // BNN_OPS_TD
