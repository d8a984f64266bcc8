#include "irgen/Scalar.h"

#include <gtest/gtest.h>

using namespace bnnc;

namespace {

TEST(Scalar, ConstantsFoldAndStayConstant) {
  std::string error;
  std::optional<Scalar> value =
      add(Scalar::constant(2), Scalar::constant(3), error);
  ASSERT_TRUE(value);
  EXPECT_TRUE(value->isConstant());
  EXPECT_EQ(value->offset, 5.0);
  EXPECT_EQ(value->asInteger(), 5);
  EXPECT_FALSE(Scalar::constant(2.5).asInteger());
}

TEST(Scalar, LinearInOneRuntimeParam) {
  std::string error;
  Scalar lambda = Scalar::runtimeParam("lambda");
  // 1 - 3 * lambda / 2
  std::optional<Scalar> scaled =
      multiply(Scalar::constant(3), lambda, error);
  ASSERT_TRUE(scaled);
  std::optional<Scalar> halved = divide(*scaled, Scalar::constant(2), error);
  ASSERT_TRUE(halved);
  std::optional<Scalar> result = subtract(Scalar::constant(1), *halved, error);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->param, "lambda");
  EXPECT_EQ(result->offset, 1.0);
  EXPECT_EQ(result->scale, -1.5);
  EXPECT_FALSE(result->asInteger()); // not a compile-time constant
  // lambda - lambda cancels to a constant.
  std::optional<Scalar> zero = subtract(lambda, lambda, error);
  ASSERT_TRUE(zero);
  EXPECT_TRUE(zero->isConstant());
  EXPECT_EQ(negate(lambda).scale, -1.0);
}

TEST(Scalar, RejectsWhatIsNotLinear) {
  std::string error;
  Scalar a = Scalar::runtimeParam("a"), b = Scalar::runtimeParam("b");
  EXPECT_FALSE(multiply(a, a, error));
  EXPECT_NE(error.find("not linear"), std::string::npos);
  EXPECT_FALSE(add(a, b, error));
  EXPECT_NE(error.find("one run-time param"), std::string::npos);
  EXPECT_FALSE(divide(Scalar::constant(1), a, error));
  EXPECT_FALSE(divide(a, Scalar::constant(0), error));
  EXPECT_EQ(error, "division by zero");
}

} // namespace
