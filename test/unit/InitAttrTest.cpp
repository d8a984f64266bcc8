// Parsing and printing of #bnn.init, the init-policy attribute.
#include "bnn/BnnAttrs.h"
#include "bnn/BnnDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {

class InitAttrTest : public ::testing::Test {
protected:
  InitAttrTest() { context.loadDialect<bnn::BnnDialect>(); }

  /// Parses `text` as an attribute; returns null and keeps the message if
  /// it does not parse. (parseAttribute prints its errors to stderr through
  /// a handler of its own, so stderr is captured.)
  bnn::InitAttr parse(llvm::StringRef text) {
    ::testing::internal::CaptureStderr();
    Attribute attr = parseAttribute(text, &context);
    lastError = ::testing::internal::GetCapturedStderr();
    return attr.dyn_cast_or_null<bnn::InitAttr>();
  }

  static std::string print(Attribute attr) {
    std::string text;
    llvm::raw_string_ostream os(text);
    attr.print(os);
    return os.str();
  }

  MLIRContext context;
  std::string lastError;
};

TEST_F(InitAttrTest, KindsAndArguments) {
  bnn::InitAttr uniform = parse("#bnn.init<uniform, -0.5, 0.5>");
  ASSERT_TRUE(uniform) << lastError;
  EXPECT_EQ(uniform.getKind(), bnn::InitKind::uniform);
  ASSERT_EQ(uniform.getArgs().size(), 2u);
  EXPECT_TRUE(uniform.getArgs()[0].isConstant());
  EXPECT_EQ(uniform.getArgs()[0].offset, -0.5);
  EXPECT_EQ(uniform.getArgs()[1].offset, 0.5);

  bnn::InitAttr glorot = parse("#bnn.init<glorot_uniform>");
  ASSERT_TRUE(glorot);
  EXPECT_TRUE(glorot.getArgs().empty());
}

TEST_F(InitAttrTest, SymbolicBoundsEvaluateWithTheParam) {
  bnn::InitAttr attr =
      parse("#bnn.init<uniform, -1.0 * @lambda, 0.5 + 2.0 * @lambda>");
  ASSERT_TRUE(attr) << lastError;
  const bnn::InitBound &low = attr.getArgs()[0];
  const bnn::InitBound &high = attr.getArgs()[1];
  EXPECT_EQ(low.param.getValue(), "lambda");
  EXPECT_EQ(low.evaluate(3.0), -3.0);
  EXPECT_EQ(high.evaluate(3.0), 6.5);
  EXPECT_EQ(high.evaluate(0.0), 0.5);
}

TEST_F(InitAttrTest, PrintsWhatItParses) {
  for (llvm::StringRef text :
       {"#bnn.init<uniform, -1.0 * @lambda, @lambda>",
        "#bnn.init<constant, 0.1>", "#bnn.init<constant, 1.0e-05>",
        "#bnn.init<normal, 0.0, 0.01>", "#bnn.init<he_normal>",
        "#bnn.init<uniform, 0.25 + -3.0 * @lambda, 0.25 + 3.0 * @lambda>"}) {
    bnn::InitAttr attr = parse(text);
    ASSERT_TRUE(attr) << text.str() << ": " << lastError;
    EXPECT_EQ(print(attr), text.str());
  }
}

TEST_F(InitAttrTest, ExactDoublesSurviveARoundTrip) {
  for (double value : {0.1, 1.0 / 3.0, 1e-300, 123456789.125, -2.5e10}) {
    std::string text =
        "#bnn.init<constant, " + bnn::formatExactDouble(value) + ">";
    bnn::InitAttr attr = parse(text);
    ASSERT_TRUE(attr) << text << ": " << lastError;
    EXPECT_EQ(attr.getArgs()[0].offset, value) << text;
  }
}

TEST_F(InitAttrTest, InvalidPoliciesAreRejectedWithAReason) {
  EXPECT_FALSE(parse("#bnn.init<uniform, 1.0>"));
  EXPECT_NE(lastError.find("takes 2 arguments, got 1"), std::string::npos);
  EXPECT_FALSE(parse("#bnn.init<uniform, 2.0, 1.0>"));
  EXPECT_NE(lastError.find("low bound above its high bound"),
            std::string::npos);
  EXPECT_FALSE(parse("#bnn.init<normal, 0.0, -1.0>"));
  EXPECT_FALSE(parse("#bnn.init<glorot_uniform, 1.0>"));
  EXPECT_FALSE(parse("#bnn.init<xavier>"));
  EXPECT_NE(lastError.find("unknown init policy 'xavier'"), std::string::npos);
  EXPECT_FALSE(parse("#bnn.init<constant, 2.0 * >"));
}

} // namespace
