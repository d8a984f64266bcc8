//===- KernelLibrary.cpp - Algorithms, schedules and AOT compilation ------===//
//
// One function per kernel family states the algorithm; a schedule function
// beside it says how it runs on the CPU. Halide reports errors with
// exceptions; they end here, as error strings.
//
//===----------------------------------------------------------------------===//

#include "lowering/KernelLibrary.h"

#include "Halide.h"

#include <cstdio>
#include <limits>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace Halide;

namespace bnnc {
namespace {

//===--- pack_signs -------------------------------------------------------===//

Kernel packSigns(int64_t length) {
  ImageParam input(Float(32), 2, "input"); // (element, row)
  input.dim(0).set_min(0).set_extent(int(length));
  Var word("word"), row("row");
  Func padded = BoundaryConditions::constant_exterior(input, 0.0f);
  RDom bit(0, 64, "bit");
  Func packed("packed");
  // Sign bits are disjoint, so their sum is their OR; padding (0.0) is +1.
  packed(word, row) = sum(select(padded(word * 64 + bit, row) < 0.0f,
                                 cast<uint64_t>(1) << cast<uint64_t>(bit),
                                 cast<uint64_t>(0)));
  // Schedule: rows in parallel, eight words at a time.
  packed.parallel(row).vectorize(word, 8, TailStrategy::GuardWithIf);
  packed.output_buffer().dim(0).set_min(0).set_extent(int((length + 63) / 64));
  return {Pipeline(packed), {input}};
}

//===--- xnor_dense -------------------------------------------------------===//

/// The XNOR-popcount product (unit, row) of packed inputs and weights,
/// scheduled rows in parallel, eight units a vector.
struct XnorProduct {
  ImageParam input{UInt(64), 2, "input"};   // (word, row)
  ImageParam weight{UInt(64), 2, "weight"}; // (word, unit)
  Var unit{"unit"}, row{"row"};
  Func output{"output"};

