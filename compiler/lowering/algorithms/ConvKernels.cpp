//===- ConvKernels.cpp - Convolution and pooling --------------------------===//
//
// Images are (x, y, channel, batch) innermost first, weights
// (kernel x, kernel y, in channel, out channel): the NCHW / OIHW row-major
// layouts of the plan. Padding reads as 0 (convolution) or never wins
// (max pooling). Every kernel's output is 4-D; reductions are domain "r".
//
//===----------------------------------------------------------------------===//

#include "lowering/algorithms/Algorithms.h"

#include <limits>

using namespace Halide;

namespace bnnc::algorithms {
namespace {

struct ConvGeometry : KernelRequest::Geometry {
  ConvGeometry(const KernelRequest::Geometry &g) : KernelRequest::Geometry(g) {}
  int outH() const { return int((height + 2 * pad - kernelH) / stride + 1); }
  int outW() const { return int((width + 2 * pad - kernelW) / stride + 1); }
};

ImageParam image(Kernel &k, const char *name, int64_t width, int64_t height,
                 int64_t channels) {
  ImageParam p = k.input(name);
  setExtent(p, 0, width);
  setExtent(p, 1, height);
  setExtent(p, 2, channels);
  return p;
}

ImageParam convWeight(Kernel &k, const ConvGeometry &g) {
  ImageParam weight = k.input("weight");
  setExtent(weight, 0, g.kernelW);
  setExtent(weight, 1, g.kernelH);
  setExtent(weight, 2, g.channels);
  setExtent(weight, 3, g.filters);
  return weight;
}

/// The quantiser of `weight`: each output channel's fan-in is (KW, KH, C).
WeightQuantizer convQuantizer(Kernel &k, ImageParam weight, const ConvGeometry &g) {
  return WeightQuantizer(k, weight, {int(g.kernelW), int(g.kernelH), int(g.channels)});
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

} // namespace

Func fusedSign(Kernel &k, Func product, const ConvGeometry &g);

void defineConv2D(Kernel &k) {
  ConvGeometry g(k.request().conv);
  ImageParam input = image(k, "input", g.width, g.height, g.channels);
  ImageParam weight = convWeight(k, g);
  Func padded = BoundaryConditions::constant_exterior(input, 0.0f);
  Var x("x"), y("y"), o("o"), n("n"), c("c"), i("i"), j("j");
  WeightQuantizer quantize = convQuantizer(k, weight, g);
  Func quantized("weights");
  quantized(j, i, c, o) = quantize({j, i, c, o});
  k.stage("weights", quantized);
  RDom r(0, int(g.kernelW), 0, int(g.kernelH), 0, int(g.channels), "r");
  Func output("output");
  Expr initial = 0.0f;
  if (k.request().bias) {
    ImageParam bias = k.input("bias");
    setExtent(bias, 0, g.filters);
    initial = bias(o);
  }
  // The sum is a stage of its own, which a schedule computes in register
  // tiles of the output.
  Func sum("conv_sum");
  sum(x, y, o, n) = initial;
  sum(x, y, o, n) += padded(x * int(g.stride) - int(g.pad) + r.x,
                            y * int(g.stride) - int(g.pad) + r.y, r.z, n) *
                     quantized(r.x, r.y, r.z, o);
  k.stage("conv_sum", sum);
  k.domain("r", r);
  if (k.request().fusedSign) {
    // Evaluation of a first layer: the product of each image ("product",
    // register tiles as below) goes straight to its threshold.
    Func product("product");
    product(x, y, o, n) = sum(x, y, o, n);
    k.stage("product", product);
    Func signs = fusedSign(k, product, g);
    if (!k.request().packed) {
      setExtent(signs.output_buffer(), 0, g.outW());
      setExtent(signs.output_buffer(), 1, g.outH());
      setExtent(signs.output_buffer(), 2, g.filters);
    }
    k.output("output", signs);
    return;
  }
  output(x, y, o, n) = sum(x, y, o, n);
  setExtent(output.output_buffer(), 0, g.outW());
  setExtent(output.output_buffer(), 1, g.outH());
  k.output("output", output);
}

/// `image` (x, y, channel, n) with channels innermost, (channel, x, y, n),
/// reading 0 outside: the layout the gradients' register tiles read.
Func channelsInnermost(ImageParam image, const std::string &name) {
  Func padded = BoundaryConditions::constant_exterior(image, 0.0f);
  Var c("c"), x("x"), y("y"), n("n");
  Func byChannel(name);
  byChannel(c, x, y, n) = padded(x, y, c, n);
  return byChannel;
}

/// The input "input" held as signs packed along channels, (word, x, y, n).
ImageParam packedImage(Kernel &k, const ConvGeometry &g) {
  ImageParam packed = k.input("input");
  setExtent(packed, 0, (g.channels + 63) / 64);
  setExtent(packed, 1, g.width);
  setExtent(packed, 2, g.height);
  return packed;
}

/// Packed signs (word, x, y, n) as ±1 floats (channel, x, y, n), reading 0
/// outside the image (zero padding: a packed word has no 0).
Func unpackedImage(ImageParam packed, const ConvGeometry &g, const std::string &name) {
  Var c("c"), x("x"), y("y"), n("n");
  Expr inside = x >= 0 && x < int(g.width) && y >= 0 && y < int(g.height);
  // Clamped: a schedule may round the channels up past the last word.
  int lastWord = int((g.channels + 63) / 64) - 1;
  // n clamped as well: an image past a part of the batch (the weight
  // gradient's rfactor) is never summed, but may be in a bound.
  Expr word = packed(min(c / 64, lastWord), clamp(x, 0, int(g.width) - 1),
                     clamp(y, 0, int(g.height) - 1),
                     clamp(n, 0, packed.dim(3).extent() - 1));
  Expr negative = ((word >> cast<uint64_t>(c % 64)) & cast<uint64_t>(1)) != cast<uint64_t>(0);
  Func unpacked(name);
  unpacked(c, x, y, n) = select(inside, select(negative, -1.0f, 1.0f), 0.0f);
  return unpacked;
}

/// `value` rounded to bfloat16, the operand type of `vdpbf16ps`.
Expr bf16(Expr value) { return cast(BFloat(16), value); }

/// Σ over the pair index `q` of a · b in f32: the form that Halide turns
/// into `vdpbf16ps` (two bf16 products a lane, summed in f32) when `q` is
/// vectorised innermost in an atomic update.
Expr pairProduct(Expr a, Expr b) { return cast<float>(a) * cast<float>(b); }

/// The bf16 channels-innermost copy of `image` (channel, x, y, n), 0
/// outside the image and past the last channel (pairs of channels round
/// an odd count up).
Func channelsInnermostBf16(ImageParam image, int channels, const std::string &name) {
  Func padded = BoundaryConditions::constant_exterior(image, 0.0f);
  Var c("c"), x("x"), y("y"), n("n");
  Func byChannel(name);
  byChannel(c, x, y, n) = bf16(select(c < channels, padded(x, y, min(c, channels - 1), n), 0.0f));
  return byChannel;
}

/// dx with `backward = bf16`, stride 1: the sum over filters runs over
/// pairs of filters (2·op + q), "weight_pairs" (q, c, op, tap x, tap y)
/// holding q(w) for the 16 channels of a vector pair by pair, dy a
/// broadcast pair of neighbouring filters; domain "r" is (q, op, tap x,
/// tap y). ±1 weights are exact in bf16 (the plan asks for this kernel only
/// for binary, unscaled weights); dy is rounded.
void defineConv2DGradInputBf16(Kernel &k, const ConvGeometry &g, ImageParam dy,
                               const WeightQuantizer &quantize, Func dx) {
  int filters = int(g.filters), pairs = (filters + 1) / 2, p = int(g.pad);
  Var x("x"), y("y"), c("c"), n("n"), q("q"), op("op"), j("j"), i("i");
  Func weightPairs("weight_pairs");
  Expr o = 2 * op + q;
  weightPairs(q, c, op, j, i) = bf16(select(o < filters, quantize({j, i, c, min(o, filters - 1)}), 0.0f));
  Func dyByChannel = channelsInnermostBf16(dy, filters, "dy_by_channel");
  RDom r(0, 2, 0, pairs, 0, int(g.kernelW), 0, int(g.kernelH), "r");
  Func sum("dx_by_channel");
  sum(c, x, y, n) = 0.0f;
  sum(c, x, y, n) += pairProduct(dyByChannel(2 * r[1] + r[0], x + p - r[2], y + p - r[3], n),
                                 weightPairs(r[0], c, r[1], r[2], r[3]));
  dx(x, y, c, n) = sum(c, x, y, n);
  k.stage("weight_pairs", weightPairs);
  k.stage("dy_by_channel", dyByChannel);
  k.stage("dx_by_channel", sum);
  k.domain("r", r);
}

/// A number in [0, 1) for stochastic rounding, floor(v + u): E[floor(v +
/// u)] = v for u uniform, so the small gradients of an image whose scale a
/// few large ones set are kept on average instead of rounded to 0. u is a
/// hash (murmur3's finaliser) of the value's bits and its position: it
/// changes as the values change from step to step, and a run stays
/// reproducible. 16 bits of it: for an integer v (|v| ≤ 127) v + u is then
/// exact in f32, so a value already on the grid is never rounded up; the
/// mean of floor(v + u) is below v by less than 2⁻¹⁶ of a step.
static Expr roundingOffset(Expr value, const std::vector<Expr> &position) {
  auto u32 = [](uint32_t v) { return Expr(v); };
  Expr h = reinterpret<uint32_t>(value);
  const uint32_t mixers[] = {0x9E3779B9u, 0x85EBCA6Bu, 0xC2B2AE35u, 0x27D4EB2Fu};
  for (size_t i = 0; i < position.size(); ++i)
    h = h ^ (cast<uint32_t>(position[i]) * u32(mixers[i % 4]));
  h = h ^ (h >> u32(16));
  h = h * u32(0x85EBCA6Bu);
  h = h ^ (h >> u32(13));
  h = h * u32(0xC2B2AE35u);
  h = h ^ (h >> u32(16));
  return cast<float>(h >> u32(16)) * (1.0f / 65536.0f);
}

/// dx with `backward = int8`, stride 1, binary unscaled weights w = 1 − 2b
/// (b = 1 for a negative weight): dy is quantised per image with
/// stochastic rounding, dy ≈ scale(n) · q, and Σ w · dy ≈ scale(n) · (U − 2 · Σ b · q), U the
/// sum of q over the filters and the taps that fall inside dy. Σ b · q runs
/// over quads of filters (4·op + q): "weight_quads" (q, c, op, tap x, tap y)
/// u8 for the 16 channels of a vector quad by quad, dy a broadcast quad of
/// neighbouring filters ("dy_by_channel", i8); domain "r" is (q, op, tap x,
/// tap y), as the bf16 kernel's pairs, so the same schedule serves it
/// (Halide emits `vpdpbusd`).
void defineConv2DGradInputInt8(Kernel &k, const ConvGeometry &g, ImageParam dy,
                               ImageParam weight, Func dx) {
  int filters = int(g.filters), quads = (filters + 3) / 4, p = int(g.pad);
  int outW = g.outW(), outH = g.outH();
  Var x("x"), y("y"), c("c"), n("n"), q("q"), op("op"), j("j"), i("i"), o("o");
  RDom image(0, outW, 0, outH, 0, filters, "image");
  Func padded = BoundaryConditions::constant_exterior(dy, 0.0f);
  Func peak("dy_peak"), scale("dy_scale");
  peak(n) = 0.0f;
  peak(n) = max(peak(n), abs(padded(image.x, image.y, image.z, n)));
  scale(n) = select(peak(n) > 0.0f, peak(n) / 127.0f, 1.0f);
  Func dyByChannel("dy_by_channel");
  Expr value = select(o < filters, padded(x, y, min(o, filters - 1), n), 0.0f) / scale(n);
  dyByChannel(o, x, y, n) = cast<int8_t>(
      clamp(floor(value + roundingOffset(value, {o, x, y, n})), -127.0f, 127.0f));
  Expr filter = 4 * op + q;
  Func weightQuads("weight_quads");
  weightQuads(q, c, op, j, i) = cast<uint8_t>(
      filter < filters && weight(j, i, c, min(filter, filters - 1)) < 0.0f);
  RDom r(0, 4, 0, quads, 0, int(g.kernelW), 0, int(g.kernelH), "r");
  Func sum("dx_by_channel");
  sum(c, x, y, n) = 0;
  sum(c, x, y, n) += cast<int32_t>(dyByChannel(4 * r[1] + r[0], x + p - r[2], y + p - r[3], n)) *
                     cast<int32_t>(weightQuads(r[0], c, r[1], r[2], r[3]));
  // U: Σ over filters of q, then over the taps.
  RDom allFilters(0, filters, "all_filters");
  Func overFilters("dy_filter_sum"), inside("dy_tap_sum");
  overFilters(x, y, n) = 0;
  overFilters(x, y, n) += cast<int32_t>(dyByChannel(allFilters, x, y, n));
  RDom taps(0, int(g.kernelW), 0, int(g.kernelH), "taps");
  inside(x, y, n) = 0;
  inside(x, y, n) += overFilters(x + p - taps.x, y + p - taps.y, n);
  dx(x, y, c, n) = scale(n) * cast<float>(inside(x, y, n) - 2 * sum(c, x, y, n));
  k.stage("dy_peak", peak);
  k.stage("dy_scale", scale);
  k.stage("weight_quads", weightQuads);
  k.stage("dy_by_channel", dyByChannel);
  k.stage("dy_filter_sum", overFilters);
  k.stage("dy_tap_sum", inside);
  k.stage("dx_by_channel", sum);
  k.domain("r", r);
}

/// dx = Σ over taps and filters of dy · q(w). Stride 1 runs on channels-
/// innermost copies ("dy_by_channel", "weights" as (c, o, tap x, tap y)),
/// summing into "dx_by_channel" (domain "r": filter, tap x, tap y) that a
/// register tile of channels × x positions keeps in registers; other
/// strides gather the taps that reach each input position.
void defineConv2DGradInput(Kernel &k) {
  ConvGeometry g(k.request().conv);
  ImageParam weight = convWeight(k, g);
  ImageParam dy = image(k, "dy", g.outW(), g.outH(), g.filters);
  WeightQuantizer quantize = convQuantizer(k, weight, g);
  Var x("x"), y("y"), c("c"), n("n"), o("o"), j("j"), i("i");
  Func dx("dx");
  RDom r(0, int(g.filters), 0, int(g.kernelW), 0, int(g.kernelH), "r");
  if (g.stride == 1 && k.request().int8) { // binary unscaled weights (hasInt8Variant)
    defineConv2DGradInputInt8(k, g, dy, weight, dx);
  } else if (g.stride == 1 && k.request().bf16) {
    defineConv2DGradInputBf16(k, g, dy, quantize, dx);
  } else if (g.stride == 1) {
    Func weights("weights");
    weights(c, o, j, i) = quantize({j, i, c, o});
    Func dyByChannel = channelsInnermost(dy, "dy_by_channel");
    int p = int(g.pad);
    Func sum("dx_by_channel");
    sum(c, x, y, n) = 0.0f;
    sum(c, x, y, n) += dyByChannel(r.x, x + p - r.y, y + p - r.z, n) * weights(c, r.x, r.y, r.z);
    dx(x, y, c, n) = sum(c, x, y, n);
    k.stage("weights", weights);
    k.stage("dy_by_channel", dyByChannel);
    k.stage("dx_by_channel", sum);
  } else {
    RDom taps(0, int(g.kernelW), 0, int(g.kernelH), 0, int(g.filters), "r");
    Tap tap = tapOf(x, y, taps.x, taps.y, g);
    dx(x, y, c, n) = 0.0f;
    dx(x, y, c, n) += select(tap.valid, dy(tap.ox, tap.oy, taps.z, n), 0.0f) *
                      quantize({taps.x, taps.y, c, taps.z});
    r = taps;
  }
  if ((!k.request().bf16 && !k.request().int8) || g.stride != 1)
    k.domain("r", r);
  setExtent(dx.output_buffer(), 0, g.width);
  setExtent(dx.output_buffer(), 1, g.height);
  setExtent(dx.output_buffer(), 2, g.channels);
  k.output("dx", dx);
}

/// One image's term of dw (filter o, channel c, tap j, i, image n) with
/// `backward = bf16`: the sum over output positions runs over pairs of
/// neighbouring x positions (2·kx + q), "dy_pairs" (q, o, kx, y, n) holding
/// dy for the 16 filters of a vector pair by pair, "input_pairs" (q, c, x,
/// y, n) the input at x and x + stride, a broadcast pair. Domain "r" is
/// (q, kx, y). ±1 inputs (packed signs) are exact in bf16; dy and a real
/// input (a first layer's image) are rounded.
Expr weightGradientPairs(Kernel &k, const ConvGeometry &g, ImageParam dy, Func input,
                         const std::vector<Var> &at) {
  const Var &o = at[0], &c = at[1], &j = at[2], &i = at[3], &n = at[4];
  int s = int(g.stride), p = int(g.pad), pairsX = (g.outW() + 1) / 2;
  Func padded = BoundaryConditions::constant_exterior(dy, 0.0f);
  Var q("q"), x("x"), y("y"), kx("kx");
  Func dyPairs("dy_pairs"), inputPairs("input_pairs");
  dyPairs(q, o, kx, y, n) = bf16(padded(2 * kx + q, y, o, n));
  inputPairs(q, c, x, y, n) = bf16(input(c, x + q * s, y, n));
  RDom r(0, 2, 0, pairsX, 0, g.outH(), "r");
  k.stage("dy_pairs", dyPairs);
  k.stage("input_pairs", inputPairs);
  k.domain("r", r);
  return pairProduct(dyPairs(r[0], o, r[1], r[2], n),
                     inputPairs(r[0], c, 2 * r[1] * s - p + j, r[2] * s - p + i, n));
}

/// dw of a binary layer with `backward = int8` (AVX-512 VNNI `vpdpbusd`:
/// four u8 · i8 products summed into each i32 lane). The input is ±1 signs
/// s = 1 − 2b, b the packed bit (0 in the padding, where s is 0), and dy is
/// quantised per filter over the batch: dy ≈ scale(o) · q, q in [−127, 127].
/// Then Σ s · dy ≈ scale(o) · (T − 2 · Σ b · q), T = Σ q over the output
/// positions whose tap reads inside the image. Σ b · q runs over quads of
/// neighbouring x positions (4·kx + q): "dy_quads" (q, o, kx, y, n) i8,
/// "input_quads" (q, c, x, y, n) u8 (a broadcast quad); domain "r" is
/// (q, kx, y). Stages "dw_per_image" and "dw_by_filter" sum in i32, as the
/// f32 and bf16 kernels' do in f32, so one schedule serves all three.
Func int8WeightGradient(Kernel &k, const ConvGeometry &g, ImageParam packed, ImageParam dy) {
  int s = int(g.stride), p = int(g.pad), outW = g.outW(), outH = g.outH();
  int quadsX = (outW + 3) / 4;
  Var x("x"), y("y"), o("o"), n("n"), c("c"), j("j"), i("i"), q("q"), kx("kx");
  Expr batch = dy.dim(3).extent();
  RDom all(0, outW, 0, outH, 0, batch, "all");
  // dy reads 0 outside: the schedule rounds filter tiles up and may split
  // the batch past its end, as for the f32 and bf16 copies.
  Func padded = BoundaryConditions::constant_exterior(dy, 0.0f);
  Func peak("dy_peak"), scale("dy_scale"), quantised("dy_int8");
  peak(o) = 0.0f;
  peak(o) = max(peak(o), abs(padded(all.x, all.y, o, all.z)));
  scale(o) = select(peak(o) > 0.0f, peak(o) / 127.0f, 1.0f);
  quantised(x, y, o, n) =
      cast<int8_t>(clamp(round(padded(x, y, o, n) / scale(o)), -127.0f, 127.0f));
  Func dyQuads("dy_quads"), bits("input_bits"), inputQuads("input_quads");
  Expr ox = 4 * kx + q;
  dyQuads(q, o, kx, y, n) = select(ox < outW, quantised(min(ox, outW - 1), y, o, n),
                                   cast<int8_t>(0));
  Func signs = unpackedImage(packed, g, "input_signs");
  bits(c, x, y, n) = cast<uint8_t>(signs(c, x, y, n) < 0.0f);
  inputQuads(q, c, x, y, n) = bits(c, x + q * s, y, n);
  RDom r(0, 4, 0, quadsX, 0, outH, "r");
  Func perImage("dw_per_image");
  perImage(o, c, j, i, n) = 0;
  perImage(o, c, j, i, n) += cast<int32_t>(dyQuads(r[0], o, r[1], r[2], n)) *
                             cast<int32_t>(inputQuads(r[0], c, 4 * r[1] * s - p + j,
                                                      r[2] * s - p + i, n));
  RDom rn(0, batch, "rn");
  Func byFilter("dw_by_filter");
  byFilter(o, c, j, i) = 0;
  byFilter(o, c, j, i) += perImage(o, c, j, i, rn);
  // T: the quantised dy summed over the batch, then over the positions
  // whose tap (j, i) lands inside the image.
  Func overBatch("dy_batch_sum"), inside("dy_tap_sum");
  overBatch(x, y, o) = 0;
  overBatch(x, y, o) += cast<int32_t>(quantised(x, y, o, rn));
  RDom positions(0, outW, 0, outH, "positions");
  Expr ix = positions.x * s - p + j, iy = positions.y * s - p + i;
  inside(o, j, i) = 0;
  inside(o, j, i) += select(ix >= 0 && ix < int(g.width) && iy >= 0 && iy < int(g.height),
                            overBatch(positions.x, positions.y, o), 0);
  Func sum("dw_sum");
  sum(j, i, c, o) = scale(o) * cast<float>(inside(o, j, i) - 2 * byFilter(o, c, j, i));
  k.stage("dy_peak", peak);
  k.stage("dy_scale", scale);
  k.stage("dy_int8", quantised);
  k.stage("dy_batch_sum", overBatch);
  k.stage("dy_tap_sum", inside);
  k.stage("dy_quads", dyQuads);
  k.stage("input_bits", bits);
  k.stage("input_quads", inputQuads);
  k.stage("dw_per_image", perImage);
  k.stage("dw_by_filter", byFilter);
  k.stage("dw_sum", sum);
  k.domain("r", r);
  k.domain("rn", rn);
  return sum;
}

/// dw = Σ over the batch and output positions of dy · input, on channels-
/// innermost copies ("dy_by_channel", "input_by_channel"): per image
/// "dw_per_image" (o, c, tap x, tap y, n) (domain "r": x, y), summed over
/// the batch into "dw_by_filter" (domain "rn"). Filters run along vectors.
void defineConv2DGradWeight(Kernel &k) {
  ConvGeometry g(k.request().conv);
  ImageParam input = k.request().packed ? packedImage(k, g)
                                        : image(k, "input", g.width, g.height, g.channels);
  ImageParam weight = convWeight(k, g);
  ImageParam dy = image(k, "dy", g.outW(), g.outH(), g.filters);
  if (k.request().int8) { // packed inputs only (hasInt8Variant)
    Func sum = int8WeightGradient(k, g, input, dy);
    k.output("dw", convQuantizer(k, weight, g).gradient(k, sum, "dw"));
    return;
  }
  Func dyByChannel = channelsInnermost(dy, "dy_by_channel");
  Func inputByChannel = k.request().packed ? unpackedImage(input, g, "input_by_channel")
                                           : channelsInnermost(input, "input_by_channel");
  Var j("j"), i("i"), c("c"), o("o"), n("n");
  Func perImage("dw_per_image");
  perImage(o, c, j, i, n) = 0.0f;
  if (k.request().bf16) {
    perImage(o, c, j, i, n) += weightGradientPairs(k, g, dy, inputByChannel, {o, c, j, i, n});
  } else {
    RDom r(0, g.outW(), 0, g.outH(), "r");
    int s = int(g.stride), p = int(g.pad);
    perImage(o, c, j, i, n) += dyByChannel(o, r.x, r.y, n) *
                               inputByChannel(c, r.x * s - p + j, r.y * s - p + i, n);
    k.domain("r", r);
    k.stage("dy_by_channel", dyByChannel);
    k.stage("input_by_channel", inputByChannel);
  }
  RDom rn(0, dy.dim(3).extent(), "rn");
  Func byFilter("dw_by_filter");
  byFilter(o, c, j, i) = 0.0f;
  byFilter(o, c, j, i) += perImage(o, c, j, i, rn);
  Func sum("dw_sum");
  sum(j, i, c, o) = byFilter(o, c, j, i);
  k.stage("dw_per_image", perImage);
  k.stage("dw_by_filter", byFilter);
  k.domain("rn", rn);
  k.stage("dw_sum", sum);
  k.output("dw", convQuantizer(k, weight, g).gradient(k, sum, "dw"));
}

/// sign(batchnorm(maxpool(product))) with running statistics, as the
/// per-channel threshold of batchnorm_sign ("threshold"), the pooling done
/// on signs: with γ > 0 the threshold commutes with max (+1 if any tap is),
/// with γ < 0 max turns into min (+1 if all are). The result is ±1 floats
/// (x, y, o, n) or, with `packed`, words of signs along o (word, x, y, n).
Func fusedSign(Kernel &k, Func product, const ConvGeometry &g) {
  int filters = int(g.filters), pool = int(k.request().pool);
  auto perFilter = [&](const char *name) {
    ImageParam p = k.input(name);
    setExtent(p, 0, filters);
    return p;
  };
  ImageParam gamma = perFilter("gamma"), beta = perFilter("beta"),
             mean = perFilter("running_mean"), var = perFilter("running_var");
  Var x("x"), y("y"), o("o"), n("n");
  Func threshold("threshold");
  Expr sigma = sqrt(var(o) + float(k.request().epsilon));
  threshold(o) = select(gamma(o) != 0.0f, mean(o) - beta(o) * sigma / gamma(o), 0.0f);
  k.stage("threshold", threshold);
  Func positive("positive");
  Expr value = product(x, y, o, n);
  positive(x, y, o, n) = cast<uint32_t>(select(gamma(o) > 0.0f, value >= threshold(o),
                                              gamma(o) < 0.0f, value <= threshold(o),
                                              beta(o) >= 0.0f));
  RDom window(0, pool, 0, pool, "window");
  Expr tap = positive(x * pool + window.x, y * pool + window.y, o, n);
  Func pooled("pooled");
  pooled(x, y, o, n) = select(gamma(o) < 0.0f, minimum(tap), maximum(tap));
  k.stage("positive", positive);
  k.stage("pooled", pooled);
  Func output("output");
  if (!k.request().packed) {
    output(x, y, o, n) = select(pooled(x, y, o, n) == 1, 1.0f, -1.0f);
    return output;
  }
  // Each filter's bit of its word (set for −1, as pack_signs sets it), then
  // the 64 bits of a word summed: both run along filters, the axis the
  // product is stored along, so the schedule reads it contiguously.
  Func signBits("sign_bits");
  signBits(x, y, o, n) = select(pooled(x, y, o, n) == 1, cast<uint64_t>(0),
                                cast<uint64_t>(1) << cast<uint64_t>(o % 64));
  k.stage("sign_bits", signBits);
  Var word("word");
  RDom bit(0, 64, "bit");
  Expr c = word * 64 + bit;
  Func words("sign_words");
  words(word, x, y, n) = cast<uint64_t>(0);
  words(word, x, y, n) += select(c < filters, signBits(x, y, min(c, filters - 1), n),
                                 cast<uint64_t>(0));
  k.stage("sign_words", words);
  k.domain("bit", bit);
  output(word, x, y, n) = words(word, x, y, n);
  setExtent(output.output_buffer(), 0, (filters + 63) / 64);
  setExtent(output.output_buffer(), 1, g.outW() / pool);
  setExtent(output.output_buffer(), 2, g.outH() / pool);
  return output;
}

/// maxpool(product) in training, with the position of each window's
/// first maximum (scan order: y, then x, as the reference and maxpool_grad
/// break ties) for the backward pass: a Tuple (pooled value, y · k + x).
static Func pooledWithWinners(Kernel &k, Func product) {
  int pool = int(k.request().pool);
  Var x("x"), y("y"), o("o"), n("n");
  RDom window(0, pool, 0, pool, "window");
  Tuple best = argmax(product(x * pool + window.x, y * pool + window.y, o, n));
  Func pooled("output");
  pooled(x, y, o, n) = Tuple(best[2], best[1] * pool + best[0]);
  return pooled;
}

/// Σx, Σx² and the count of each filter's (pooled) product over the batch,
/// for the batchnorm after the convolution ("batch_sums", (filter, row)).
/// Each image's sums ("sum_per_image", domain "pixel"; f64, exact for the
/// integer products) are computed from the product while it is in cache:
/// the schedule fuses them into the output's loop over images. Then
/// "sum_over_batch" adds the images up.
static Func batchSumsOf(Kernel &k, Func product, const ConvGeometry &g, Expr batch) {
  int pool = int(k.request().pool), outW = g.outW() / pool, outH = g.outH() / pool;
  Var o("o"), n("n"), row("row");
  RDom pixel(0, outW, 0, outH, "pixel");
  Func pooled = product;
  if (pool > 1) {
    Var x("x"), y("y");
    RDom window(0, pool, 0, pool, "sum_window");
    pooled = Func("pooled_product");
    pooled(x, y, o, n) = maximum(product(x * pool + window.x, y * pool + window.y, o, n));
    k.stage("pooled_product", pooled);
  }
  Expr v = cast<double>(pooled(pixel.x, pixel.y, o, n));
  Func perImage("sum_per_image");
  perImage(o, n) = Tuple(f64(0), f64(0));
  perImage(o, n) = Tuple(perImage(o, n)[0] + v, perImage(o, n)[1] + v * v);
  RDom images(0, batch, "images");
  Func overBatch("sum_over_batch");
  overBatch(o) = Tuple(f64(0), f64(0));
  overBatch(o) = Tuple(overBatch(o)[0] + perImage(o, images)[0],
                       overBatch(o)[1] + perImage(o, images)[1]);
  Expr count = cast<double>(batch) * f64(outW * outH);
  Func sums("batch_sums");
  sums(o, row) = cast<float>(select(row == 0, overBatch(o)[0], row == 1, overBatch(o)[1], count));
  setExtent(sums.output_buffer(), 0, g.filters);
  setExtent(sums.output_buffer(), 1, 3);
  k.stage("sum_per_image", perImage);
  k.domain("pixel", pixel);
  k.stage("sum_over_batch", overBatch);
  return sums;
}

/// Binary convolution on packed signs. With zero padding a tap outside the
/// image contributes 0, which no ±1 code can express: the product first
/// runs over every tap with the padding read as +1 (word 0), then
/// "padding_correction" subtracts what those taps added, C − 2·popcount(w)
/// each. The inner loop is thus branch-free XOR-popcount-accumulate.
/// Stages: "by_filter" (weights with filters innermost), "padded_input",
/// "mismatches" (domain "r": word, tap x, tap y), "filter_popcounts",
/// "padding_correction".
void defineXnorConv2D(Kernel &k) {
  ConvGeometry g(k.request().conv);
  int words = int((g.channels + 63) / 64), s = int(g.stride), p = int(g.pad);
  int kw = int(g.kernelW), kh = int(g.kernelH), channels = int(g.channels);
  ImageParam input = k.input("input");   // (word, x, y, n)
  ImageParam weight = k.input("weight"); // (word, tap x, tap y, filter)
  setExtent(input, 0, words);
  setExtent(input, 1, g.width);
  setExtent(input, 2, g.height);
  setExtent(weight, 0, words);
  setExtent(weight, 1, kw);
  setExtent(weight, 2, kh);
  setExtent(weight, 3, g.filters);
  Var o("o"), w("w"), j("j"), i("i"), x("x"), y("y"), n("n");
  Func byFilter("by_filter");
  byFilter(o, w, j, i) = weight(w, j, i, o);
  Func padded("padded_input");
  padded(w, x, y, n) = BoundaryConditions::constant_exterior(
      input, cast<uint64_t>(0))(w, x, y, n);
  RDom r(0, words, 0, kw, 0, kh, "r");
  Func mismatches("mismatches");
  mismatches(o, x, y, n) = cast<uint64_t>(0);
  mismatches(o, x, y, n) +=
      popcount(padded(r.x, x * s - p + r.y, y * s - p + r.z, n) ^ byFilter(o, r.x, r.y, r.z));
  Func filterPopcounts("filter_popcounts");
  RDom rw(0, words, "rw");
  filterPopcounts(o, j, i) = cast<int32_t>(sum(popcount(byFilter(o, rw, j, i))));
  RDom taps(0, kw, 0, kh, "taps");
  Expr inside = x * s - p + taps.x >= 0 && x * s - p + taps.x < int(g.width) &&
                y * s - p + taps.y >= 0 && y * s - p + taps.y < int(g.height);
  Func correction("padding_correction");
  correction(o, x, y) =
      sum(select(inside, 0, channels - 2 * filterPopcounts(o, taps.x, taps.y)));
  bool fused = k.request().fusedSign || k.request().winners || k.request().batchSums;
  Func product(fused ? "product" : "output");
  product(x, y, o, n) = cast<float>(kw * kh * channels -
                                    2 * cast<int32_t>(mismatches(o, x, y, n)) -
                                    correction(o, x, y));
  Func output = k.request().fusedSign ? fusedSign(k, product, g)
                : k.request().winners ? pooledWithWinners(k, product)
                                      : product;
  if (!k.request().fusedSign && !k.request().winners && fused) {
    // The product is both the output and what the sums read.
    output = Func("output");
    output(x, y, o, n) = product(x, y, o, n);
  }
  if (!k.request().packed) {
    int pool = int(k.request().pool);
    // A Tuple's other buffers (the winners) share the first one's extents.
    OutputImageParam buffer = output.output_buffers()[0];
    setExtent(buffer, 0, g.outW() / pool);
    setExtent(buffer, 1, g.outH() / pool);
    setExtent(buffer, 2, g.filters);
  }
  k.stage("by_filter", byFilter);
  k.stage("padded_input", padded);
  k.stage("mismatches", mismatches);
  k.domain("r", r);
  k.stage("filter_popcounts", filterPopcounts);
  k.stage("padding_correction", correction);
  if (k.request().winners)
    k.tupleOutput({"output", "winners"}, output);
  else
    k.output("output", output);
  if (k.request().batchSums)
    k.output("batch_sums", batchSumsOf(k, product, g, input.dim(3).extent()));
}

void definePool(Kernel &k) {
  ConvGeometry g(k.request().conv);
  bool max = k.request().kind == KernelRequest::Kind::MaxPool;
  ImageParam input = image(k, "input", g.width, g.height, g.channels);
  Func padded = BoundaryConditions::constant_exterior(
      input, max ? Expr(-std::numeric_limits<float>::infinity()) : Expr(0.0f));
  Var x("x"), y("y"), c("c"), n("n");
  RDom r(0, int(g.kernelW), 0, int(g.kernelH), "r");
  Expr tap = padded(x * int(g.stride) - int(g.pad) + r.x,
                    y * int(g.stride) - int(g.pad) + r.y, c, n);
  Func output("output");
  output(x, y, c, n) = max ? maximum(tap) : sum(tap) / float(g.kernelW * g.kernelH);
  k.output("output", output);
}

/// Square windows that tile the image: stride = window, no padding.
static bool tilesImage(const ConvGeometry &g) {
  return g.kernelW == g.kernelH && g.stride == g.kernelW && g.pad == 0;
}

void definePoolGrad(Kernel &k) {
  ConvGeometry g(k.request().conv);
  bool max = k.request().kind == KernelRequest::Kind::MaxPoolGrad;
  ImageParam dy = image(k, "dy", g.outW(), g.outH(), g.channels);
  Var x("x"), y("y"), c("c"), n("n"), ox("ox"), oy("oy");
  Func dx("dx");
  RDom r(0, int(g.kernelW), 0, int(g.kernelH), "r");
  Tap tap = tapOf(x, y, r.x, r.y, g);
  if (k.request().winners) {
    // The winners a training XNOR convolution wrote (windows that tile the
    // image): dy goes to the one input whose index in its window matches.
    ImageParam winners = image(k, "winners", g.outW(), g.outH(), g.channels);
    int kk = int(g.kernelW);
    Expr wx = min(x / kk, g.outW() - 1), wy = min(y / kk, g.outH() - 1);
    Expr inside = x / kk < g.outW() && y / kk < g.outH();
    Expr won = winners(wx, wy, c, n) == (y % kk) * kk + x % kk;
    dx(x, y, c, n) = select(inside && won, dy(wx, wy, c, n), 0.0f);
  } else if (max) {
    // The first maximum of each window in scan order (y, then x) wins.
    ImageParam input = image(k, "input", g.width, g.height, g.channels);
    Func padded = BoundaryConditions::constant_exterior(
        input, Expr(-std::numeric_limits<float>::infinity()));
    RDom w(0, int(g.kernelW), 0, int(g.kernelH), "w");
    Func winner("winner");
    winner(ox, oy, c, n) = argmax(padded(ox * int(g.stride) - int(g.pad) + w.x,
                                         oy * int(g.stride) - int(g.pad) + w.y, c, n));
    k.stage("winner", winner);
    if (tilesImage(g)) {
      // Windows that tile the image (stride = window, no padding): each
      // input position lies in at most one window, so no sum over taps.
      int kk = int(g.kernelW);
      Expr wx = min(x / kk, g.outW() - 1), wy = min(y / kk, g.outH() - 1);
      Expr inside = x / kk < g.outW() && y / kk < g.outH();
      Expr won = winner(wx, wy, c, n)[0] == x % kk && winner(wx, wy, c, n)[1] == y % kk;
      dx(x, y, c, n) = select(inside && won, dy(wx, wy, c, n), 0.0f);
    } else {
      Expr won = winner(tap.ox, tap.oy, c, n)[0] == r.x &&
                 winner(tap.ox, tap.oy, c, n)[1] == r.y;
      dx(x, y, c, n) = sum(select(tap.valid && won, dy(tap.ox, tap.oy, c, n), 0.0f));
    }
  } else {
    dx(x, y, c, n) = sum(select(tap.valid, dy(tap.ox, tap.oy, c, n), 0.0f)) /
                     float(g.kernelW * g.kernelH);
  }
  setExtent(dx.output_buffer(), 0, g.width);
  setExtent(dx.output_buffer(), 1, g.height);
  k.output("dx", dx);
}

} // namespace bnnc::algorithms
