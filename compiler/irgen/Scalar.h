//===- Scalar.h - Values of param expressions -----------------------------===//
//
// A scalar in a model file is either known at compile time or depends on one
// run-time hyper-parameter (an f32 `param`, such as λ) linearly:
// `offset + scale * param`. That is exactly what init policies can keep
// symbolic in the IR (bnn::InitBound), so `uniform(-lambda, lambda)` stays a
// function of λ in the compiled model.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_IRGEN_SCALAR_H
#define BNNC_IRGEN_SCALAR_H

#include <optional>
#include <string>

namespace bnnc {

struct Scalar {
  double offset = 0.0;
  double scale = 0.0;
  std::string param; // empty: a compile-time constant

  static Scalar constant(double value) { return {value, 0.0, {}}; }
  static Scalar runtimeParam(std::string name) { return {0.0, 1.0, name}; }

  bool isConstant() const { return param.empty(); }
  /// The constant value as an integer, if it is a constant whole number.
  std::optional<int64_t> asInteger() const;
};

/// Arithmetic on scalars. Each returns the result, or sets `error` to why it
/// cannot be kept linear in one run-time param (lambda * lambda, a / lambda,
/// a + b with two different params, division by zero).
std::optional<Scalar> add(const Scalar &lhs, const Scalar &rhs,
                          std::string &error);
std::optional<Scalar> subtract(const Scalar &lhs, const Scalar &rhs,
                               std::string &error);
std::optional<Scalar> multiply(const Scalar &lhs, const Scalar &rhs,
                               std::string &error);
std::optional<Scalar> divide(const Scalar &lhs, const Scalar &rhs,
                             std::string &error);
Scalar negate(const Scalar &value);

} // namespace bnnc

#endif // BNNC_IRGEN_SCALAR_H
