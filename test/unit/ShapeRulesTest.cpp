#include "bnn/ShapeRules.h"

#include <gtest/gtest.h>

using namespace bnn::shapes;

namespace {

constexpr int64_t Q = kDynamic;

TEST(ShapeRules, Dense) {
  ShapeOrError out = dense({Q, 784}, 1024);
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.shape, (Shape{Q, 1024}));
  EXPECT_FALSE(dense({Q, 1, 28, 28}, 10).ok());
  EXPECT_NE(dense({Q, 1, 28, 28}, 10).error.find("flatten it first"),
            std::string::npos);
  EXPECT_FALSE(dense({Q, 4}, 0).ok());
}

TEST(ShapeRules, Conv2DOutputExtent) {
  // (H + 2 pad - k) / stride + 1, rounded down.
  ShapeOrError same = conv2d({Q, 3, 32, 32}, 64, {3, 3, 1, 1, 1, 1});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same.shape, (Shape{Q, 64, 32, 32}));
  ShapeOrError strided = conv2d({8, 3, 7, 9}, 4, {3, 3, 2, 2, 0, 0});
  ASSERT_TRUE(strided.ok());
  EXPECT_EQ(strided.shape, (Shape{8, 4, 3, 4}));
  ShapeOrError rect = conv2d({Q, 1, 5, 5}, 2, {5, 1, 1, 1, 0, 0});
  ASSERT_TRUE(rect.ok());
  EXPECT_EQ(rect.shape, (Shape{Q, 2, 1, 5}));
  ShapeOrError tooBig = conv2d({Q, 1, 2, 2}, 4, {5, 5, 1, 1, 1, 1});
  EXPECT_EQ(tooBig.error,
            "conv2d kernel 5 is larger than the padded input height 4");
  // An unknown spatial extent stays unknown.
  ShapeOrError dynamic = conv2d({Q, 3, Q, 8}, 4, {3, 3, 1, 1, 1, 1});
  ASSERT_TRUE(dynamic.ok());
  EXPECT_EQ(dynamic.shape, (Shape{Q, 4, Q, 8}));
}

TEST(ShapeRules, Pooling) {
  ShapeOrError out = pool("maxpool", {Q, 16, 15, 15}, {2, 2, 2, 2, 0, 0});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.shape, (Shape{Q, 16, 7, 7}));
  EXPECT_FALSE(pool("avgpool", {Q, 16}, {2, 2, 2, 2, 0, 0}).ok());
  EXPECT_FALSE(pool("avgpool", {Q, 1, 4, 4}, {2, 2, 0, 2, 0, 0}).ok());
}

TEST(ShapeRules, FlattenBatchNormAddLoss) {
  EXPECT_EQ(flatten({Q, 1, 28, 28}).shape, (Shape{Q, 784}));
  EXPECT_EQ(flatten({Q, 5}).shape, (Shape{Q, 5}));
  EXPECT_FALSE(flatten({Q}).ok());
  EXPECT_EQ(batchnormChannels({Q, 64, 8, 8}).shape, (Shape{64}));
  EXPECT_EQ(batchnormChannels({Q, 10}).shape, (Shape{10}));
  EXPECT_FALSE(batchnormChannels({Q, 10, 3}).ok());
  EXPECT_EQ(add({Q, 4}, {7, 4}).shape, (Shape{7, 4}));
  EXPECT_FALSE(add({Q, 4}, {Q, 5}).ok());
  EXPECT_FALSE(add({Q, 4}, {Q, 4, 1}).ok());
  EXPECT_TRUE(loss("cross_entropy", {Q, 10}).ok());
  EXPECT_FALSE(loss("cross_entropy", {Q, 1}).ok());
  EXPECT_FALSE(loss("squared_hinge", {Q, 2, 5}).ok());
}

TEST(ShapeRules, SizeLimits) {
  EXPECT_TRUE(checkSize({Q, kMaxExtent}).ok());
  EXPECT_FALSE(checkSize({Q, kMaxExtent + 1}).ok());
  EXPECT_FALSE(checkSize({1 << 20, 1 << 20, 1 << 20}).ok()); // 2^60 elements
  EXPECT_FALSE(dense({Q, 4}, kMaxExtent + 1).ok());
  EXPECT_EQ(formatShape({Q, 1, 28}), "[?, 1, 28]");
}

} // namespace
