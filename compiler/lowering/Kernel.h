//===- Kernel.h - A Halide kernel: its parameters, stages and pipeline ----===//
//
// A kernel is built in three steps that never mix: its Halide parameters
// are made from the family's signature (KernelRequest.h), an algorithm
// function (algorithms/) defines its output Funcs and names the stages a
// schedule may refer to, and a schedule function per target (schedules/)
// or an autoscheduler decides how it runs.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_LOWERING_KERNEL_H
#define BNNC_LOWERING_KERNEL_H

#include "lowering/KernelRequest.h"

#include "Halide.h"

#include <map>
#include <string>
#include <vector>

namespace bnnc {

class Kernel {
public:
  /// Makes the input buffers and scalars of `request`'s signature.
  explicit Kernel(const KernelRequest &request);

  const KernelRequest &request() const { return request_; }

  /// An input buffer or scalar of the signature; throws on other names.
  Halide::ImageParam input(const std::string &name) const;
  Halide::Expr scalar(const std::string &name) const;
  Halide::Param<void> &scalarParam(const std::string &name);

  /// Defines the output `name` of the signature; the Func must carry that
  /// name (it names the C function's parameter).
  void output(const std::string &name, Halide::Func func);
  /// Defines consecutive outputs of the signature as the elements of one
  /// Tuple-valued Func (named after the first): values computed together,
  /// e.g. a pooled maximum and its position, written to one buffer each.
  void tupleOutput(const std::vector<std::string> &names, Halide::Func func);
  /// Names an intermediate stage (or reduction domain) for the schedules.
  void stage(const std::string &name, Halide::Func func);
  void domain(const std::string &name, Halide::RDom rdom);

  /// An output or named stage; throws if the algorithm defined no such Func.
  Halide::Func func(const std::string &name) const;
  Halide::RDom rdom(const std::string &name) const;
  bool hasFunc(const std::string &name) const;
  /// The names of the outputs and stages, and whether a name is an output.
  std::vector<std::string> stageNames() const;
  bool isOutput(const std::string &name) const;

  /// The output Funcs in signature order (a Tuple-valued one once), and the inputs and scalars in
  /// signature order (the C function's arguments before its outputs).
  std::vector<Halide::Func> outputs() const;
  Halide::Pipeline pipeline() const { return Halide::Pipeline(outputs()); }
  std::vector<Halide::Argument> arguments() const;
  /// The input buffers in signature order (for tests that realize a kernel).
  std::vector<Halide::ImageParam> inputs() const;

private:
  KernelRequest request_;
  KernelSignature signature;
  std::map<std::string, Halide::ImageParam> buffers;
  std::map<std::string, Halide::Param<void>> scalars;
  std::map<std::string, Halide::Func> funcs;
  std::map<std::string, Halide::RDom> rdoms;
};

/// Defines the algorithm of `kernel`'s family (algorithms/Dispatch.cpp).
void defineAlgorithm(Kernel &kernel);

} // namespace bnnc

#endif // BNNC_LOWERING_KERNEL_H
