//===- BinaryKernels.cpp - Sign packing and XNOR-popcount products --------===//

#include "lowering/algorithms/Algorithms.h"

using namespace Halide;

namespace bnnc::algorithms {

void definePackSigns(Kernel &k) {
  int64_t length = k.request().length;
  ImageParam x = k.input("x"); // (element, row)
  setExtent(x, 0, length);
  Var word("word"), row("row");
  Func padded = BoundaryConditions::constant_exterior(x, 0.0f);
  RDom bit(0, 64, "bit");
  Func packed("packed");
  // Sign bits are disjoint, so their sum is their OR; padding (0.0) is +1.
  packed(word, row) = sum(select(padded(word * 64 + bit, row) < 0.0f,
                                 cast<uint64_t>(1) << cast<uint64_t>(bit),
                                 cast<uint64_t>(0)));
  setExtent(packed.output_buffer(), 0, (length + 63) / 64);
  k.output("packed", packed);
}

void definePackChannels(Kernel &k) {
  const KernelRequest::Geometry &g = k.request().conv;
  ImageParam x = k.input("x"); // (x, y, channel, item): an image or conv weights
  setExtent(x, 0, g.width);
  setExtent(x, 1, g.height);
  setExtent(x, 2, g.channels);
  Var word("word"), px("x"), py("y"), item("item");
  Func padded = BoundaryConditions::constant_exterior(x, 0.0f);
  RDom bit(0, 64, "bit");
  Func packed("packed");
  // As pack_signs, along the channel axis: the words of a pixel end up next
  // to each other (channels-last), which is what xnor_conv2d reads.
  packed(word, px, py, item) =
      sum(select(padded(px, py, word * 64 + bit, item) < 0.0f,
                 cast<uint64_t>(1) << cast<uint64_t>(bit), cast<uint64_t>(0)));
  Halide::OutputImageParam out = packed.output_buffer();
  setExtent(out, 0, (g.channels + 63) / 64);
  setExtent(out, 1, g.width);
  setExtent(out, 2, g.height);
  k.output("packed", packed);
}

void defineFlattenSigns(Kernel &k) {
  const KernelRequest::Geometry &g = k.request().conv;
  int channels = int(g.channels), height = int(g.height), width = int(g.width);
  int length = channels * height * width;
  ImageParam image = k.input("input"); // (word, x, y, item): words per pixel
  setExtent(image, 0, (channels + 63) / 64);
  setExtent(image, 1, width);
  setExtent(image, 2, height);
  Var word("word"), item("item");
  RDom bit(0, 64, "bit");
  // Element 64·word + bit of the flattened row is channel c of pixel (x, y)
  // (flatten order c·H·W + y·W + x); past the row the bit is padding (0).
  Expr element = word * 64 + bit;
  Expr c = min(element / (height * width), channels - 1);
  Expr pixel = element % (height * width);
  Expr source = image(c / 64, pixel % width, pixel / width, item);
  Expr negative = ((source >> cast<uint64_t>(c % 64)) & cast<uint64_t>(1)) != cast<uint64_t>(0);
  Func packed("packed");
  packed(word, item) = sum(select(negative && element < length,
                                  cast<uint64_t>(1) << cast<uint64_t>(bit), cast<uint64_t>(0)));
  setExtent(packed.output_buffer(), 0, (length + 63) / 64);
  k.output("packed", packed);
}

namespace {

/// The XNOR-popcount product (unit, row) of packed inputs and weights:
/// length − 2·popcount(a XOR w). Stages: "by_unit" (the weights
/// transposed so that neighbouring units are neighbours in memory),
/// "mismatches" (the popcount sum over domain "k").
Func xnorProduct(Kernel &k, const std::string &name) {
  int64_t length = k.request().length, units = k.request().units;
  int words = int((length + 63) / 64);
  ImageParam input = k.input("input");   // (word, row)
  ImageParam weight = k.input("weight"); // (word, unit)
  setExtent(input, 0, words);
  setExtent(weight, 0, words);
  setExtent(weight, 1, units);
  Var unit("unit"), row("row"), w("w");
  Func byUnit("by_unit");
  byUnit(unit, w) = weight(w, unit);
  RDom kdom(0, words, "k");
  Func mismatches("mismatches");
  mismatches(unit, row) = 0;
  mismatches(unit, row) += cast<int32_t>(popcount(input(kdom, row) ^ byUnit(unit, kdom)));
  Func product(name);
  product(unit, row) = cast<float>(int(length) - 2 * mismatches(unit, row));
  k.stage("by_unit", byUnit);
  k.stage("mismatches", mismatches);
  k.domain("k", kdom);
  return product;
}

} // namespace

void defineXnorDense(Kernel &k) {
  Func output = xnorProduct(k, "output");
  setExtent(output.output_buffer(), 0, k.request().units);
  k.output("output", output);
}

void defineXnorDenseBatchNormSign(Kernel &k, bool training) {
  int64_t units = k.request().units;
  Func product = xnorProduct(k, "xnor_product");
  k.stage("xnor_product", product);
  Var s("s"), c("c"), n("n");
  Func values("values");
  values(s, c, n) = product(c, n);
  BatchNormValues in{values, k.input("input").dim(1).extent(), 1, units};
  if (!training) {
    defineBatchNormSignStages(k, in);
    return;
  }
  defineBatchNormTrainStages(k, in, /*signs=*/true);
  // The product is also an output: batchnorm_ste_grad reads it.
  Func copy("product");
  copy(c, n) = product(c, n);
  k.output("product", copy);
}

} // namespace bnnc::algorithms
