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
    isPositive(s, c, n) = cast<uint8_t>(positive);
    k.stage("is_positive", isPositive);
    Var word("word");
    RDom bit(0, 64, "bit");
    Expr channel = word * 64 + bit;
    output(word, s, n) =
        sum(select(channel < int(channels) && isPositive(s, min(channel, int(channels) - 1), n) == 0,
                   cast<uint64_t>(1) << cast<uint64_t>(bit), cast<uint64_t>(0)));
    setExtent(output.output_buffer(), 0, (channels + 63) / 64);
    setExtent(output.output_buffer(), 1, in.spatial);
  }
  markPerElement(k, output);
  k.output("output", output);
}

} // namespace

namespace {

/// The batch statistics of a batchnorm per channel: mean, Σ(x − mean)²
/// and the count of values, in double.
struct BatchStatistics {
  Func mean, squares, count;
};

/// The statistics of the input `in` itself.
BatchStatistics localStatistics(Kernel &k, const BatchNormValues &in) {
  Var c("c");
  Func x = in.x;
  Func mean("batch_mean"), count("batch_count");
  count(c) = countOf(in);
  Func total = channelSum(k, in, [&](Expr si, Expr ni) { return cast<double>(x(si, c, ni)); },
                          "sum_values");
  mean(c) = total(c) / count(c);
  Func squares = channelSum(
      k, in,
      [&](Expr si, Expr ni) {
        Expr d = cast<double>(x(si, c, ni)) - mean(c);
        return d * d;
      },
      "sum_squares");
  return {mean, squares, count};
}

/// The statistics of the input "batch_sums" (channel, Σx | Σx² | count),
/// summed over the processes of a data-parallel run.
BatchStatistics givenStatistics(Kernel &k) {
  Var c("c");
  ImageParam sums = k.input("batch_sums");
  setExtent(sums, 0, k.request().units);
  setExtent(sums, 1, 3);
  Func mean("batch_mean"), squares("batch_squares"), count("batch_count");
  count(c) = cast<double>(sums(c, 2));
  mean(c) = cast<double>(sums(c, 0)) / count(c);
  // E[x²] − mean², never below 0 by rounding.
  squares(c) = max(cast<double>(sums(c, 1)) - mean(c) * mean(c) * count(c), f64(0.0));
  return {mean, squares, count};
}

} // namespace

