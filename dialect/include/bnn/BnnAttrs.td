#ifndef BNN_ATTRS_TD
#define BNN_ATTRS_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "bnn/BnnDialect.td"

def Bnn_Quantization : I32EnumAttr<"Quantization",
    "how a layer's weights enter its dot products", [
      I32EnumAttrCase<"real", 0>,
      I32EnumAttrCase<"binary", 1>,
      I32EnumAttrCase<"binary_scaled", 2>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::bnn";
}

def Bnn_QuantizationAttr : EnumAttr<Bnn_Dialect, Bnn_Quantization, "quant"> {
  let summary = "real, binary (sign, STE) or binary_scaled (α ⊙ sign) weights";
  let description = [{
    `real`: the weight as it is. `binary`: sign(w), with the gradient
    reaching the latent weight through the straight-through estimator.
    `binary_scaled` (XNOR-Net): α ⊙ sign(w), α = mean |w| per output unit or
    channel; the gradient is exact through α and STE through sign.
  }];
  let assemblyFormat = "`<` $value `>`";
}

def Bnn_InitKind : I32EnumAttr<"InitKind", "initialisation distribution", [
      I32EnumAttrCase<"constant", 0>,
      I32EnumAttrCase<"uniform", 1>,
      I32EnumAttrCase<"normal", 2>,
      I32EnumAttrCase<"glorot_uniform", 3>,
      I32EnumAttrCase<"he_normal", 4>
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::bnn";
}

def Bnn_InitAttr : AttrDef<Bnn_Dialect, "Init"> {
  let mnemonic = "init";
  let summary = "how a parameter tensor is initialised";
  let description = [{
    `#bnn.init<uniform, -1.0 * @lambda, @lambda>` draws from U(-λ, λ), where
    `@lambda` names a `bnn.hyperparam`, so one compiled model serves a whole
    λ sweep. Each argument is `offset + scale * @param` with both parts
    optional: `0.5`, `@lambda`, `-1.0 * @lambda`, `0.1 + 2.0 * @lambda`.
    Arity: constant(value), uniform(low, high), normal(mean, std),
    glorot_uniform and he_normal (fan-based, no arguments).
  }];
  let parameters = (ins
    EnumParameter<Bnn_InitKind>:$kind,
    ArrayRefParameter<"::bnn::InitBound", "arguments of the distribution">:$args
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of arguments `kind` takes.
    static unsigned arityOf(InitKind kind);
  }];
}

def Bnn_PackedAttr : AttrDef<Bnn_Dialect, "Packed"> {
  let mnemonic = "packed";
  let summary = "the encoding of a tensor of packed signs";
  let description = [{
    `tensor<100x28x28x1xi64, #bnn.packed<axis = 1, bits = 64>>` holds the
    signs of a `[100, 64, 28, 28]` f32 tensor packed along its axis 1: that
    axis is removed and ceil(bits / 64) words are appended as the innermost
    axis. Bit i of word j is set when element 64·j + i of the packed axis is
    negative (sign −1); the bits past `bits` are 0. Packing channels last
    (NHWC for images, [O, KH, KW, words] for convolution weights) puts the
    words of one pixel (or one filter tap) next to each other, which is what
    an XNOR-popcount convolution reads.
  }];
  let parameters = (ins "int64_t":$axis, "int64_t":$bits);
  let assemblyFormat = "`<` `axis` `=` $axis `,` `bits` `=` $bits `>`";
  let genVerifyDecl = 1;
}

#endif // BNN_ATTRS_TD
