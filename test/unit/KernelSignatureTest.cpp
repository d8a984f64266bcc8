// Every kernel family's Halide kernel takes exactly the arguments its
// signature lists, in that order: the signature is what the plan emitter
// binds values to by name, so the two must never drift apart.
#include "lowering/KernelLibrary.h"

#include <gtest/gtest.h>

namespace {

using Kind = bnnc::KernelRequest::Kind;

/// A plausible request of each family (sizes small, windows 3×3).
std::vector<bnnc::KernelRequest> oneRequestPerFamily() {
  std::vector<bnnc::KernelRequest> requests;
#define KERNEL_FAMILY(kind, stem) requests.push_back({Kind::kind, 20, 6, stem});
#include "lowering/KernelFamilies.def"
  for (bnnc::KernelRequest &request : requests) {
    request.conv = {3, 8, 8, 4, 3, 3, 1, 1};
    request.epsilon = 1e-5;
    request.momentum = 0.9;
  }
  // The optional bias of dense and conv2d adds an argument.
  bnnc::KernelRequest dense{Kind::DenseForward, 20, 6, "dense with bias"};
  dense.bias = true;
  requests.push_back(dense);
  bnnc::KernelRequest conv{Kind::Conv2D, 0, 0, "conv2d with bias"};
  conv.conv = {3, 8, 8, 4, 3, 3, 2, 1};
  conv.bias = true;
  requests.push_back(conv);
  return requests;
}

/// Halide makes names unique with a "$N" suffix.
std::string baseName(const std::string &name) { return name.substr(0, name.find('$')); }

TEST(KernelSignatures, HalideArgumentsFollowTheSignature) {
  for (const bnnc::KernelRequest &request : oneRequestPerFamily()) {
    SCOPED_TRACE(request.symbol);
    bnnc::KernelSignature signature = bnnc::signatureOf(request);
    ASSERT_FALSE(signature.empty());
    bnnc::Kernel kernel = bnnc::buildKernel(request);
    std::vector<Halide::Argument> arguments = kernel.arguments();
    std::vector<Halide::Func> outputs = kernel.pipeline().outputs();
    size_t argument = 0, output = 0;
    for (const bnnc::KernelArg &arg : signature) {
      if (arg.role == bnnc::ArgRole::Output) {
        ASSERT_LT(output, outputs.size());
        EXPECT_EQ(baseName(outputs[output++].name()), arg.name);
        continue;
      }
      ASSERT_LT(argument, arguments.size());
      const Halide::Argument &halide = arguments[argument++];
      EXPECT_EQ(halide.name, arg.name);
      EXPECT_EQ(halide.is_buffer(), arg.role == bnnc::ArgRole::Input);
      EXPECT_EQ(halide.is_buffer() ? halide.dimensions : 0, arg.rank);
    }
    EXPECT_EQ(argument, arguments.size());
    EXPECT_EQ(output, outputs.size());
    // Inputs come first, then scalars, then outputs.
    for (size_t i = 1; i < signature.size(); ++i)
      EXPECT_LE(int(signature[i - 1].role), int(signature[i].role)) << signature[i].name;
  }
}

TEST(KernelSignatures, NamesAreUniqueWithinAKernel) {
  for (const bnnc::KernelRequest &request : oneRequestPerFamily()) {
    bnnc::KernelSignature signature = bnnc::signatureOf(request);
    for (size_t i = 0; i < signature.size(); ++i)
      for (size_t j = i + 1; j < signature.size(); ++j)
        EXPECT_NE(signature[i].name, signature[j].name) << request.symbol;
  }
}

TEST(ScheduleKnobs, GivenValuesAreValidatedAndUnknownKeysReported) {
  std::map<std::string, bnnc::GivenValue> given;
  given["tile"] = {bnnc::GivenValue::Type::Integer, 32, false, "", "f.toml:2:1"};
  given["width"] = {bnnc::GivenValue::Type::Integer, 6, false, "", "f.toml:3:1"};
  given["typo"] = {bnnc::GivenValue::Type::Boolean, 0, true, "", "f.toml:4:1"};
  bnnc::ScheduleKnobs knobs(given);
  EXPECT_EQ(knobs.integer("tile", 64, 8, 512, "tile", true), 32);
  EXPECT_EQ(knobs.integer("width", 16, 4, 64, "width", true), 16); // 6 is no power of two
  EXPECT_TRUE(knobs.flag("parallel", true, "parallel"));            // not given: default
  std::vector<std::string> errors = knobs.errors();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "f.toml:3:1: error: 'width' = 6 is out of range (4..64, a power of two)");
  EXPECT_NE(errors[1].find("f.toml:4:1: error: unknown schedule parameter 'typo'"), std::string::npos);
  ASSERT_EQ(knobs.knobs().size(), 3u);
  EXPECT_EQ(knobs.knobs()[0].value, "32");
  EXPECT_EQ(knobs.knobs()[0].defaultValue, "64");
}

} // namespace
