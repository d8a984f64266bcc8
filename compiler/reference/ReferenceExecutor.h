//===- ReferenceExecutor.h - Run bnn IR op by op with bnnrt's reference ---===//
//
// An interpreter for functions of the bnn dialect: every op is executed with
// bnnrt's plain float reference (`bnnrt::reference::*`), one op at a time,
// each SSA value its own buffer. It shares nothing with the compiler's
// execution plan (EmitCpp, Halide kernels, bnnrt's fast kernels), so the
// results of a compiled training binary can be checked against it.
//
// Params live in a bnnrt::Params built from the module's `bnn.model`
// function in the order EmitCpp's ModelSpec lists them (a walk over its
// `bnn.param` ops), so bnnrt's checkpoints load and save unchanged. A
// `bnn.param` result is the param's storage itself: `bnn.adam_update` and
// the running-statistics update of `batchnorm_train` write it in place.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_REFERENCE_REFERENCEEXECUTOR_H
#define BNNC_REFERENCE_REFERENCEEXECUTOR_H

#include "bnnrt/Model.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace bnnc::reference {

/// A run-time value: a tensor of f32, i32 (labels) or i64 (packed sign
/// words), or a scalar (rank 0: lr, step, a loss).
struct Tensor {
  enum class Type { F32, I32, I64 };
  Type type = Type::F32;
  std::vector<int64_t> shape;
  std::vector<float> f32;
  std::vector<int32_t> i32;
  std::vector<uint64_t> i64;

  int64_t size() const {
    int64_t n = 1;
    for (int64_t extent : shape)
      n *= extent;
    return n;
  }
  static Tensor floats(std::vector<int64_t> shape, std::vector<float> data);
  static Tensor ints(std::vector<int64_t> shape, std::vector<int32_t> data);
  static Tensor scalar(float value) { return floats({}, {value}); }
  static Tensor scalarI64(int64_t value);
};

/// What the evaluation function and the train step return.
struct StepResult {
  float loss = 0.0f;
  int64_t batch = 0, classes = 0;
  std::vector<float> logits; // batch × classes
};

class ReferenceExecutor {
public:
  /// Finds the `bnn.model` function of `module` (and its train step, if
  /// there is one) and builds the ModelSpec. Errors are emitted as
  /// diagnostics on `module`; null then. The module must outlive the
  /// executor.
  static std::unique_ptr<ReferenceExecutor> create(mlir::ModuleOp module);

  const bnnrt::ModelSpec &spec() const { return *modelSpec; }
  bnnrt::Params &params() { return *paramStore; }
  /// The index of a param in spec().params, or -1.
  int64_t paramIndex(llvm::StringRef name) const;
  mlir::func::FuncOp modelFunction() const { return model; }
  /// Null when the module has no train step.
  mlir::func::FuncOp trainStepFunction() const { return trainStep; }

  /// Runs any function of the module on `args` (one per function argument;
  /// the batch is the extent of the first argument's dynamic dimension).
  /// Errors (an unsupported op, a shape or label out of range) are emitted
  /// at the op; params keep whatever the ops before it wrote.
  mlir::LogicalResult run(mlir::func::FuncOp function,
                          llvm::ArrayRef<Tensor> args,
                          std::vector<Tensor> &results);

  /// The evaluation function on a batch: (logits, loss).
  mlir::LogicalResult evaluate(const float *x, const int32_t *labels,
                               int64_t batch, StepResult &out);
  /// One training step (forward with batch statistics, backward, Adam with
  /// the 1-based `step`): (loss, logits); updates the params.
  mlir::LogicalResult trainStepOnce(const float *x, const int32_t *labels,
                                    int64_t batch, float lr, int64_t step,
                                    StepResult &out);

  ~ReferenceExecutor();

private:
  ReferenceExecutor() = default;
  mlir::LogicalResult runStep(mlir::func::FuncOp function, const float *x,
                              const int32_t *labels, int64_t batch,
                              llvm::ArrayRef<Tensor> extra, bool lossFirst,
                              StepResult &out);

  mlir::func::FuncOp model, trainStep;
  // Params keeps a reference to the spec's param list: both stay put.
  std::unique_ptr<bnnrt::ModelSpec> modelSpec;
  std::unique_ptr<bnnrt::Params> paramStore;
};

} // namespace bnnc::reference

#endif // BNNC_REFERENCE_REFERENCEEXECUTOR_H
