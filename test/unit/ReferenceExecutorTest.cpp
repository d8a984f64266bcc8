// The reference executor (compiler/reference) on small hand-written IR:
// results against hand computations, gradients against central finite
// differences of its own loss, Adam and the running statistics against
// their formulas, the kernel-level ops against the graph ops they replace,
// and errors at the op that causes them.
#include "reference/ReferenceExecutor.h"

#include "bnn/BnnDialect.h"
#include "bnn/BnnPasses.h"
#include "bnnrt/Reference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace bnnc::reference;

namespace {

// dense (binary, with bias) + batchnorm + sign + dense (real) + cross_entropy.
constexpr const char *kBinaryNet = R"mlir(
module {
  func.func @net(%x: tensor<?x3xf32>, %labels: tensor<?xi32>) -> (tensor<?x2xf32>, tensor<f32>) attributes {bnn.model} {
    %w0 = bnn.param "dense0.weight" : tensor<4x3xf32> init #bnn.init<glorot_uniform>
    %b0 = bnn.param "dense0.bias" : tensor<4xf32> init #bnn.init<constant, 0.0>
    %h = bnn.dense %x, %w0, %b0 {weights = #bnn.quant<binary>} : (tensor<?x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    %g = bnn.param "bn.gamma" : tensor<4xf32> init #bnn.init<constant, 1.0>
    %b = bnn.param "bn.beta" : tensor<4xf32> init #bnn.init<constant, 0.0>
    %m = bnn.param "bn.running_mean" : tensor<4xf32> init #bnn.init<constant, 0.0> {state}
    %v = bnn.param "bn.running_var" : tensor<4xf32> init #bnn.init<constant, 1.0> {state}
    %n = bnn.batchnorm %h, %g, %b, %m, %v {epsilon = 1.0e-5 : f64, momentum = 0.9 : f64} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    %s = bnn.sign %n : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %w1 = bnn.param "dense1.weight" : tensor<2x4xf32> init #bnn.init<glorot_uniform>
    %y = bnn.dense %s, %w1 {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
    %loss = bnn.cross_entropy %y, %labels : (tensor<?x2xf32>, tensor<?xi32>) -> tensor<f32>
    return %y, %loss : tensor<?x2xf32>, tensor<f32>
  }
}
)mlir";

// Every op differentiable where it is used: real dense + batchnorm + htanh
// (kept inside its linear window by a small gamma) + real dense.
constexpr const char *kSmoothNet = R"mlir(
module {
  func.func @smooth(%x: tensor<?x3xf32>, %labels: tensor<?xi32>) -> (tensor<?x2xf32>, tensor<f32>) attributes {bnn.model} {
    %w0 = bnn.param "dense0.weight" : tensor<4x3xf32> init #bnn.init<glorot_uniform>
    %b0 = bnn.param "dense0.bias" : tensor<4xf32> init #bnn.init<constant, 0.0>
    %h = bnn.dense %x, %w0, %b0 {weights = #bnn.quant<real>} : (tensor<?x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    %g = bnn.param "bn.gamma" : tensor<4xf32> init #bnn.init<constant, 1.0>
    %b = bnn.param "bn.beta" : tensor<4xf32> init #bnn.init<constant, 0.0>
    %m = bnn.param "bn.running_mean" : tensor<4xf32> init #bnn.init<constant, 0.0> {state}
    %v = bnn.param "bn.running_var" : tensor<4xf32> init #bnn.init<constant, 1.0> {state}
    %n = bnn.batchnorm %h, %g, %b, %m, %v {epsilon = 1.0e-5 : f64, momentum = 0.9 : f64} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
    %t = bnn.htanh %n : (tensor<?x4xf32>) -> tensor<?x4xf32>
    %w1 = bnn.param "dense1.weight" : tensor<2x4xf32> init #bnn.init<glorot_uniform>
    %y = bnn.dense %t, %w1 {weights = #bnn.quant<real>} : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
    %loss = bnn.cross_entropy %y, %labels : (tensor<?x2xf32>, tensor<?xi32>) -> tensor<f32>
    return %y, %loss : tensor<?x2xf32>, tensor<f32>
  }
}
)mlir";

/// A residual block as in the paper's binary ResNet: a value (%h) read
/// twice, by a stride-2 binary 3×3 convolution and by a real 1×1 stride-2
/// shortcut, the two paths added.
constexpr const char *kResidualNet = R"mlir(
module {
  func.func @residual(%x: tensor<?x2x4x4xf32>, %labels: tensor<?xi32>) -> (tensor<?x2xf32>, tensor<f32>) attributes {bnn.model} {
    %w0 = bnn.param "conv0.weight" : tensor<3x2x1x1xf32> init #bnn.init<glorot_uniform>
    %h = bnn.conv2d %x, %w0 {weights = #bnn.quant<real>, stride = array<i64: 1, 1>, pad = array<i64: 0, 0>} : (tensor<?x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<?x3x4x4xf32>
    %w1 = bnn.param "conv1.weight" : tensor<4x3x3x3xf32> init #bnn.init<glorot_uniform>
    %a = bnn.conv2d %h, %w1 {weights = #bnn.quant<binary>, stride = array<i64: 2, 2>, pad = array<i64: 1, 1>} : (tensor<?x3x4x4xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x2x2xf32>
    %w2 = bnn.param "shortcut.weight" : tensor<4x3x1x1xf32> init #bnn.init<glorot_uniform>
    %s = bnn.conv2d %h, %w2 {weights = #bnn.quant<real>, stride = array<i64: 2, 2>, pad = array<i64: 0, 0>} : (tensor<?x3x4x4xf32>, tensor<4x3x1x1xf32>) -> tensor<?x4x2x2xf32>
    %r = bnn.add %a, %s : (tensor<?x4x2x2xf32>, tensor<?x4x2x2xf32>) -> tensor<?x4x2x2xf32>
    %f = bnn.flatten %r : (tensor<?x4x2x2xf32>) -> tensor<?x16xf32>
    %w3 = bnn.param "dense.weight" : tensor<2x16xf32> init #bnn.init<glorot_uniform>
    %y = bnn.dense %f, %w3 {weights = #bnn.quant<real>} : (tensor<?x16xf32>, tensor<2x16xf32>) -> tensor<?x2xf32>
    %loss = bnn.cross_entropy %y, %labels : (tensor<?x2xf32>, tensor<?xi32>) -> tensor<f32>
    return %y, %loss : tensor<?x2xf32>, tensor<f32>
  }
}
)mlir";

class ReferenceExecutorTest : public ::testing::Test {
protected:
  ReferenceExecutorTest() {
    mlir::DialectRegistry registry;
    registry.insert<bnn::BnnDialect, mlir::func::FuncDialect>();
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// Parses `text`, adds the train step, and makes an executor of it.
  std::unique_ptr<ReferenceExecutor> load(const char *text,
                                          bool trainStep = true) {
    module = mlir::parseSourceString<mlir::ModuleOp>(text, &context);
    if (!module)
      return nullptr;
    if (trainStep) {
      mlir::PassManager pm(&context);
      pm.addPass(bnn::createBnnGenerateTrainStep());
      if (mlir::failed(pm.run(*module)))
        return nullptr;
    }
    return ReferenceExecutor::create(*module);
  }

  static void set(ReferenceExecutor &executor, const std::string &name,
                  std::vector<float> values) {
    int64_t index = executor.paramIndex(name);
    ASSERT_GE(index, 0) << name;
    ASSERT_EQ(executor.params().values[size_t(index)].size(), values.size()) << name;
    executor.params().values[size_t(index)] = std::move(values);
  }
  static std::vector<float> &value(ReferenceExecutor &executor,
                                   const std::string &name) {
    return executor.params().values[size_t(executor.paramIndex(name))];
  }
  static std::vector<float> &firstMoment(ReferenceExecutor &executor,
                                         const std::string &name) {
    return executor.params().firstMoments[size_t(executor.paramIndex(name))];
  }

  /// The numbers of the hand computations below.
  static void setHandParams(ReferenceExecutor &executor) {
    // Signs: [+ - +], [- + +], [+ + -], [- - -].
    set(executor, "dense0.weight",
        {0.3f, -0.2f, 0.1f, -0.5f, 0.4f, 0.9f, 0.2f, 0.2f, -0.7f, -0.1f, -0.3f, -0.6f});
    set(executor, "dense0.bias", {0.1f, -0.2f, 0.0f, 0.5f});
    set(executor, "bn.gamma", {1, 1, 1, 1});
    set(executor, "bn.beta", {0.0f, 0.5f, 0.0f, 2.0f});
    set(executor, "bn.running_mean", {0, 0, 0, 0});
    set(executor, "bn.running_var", {1, 1, 1, 1});
    set(executor, "dense1.weight", {1.0f, 0.5f, -0.5f, 0.25f, -1.0f, 0.25f, 0.5f, 0.0f});
  }

  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

const std::vector<float> kHandX = {0.5f, -1.0f, 2.0f, 1.0f, 1.0f, -0.25f};
const std::vector<int32_t> kHandLabels = {0, 1};

TEST_F(ReferenceExecutorTest, SpecListsParamsInModelOrder) {
  auto executor = load(kBinaryNet);
  ASSERT_TRUE(executor);
  const bnnrt::ModelSpec &spec = executor->spec();
  EXPECT_EQ(spec.name, "net");
  EXPECT_EQ(spec.inputShape, std::vector<int64_t>{3});
  EXPECT_EQ(spec.classes, 2);
  std::vector<std::string> names;
  for (const bnnrt::ParamSpec &param : spec.params)
    names.push_back(param.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "dense0.weight", "dense0.bias", "bn.gamma", "bn.beta",
                       "bn.running_mean", "bn.running_var", "dense1.weight"}));
  EXPECT_TRUE(spec.params[0].clip);  // latent binary weight
  EXPECT_FALSE(spec.params[6].clip); // real weight
  EXPECT_TRUE(spec.params[4].state);
  EXPECT_FALSE(spec.params[2].state);
  EXPECT_EQ(spec.params[0].init, bnnrt::InitKind::GlorotUniform);
  EXPECT_TRUE(executor->trainStepFunction());
}

// Evaluation (running statistics): h = x·sign(w0)ᵀ + b0 = [3.6, 0.3, -2.5,
// -1] and [-0.15, -0.45, 2.25, -1.25]; + beta → signs [+ + - +] and
// [- + + +]; logits [2.25, -1.25] and [-0.75, 1.75].
TEST_F(ReferenceExecutorTest, EvaluationMatchesHandComputation) {
  auto executor = load(kBinaryNet);
  ASSERT_TRUE(executor);
  setHandParams(*executor);
  StepResult out;
  ASSERT_TRUE(mlir::succeeded(
      executor->evaluate(kHandX.data(), kHandLabels.data(), 2, out)));
  EXPECT_EQ(out.batch, 2);
  EXPECT_EQ(out.classes, 2);
  EXPECT_EQ(out.logits, (std::vector<float>{2.25f, -1.25f, -0.75f, 1.75f}));
  double loss = (std::log1p(std::exp(-3.5)) + std::log1p(std::exp(-2.5))) / 2;
  EXPECT_NEAR(out.loss, loss, 1e-6);
}

// Training (batch statistics of 2 rows: each channel normalises to ±1):
// signs [+ + - +] and [- - + +]; logits [2.25, -1.25] and [-1.75, 1.25].
TEST_F(ReferenceExecutorTest, TrainStepMatchesHandComputation) {
  auto executor = load(kBinaryNet);
  ASSERT_TRUE(executor);
  setHandParams(*executor);
  // A latent binary weight outside [-1, 1]: no gradient (STE), clipped.
  value(*executor, "dense0.weight")[0] = 1.5f;
  std::vector<float> w1 = value(*executor, "dense1.weight");
  StepResult out;
  float lr = 0.01f;
  ASSERT_TRUE(mlir::succeeded(executor->trainStepOnce(
      kHandX.data(), kHandLabels.data(), 2, lr, /*step=*/1, out)));
  EXPECT_EQ(out.logits, (std::vector<float>{2.25f, -1.25f, -1.75f, 1.25f}));
  double loss = (std::log1p(std::exp(-3.5)) + std::log1p(std::exp(-3.0))) / 2;
  EXPECT_NEAR(out.loss, loss, 1e-6);

  // d loss / d dense1.weight = Σ_n (softmax - onehot)[n, c] / 2 · s[n, u].
  double p0 = 1 / (1 + std::exp(-3.5)); // P(class 0 | row 0)
  double p1 = 1 / (1 + std::exp(-3.0)); // P(class 1 | row 1)
  double dy[2][2] = {{(p0 - 1) / 2, (1 - p0) / 2}, {(1 - p1) / 2, (p1 - 1) / 2}};
  double s[2][4] = {{1, 1, -1, 1}, {-1, -1, 1, 1}};
  for (int c = 0; c < 2; ++c)
    for (int u = 0; u < 4; ++u) {
      double g = dy[0][c] * s[0][u] + dy[1][c] * s[1][u];
      size_t i = size_t(c * 4 + u);
      EXPECT_NEAR(firstMoment(*executor, "dense1.weight")[i], 0.1 * g, 1e-7) << i;
      // Adam's first step: p - lr·g/(|g| + ε).
      EXPECT_NEAR(value(*executor, "dense1.weight")[i],
                  w1[i] - lr * g / (std::fabs(g) + 1e-8), 1e-7)
          << i;
    }

  EXPECT_EQ(firstMoment(*executor, "dense0.weight")[0], 0.0f);
  EXPECT_EQ(value(*executor, "dense0.weight")[0], 1.0f);
  // Running statistics: 0.9·old + 0.1·batch (unbiased variance); channel
  // 0 saw h = 3.6 and -0.15.
  EXPECT_NEAR(value(*executor, "bn.running_mean")[0], 0.1 * 1.725, 1e-6);
  EXPECT_NEAR(value(*executor, "bn.running_var")[0], 0.9 + 0.1 * 2 * 1.875 * 1.875,
              1e-5);
  // Running statistics have no Adam moments.
  EXPECT_EQ(firstMoment(*executor, "bn.running_mean"),
            std::vector<float>(4, 0.0f));
}

// A binary_scaled dense straight into the loss: the executor runs the
// reference's scaled forward and backward (the attribute reaches the
// gradient ops), and the latent weight is clipped like a binary one.
TEST_F(ReferenceExecutorTest, BinaryScaledDenseUsesTheScaledReference) {
  auto executor = load(R"mlir(
module {
  func.func @scaled(%x: tensor<?x3xf32>, %labels: tensor<?xi32>) -> (tensor<?x2xf32>, tensor<f32>) attributes {bnn.model} {
    %w = bnn.param "dense0.weight" : tensor<2x3xf32> init #bnn.init<glorot_uniform>
    %y = bnn.dense %x, %w {weights = #bnn.quant<binary_scaled>} : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
    %l = bnn.cross_entropy %y, %labels : (tensor<?x2xf32>, tensor<?xi32>) -> tensor<f32>
    return %y, %l : tensor<?x2xf32>, tensor<f32>
  }
}
)mlir");
  ASSERT_TRUE(executor);
  EXPECT_TRUE(executor->spec().params[0].clip);
  const std::vector<float> w = {0.3f, -0.2f, 1.5f, -0.5f, 0.4f, 0.9f};
  set(*executor, "dense0.weight", w);
  using Q = bnnrt::reference::WeightQuantization;
  std::vector<float> logits(4), dlogits(4), dw(6), dx(6);
  bnnrt::reference::denseForward(kHandX.data(), w.data(), nullptr, logits.data(),
                                 2, 3, 2, Q::BinaryScaled);
  bnnrt::reference::crossEntropy(logits.data(), kHandLabels.data(),
                                 dlogits.data(), 2, 2);
  bnnrt::reference::denseBackward(kHandX.data(), w.data(), dlogits.data(),
                                  dx.data(), dw.data(), nullptr, 2, 3, 2,
                                  Q::BinaryScaled);

  StepResult out;
  ASSERT_TRUE(mlir::succeeded(
      executor->trainStepOnce(kHandX.data(), kHandLabels.data(), 2, 0.01f, 1, out)));
  EXPECT_EQ(out.logits, logits);
  for (size_t i = 0; i < dw.size(); ++i)
    EXPECT_NEAR(firstMoment(*executor, "dense0.weight")[i], 0.1 * dw[i], 1e-7) << i;
  // 1.5 is outside the STE window but still moves α, so it has a gradient;
  // the step leaves it above 1 and the clip brings it back.
  EXPECT_NE(dw[2], 0.0f);
  EXPECT_EQ(value(*executor, "dense0.weight")[2], 1.0f);
}

/// Random inputs, labels and params for the finite-difference tests.
struct RandomBatch {
  std::vector<float> x;
  std::vector<int32_t> labels;
};
RandomBatch randomBatch(int64_t rows, uint64_t seed, int64_t features = 3) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  RandomBatch batch;
  for (int64_t i = 0; i < rows * features; ++i)
    batch.x.push_back(unit(rng));
  for (int64_t i = 0; i < rows; ++i)
    batch.labels.push_back(int32_t(rng() % 2));
  return batch;
}

/// Checks the gradient the train step puts into Adam's first moment (m =
/// (1 - β1)·g after one step from zero) of every element of `names`
/// against a central difference of the train step's loss (batch
/// statistics; the loss is computed before the update, and every run
/// starts again from the saved params).
void checkGradients(ReferenceExecutor &executor, const RandomBatch &batch,
                    int64_t rows, const std::vector<std::string> &names) {
  bnnrt::Params &params = executor.params();
  auto saved = params.values;
  auto reset = [&]() {
    params.values = saved;
    for (auto &m : params.firstMoments)
      std::fill(m.begin(), m.end(), 0.0f);
    for (auto &v : params.secondMoments)
      std::fill(v.begin(), v.end(), 0.0f);
  };
  auto lossAt = [&]() {
    reset();
    StepResult out;
    EXPECT_TRUE(mlir::succeeded(executor.trainStepOnce(
        batch.x.data(), batch.labels.data(), rows, 1e-3f, 1, out)));
    return double(out.loss);
  };
  lossAt();
  auto gradients = params.firstMoments;

  const double h = 1e-2;
  for (const std::string &name : names) {
    size_t index = size_t(executor.paramIndex(name));
    for (size_t i = 0; i < saved[index].size(); ++i) {
      float original = saved[index][i];
      saved[index][i] = original + float(h);
      double plus = lossAt();
      saved[index][i] = original - float(h);
      double minus = lossAt();
      saved[index][i] = original;
      double numeric = (plus - minus) / (2 * h);
      double analytic = gradients[index][i] / 0.1;
      // With h = 1e-2 the truncation error (h²/6 · f''') was up to 3e-5
      // and the float loss's rounding adds 1e-7 / 2h; a gradient 1% off
      // fails.
      EXPECT_NEAR(analytic, numeric, 5e-5 + 1e-3 * std::fabs(numeric))
          << name << "[" << i << "]";
    }
  }
}

TEST_F(ReferenceExecutorTest, GradientsOfRealWeightsMatchFiniteDifferences) {
  auto executor = load(kBinaryNet);
  ASSERT_TRUE(executor);
  executor->params().initialize({}, 7);
  RandomBatch batch = randomBatch(8, 11);
  // After the sign only dense1.weight is differentiable; the signs do not
  // move when it does.
  checkGradients(*executor, batch, 8, {"dense1.weight"});
}

TEST_F(ReferenceExecutorTest, GradientsThroughBatchNormMatchFiniteDifferences) {
  auto executor = load(kSmoothNet);
  ASSERT_TRUE(executor);
  executor->params().initialize({}, 3);
  // |gamma·x̂ + beta| <= 0.3·sqrt(7) + 0.1 < 1 for 8 rows: htanh stays
  // linear, its gradient window open.
  set(*executor, "bn.gamma", {0.3f, 0.25f, 0.2f, 0.3f});
  set(*executor, "bn.beta", {0.1f, -0.05f, 0.0f, 0.05f});
  set(*executor, "dense0.bias", {0.2f, -0.1f, 0.3f, 0.0f});
  RandomBatch batch = randomBatch(8, 5);
  checkGradients(*executor, batch, 8,
                 {"dense0.weight", "dense0.bias", "bn.gamma", "bn.beta",
                  "dense1.weight"});
}

// A value read by two paths gets the sum of both paths' gradients: conv0's
// weight (before the fork) and the shortcut's and the dense layer's
// weights against central differences. (The binary conv's latent weight
// has the STE gradient, which no finite difference sees.)
TEST_F(ReferenceExecutorTest, GradientsOfResidualGraphMatchFiniteDifferences) {
  auto executor = load(kResidualNet);
  ASSERT_TRUE(executor);
  executor->params().initialize({}, 5);
  RandomBatch batch = randomBatch(6, 9, 2 * 4 * 4);
  checkGradients(*executor, batch, 6, {"conv0.weight", "shortcut.weight", "dense.weight"});
}

// The kernel-level ops of bnn-fuse and bnn-bitpack against the graph ops
// they replace: pack_signs + xnor_dense against a binary dense on ±1
// inputs (70 = a word and a padded one).
TEST_F(ReferenceExecutorTest, PackedProductMatchesBinaryDense) {
  auto executor = load(R"mlir(
module {
  func.func @m(%x: tensor<?x70xf32>, %labels: tensor<?xi32>) -> (tensor<?x3xf32>, tensor<f32>) attributes {bnn.model} {
    %w = bnn.param "w" : tensor<3x70xf32> init #bnn.init<uniform, -1.0, 1.0>
    %s = bnn.sign %x : (tensor<?x70xf32>) -> tensor<?x70xf32>
    %y = bnn.dense %s, %w {weights = #bnn.quant<binary>} : (tensor<?x70xf32>, tensor<3x70xf32>) -> tensor<?x3xf32>
    %l = bnn.cross_entropy %y, %labels : (tensor<?x3xf32>, tensor<?xi32>) -> tensor<f32>
    return %y, %l : tensor<?x3xf32>, tensor<f32>
  }
  func.func @packed(%x: tensor<?x70xf32>) -> tensor<?x3xf32> {
    %w = bnn.param "w" : tensor<3x70xf32> init #bnn.init<uniform, -1.0, 1.0>
    %s = bnn.sign %x : (tensor<?x70xf32>) -> tensor<?x70xf32>
    %ps = bnn.pack_signs %s : (tensor<?x70xf32>) -> tensor<?x2xi64, #bnn.packed<axis = 1, bits = 70>>
    %pw = bnn.pack_signs %w : (tensor<3x70xf32>) -> tensor<3x2xi64, #bnn.packed<axis = 1, bits = 70>>
    %y = bnn.xnor_dense %ps, %pw {length = 70 : i64} : (tensor<?x2xi64, #bnn.packed<axis = 1, bits = 70>>, tensor<3x2xi64, #bnn.packed<axis = 1, bits = 70>>) -> tensor<?x3xf32>
    return %y : tensor<?x3xf32>
  }
}
)mlir",
                       /*trainStep=*/false);
  ASSERT_TRUE(executor);
  executor->params().initialize({}, 1);
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::vector<float> x(5 * 70);
  for (float &v : x)
    v = unit(rng);
  std::vector<int32_t> labels(5, 0);
  StepResult dense;
  ASSERT_TRUE(mlir::succeeded(executor->evaluate(x.data(), labels.data(), 5, dense)));
  auto packed = module->lookupSymbol<mlir::func::FuncOp>("packed");
  std::vector<Tensor> results;
  ASSERT_TRUE(mlir::succeeded(
      executor->run(packed, {Tensor::floats({5, 70}, x)}, results)));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].shape, (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(results[0].f32, dense.logits);
}

TEST_F(ReferenceExecutorTest, UnsupportedOpIsAnErrorAtTheOp) {
  auto executor = load(R"mlir(
module {
  func.func private @external(tensor<?x2xf32>) -> tensor<?x2xf32>
  func.func @m(%x: tensor<?x2xf32>, %labels: tensor<?xi32>) -> (tensor<?x2xf32>, tensor<f32>) attributes {bnn.model} {
    %y = func.call @external(%x) : (tensor<?x2xf32>) -> tensor<?x2xf32>
    %l = bnn.cross_entropy %y, %labels : (tensor<?x2xf32>, tensor<?xi32>) -> tensor<f32>
    return %y, %l : tensor<?x2xf32>, tensor<f32>
  }
}
)mlir",
                       /*trainStep=*/false);
  ASSERT_TRUE(executor);
  std::vector<std::string> errors;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    errors.push_back(d.str());
    return mlir::success();
  });
  std::vector<float> x{1, 2, 3, 4};
  std::vector<int32_t> labels{0, 1};
  StepResult out;
  EXPECT_TRUE(mlir::failed(executor->evaluate(x.data(), labels.data(), 2, out)));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "'func.call' op is not supported by the reference executor");
  // No train step in this module.
  errors.clear();
  EXPECT_TRUE(mlir::failed(
      executor->trainStepOnce(x.data(), labels.data(), 2, 1e-3f, 1, out)));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("has no train step"), std::string::npos);
}

TEST_F(ReferenceExecutorTest, LabelOutOfRangeIsAnError) {
  auto executor = load(kBinaryNet);
  ASSERT_TRUE(executor);
  setHandParams(*executor);
  std::vector<std::string> errors;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    errors.push_back(d.str());
    return mlir::success();
  });
  std::vector<int32_t> labels{0, 2};
  StepResult out;
  EXPECT_TRUE(mlir::failed(executor->evaluate(kHandX.data(), labels.data(), 2, out)));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("label 2 of row 1 is not a class in [0, 2)"),
            std::string::npos)
      << errors[0];
}

TEST_F(ReferenceExecutorTest, WrongArgumentShapeIsAnError) {
  auto executor = load(kBinaryNet);
  ASSERT_TRUE(executor);
  std::vector<std::string> errors;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    errors.push_back(d.str());
    return mlir::success();
  });
  std::vector<Tensor> results;
  EXPECT_TRUE(mlir::failed(executor->run(
      executor->modelFunction(),
      {Tensor::floats({2, 4}, std::vector<float>(8)), Tensor::ints({2}, {0, 1})},
      results)));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("argument 0 of 'net' must be f32 [2, 3]"),
            std::string::npos)
      << errors[0];
}

} // namespace