void defineBatchNormTrainStages(Kernel &k, const BatchNormValues &in, bool signs) {
  Var s("s"), c("c"), n("n");
  ImageParam gamma = channelInput(k, "gamma"), beta = channelInput(k, "beta"),
             runningMean = channelInput(k, "running_mean"),
             runningVar = channelInput(k, "running_var");
  double epsilon = k.request().epsilon, momentum = k.request().momentum;
  BatchStatistics stats = k.request().givenSums ? givenStatistics(k) : localStatistics(k, in);
  Func mean = stats.mean, squares = stats.squares;
  Expr count = stats.count(c);
  Func x = in.x;
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

namespace {

/// The per-channel sums of a batchnorm backward pass, Σdy and Σdy·x̂ of the
/// (with the STE window: windowed) output gradient, and what computes them.
struct GradientSums {
  Func xhat, windowed, sumDy, sumDyXhat;
};

/// x̂ and the windowed gradient of `in` (with `steWindow`, of sign(batchnorm(x)):
/// the window is recomputed from x, γ and β); the sums over them unless
/// the kernel takes them as the input "grad_sums" (channel, Σdy | Σdy·x̂).
GradientSums gradientSums(Kernel &k, const BatchNormValues &in, bool steWindow) {
  Var s("s"), c("c"), n("n");
  ImageParam gamma = channelInput(k, "gamma"), mean = channelInput(k, "mean"),
             invStd = channelInput(k, "inv_std");
  ImageParam dy = k.input("dy");
  Func x = in.x;
  GradientSums g{Func("xhat"), Func("windowed"), Func("sum_dy"), Func("sum_dy_xhat")};
  g.xhat(s, c, n) = (cast<double>(x(s, c, n)) - cast<double>(mean(c))) *
                    cast<double>(invStd(c));
  Expr gradient = cast<double>(dy(s, c, n));
  if (steWindow) {
    ImageParam beta = channelInput(k, "beta");
    Expr normalised = cast<float>(cast<double>(gamma(c)) * g.xhat(s, c, n) +
                                  cast<double>(beta(c)));
    g.windowed(s, c, n) = select(abs(normalised) <= 1.0f, gradient, cast<double>(0));
  } else {
    g.windowed(s, c, n) = gradient;
  }
  if (k.request().givenSums) {
    ImageParam sums = k.input("grad_sums");
    setExtent(sums, 0, k.request().units);
    setExtent(sums, 1, 2);
    g.sumDy(c) = cast<double>(sums(c, 0));
    g.sumDyXhat(c) = cast<double>(sums(c, 1));
    return g;
  }
  g.sumDy = channelSum(k, in, [&](Expr si, Expr ni) { return g.windowed(si, c, ni); },
                       "sum_dy");
  g.sumDyXhat = channelSum(
      k, in, [&](Expr si, Expr ni) { return g.windowed(si, c, ni) * g.xhat(si, c, ni); },
      "sum_dy_xhat");
  return g;
}

/// (channel, row) as floats from one per-channel Func per row.
Func stackRows(const std::vector<Func> &rows, const std::string &name) {
  Var c("c"), row("row");
  Expr value = cast<double>(0);
  for (size_t r = rows.size(); r-- > 0;)
    value = select(row == int(r), rows[r](c), value);
  Func stacked(name);
  stacked(c, row) = cast<float>(value);
  return stacked;
}

} // namespace

/// The batchnorm backward pass; with `steWindow`, of sign(batchnorm(x)).
void defineBatchNormGrad(Kernel &k, bool steWindow) {
  Var s("s"), c("c"), n("n");
  BatchNormValues in = inputValues(k);
  ImageParam gamma = channelInput(k, "gamma"), invStd = channelInput(k, "inv_std");
  Expr count = countOf(in);
  GradientSums g = gradientSums(k, in, steWindow);
  Func dx("dx");
  dx(s, c, n) = cast<float>(cast<double>(gamma(c)) * cast<double>(invStd(c)) / count *
                            (count * g.windowed(s, c, n) - g.sumDy(c) -
                             g.xhat(s, c, n) * g.sumDyXhat(c)));
  markPerElement(k, dx);
  k.output("dx", dx);
  k.output("dgamma", asFloat(g.sumDyXhat(c), "dgamma"));
  k.output("dbeta", asFloat(g.sumDy(c), "dbeta"));
}

/// Σdy and Σdy·x̂ alone (synchronised batchnorm: reduced over the
/// processes before the input gradient is computed).
void defineBatchNormGradSums(Kernel &k) {
  BatchNormValues in = inputValues(k);
  GradientSums g = gradientSums(k, in, k.request().fusedSign);
  Func sums = stackRows({g.sumDy, g.sumDyXhat}, "sums");
  setExtent(sums.output_buffer(), 1, 2);
  k.output("sums", sums);
}

/// Σx, Σx² and the count of each channel of "x".
void defineBatchNormSums(Kernel &k) {
  Var c("c");
  BatchNormValues in = inputValues(k);
  Func x = in.x;
  Func values = channelSum(k, in, [&](Expr si, Expr ni) { return cast<double>(x(si, c, ni)); },
                           "sum_values");
  Func squares = channelSum(
      k, in,
      [&](Expr si, Expr ni) {
        Expr v = cast<double>(x(si, c, ni));
        return v * v;
      },
      "sum_squares");
  Func count("batch_count");
  count(c) = countOf(in);
  Func sums = stackRows({values, squares, count}, "sums");
  setExtent(sums.output_buffer(), 1, 3);
  k.output("sums", sums);
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
