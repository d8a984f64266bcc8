//===- WeightQuantizer.cpp - Real, binary and binary_scaled weights -------===//
//
// One place for the weight quantisers of the dense and conv kernels, forward
// and backward, so both families agree with bnnrt::reference on each mode.
//
//===----------------------------------------------------------------------===//

#include "lowering/algorithms/Algorithms.h"

using namespace Halide;

namespace bnnc::algorithms {
namespace {

Expr sign(Expr w) { return select(w >= 0.0f, 1.0f, -1.0f); }
/// The straight-through estimator of sign.
Expr steWindow(Expr w) { return select(abs(w) <= 1.0f, 1.0f, 0.0f); }

} // namespace

WeightQuantizer::WeightQuantizer(Kernel &k, ImageParam w, std::vector<int> extents)
    : weight(w), fanIn(std::move(extents)), binary(k.request().binary),
      scaled_(k.request().binary && k.request().scaled) {
  if (!scaled_)
    return;
  Var unit("unit");
  scale = Func("scale");
  scale(unit) = meanOverFanIn(unit, "scale_sum", [&](const std::vector<Expr> &at) {
    return abs(weight(at));
  });
  k.stage("scale", scale);
}

Expr WeightQuantizer::operator()(const std::vector<Expr> &at) const {
  Expr w = weight(at);
  if (!binary)
    return w;
  return scaled_ ? scale(at.back()) * sign(w) : sign(w);
}

Expr WeightQuantizer::localGradient(const std::vector<Expr> &at) const {
  if (!binary)
    return Expr(1.0f);
  Expr window = steWindow(weight(at));
  return scaled_ ? scale(at.back()) * window : window;
}

Func WeightQuantizer::gradient(Kernel &k, Func g, const std::string &name) const {
  std::vector<Var> vars = g.args();
  std::vector<Expr> at(vars.begin(), vars.end());
  Func dw(name);
  Expr local = g(at) * localGradient(at);
  if (!scaled_) {
    dw(vars) = local;
    return dw;
  }
  Var unit("unit");
  Func scaleGrad("scale_grad");
  scaleGrad(unit) =
      meanOverFanIn(unit, "scale_grad_sum", [&](const std::vector<Expr> &p) {
        return g(p) * sign(weight(p));
      });
  k.stage("scale_grad", scaleGrad);
  dw(vars) = local + scaleGrad(at.back()) * sign(weight(at));
  return dw;
}

Expr WeightQuantizer::meanOverFanIn(Expr unit, const std::string &name,
                                    const Term &term) const {
  Region region;
  int count = 1;
  for (int extent : fanIn) {
    region.emplace_back(0, extent);
    count *= extent;
  }
  RDom r(region, name + "_domain");
  std::vector<Expr> at;
  for (int d = 0; d < r.dimensions(); ++d)
    at.push_back(r[d]);
  at.push_back(unit);
  return cast<float>(sum(cast<double>(term(at)), name) / f64(count));
}

} // namespace bnnc::algorithms