  XnorProduct(int64_t length, int64_t units) {
    int words = int((length + 63) / 64);
    input.dim(0).set_min(0).set_extent(words);
    weight.dim(0).set_min(0).set_extent(words);
    weight.dim(1).set_min(0).set_extent(int(units));
    Var w("w");
    // Weights transposed so that neighbouring units are neighbours in
    // memory and the popcounts of eight units run as one vector.
    Func byUnit("by_unit");
    byUnit(unit, w) = weight(w, unit);
    RDom k(0, words, "k");
    Func mismatches("mismatches");
    mismatches(unit, row) = 0;
    mismatches(unit, row) +=
        cast<int32_t>(popcount(input(k, row) ^ byUnit(unit, k)));
    output(unit, row) = cast<float>(int(length) - 2 * mismatches(unit, row));
    // Schedule.
    byUnit.compute_root().vectorize(unit, 8, TailStrategy::GuardWithIf);
    output.parallel(row).vectorize(unit, 8, TailStrategy::GuardWithIf);
    mismatches.compute_at(output, row).vectorize(unit, 8, TailStrategy::GuardWithIf);
    mismatches.update().reorder(unit, k).vectorize(unit, 8, TailStrategy::GuardWithIf);
  }
};

Kernel xnorDense(int64_t length, int64_t units) {
  XnorProduct product(length, units);
  product.output.output_buffer().dim(0).set_min(0).set_extent(int(units));
  return {Pipeline(product.output), {product.input, product.weight}};
}

//===--- float products of dense layers -----------------------------------===//

/// q(w): sign for binary weights (sign(0) = +1), else w.
Expr quantize(Expr w, bool binary) {
  return binary ? select(w >= 0.0f, 1.0f, -1.0f) : w;
}

/// c(j, i) = Σ_p a(p, i) · b(j, p) over `depth` terms, scheduled like a
/// register-blocked GEMM: 64 × 4 output tiles whose accumulators stay in
/// vector registers while p runs; b is read along j (contiguous), a is
/// broadcast. Rows of tiles run in parallel.
Func matmul(Func a, Func b, int depth, Var j, Var i, const std::string &name) {
  RDom p(0, depth, "p");
  Func product(name + "_sum"), c(name);
  product(j, i) = 0.0f;
  product(j, i) += a(p, i) * b(j, p);
  c(j, i) = product(j, i);
  // Guarded tails everywhere: rounding a tile or a vector up would read
  // past the inputs or write past the output.
  const TailStrategy guard = TailStrategy::GuardWithIf;
  Var jo("jo"), io("io"), ji("ji"), ii("ii");
  // The copy-out loop over the tile's rows stays rolled: Halide 14 gets
  // the guarded extent of the last unrolled row wrong (it writes a full
  // 64-wide row there; caught by the kernels' canary tests).
  c.tile(j, i, jo, io, ji, ii, 64, 4, guard)
      .vectorize(ji, 16, guard)
      .parallel(io);
  product.compute_at(c, jo).vectorize(j, 16, guard).unroll(j).unroll(i);
  product.update().reorder(j, i, p).vectorize(j, 16, guard).unroll(j).unroll(i);
  return c;
}

Kernel denseForward(int64_t length, int64_t units, bool binary, bool withBias) {
  ImageParam x(Float(32), 2, "x"), w(Float(32), 2, "w"); // (k, row), (k, unit)
  ImageParam bias(Float(32), 1, "bias");
  bias.dim(0).set_min(0).set_extent(int(units));
  x.dim(0).set_min(0).set_extent(int(length));
  w.dim(0).set_min(0).set_extent(int(length));
  w.dim(1).set_min(0).set_extent(int(units));
  Var unit("unit"), row("row"), k("k");
  Func quantizedT("quantized_t"); // (unit, k): units contiguous
  quantizedT(unit, k) = quantize(w(k, unit), binary);
  quantizedT.compute_root().parallel(k).vectorize(unit, 16, TailStrategy::GuardWithIf);
  Func product = matmul(x, quantizedT, int(length), unit, row, "y");
  if (!withBias) {
    product.output_buffer().dim(0).set_min(0).set_extent(int(units));
    return {Pipeline(product), {x, w}};
  }
  Func y("y_bias");
  y(unit, row) = product(unit, row) + bias(unit);
  y.parallel(row).vectorize(unit, 16, TailStrategy::GuardWithIf);
  product.compute_root();
  y.output_buffer().dim(0).set_min(0).set_extent(int(units));
  return {Pipeline(y), {x, w, bias}};
}

Kernel denseGradInput(int64_t length, int64_t units, bool binary) {
  ImageParam w(Float(32), 2, "w"), dy(Float(32), 2, "dy"); // (k, unit), (unit, row)
  w.dim(0).set_min(0).set_extent(int(length));
  w.dim(1).set_min(0).set_extent(int(units));
  dy.dim(0).set_min(0).set_extent(int(units));
  Var k("k"), row("row"), unit("unit");
  Func quantized("quantized"); // (k, unit): k contiguous
  quantized(k, unit) = quantize(w(k, unit), binary);
  quantized.compute_root().parallel(unit).vectorize(k, 16, TailStrategy::GuardWithIf);
  Func dx = matmul(dy, quantized, int(units), k, row, "dx");
  dx.output_buffer().dim(0).set_min(0).set_extent(int(length));
  return {Pipeline(dx), {w, dy}};
}

Kernel denseGradWeight(int64_t length, int64_t units, bool binary) {
  ImageParam x(Float(32), 2, "x"), w(Float(32), 2, "w"), dy(Float(32), 2, "dy");
  x.dim(0).set_min(0).set_extent(int(length));
  w.dim(0).set_min(0).set_extent(int(length));
  w.dim(1).set_min(0).set_extent(int(units));
  dy.dim(0).set_min(0).set_extent(int(units));
  Var k("k"), unit("unit"), row("row");
  // a(p = row, i = unit) = dy(unit, row); b(j = k, p = row) = x(k, row).
  Func dyByRow("dy_by_row");
  dyByRow(row, unit) = dy(unit, row);
  Func rows("rows");
  rows(k, row) = x(k, row);
  // The batch size is only known at run time: the product runs over dy's rows.
  RDom r(0, dy.dim(1).extent(), "r");
  Func product("dw_sum"), dw("dw");
  product(k, unit) = 0.0f;
  product(k, unit) += dyByRow(r, unit) * rows(k, r);
  Expr window = binary ? select(abs(w(k, unit)) <= 1.0f, 1.0f, 0.0f) : Expr(1.0f);
  dw(k, unit) = product(k, unit) * window;
  const TailStrategy guard = TailStrategy::GuardWithIf;
  Var ko("ko"), uo("uo"), ki("ki"), ui("ui");
  dw.tile(k, unit, ko, uo, ki, ui, 64, 4, guard)
      .vectorize(ki, 16, guard)
      .parallel(uo); // rows rolled: see matmul
  product.compute_at(dw, ko).vectorize(k, 16, guard).unroll(k).unroll(unit);
  product.update().reorder(k, unit, r).vectorize(k, 16, guard).unroll(k).unroll(unit);
  dw.output_buffer().dim(0).set_min(0).set_extent(int(length));
  dw.output_buffer().dim(1).set_min(0).set_extent(int(units));
  return {Pipeline(dw), {x, w, dy}};
}

//===--- batch normalisation ----------------------------------------------===//
// x is (spatial, channel, batch): a dense layer's output has spatial = 1.
// Statistics are summed in double, as in bnnrt::reference.

/// A double constant (Halide does not mix Expr and C++ doubles implicitly).
Expr f64(double value) { return Internal::make_const(Float(64), value); }

struct BatchNormInputs {
  ImageParam image{Float(32), 3, "x"};
  Func x; // the values normalised: `image`, or a fused producer
  Var s{"s"}, c{"c"}, n{"n"};
  Expr count; // elements per channel
  RDom r;     // over (spatial, batch)
  BatchNormInputs(int64_t spatial, int64_t channels) : x(image) {
    image.dim(0).set_min(0).set_extent(int(spatial));
    image.dim(1).set_min(0).set_extent(int(channels));
    count = cast<double>(int(spatial) * image.dim(2).extent());
    r = RDom(0, int(spatial), 0, image.dim(2).extent(), "r");
  }
  /// Values (spatial, channel, batch) computed in the same kernel.
  BatchNormInputs(Func values, Expr batch, int64_t spatial) : x(values) {
    count = cast<double>(int(spatial) * batch);
    r = RDom(0, int(spatial), 0, batch, "r");
  }
};

ImageParam channelParam(const std::string &name, int64_t channels) {
  ImageParam p(Float(32), 1, name);
  p.dim(0).set_min(0).set_extent(int(channels));
  return p;
}

/// A per-channel sum over (spatial, batch), channels in parallel blocks and
/// vectors: the reduction runs over contiguous channels.
Func channelSum(BatchNormInputs &in, Expr term, const std::string &name) {
  Func total(name);
  total(in.c) = cast<double>(0);
  total(in.c) += term;
  Var co("co"), ci("ci");
  total.compute_root().vectorize(in.c, 8, TailStrategy::GuardWithIf);
  total.update()
      .split(in.c, co, ci, 64, TailStrategy::GuardWithIf)
      .reorder(ci, in.r.x, in.r.y, co)
      .vectorize(ci, 8, TailStrategy::GuardWithIf)
      .parallel(co);
  return total;
}

void schedulePerElement(Func f, BatchNormInputs &in, int64_t spatial) {
  f.parallel(in.n).vectorize(spatial == 1 ? in.c : in.s, 8,
                             TailStrategy::GuardWithIf);
}

Func asFloat(Expr value, Var c, const std::string &name) {
  Func f(name);
  f(c) = cast<float>(value);
  return f;
}

/// Batch statistics, the normalised value or its sign, and the running
/// update: batchnorm_train and batchnorm_sign_train.
/// The per-channel params of a batchnorm and the stages computed from them.
struct BatchNormTrainStages {
  std::vector<ImageParam> params; // gamma, beta, running mean, running var
  std::vector<Func> outputs;      // values or signs, mean, inv_std,
                                  // new running mean, new running var
};

BatchNormTrainStages batchnormTrainStages(BatchNormInputs &in, int64_t spatial,
                                          int64_t channels, double epsilon,
                                          double momentum, bool signs) {
  ImageParam gamma = channelParam("gamma", channels),
             beta = channelParam("beta", channels),
             runningMean = channelParam("running_mean", channels),
             runningVar = channelParam("running_var", channels);
  Var s = in.s, c = in.c, n = in.n;
  Expr x = cast<double>(in.x(in.r.x, c, in.r.y));
  Func mean("mean");
  mean(c) = channelSum(in, x, "total")(c) / in.count;
  mean.compute_root();
  Func squares = channelSum(in, (x - mean(c)) * (x - mean(c)), "squares");
  Func invStd("inv_std");
  invStd(c) = f64(1.0) / sqrt(squares(c) / in.count + f64(epsilon));
  invStd.compute_root();
  Func output(signs ? "signs" : "normalised");
  Expr normalised = cast<float>(cast<double>(gamma(c)) *
                                    (cast<double>(in.x(s, c, n)) - mean(c)) *
                                    invStd(c) +
                                cast<double>(beta(c)));
  output(s, c, n) =
      signs ? select(normalised >= 0.0f, 1.0f, -1.0f) : normalised;
  schedulePerElement(output, in, spatial);
  Expr unbiased = select(in.count > f64(1.0),
                         squares(c) / (in.count - f64(1.0)),
                         squares(c) / in.count);
  Func newMean = asFloat(f64(momentum) * cast<double>(runningMean(c)) +
                             f64(1.0 - momentum) * mean(c),
                         c, "new_running_mean");
  Func newVar = asFloat(f64(momentum) * cast<double>(runningVar(c)) +
                            f64(1.0 - momentum) * unbiased,
                        c, "new_running_var");
  Func meanOut = asFloat(mean(c), c, "mean_out");
  Func invStdOut = asFloat(invStd(c), c, "inv_std_out");
  return {{gamma, beta, runningMean, runningVar},
          {output, meanOut, invStdOut, newMean, newVar}};
}

Kernel batchnormTrain(int64_t spatial, int64_t channels, double epsilon,
                      double momentum, bool signs) {
  BatchNormInputs in(spatial, channels);
  BatchNormTrainStages stages =
      batchnormTrainStages(in, spatial, channels, epsilon, momentum, signs);
  std::vector<ImageParam> inputs{in.image};
  inputs.insert(inputs.end(), stages.params.begin(), stages.params.end());
  return {Pipeline(stages.outputs), inputs};
}

/// The batchnorm backward pass; with `steWindow`, of sign(batchnorm(x)):
/// the straight-through window is recomputed from x, γ and β.
Kernel batchnormGrad(int64_t spatial, int64_t channels, bool steWindow) {
  BatchNormInputs in(spatial, channels);
  ImageParam gamma = channelParam("gamma", channels),
             beta = channelParam("beta", channels),
             mean = channelParam("mean", channels),
             invStd = channelParam("inv_std", channels);
  ImageParam dy(Float(32), 3, "dy");
  Var s = in.s, c = in.c, n = in.n;
  Func xhat("xhat"), windowed("windowed");
  xhat(s, c, n) = (cast<double>(in.x(s, c, n)) - cast<double>(mean(c))) *
                  cast<double>(invStd(c));
  Expr gradient = cast<double>(dy(s, c, n));
  if (steWindow) {
    Expr normalised = cast<float>(cast<double>(gamma(c)) * xhat(s, c, n) +
                                  cast<double>(beta(c)));
    windowed(s, c, n) =
        select(abs(normalised) <= 1.0f, gradient, cast<double>(0));
  } else {
    windowed(s, c, n) = gradient;
  }
  Func sumDy = channelSum(in, windowed(in.r.x, c, in.r.y), "sum_dy");
  Func sumDyXhat = channelSum(
      in, windowed(in.r.x, c, in.r.y) * xhat(in.r.x, c, in.r.y), "sum_dy_xhat");
  Func dx("dx");
  dx(s, c, n) = cast<float>(cast<double>(gamma(c)) * cast<double>(invStd(c)) /
                            in.count *
                            (in.count * windowed(s, c, n) - sumDy(c) -
                             xhat(s, c, n) * sumDyXhat(c)));
  schedulePerElement(dx, in, spatial);
  Func dgamma = asFloat(sumDyXhat(c), c, "dgamma");
  Func dbeta = asFloat(sumDy(c), c, "dbeta");
  std::vector<ImageParam> inputs{in.image, gamma};
  if (steWindow)
    inputs.push_back(beta);
  for (const ImageParam &p : {dy, mean, invStd})
    inputs.push_back(p);
  return {Pipeline({dx, dgamma, dbeta}), inputs};
}

Kernel batchnormEval(int64_t spatial, int64_t channels, double epsilon) {
  BatchNormInputs in(spatial, channels);
  ImageParam gamma = channelParam("gamma", channels),
             beta = channelParam("beta", channels),
             runningMean = channelParam("running_mean", channels),
             runningVar = channelParam("running_var", channels);
  Var s = in.s, c = in.c, n = in.n;
  Expr invStd = f64(1.0) / sqrt(cast<double>(runningVar(c)) + f64(epsilon));
  Func y("y");
  y(s, c, n) = cast<float>(cast<double>(gamma(c)) *
                               (cast<double>(in.x(s, c, n)) -
                                cast<double>(runningMean(c))) *
                               invStd +
                           cast<double>(beta(c)));
  schedulePerElement(y, in, spatial);
  return {Pipeline(y), {in.image, gamma, beta, runningMean, runningVar}};
}

Kernel biasGrad(int64_t spatial, int64_t channels) {
  BatchNormInputs in(spatial, channels);
  Func total =
      channelSum(in, cast<double>(in.x(in.r.x, in.c, in.r.y)), "total");
  Func db = asFloat(total(in.c), in.c, "db");
  return {Pipeline(db), {in.image}};
}

//===--- element-wise -----------------------------------------------------===//

/// y(i, n) over (inner, batch): activations, their gradients and add.
Kernel elementwise(KernelRequest::Kind kind, int64_t inner) {
  ImageParam x(Float(32), 2, "x"), other(Float(32), 2, "other");
  x.dim(0).set_min(0).set_extent(int(inner));
  other.dim(0).set_min(0).set_extent(int(inner));
  Var i("i"), n("n");
  Expr value = x(i, n);
  Func y("y");
  using Kind = KernelRequest::Kind;
  switch (kind) {
  case Kind::Sign: y(i, n) = select(value >= 0.0f, 1.0f, -1.0f); break;
  case Kind::HTanh: y(i, n) = clamp(value, -1.0f, 1.0f); break;
  case Kind::Relu: y(i, n) = max(value, 0.0f); break;
  case Kind::SteGrad:
    y(i, n) = select(abs(value) <= 1.0f, other(i, n), 0.0f);
    break;
  case Kind::ReluGrad: y(i, n) = select(value > 0.0f, other(i, n), 0.0f); break;
  default: y(i, n) = value + other(i, n); break; // Add
  }
  y.parallel(n).vectorize(i, 16, TailStrategy::GuardWithIf);
  bool twoInputs =
      kind == Kind::SteGrad || kind == Kind::ReluGrad || kind == Kind::Add;
  if (twoInputs)
    return {Pipeline(y), {x, other}};
  return {Pipeline(y), {x}};
}

/// One Adam step (bias-corrected; with `clip` the latent weight is clipped
/// to [-1, 1]). The plan passes the param and moment buffers as inputs and
/// as outputs: every output element reads only the same element of the
/// inputs (and of the new moments, computed first), so in place is safe.
Kernel adam(int64_t length, bool clip) {
  ImageParam param(Float(32), 1, "param"), grad(Float(32), 1, "grad"),
      m(Float(32), 1, "m"), v(Float(32), 1, "v");
  for (ImageParam p : {param, grad, m, v})
    p.dim(0).set_min(0).set_extent(int(length));
  Kernel kernel;
  kernel.usesScalars = true;
  kernel.inputs = {param, grad, m, v};
  Param<float> lr = kernel.learningRate;
  Param<int32_t> step = kernel.step;
  const float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
  Var i("i");
  Func newM("new_m"), newV("new_v"), newParam("new_param");
  newM(i) = beta1 * m(i) + (1.0f - beta1) * grad(i);
  newV(i) = beta2 * v(i) + (1.0f - beta2) * grad(i) * grad(i);
  Expr correction1 =
      cast<float>(f64(1.0) - pow(f64(beta1), cast<double>(step)));
  Expr correction2 =
      cast<float>(f64(1.0) - pow(f64(beta2), cast<double>(step)));
  Expr updated = param(i) - lr * (newM(i) / correction1) /
                                (sqrt(newV(i) / correction2) + epsilon);
  newParam(i) = clip ? clamp(updated, -1.0f, 1.0f) : updated;
  for (Func f : {newParam, newM, newV}) {
    Var outer("outer"), inner("inner");
    f.split(i, outer, inner, 4096, TailStrategy::GuardWithIf)
        .parallel(outer)
        .vectorize(inner, 16, TailStrategy::GuardWithIf);
  }
  kernel.pipeline = Pipeline({newParam, newM, newV});
  return kernel;
}

//===--- losses -----------------------------------------------------------===//

/// Per-row losses (the plan averages them) and the gradient of the mean.
Kernel loss(KernelRequest::Kind kind, int64_t classes) {
  ImageParam logits(Float(32), 2, "logits"); // (class, row)
  ImageParam labels(Int(32), 1, "labels");
  logits.dim(0).set_min(0).set_extent(int(classes));
  Var k("k"), row("row");
  Expr batch = cast<double>(logits.dim(1).extent());
  RDom all(0, int(classes), "all");
  Expr z = cast<double>(logits(k, row));
  Expr label = clamp(labels(row), 0, int(classes) - 1);
  Func rowLoss("row_loss"), grad("dlogits");
  if (kind == KernelRequest::Kind::CrossEntropy) {
    Func top("top"), logSum("log_sum");
    top(row) = maximum(cast<double>(logits(all, row)));
    logSum(row) =
        top(row) + log(sum(exp(cast<double>(logits(all, row)) - top(row))));
    top.compute_root();
    logSum.compute_root();
    rowLoss(row) = cast<float>(logSum(row) - cast<double>(logits(label, row)));
    grad(k, row) = cast<float>(
        (exp(z - logSum(row)) - select(k == label, f64(1.0), f64(0.0))) /
        batch);
  } else {
    Expr target = select(k == label, f64(1.0), f64(-1.0));
    Expr margin = max(f64(0.0), f64(1.0) - target * z);
    Expr t = select(all == label, f64(1.0), f64(-1.0));
    Expr m = max(f64(0.0), f64(1.0) - t * cast<double>(logits(all, row)));
    rowLoss(row) = cast<float>(sum(m * m));
    grad(k, row) = cast<float>(f64(-2.0) * margin * target / batch);
  }
  return {Pipeline({rowLoss, grad}), {logits, labels}};
}

/// sign(batchnorm(x)) with running statistics as a per-channel threshold.
Func batchnormSignStage(BatchNormInputs &in, std::vector<ImageParam> &params,
                        int64_t spatial, int64_t channels, double epsilon) {
  ImageParam gamma = channelParam("gamma", channels),
             beta = channelParam("beta", channels),
             runningMean = channelParam("running_mean", channels),
             runningVar = channelParam("running_var", channels);
  params = {gamma, beta, runningMean, runningVar};
  Var s = in.s, c = in.c, n = in.n;
  // γ(x − μ)/σ + β ≥ 0 ⇔ x ≥ τ (γ > 0) or x ≤ τ (γ < 0), τ = μ − βσ/γ.
  Func threshold("threshold");
  Expr sigma = sqrt(runningVar(c) + float(epsilon));
  threshold(c) = select(gamma(c) != 0.0f,
                        runningMean(c) - beta(c) * sigma / gamma(c), 0.0f);
  threshold.compute_root();
  Expr x = in.x(s, c, n);
  Expr positive = select(gamma(c) > 0.0f, x >= threshold(c),
                         gamma(c) < 0.0f, x <= threshold(c), beta(c) >= 0.0f);
  Func signs("signs");
  signs(s, c, n) = select(positive, 1.0f, -1.0f);
  schedulePerElement(signs, in, spatial);
  return signs;
}

Kernel batchnormSign(int64_t spatial, int64_t channels, double epsilon) {
  BatchNormInputs in(spatial, channels);
  std::vector<ImageParam> params;
  Func signs = batchnormSignStage(in, params, spatial, channels, epsilon);
  std::vector<ImageParam> inputs{in.image};
  inputs.insert(inputs.end(), params.begin(), params.end());
  return {Pipeline(signs), inputs};
}

//===--- a whole binary dense layer in one kernel -------------------------===//
// XNOR-popcount product, batch statistics and sign: the product stays inside
// the kernel (it is also an output in training, for the backward pass).

Kernel xnorDenseBatchNormSign(int64_t length, int64_t units, double epsilon,
                              double momentum, bool training) {
  XnorProduct product(length, units);
  product.output.compute_root();
  Var s("s"), c("c"), n("n");
  Func values("values");
  values(s, c, n) = product.output(c, n);
  BatchNormInputs in(values, product.input.dim(1).extent(), 1);
  std::vector<ImageParam> inputs{product.input, product.weight};
  if (!training) {
    std::vector<ImageParam> params;
    Func signs = batchnormSignStage(in, params, 1, units, epsilon);
    inputs.insert(inputs.end(), params.begin(), params.end());
    return {Pipeline(signs), inputs};
  }
  BatchNormTrainStages stages =
      batchnormTrainStages(in, 1, units, epsilon, momentum, /*signs=*/true);
  inputs.insert(inputs.end(), stages.params.begin(), stages.params.end());
  Func preactivation("preactivation");
  preactivation(c, n) = product.output(c, n);
  preactivation.parallel(n).vectorize(c, 8, TailStrategy::GuardWithIf);
  std::vector<Func> outputs = stages.outputs;
  outputs.insert(outputs.begin() + 1, preactivation);
  return {Pipeline(outputs), inputs};
}

//===--- convolution and pooling ------------------------------------------===//
// Images are (x, y, channel, batch) innermost first, weights
// (kernel x, kernel y, in channel, out channel): the NCHW / OIHW row-major
// layouts of the plan. Padding reads as 0 (convolution) or never wins
// (max pooling).

struct ConvGeometry : KernelRequest::Geometry {
  ConvGeometry(const KernelRequest::Geometry &g) : KernelRequest::Geometry(g) {}
  int outH() const { return int((height + 2 * pad - kernelH) / stride + 1); }
  int outW() const { return int((width + 2 * pad - kernelW) / stride + 1); }
};

ImageParam image(const std::string &name, int width, int height, int channels) {
  ImageParam p(Float(32), 4, name);
  p.dim(0).set_min(0).set_extent(width);
  p.dim(1).set_min(0).set_extent(height);
  p.dim(2).set_min(0).set_extent(channels);
  return p;
}

/// Rows of a 4-D output in parallel over (channel, batch), vectorised along x.
void scheduleImage(Func f, Var x, Var c, Var n) {
  Var cn("cn");
  f.fuse(c, n, cn).parallel(cn).vectorize(x, 8, TailStrategy::GuardWithIf);
}

Kernel conv2d(const ConvGeometry &g, bool binary, bool withBias) {
  ImageParam input = image("input", int(g.width), int(g.height), int(g.channels));
  ImageParam bias(Float(32), 1, "bias");
  bias.dim(0).set_min(0).set_extent(int(g.filters));
  ImageParam weight(Float(32), 4, "weight");
  weight.dim(0).set_min(0).set_extent(int(g.kernelW));
  weight.dim(1).set_min(0).set_extent(int(g.kernelH));
  weight.dim(2).set_min(0).set_extent(int(g.channels));
  weight.dim(3).set_min(0).set_extent(int(g.filters));
  Func padded = BoundaryConditions::constant_exterior(input, 0.0f);
  Var x("x"), y("y"), o("o"), n("n"), c("c"), i("i"), j("j");
  Func quantized("quantized");
  quantized(j, i, c, o) = quantize(weight(j, i, c, o), binary);
  quantized.compute_root();
  RDom r(0, int(g.kernelW), 0, int(g.kernelH), 0, int(g.channels), "r");
  Func output("output");
  output(x, y, o, n) = withBias ? bias(o) : 0.0f;
  output(x, y, o, n) += padded(x * int(g.stride) - int(g.pad) + r.x,
                               y * int(g.stride) - int(g.pad) + r.y, r.z, n) *
                        quantized(r.x, r.y, r.z, o);
  scheduleImage(output, x, o, n);
  output.update().reorder(x, r.x, r.y, r.z, y).vectorize(x, 8, TailStrategy::GuardWithIf);
  output.output_buffer().dim(0).set_min(0).set_extent(g.outW());
  output.output_buffer().dim(1).set_min(0).set_extent(g.outH());
  if (withBias)
    return {Pipeline(output), {input, weight, bias}};
  return {Pipeline(output), {input, weight}};
}

/// The output position (ox, oy) that tap (j, i) of input position (x, y)
/// belongs to, and whether it exists (on the stride grid, inside).
struct Tap {
  Expr ox, oy, valid;
};
Tap tapOf(Expr x, Expr y, Expr j, Expr i, const ConvGeometry &g) {
  Expr sx = x + int(g.pad) - j, sy = y + int(g.pad) - i;
  int s = int(g.stride);
  Expr valid = sx >= 0 && sy >= 0 && sx % s == 0 && sy % s == 0 &&
               sx / s < g.outW() && sy / s < g.outH();
  return {clamp(sx / s, 0, g.outW() - 1), clamp(sy / s, 0, g.outH() - 1), valid};
}

Kernel conv2dGradInput(const ConvGeometry &g, bool binary) {
  ImageParam weight(Float(32), 4, "weight");
  weight.dim(0).set_min(0).set_extent(int(g.kernelW));
  weight.dim(1).set_min(0).set_extent(int(g.kernelH));
  weight.dim(2).set_min(0).set_extent(int(g.channels));
  weight.dim(3).set_min(0).set_extent(int(g.filters));
  ImageParam dy = image("dy", g.outW(), g.outH(), int(g.filters));
  Var x("x"), y("y"), c("c"), n("n");
  RDom r(0, int(g.kernelW), 0, int(g.kernelH), 0, int(g.filters), "r");
  Tap tap = tapOf(x, y, r.x, r.y, g);
  Func dx("dx");
  dx(x, y, c, n) = 0.0f;
  dx(x, y, c, n) += select(tap.valid, dy(tap.ox, tap.oy, r.z, n), 0.0f) *
                    quantize(weight(r.x, r.y, c, r.z), binary);
  scheduleImage(dx, x, c, n);
  dx.update().reorder(x, r.x, r.y, r.z, y).vectorize(x, 8, TailStrategy::GuardWithIf);
  dx.output_buffer().dim(0).set_min(0).set_extent(int(g.width));
  dx.output_buffer().dim(1).set_min(0).set_extent(int(g.height));
  dx.output_buffer().dim(2).set_min(0).set_extent(int(g.channels));
  return {Pipeline(dx), {weight, dy}};
}

Kernel conv2dGradWeight(const ConvGeometry &g, bool binary) {
  ImageParam input = image("input", int(g.width), int(g.height), int(g.channels));
  ImageParam weight(Float(32), 4, "weight");
  weight.dim(0).set_min(0).set_extent(int(g.kernelW));
  weight.dim(1).set_min(0).set_extent(int(g.kernelH));
  weight.dim(2).set_min(0).set_extent(int(g.channels));
  weight.dim(3).set_min(0).set_extent(int(g.filters));
  ImageParam dy = image("dy", g.outW(), g.outH(), int(g.filters));
  Func padded = BoundaryConditions::constant_exterior(input, 0.0f);
  Var j("j"), i("i"), c("c"), o("o");
  RDom r(0, g.outW(), 0, g.outH(), 0, dy.dim(3).extent(), "r");
  Func sum("dw_sum"), dw("dw");
  sum(j, i, c, o) = 0.0f;
  sum(j, i, c, o) += dy(r.x, r.y, o, r.z) *
                     padded(r.x * int(g.stride) - int(g.pad) + j,
                            r.y * int(g.stride) - int(g.pad) + i, c, r.z);
  Expr window = binary ? select(abs(weight(j, i, c, o)) <= 1.0f, 1.0f, 0.0f)
                       : Expr(1.0f);
  dw(j, i, c, o) = sum(j, i, c, o) * window;
  sum.compute_at(dw, o);
  dw.parallel(o);
  return {Pipeline(dw), {input, weight, dy}};
}

Kernel pool(KernelRequest::Kind kind, const ConvGeometry &g) {
  bool max = kind == KernelRequest::Kind::MaxPool;
  ImageParam input = image("input", int(g.width), int(g.height), int(g.channels));
  Func padded = BoundaryConditions::constant_exterior(
      input, max ? Expr(-std::numeric_limits<float>::infinity()) : Expr(0.0f));
  Var x("x"), y("y"), c("c"), n("n");
  RDom r(0, int(g.kernelW), 0, int(g.kernelH), "r");
  Expr tap = padded(x * int(g.stride) - int(g.pad) + r.x,
                    y * int(g.stride) - int(g.pad) + r.y, c, n);
  Func output("output");
  output(x, y, c, n) = max ? maximum(tap)
                           : sum(tap) / float(g.kernelW * g.kernelH);
  scheduleImage(output, x, c, n);
  return {Pipeline(output), {input}};
}

Kernel poolGrad(KernelRequest::Kind kind, const ConvGeometry &g) {
  bool max = kind == KernelRequest::Kind::MaxPoolGrad;
  ImageParam input = image("input", int(g.width), int(g.height), int(g.channels));
  ImageParam dy = image("dy", g.outW(), g.outH(), int(g.channels));
  Var x("x"), y("y"), c("c"), n("n"), ox("ox"), oy("oy");
  Func dx("dx");
  RDom r(0, int(g.kernelW), 0, int(g.kernelH), "r");
  Tap tap = tapOf(x, y, r.x, r.y, g);
  if (max) {
    // The first maximum of each window in scan order (y, then x) wins.
    Func padded = BoundaryConditions::constant_exterior(
        input, Expr(-std::numeric_limits<float>::infinity()));
    RDom w(0, int(g.kernelW), 0, int(g.kernelH), "w");
    Func winner("winner");
    winner(ox, oy, c, n) = argmax(padded(ox * int(g.stride) - int(g.pad) + w.x,
                                         oy * int(g.stride) - int(g.pad) + w.y, c, n));
    winner.compute_root();
    Expr won = winner(tap.ox, tap.oy, c, n)[0] == r.x &&
               winner(tap.ox, tap.oy, c, n)[1] == r.y;
    dx(x, y, c, n) = sum(select(tap.valid && won, dy(tap.ox, tap.oy, c, n), 0.0f));
  } else {
    dx(x, y, c, n) = sum(select(tap.valid, dy(tap.ox, tap.oy, c, n), 0.0f)) /
                     float(g.kernelW * g.kernelH);
  }
  scheduleImage(dx, x, c, n);
  dx.output_buffer().dim(0).set_min(0).set_extent(int(g.width));
  dx.output_buffer().dim(1).set_min(0).set_extent(int(g.height));
  std::vector<ImageParam> inputs;
  if (max)
    inputs.push_back(input);
  inputs.push_back(dy);
  return {Pipeline(dx), inputs};
}

Target kernelTarget() {
  return get_host_target().with_feature(Target::NoRuntime);
}

} // namespace

Kernel buildKernel(const KernelRequest &request) {
  switch (request.kind) {
  case KernelRequest::Kind::PackSigns:
    return packSigns(request.length);
  case KernelRequest::Kind::XnorDense:
    return xnorDense(request.length, request.units);
  case KernelRequest::Kind::DenseForward:
    return denseForward(request.length, request.units, request.binary, request.bias);
  case KernelRequest::Kind::DenseGradInput:
    return denseGradInput(request.length, request.units, request.binary);
  case KernelRequest::Kind::DenseGradWeight:
    return denseGradWeight(request.length, request.units, request.binary);
  case KernelRequest::Kind::BatchNormSignTrain:
  case KernelRequest::Kind::BatchNormTrain:
    return batchnormTrain(request.length, request.units, request.epsilon,
                          request.momentum,
                          request.kind == KernelRequest::Kind::BatchNormSignTrain);
  case KernelRequest::Kind::BatchNormSteGrad:
  case KernelRequest::Kind::BatchNormGrad:
    return batchnormGrad(request.length, request.units,
                         request.kind == KernelRequest::Kind::BatchNormSteGrad);
  case KernelRequest::Kind::BatchNormSign:
    return batchnormSign(request.length, request.units, request.epsilon);
  case KernelRequest::Kind::XnorDenseBatchNormSignTrain:
  case KernelRequest::Kind::XnorDenseBatchNormSign:
    return xnorDenseBatchNormSign(
        request.length, request.units, request.epsilon, request.momentum,
        request.kind == KernelRequest::Kind::XnorDenseBatchNormSignTrain);
  case KernelRequest::Kind::BatchNormEval:
    return batchnormEval(request.length, request.units, request.epsilon);
  case KernelRequest::Kind::BiasGrad:
    return biasGrad(request.length, request.units);
  case KernelRequest::Kind::Adam:
    return adam(request.length, request.binary);
  case KernelRequest::Kind::Sign:
  case KernelRequest::Kind::HTanh:
  case KernelRequest::Kind::Relu:
  case KernelRequest::Kind::SteGrad:
  case KernelRequest::Kind::ReluGrad:
  case KernelRequest::Kind::Add:
    return elementwise(request.kind, request.length);
  case KernelRequest::Kind::CrossEntropy:
  case KernelRequest::Kind::SquaredHinge:
    return loss(request.kind, request.units);
  case KernelRequest::Kind::Conv2D:
    return conv2d(request.conv, request.binary, request.bias);
  case KernelRequest::Kind::Conv2DGradInput:
    return conv2dGradInput(request.conv, request.binary);
  case KernelRequest::Kind::Conv2DGradWeight:
    return conv2dGradWeight(request.conv, request.binary);
  case KernelRequest::Kind::MaxPool:
  case KernelRequest::Kind::AvgPool:
    return pool(request.kind, request.conv);
  case KernelRequest::Kind::MaxPoolGrad:
  case KernelRequest::Kind::AvgPoolGrad:
    return poolGrad(request.kind, request.conv);
  }
  return packSigns(request.length);
}

bool compileKernels(const std::vector<KernelRequest> &requests,
                    const std::string &dir, std::vector<std::string> &objects,
                    std::string &error) {
  try {
    for (const KernelRequest &request : requests) {
      Kernel kernel = buildKernel(request);
      std::string object = dir + "/" + request.symbol + ".o";
      kernel.pipeline.compile_to_object(object, kernel.arguments(),
                                        request.symbol, kernelTarget());
      objects.push_back(object);
    }
    std::string runtime = dir + "/halide_runtime.o";
    compile_standalone_runtime(runtime, get_host_target());
    objects.push_back(runtime);
    return true;
  } catch (const Halide::Error &halideError) {
    error = std::string("Halide: ") + halideError.what();
    return false;
  }
}

bool lowerKernels(const std::vector<KernelRequest> &requests, std::string &text,
                  std::string &error) {
  char pattern[] = "/tmp/bnnc-stmt-XXXXXX";
  int fd = mkstemp(pattern);
  if (fd < 0) {
    error = "cannot create a temporary file";
    return false;
  }
  close(fd);
  try {
    std::ostringstream out;
    for (const KernelRequest &request : requests) {
      Kernel kernel = buildKernel(request);
      kernel.pipeline.compile_to_lowered_stmt(pattern, kernel.arguments(), Text,
                                              kernelTarget());
      std::ifstream stmt(pattern);
      out << "// kernel " << request.symbol << " (target "
          << kernelTarget().to_string() << ")\n"
          << stmt.rdbuf() << "\n";
    }
    text = out.str();
  } catch (const Halide::Error &halideError) {
    error = std::string("Halide: ") + halideError.what();
  }
  std::remove(pattern);
  return error.empty();
}

} // namespace bnnc
