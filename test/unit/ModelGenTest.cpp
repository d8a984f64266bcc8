// Shape inference and IR generation from model-file text.
#include "FrontendFixture.h"
#include "irgen/ModelGen.h"

#include "bnn/BnnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

using namespace bnnc;

namespace {

class ModelGenTest : public unittest::FrontendFixture {
protected:
  ~ModelGenTest() override {
    for (const std::string &path : files)
      llvm::sys::fs::remove(path);
  }

  mlir::OwningOpRef<mlir::ModuleOp> compile(llvm::StringRef text,
                                            GenOptions options = {}) {
    llvm::SmallString<128> path;
    int fd;
    EXPECT_FALSE(llvm::sys::fs::createTemporaryFile("modelgen", "bnn", fd, path));
    {
      llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
      os << text;
    }
    files.push_back(std::string(path));
    Program program;
    if (!loadProgram(path, {}, sink, program))
      return nullptr;
    return generateModule(program, options, sink);
  }

  template <typename OpTy>
  static std::vector<OpTy> opsOf(mlir::ModuleOp module) {
    std::vector<OpTy> ops;
    module.walk([&](OpTy op) { ops.push_back(op); });
    return ops;
  }

  static std::vector<int64_t> shapeOf(mlir::Value value) {
    auto shape = value.getType().cast<mlir::RankedTensorType>().getShape();
    return {shape.begin(), shape.end()};
  }

  std::vector<std::string> files;
};

constexpr int64_t Q = mlir::ShapedType::kDynamic;

TEST_F(ModelGenTest, ShapesFlowThroughEveryLayer) {
  auto module = compile(R"(
    model cnn(x: f32[3, 32, 32]) {
      h = x |> conv2d(8, 3, pad = 1, weights = binary) |> batchnorm |> sign
      h = h |> maxpool(2) |> conv2d(16, 5, stride = 2) |> avgpool(2, stride = 1)
      return h |> flatten |> dense(10)
    })");
  ASSERT_TRUE(module) << (messages.empty() ? "" : messages.front());
  auto convs = opsOf<bnn::Conv2DOp>(*module);
  ASSERT_EQ(convs.size(), 2u);
  EXPECT_EQ(shapeOf(convs[0]), (std::vector<int64_t>{Q, 8, 32, 32}));
  EXPECT_EQ(shapeOf(convs[0].getWeight()), (std::vector<int64_t>{8, 3, 3, 3}));
  // maxpool 32 -> 16, conv k5 s2: (16 - 5) / 2 + 1 = 6, avgpool k2 s1 -> 5.
  EXPECT_EQ(shapeOf(convs[1]), (std::vector<int64_t>{Q, 16, 6, 6}));
  auto flatten = opsOf<bnn::FlattenOp>(*module);
  ASSERT_EQ(flatten.size(), 1u);
  EXPECT_EQ(shapeOf(flatten[0]), (std::vector<int64_t>{Q, 16 * 5 * 5}));
  auto dense = opsOf<bnn::DenseOp>(*module);
  EXPECT_EQ(shapeOf(dense[0].getWeight()), (std::vector<int64_t>{10, 400}));
  auto function = opsOf<mlir::func::FuncOp>(*module).front();
  EXPECT_EQ(function.getFunctionType().getNumResults(), 2u);
}

TEST_F(ModelGenTest, BlocksGetFreshParametersPerUse) {
  auto module = compile(R"(
    block unit(x, n: int) { return x |> dense(n, weights = binary) |> sign }
    model m(x: f32[4]) { return x |> unit(8) |> unit(6) |> unit(2) })");
  ASSERT_TRUE(module);
  std::vector<std::string> names;
  for (bnn::ParamOp param : opsOf<bnn::ParamOp>(*module))
    names.push_back(param.getName().str());
  EXPECT_EQ(names, (std::vector<std::string>{"dense0.weight", "dense1.weight",
                                             "dense2.weight"}));
  auto dense = opsOf<bnn::DenseOp>(*module);
  EXPECT_EQ(shapeOf(dense[1].getWeight()), (std::vector<int64_t>{6, 8}));
}

TEST_F(ModelGenTest, OverridesChangeShapesAndHyperParams) {
  GenOptions options;
  options.overrides = {{"width", "32"}, {"lambda", "0.25"}};
  auto module = compile(R"(
    param width: int = 16
    param lambda: f32 = 2
    model m(x: f32[4]) {
      return x |> dense(width) |> batchnorm(beta ~ uniform(-lambda, lambda))
                |> dense(2)
    })",
                        options);
  ASSERT_TRUE(module);
  auto hyper = opsOf<bnn::HyperParamOp>(*module);
  ASSERT_EQ(hyper.size(), 1u);
  EXPECT_EQ(hyper[0].getDefaultValue().convertToDouble(), 0.25);
  EXPECT_EQ(shapeOf(opsOf<bnn::DenseOp>(*module)[0]),
            (std::vector<int64_t>{Q, 32}));
}

TEST_F(ModelGenTest, IndependentErrorsAreAllReported) {
  auto module = compile(R"(
    model m(x: f32[1, 8, 8]) {
      a = x |> dense(3)
      b = x |> conv2d(4, 9)
      c = x |> nosuchlayer
      return x |> flatten |> dense(2)
    })");
  EXPECT_FALSE(module);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].substr(0, 5), "3:16:");
  EXPECT_EQ(messages[1].substr(0, 5), "4:16:");
  EXPECT_EQ(messages[2].substr(0, 5), "5:16:");
}

} // namespace
