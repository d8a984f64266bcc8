#ifndef BNN_DIALECT_TD
#define BNN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Bnn_Dialect : Dialect {
  let name = "bnn";
  let cppNamespace = "::bnn";
  let summary = "Binary neural networks: layers, quantisation and init policies";
  let description = [{
    The graph level of bnnc. A model is a `func.func` carrying the `bnn.model`
    attribute whose body is built from `bnn.param` (a trainable or running
    tensor with its initialisation policy) and one op per layer, activation
    and loss. Run-time hyper-parameters are module-level `bnn.hyperparam`
    symbols that init policies may refer to.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useFoldAPI = kEmitFoldAdaptorFolder;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

class Bnn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Bnn_Dialect, mnemonic, traits>;

#endif // BNN_DIALECT_TD
