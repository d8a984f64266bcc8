#include "FrontendFixture.h"
#include "frontend/Parser.h"

using namespace bnnc;

namespace {

class ParserTest : public unittest::FrontendFixture {
protected:
  std::vector<DeclPtr> parse(llvm::StringRef text) {
    Parser parser(addSource(text), sink);
    return parser.parseFile();
  }
};

TEST_F(ParserTest, ParamDeclaration) {
  std::vector<DeclPtr> decls = parse("param n: int = 2 * 3");
  ASSERT_EQ(decls.size(), 1u);
  auto *param = llvm::dyn_cast<ParamDecl>(decls[0].get());
  ASSERT_TRUE(param);
  EXPECT_EQ(param->getName(), "n");
  EXPECT_EQ(param->getType().kind, TypeSpec::Kind::Int);
  auto *product = llvm::dyn_cast<BinaryExpr>(&param->getDefault());
  ASSERT_TRUE(product);
  EXPECT_EQ(product->getOp(), '*');
}

TEST_F(ParserTest, PipeDesugarsToCallWithInputFirst) {
  std::vector<DeclPtr> decls =
      parse("model m(x: f32[1, 28, 28]) { return x |> dense(10, weights = "
            "binary) |> sign }");
  ASSERT_EQ(decls.size(), 1u);
  auto *model = llvm::dyn_cast<ModelDecl>(decls[0].get());
  ASSERT_TRUE(model);
  EXPECT_EQ(model->getInputType().dims, (std::vector<int64_t>{1, 28, 28}));
  ASSERT_EQ(model->getBody().size(), 1u);
  auto *ret = llvm::dyn_cast<ReturnStmt>(model->getBody()[0].get());
  ASSERT_TRUE(ret);
  auto *sign = llvm::dyn_cast<CallExpr>(&ret->getValue());
  ASSERT_TRUE(sign);
  EXPECT_EQ(sign->getCallee(), "sign");
  EXPECT_TRUE(sign->isViaPipe());
  ASSERT_EQ(sign->getArguments().size(), 1u);
  auto *dense = llvm::dyn_cast<CallExpr>(sign->getArguments()[0].value.get());
  ASSERT_TRUE(dense);
  ASSERT_EQ(dense->getArguments().size(), 3u);
  EXPECT_TRUE(llvm::isa<NameExpr>(dense->getArguments()[0].value.get()));
  EXPECT_EQ(dense->getArguments()[1].kind, Argument::Kind::Positional);
  EXPECT_EQ(dense->getArguments()[2].kind, Argument::Kind::Keyword);
  EXPECT_EQ(dense->getArguments()[2].name, "weights");
}

TEST_F(ParserTest, InitArgumentsAndPrecedence) {
  std::vector<DeclPtr> decls = parse(
      "model m(x: f32[4]) { return batchnorm(x, beta ~ uniform(-a, 1 + 2 * "
      "a)) }");
  ASSERT_EQ(decls.size(), 1u);
  auto *ret = llvm::cast<ReturnStmt>(
      llvm::cast<ModelDecl>(decls[0].get())->getBody()[0].get());
  auto *call = llvm::cast<CallExpr>(&ret->getValue());
  const Argument &beta = call->getArguments()[1];
  EXPECT_EQ(beta.kind, Argument::Kind::Init);
  EXPECT_EQ(beta.name, "beta");
  auto *uniform = llvm::cast<CallExpr>(beta.value.get());
  EXPECT_TRUE(llvm::isa<NegateExpr>(uniform->getArguments()[0].value.get()));
  // 1 + 2 * a parses as 1 + (2 * a).
  auto *sum = llvm::cast<BinaryExpr>(uniform->getArguments()[1].value.get());
  EXPECT_EQ(sum->getOp(), '+');
  EXPECT_EQ(llvm::cast<BinaryExpr>(&sum->getRhs())->getOp(), '*');
}

TEST_F(ParserTest, BlockParameters) {
  std::vector<DeclPtr> decls =
      parse("block b(x, n: int, s: f32 = 0.5) { h = x\n return h }");
  auto *block = llvm::cast<BlockDecl>(decls[0].get());
  ASSERT_EQ(block->getParams().size(), 3u);
  EXPECT_TRUE(block->getParams()[0].isTensor());
  EXPECT_EQ(block->getParams()[1].type->kind, TypeSpec::Kind::Int);
  EXPECT_FALSE(block->getParams()[1].defaultValue);
  EXPECT_TRUE(block->getParams()[2].defaultValue);
  EXPECT_EQ(block->getBody().size(), 2u);
}

TEST_F(ParserTest, RecoversAndReportsEveryStatementError) {
  std::vector<DeclPtr> decls = parse("model m(x: f32[4]) {\n"
                                     "  a = x |> dense(3\n"
                                     "  b = x |> )\n"
                                     "  c = x |> relu\n"
                                     "  return c\n"
                                     "}\n"
                                     "param p: f32 = 1\n");
  ASSERT_EQ(messages.size(), 2u) << messages.front();
  EXPECT_EQ(messages[0].substr(0, 4), "3:3:");
  EXPECT_EQ(messages[1].substr(0, 5), "3:12:");
  // The good statements and the following declaration survive.
  ASSERT_EQ(decls.size(), 2u);
  EXPECT_EQ(llvm::cast<ModelDecl>(decls[0].get())->getBody().size(), 2u);
  EXPECT_TRUE(llvm::isa<ParamDecl>(decls[1].get()));
}

TEST_F(ParserTest, DeepNestingIsAnErrorNotACrash) {
  std::string text = "param p: f32 = " + std::string(200000, '(') + "1" +
                     std::string(200000, ')');
  parse(text);
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages[0].find("nested more than"), std::string::npos);
}

TEST_F(ParserTest, EmptyAndCommentOnlyFilesParseToNothing) {
  EXPECT_TRUE(parse("").empty());
  EXPECT_TRUE(parse("# nothing here\n// nor here\n").empty());
  EXPECT_TRUE(messages.empty());
}

} // namespace
