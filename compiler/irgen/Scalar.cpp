#include "irgen/Scalar.h"

#include <cmath>

using namespace bnnc;

std::optional<int64_t> Scalar::asInteger() const {
  if (!isConstant() || std::trunc(offset) != offset ||
      std::fabs(offset) > 9007199254740992.0) // 2^53: exact in a double
    return std::nullopt;
  return static_cast<int64_t>(offset);
}

Scalar bnnc::negate(const Scalar &value) {
  return {-value.offset, -value.scale, value.param};
}

std::optional<Scalar> bnnc::add(const Scalar &lhs, const Scalar &rhs,
                                std::string &error) {
  if (!lhs.isConstant() && !rhs.isConstant() && lhs.param != rhs.param) {
    error = "an expression can depend on one run-time param only, here '" +
            lhs.param + "' and '" + rhs.param + "'";
    return std::nullopt;
  }
  std::string param = lhs.isConstant() ? rhs.param : lhs.param;
  Scalar sum{lhs.offset + rhs.offset, lhs.scale + rhs.scale, param};
  if (sum.scale == 0.0)
    sum.param.clear(); // lambda - lambda is the constant 0
  return sum;
}

std::optional<Scalar> bnnc::subtract(const Scalar &lhs, const Scalar &rhs,
                                     std::string &error) {
  return add(lhs, negate(rhs), error);
}

std::optional<Scalar> bnnc::multiply(const Scalar &lhs, const Scalar &rhs,
                                     std::string &error) {
  if (!lhs.isConstant() && !rhs.isConstant()) {
    error = "'" + lhs.param + "' * '" + rhs.param +
            "' is not linear in the run-time params; only constant multiples "
            "of a run-time param can be kept symbolic";
    return std::nullopt;
  }
  const Scalar &constant = lhs.isConstant() ? lhs : rhs;
  const Scalar &other = lhs.isConstant() ? rhs : lhs;
  double factor = constant.offset;
  Scalar product{other.offset * factor, other.scale * factor, other.param};
  if (product.scale == 0.0)
    product.param.clear();
  return product;
}

std::optional<Scalar> bnnc::divide(const Scalar &lhs, const Scalar &rhs,
                                   std::string &error) {
  if (!rhs.isConstant()) {
    error = "dividing by the run-time param '" + rhs.param +
            "' is not linear; only division by a constant is";
    return std::nullopt;
  }
  if (rhs.offset == 0.0) {
    error = "division by zero";
    return std::nullopt;
  }
  Scalar quotient{lhs.offset / rhs.offset, lhs.scale / rhs.offset, lhs.param};
  return quotient;
}
