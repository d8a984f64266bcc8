//===- DenseKernels.cpp - Float products of dense layers ------------------===//
//
// All three are one product c(j, i) = Σ_p a(p, i) · b(j, p), named stages
// "product_sum" (the reduction over domain "p") and "product" (the result,
// possibly the output itself), so that one schedule serves them.
//
//===----------------------------------------------------------------------===//

#include "lowering/algorithms/Algorithms.h"

using namespace Halide;

namespace bnnc::algorithms {
namespace {

/// c(j, i) = epilogue(Σ_p a(p, i) · b(j, p), j, i) over `depth` terms.
Func matmul(Kernel &k, Func a, Func b, Expr depth, Var j, Var i,
            const std::string &name,
            std::function<Expr(Expr, Var, Var)> epilogue = nullptr) {
  RDom p(0, depth, "p");
  Func sum(name + "_sum"), c(name);
  sum(j, i) = 0.0f;
  sum(j, i) += a(p, i) * b(j, p);
  c(j, i) = epilogue ? epilogue(sum(j, i), j, i) : sum(j, i);
  k.stage("product_sum", sum);
  k.stage("product", c);
  k.domain("p", p);
  return c;
}

} // namespace

void defineDenseForward(Kernel &k) {
  const KernelRequest &r = k.request();
  ImageParam x = k.input("x"), w = k.input("w"); // (k, row), (k, unit)
  setExtent(x, 0, r.length);
  setExtent(w, 0, r.length);
  setExtent(w, 1, r.units);
  Var unit("unit"), row("row"), kv("kv");
  WeightQuantizer quantize(k, w, {int(r.length)});
  Func quantizedT("weights"); // (unit, k): units contiguous
  quantizedT(unit, kv) = quantize({kv, unit});
  k.stage("weights", quantizedT);
  Func product = matmul(k, x, quantizedT, int(r.length), unit, row,
                        r.bias ? "y_product" : "y");
  Func y = product;
  if (r.bias) {
    ImageParam bias = k.input("bias");
    setExtent(bias, 0, r.units);
    y = Func("y");
    y(unit, row) = product(unit, row) + bias(unit);
  }
  setExtent(y.output_buffer(), 0, r.units);
  k.output("y", y);
}

void defineDenseGradInput(Kernel &k) {
  const KernelRequest &r = k.request();
  ImageParam w = k.input("w"), dy = k.input("dy"); // (k, unit), (unit, row)
  setExtent(w, 0, r.length);
  setExtent(w, 1, r.units);
  setExtent(dy, 0, r.units);
  Var kv("kv"), row("row"), unit("unit");
  WeightQuantizer quantize(k, w, {int(r.length)});
  Func quantized("weights"); // (k, unit): k contiguous
  quantized(kv, unit) = quantize({kv, unit});
  k.stage("weights", quantized);
  Func dx = matmul(k, dy, quantized, int(r.units), kv, row, "dx");
  setExtent(dx.output_buffer(), 0, r.length);
  k.output("dx", dx);
}

void defineDenseGradWeight(Kernel &k) {
  const KernelRequest &r = k.request();
  ImageParam x = k.input("x"), w = k.input("w"), dy = k.input("dy");
  setExtent(x, 0, r.packed ? (r.length + 63) / 64 : r.length);
  setExtent(w, 0, r.length);
  setExtent(w, 1, r.units);
  setExtent(dy, 0, r.units);
  Var kv("kv"), unit("unit"), row("row");
  // a(p = row, i = unit) = dy(unit, row); b(j = k, p = row) = x(k, row).
  Func dyByRow("dy_by_row");
  dyByRow(row, unit) = dy(unit, row);
  Func rows("rows");
  if (r.packed) { // ±1 from the packed signs (bit set = −1), unpacked once a call
    rows(kv, row) = select(((x(kv / 64, row) >> cast<uint64_t>(kv % 64)) & 1) != 0, -1.0f, 1.0f);
    k.stage("unpacked_rows", rows);
  } else {
    rows(kv, row) = x(kv, row);
  }
  WeightQuantizer quantize(k, w, {int(r.length)});
  // The batch size is only known at run time: the sum runs over dy's rows.
  Expr batch = dy.dim(1).extent();
  Func dw;
  if (quantize.scaled()) {
    // The gradient through α sums over a unit's whole row of the product:
    // the product is a stage of its own, not a per-tile epilogue.
    Func product = matmul(k, dyByRow, rows, batch, kv, unit, "dw_product");
    dw = quantize.gradient(k, product, "dw");
  } else {
    dw = matmul(k, dyByRow, rows, batch, kv, unit, "dw",
                [&](Expr total, Var j, Var i) {
                  return total * quantize.localGradient({j, i});
                });
  }
  setExtent(dw.output_buffer(), 0, r.length);
  setExtent(dw.output_buffer(), 1, r.units);
  k.output("dw", dw);
}

} // namespace bnnc::algorithms
