//===- ElementwiseKernels.cpp - Activations, Adam and losses --------------===//

#include "lowering/algorithms/Algorithms.h"

using namespace Halide;

namespace bnnc::algorithms {

/// Over (inner, batch): activations, their gradients and add.
void defineElementwise(Kernel &k) {
  using Kind = KernelRequest::Kind;
  Kind kind = k.request().kind;
  bool twoInputs = kind == Kind::SteGrad || kind == Kind::ReluGrad || kind == Kind::Add;
  ImageParam first = k.input(kind == Kind::Add ? "lhs" : "x");
  setExtent(first, 0, k.request().length);
  Func second;
  if (twoInputs) {
    ImageParam other = k.input(kind == Kind::Add ? "rhs" : "dy");
    setExtent(other, 0, k.request().length);
    second = other;
  }
  Var i("i"), n("n");
  Expr value = first(i, n);
  const char *outputName = twoInputs && kind != Kind::Add ? "dx" : "y";
  Func y(outputName);
  switch (kind) {
  case Kind::Sign: y(i, n) = select(value >= 0.0f, 1.0f, -1.0f); break;
  case Kind::HTanh: y(i, n) = clamp(value, -1.0f, 1.0f); break;
  case Kind::Relu: y(i, n) = max(value, 0.0f); break;
  case Kind::SteGrad: y(i, n) = select(abs(value) <= 1.0f, second(i, n), 0.0f); break;
  case Kind::ReluGrad: y(i, n) = select(value > 0.0f, second(i, n), 0.0f); break;
  default: y(i, n) = value + second(i, n); break; // Add
  }
  k.output(outputName, y);
}

/// One Adam step (bias-corrected; with `binary` the latent weight is
/// clipped to [-1, 1]). The plan passes the param and moment buffers as
/// inputs and as outputs: every output element reads only the same element
/// of the inputs (and of the new moments, computed first), so in place is
/// safe.
void defineAdam(Kernel &k) {
  ImageParam param = k.input("param"), grad = k.input("grad"), m = k.input("m"),
             v = k.input("v");
  for (ImageParam p : {param, grad, m, v})
    setExtent(p, 0, k.request().length);
  Expr lr = k.scalar("lr"), step = k.scalar("step");
  const float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  Var i("i");
  Func newM("new_m"), newV("new_v"), newParam("new_param");
  newM(i) = beta1 * m(i) + (1.0f - beta1) * grad(i);
  newV(i) = beta2 * v(i) + (1.0f - beta2) * grad(i) * grad(i);
  Expr correction1 = cast<float>(f64(1.0) - pow(f64(beta1), cast<double>(step)));
  Expr correction2 = cast<float>(f64(1.0) - pow(f64(beta2), cast<double>(step)));
  Expr updated = param(i) - lr * (newM(i) / correction1) /
                                (sqrt(newV(i) / correction2) + epsilon);
  newParam(i) = k.request().binary ? clamp(updated, -1.0f, 1.0f) : updated;
  k.output("new_param", newParam);
  k.output("new_m", newM);
  k.output("new_v", newV);
}

/// Per-row losses (the plan averages them) and the gradient of the mean.
/// Stages "row_max" and "log_sum" (cross-entropy) hold per-row values.
void defineLoss(Kernel &k) {
  int64_t classes = k.request().units;
  ImageParam logits = k.input("logits"); // (class, row)
  ImageParam labels = k.input("labels");
  setExtent(logits, 0, classes);
  Var kv("kv"), row("row");
  Expr batch = cast<double>(logits.dim(1).extent());
  RDom all(0, int(classes), "all");
  Expr z = cast<double>(logits(kv, row));
  Expr label = clamp(labels(row), 0, int(classes) - 1);
  Func rowLoss("row_loss"), grad("dlogits");
  if (k.request().kind == KernelRequest::Kind::CrossEntropy) {
    Func top("row_max"), logSum("log_sum");
    top(row) = maximum(cast<double>(logits(all, row)));
    logSum(row) = top(row) + log(sum(exp(cast<double>(logits(all, row)) - top(row))));
    k.stage("row_max", top);
    k.stage("log_sum", logSum);
    rowLoss(row) = cast<float>(logSum(row) - cast<double>(logits(label, row)));
    grad(kv, row) = cast<float>(
        (exp(z - logSum(row)) - select(kv == label, f64(1.0), f64(0.0))) / batch);
  } else {
    Expr target = select(kv == label, f64(1.0), f64(-1.0));
    Expr margin = max(f64(0.0), f64(1.0) - target * z);
    Expr t = select(all == label, f64(1.0), f64(-1.0));
    Expr m = max(f64(0.0), f64(1.0) - t * cast<double>(logits(all, row)));
    rowLoss(row) = cast<float>(sum(m * m));
    grad(kv, row) = cast<float>(f64(-2.0) * margin * target / batch);
  }
  k.output("row_loss", rowLoss);
  k.output("dlogits", grad);
}

} // namespace bnnc::algorithms
