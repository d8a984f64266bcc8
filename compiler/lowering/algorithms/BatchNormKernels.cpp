//===- BatchNormKernels.cpp - Batch normalisation, forward and backward ---===//
//
// x is (spatial, channel, batch): a dense layer's output has spatial = 1.
// Statistics are summed in double, as in bnnrt::reference. Per-channel sums
// are stages whose names start with "sum_" (one schedule serves them all);
// the per-element output is "output" or "dx".
//
//===----------------------------------------------------------------------===//

#include "lowering/algorithms/Algorithms.h"

using namespace Halide;

namespace bnnc::algorithms {
namespace {

/// The batchnorm input buffer "x" as values, with its extents fixed.
BatchNormValues inputValues(Kernel &k) {
  const KernelRequest &r = k.request();
  ImageParam image = k.input("x");
  setExtent(image, 0, r.length);
  setExtent(image, 1, r.units);
  return {Func(image), image.dim(2).extent(), r.length, r.units};
}

/// A per-channel input ("gamma", ...) with its extent fixed.
ImageParam channelInput(Kernel &k, const char *name) {
  ImageParam p = k.input(name);
  setExtent(p, 0, k.request().units);
  return p;
}

// Halide Vars are identified by name: every function here makes its own
// s, c, n, and they are the same axes.

Expr countOf(const BatchNormValues &in) {
  return cast<double>(int(in.spatial) * in.batch);
}
RDom spatialAndBatch(const BatchNormValues &in, const std::string &name) {
  return RDom(0, int(in.spatial), 0, in.batch, name);
}

/// total(c) = Σ over (spatial, batch) of term(s, c, n), as stage `name`.
Func channelSum(Kernel &k, const BatchNormValues &in,
                const std::function<Expr(Expr, Expr)> &term,
                const std::string &name) {
  Var c("c");
  RDom r = spatialAndBatch(in, name + "_r");
  Func total(name);
  total(c) = cast<double>(0);
  total(c) += term(r.x, r.y);
  k.stage(name, total);
  k.domain(name, r);
  return total;
}

Func asFloat(Expr value, const std::string &name) {
  Var c("c");
  Func f(name);
  f(c) = cast<float>(value);
  return f;
}

void markPerElement(Kernel &k, Func f) { k.stage("per_element", f); }

/// The output "output" of a batchnorm followed by sign, from `positive`
/// (s, c, n) (sign +1): ±1 floats (spatial, channel, batch), or with
/// `request.packed` the signs packed along channels, (word, spatial,
/// batch), bit set for −1 as pack_signs does, padding bits 0.
void outputSigns(Kernel &k, const BatchNormValues &in, Expr positive, Var s, Var c, Var n) {
  int64_t channels = in.channels;
  Func output("output");
  if (!k.request().packed) {
    output(s, c, n) = select(positive, 1.0f, -1.0f);
  } else {
    Func isPositive("is_positive");
    isPositive(s, c, n) = positive;
    Var word("word");
    RDom bit(0, 64, "bit");
    Expr channel = word * 64 + bit;
    output(word, s, n) =
        sum(select(channel < int(channels) && !isPositive(s, min(channel, int(channels) - 1), n),
                   cast<uint64_t>(1) << cast<uint64_t>(bit), cast<uint64_t>(0)));
    setExtent(output.output_buffer(), 0, (channels + 63) / 64);
    setExtent(output.output_buffer(), 1, in.spatial);
  }
  markPerElement(k, output);
  k.output("output", output);
}

} // namespace

void defineBatchNormTrainStages(Kernel &k, const BatchNormValues &in, bool signs) {
  Var s("s"), c("c"), n("n");
  ImageParam gamma = channelInput(k, "gamma"), beta = channelInput(k, "beta"),
             runningMean = channelInput(k, "running_mean"),
             runningVar = channelInput(k, "running_var");
  double epsilon = k.request().epsilon, momentum = k.request().momentum;
  Expr count = countOf(in);
  Func x = in.x;
  Func mean("batch_mean");
  Func total = channelSum(k, in, [&](Expr si, Expr ni) { return cast<double>(x(si, c, ni)); },
                          "sum_values");
  mean(c) = total(c) / count;
  Func squares = channelSum(
      k, in,
      [&](Expr si, Expr ni) {
        Expr d = cast<double>(x(si, c, ni)) - mean(c);
        return d * d;
      },
      "sum_squares");
  Func invStd("batch_inv_std");
  invStd(c) = f64(1.0) / sqrt(squares(c) / count + f64(epsilon));
  k.stage("batch_mean", mean);
  k.stage("batch_inv_std", invStd);
  Expr normalised = cast<float>(cast<double>(gamma(c)) *
                                    (cast<double>(x(s, c, n)) - mean(c)) * invStd(c) +
                                cast<double>(beta(c)));
  if (signs) {
    outputSigns(k, in, normalised >= 0.0f, s, c, n);
  } else {
    Func output("output");
    output(s, c, n) = normalised;
    markPerElement(k, output);
    k.output("output", output);
  }
  Expr unbiased = select(count > f64(1.0), squares(c) / (count - f64(1.0)),
                         squares(c) / count);
  k.output("new_running_mean",
           asFloat(f64(momentum) * cast<double>(runningMean(c)) +
                       f64(1.0 - momentum) * mean(c),
                   "new_running_mean"));
  k.output("new_running_var",
           asFloat(f64(momentum) * cast<double>(runningVar(c)) +
                       f64(1.0 - momentum) * unbiased,
                   "new_running_var"));
  k.output("mean", asFloat(mean(c), "mean"));
  k.output("inv_std", asFloat(invStd(c), "inv_std"));
}

void defineBatchNormTrain(Kernel &k, bool signs) {
  defineBatchNormTrainStages(k, inputValues(k), signs);
}

/// The batchnorm backward pass; with `steWindow`, of sign(batchnorm(x)):
/// the straight-through window is recomputed from x, γ and β.
void defineBatchNormGrad(Kernel &k, bool steWindow) {
  Var s("s"), c("c"), n("n");
  BatchNormValues in = inputValues(k);
  ImageParam gamma = channelInput(k, "gamma"), mean = channelInput(k, "mean"),
             invStd = channelInput(k, "inv_std");
  ImageParam dy = k.input("dy");
  Expr count = countOf(in);
  Func x = in.x;
  Func xhat("xhat"), windowed("windowed");
  xhat(s, c, n) = (cast<double>(x(s, c, n)) - cast<double>(mean(c))) *
                  cast<double>(invStd(c));
  Expr gradient = cast<double>(dy(s, c, n));
  if (steWindow) {
    ImageParam beta = channelInput(k, "beta");
    Expr normalised = cast<float>(cast<double>(gamma(c)) * xhat(s, c, n) +
                                  cast<double>(beta(c)));
    windowed(s, c, n) = select(abs(normalised) <= 1.0f, gradient, cast<double>(0));
  } else {
    windowed(s, c, n) = gradient;
  }
  Func sumDy = channelSum(k, in, [&](Expr si, Expr ni) { return windowed(si, c, ni); },
                          "sum_dy");
  Func sumDyXhat = channelSum(
      k, in, [&](Expr si, Expr ni) { return windowed(si, c, ni) * xhat(si, c, ni); },
      "sum_dy_xhat");
  Func dx("dx");
  dx(s, c, n) = cast<float>(cast<double>(gamma(c)) * cast<double>(invStd(c)) / count *
                            (count * windowed(s, c, n) - sumDy(c) -
                             xhat(s, c, n) * sumDyXhat(c)));
  markPerElement(k, dx);
  k.output("dx", dx);
  k.output("dgamma", asFloat(sumDyXhat(c), "dgamma"));
  k.output("dbeta", asFloat(sumDy(c), "dbeta"));
}

void defineBatchNormEval(Kernel &k) {
  Var s("s"), c("c"), n("n");
  BatchNormValues in = inputValues(k);
  ImageParam gamma = channelInput(k, "gamma"), beta = channelInput(k, "beta"),
             runningMean = channelInput(k, "running_mean"),
             runningVar = channelInput(k, "running_var");
  Expr invStd = f64(1.0) / sqrt(cast<double>(runningVar(c)) + f64(k.request().epsilon));
  Func output("output");
  output(s, c, n) = cast<float>(cast<double>(gamma(c)) *
                                    (cast<double>(in.x(s, c, n)) -
                                     cast<double>(runningMean(c))) *
                                    invStd +
                                cast<double>(beta(c)));
  markPerElement(k, output);
  k.output("output", output);
}

/// sign(batchnorm(x)) with running statistics as a per-channel threshold.
void defineBatchNormSignStages(Kernel &k, const BatchNormValues &in) {
  Var s("s"), c("c"), n("n");
  ImageParam gamma = channelInput(k, "gamma"), beta = channelInput(k, "beta"),
             runningMean = channelInput(k, "running_mean"),
             runningVar = channelInput(k, "running_var");
  // γ(x − μ)/σ + β ≥ 0 ⇔ x ≥ τ (γ > 0) or x ≤ τ (γ < 0), τ = μ − βσ/γ.
  Func threshold("threshold");
  Expr sigma = sqrt(runningVar(c) + float(k.request().epsilon));
  threshold(c) = select(gamma(c) != 0.0f, runningMean(c) - beta(c) * sigma / gamma(c), 0.0f);
  k.stage("threshold", threshold);
  Expr value = in.x(s, c, n);
  Expr positive = select(gamma(c) > 0.0f, value >= threshold(c),
                         gamma(c) < 0.0f, value <= threshold(c), beta(c) >= 0.0f);
  outputSigns(k, in, positive, s, c, n);
}

void defineBatchNormSign(Kernel &k) { defineBatchNormSignStages(k, inputValues(k)); }

void defineBiasGrad(Kernel &k) {
  Var c("c");
  const KernelRequest &r = k.request();
  ImageParam dy = k.input("dy");
  setExtent(dy, 0, r.length);
  setExtent(dy, 1, r.units);
  BatchNormValues in{Func(dy), dy.dim(2).extent(), r.length, r.units};
  Func total = channelSum(k, in, [&](Expr si, Expr ni) { return cast<double>(dy(si, c, ni)); },
                          "sum_dy");
  k.output("db", asFloat(total(c), "db"));
}

} // namespace bnnc::algorithms
