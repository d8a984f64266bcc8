//===- HostSchedules.cpp - CPU schedules of every kernel family -----------===//
//
// Guarded tails everywhere (TailStrategy::GuardWithIf): rounding a tile or a
// vector up would read past the inputs or write past the output.
//
//===----------------------------------------------------------------------===//

#include "lowering/schedules/Schedules.h"

#include <optional>

using namespace Halide;

namespace bnnc::schedules {
namespace {

using Kind = KernelRequest::Kind;
const TailStrategy guard = TailStrategy::GuardWithIf;

Var arg(Func f, size_t index) { return f.args()[index]; }

//===--- binary kernels ---------------------------------------------------===//

void schedulePackSigns(Kernel &k, ScheduleKnobs &knobs) {
  Func packed = k.func("packed");
  // One word at a time by default: a vector of words gathers elements 64
  // apart (measured 2x slower for weights and 1.1x for activations of the
  // example MLP, docs/tuning.md).
  int vector = knobs.integer("vector_words", 1, 1, 64,
                             "packed words computed per vector", true);
  if (knobs.flag("parallel_rows", true, "rows in parallel"))
    packed.parallel(arg(packed, 1));
  packed.vectorize(arg(packed, 0), vector, guard);
}

void scheduleFlattenSigns(Kernel &k, ScheduleKnobs &knobs) {
  // A bit permutation of a few words an image (36 in the example CNN):
  // images in parallel, one word at a time (its 64 bits gather from
  // different pixels).
  Func packed = k.func("packed");
  if (knobs.flag("parallel_rows", true, "images in parallel"))
    packed.parallel(arg(packed, 1));
}

/// The XNOR product `product` (unit, row): popcounts of `vector_units`
/// units run as one vector over the transposed weights.
void scheduleXnorProduct(Kernel &k, ScheduleKnobs &knobs, Func product) {
  int vector = knobs.integer("vector_units", 8, 1, 64,
                             "output units whose popcounts run as one vector", true);
  bool parallel = knobs.flag("parallel_rows", true, "rows (batch items) in parallel");
  Func byUnit = k.func("by_unit"), mismatches = k.func("mismatches");
  Var unit = arg(product, 0), row = arg(product, 1);
  byUnit.compute_root().vectorize(arg(byUnit, 0), vector, guard);
  if (parallel)
    product.parallel(row);
  product.vectorize(unit, vector, guard);
  mismatches.compute_at(product, row).vectorize(arg(mismatches, 0), vector, guard);
  mismatches.update()
      .reorder(arg(mismatches, 0), k.rdom("k").x)
      .vectorize(arg(mismatches, 0), vector, guard);
}

void schedulePackChannels(Kernel &k, ScheduleKnobs &knobs) {
  Func packed = k.func("packed");
  int vector = knobs.integer("vector_x", 8, 1, 64,
                             "pixels along x whose words are packed as one vector", true);
  Var x = arg(packed, 1), y = arg(packed, 2), item = arg(packed, 3), yn("yn");
  packed.reorder(x, arg(packed, 0), y, item).fuse(y, item, yn);
  if (knobs.flag("parallel_rows", true, "image rows (y, item) in parallel"))
    packed.parallel(yn);
  packed.vectorize(x, vector, guard);
}

/// A register tile of a convolution's product: filters × output x positions.
struct ProductTile {
  int filters, xs;
};

/// The fused sign of an XNOR convolution: per image, each filter's sign
/// (and its pooling window) runs along filters, the axis the popcounts are
/// stored along; packed words then sum their 64 bits in vectors. (Along x,
/// as the float output runs, every read of the popcounts was 64 filters
/// away from the last: scalar inserts, half the kernel's time.) With a
/// `tile`, the stage that reads the product runs tile by tile, and the
/// returned level is its loop over tiles: the product of one tile can be
/// computed there, just before it is read.
LoopLevel scheduleFusedSign(Kernel &k, ScheduleKnobs &knobs, Func output,
                            std::optional<ProductTile> tile = std::nullopt) {
  int vector = knobs.integer("sign_vector", 16, 1, 64,
                             "filters whose signs are computed as one vector", true);
  LoopLevel perImage = LoopLevel(output, arg(output, 3));
  if (k.request().packed) {
    int bitVector = knobs.integer("bit_vector", 8, 1, 64,
                                  "bits of a word summed as one vector (whole words only)", true);
    Func words = k.func("sign_words");
    words.compute_at(perImage);
    // Inside the loop over images, so without atomics. Only for whole
    // words: with a partial last word (12 filters) Halide 14 crashes in
    // lowering (unbounded nesting of lets), so those sum bit by bit.
    if (k.request().conv.filters % 64 == 0)
      words.update().atomic().vectorize(k.rdom("bit").x, bitVector);
  }
  // Vectors no wider than the filters, their tail shifted inwards.
  while (vector > 1 && vector > k.request().conv.filters)
    vector /= 2;
  std::vector<const char *> perFilter{"pooled"};
  if (k.request().pool > 1)
    perFilter.insert(perFilter.begin(), "positive");
  LoopLevel productTile = perImage;
  for (size_t stage = 0; stage < perFilter.size(); ++stage) {
    Func f = k.func(perFilter[stage]);
    Var x = arg(f, 0), y = arg(f, 1), o = arg(f, 2);
    f.compute_at(perImage).reorder_storage(o, x, y);
    if (tile && stage == 0) {
      Var oo("o_tile"), oi("oi"), xo("x_tile"), xi("xi");
      f.split(o, oo, oi, tile->filters, guard)
          .split(x, xo, xi, tile->xs, guard)
          .reorder(oi, xi, oo, xo, y);
      o = oi;
      productTile = LoopLevel(f, oo);
    } else {
      f.reorder(o, x, y);
    }
    if (vector > 1)
      f.vectorize(o, vector, TailStrategy::ShiftInwards);
  }
  return productTile;
}

/// The batch statistics' sums of an XNOR convolution: each image's sums
/// run in the output's loop over images (compute_with), after its product
/// and reading the same per-image mismatches, vectorised across filters
/// (the axis the mismatches are stored along).
void scheduleBatchSums(Kernel &k, Func output, Var n, bool parallel) {
  Func perImage = k.func("sum_per_image");
  Var o = arg(perImage, 0), image = arg(perImage, 1);
  RDom pixel = k.rdom("pixel");
  perImage.compute_root().vectorize(o, 8, guard);
  perImage.update().reorder(o, pixel.x, pixel.y, image).vectorize(o, 8, guard);
  if (parallel) {
    perImage.parallel(image);
    perImage.update().parallel(image);
  }
  perImage.compute_with(output, n);
  perImage.update().compute_with(output, n);
  // The pooled value once a pixel (not once for Σx and again for Σx²).
  if (k.hasFunc("pooled_product"))
    k.func("pooled_product").compute_at(perImage, pixel.x).vectorize(arg(k.func("pooled_product"), 2), 8, guard);
  Func overBatch = k.func("sum_over_batch");
  overBatch.compute_root().vectorize(arg(overBatch, 0), 8, guard);
  overBatch.update().vectorize(arg(overBatch, 0), 8, guard);
}

/// XNOR-popcount convolution: per image, the popcounts of a register tile
/// of `filter_tile` filters (vectors of u64 lanes) × `x_tile` output pixels
/// accumulate over (word, tap x, tap y); the padded packed image and the
/// tile's sums stay in cache. Images in parallel.
void scheduleXnorConv(Kernel &k, ScheduleKnobs &knobs) {
  int vector = knobs.integer("filter_vector", 8, 1, 64,
                             "filters whose popcounts run as one vector (u64 lanes)", true);
  // With the sign fused and one word a pixel (≤ 64 channels), tiles of 16
  // filters ran 8-10 % faster than 32 on the example CNN's 64-channel
  // layers (docs/performance.md); the wider layers keep 32.
  const KernelRequest &request = k.request();
  int defaultFilterTile = request.fusedSign && request.conv.channels <= 64 ? 16 : 32;
  int filterTile = knobs.integer("filter_tile", defaultFilterTile, 1, 1024,
                                 "filters per register tile (a multiple of filter_vector)", true);
  int xTile = knobs.integer("x_tile", 4, 1, 64, "output x positions per register tile");
  bool parallel = knobs.flag("parallel_batch", true, "batch items in parallel");
  // With the sign fused (evaluation), the product's only reader is the
  // threshold: a tile's popcounts can go to it from registers instead of
  // through an image-sized buffer (64 × 28 × 28 u64, 400 KB, in the example
  // CNN), which also had to be zeroed first.
  bool perTile = request.fusedSign && !request.batchSums && !request.winners &&
                 knobs.flag("product_per_tile", true,
                            "compute the product tile by tile where the fused sign reads "
                            "it (false: a whole image first)");
  Func output = k.func("output"), mismatches = k.func("mismatches");
  for (const char *once : {"by_filter", "filter_popcounts", "padding_correction"})
    k.func(once).compute_root();
  if (k.hasFunc("threshold"))
    k.func("threshold").compute_root();
  // The output is (x, y, o, n), or with the sign fused and packed (word, x,
  // y, n).
  Var n = arg(output, 3);
  if (parallel)
    output.parallel(n);
  if (!k.request().packed)
    output.vectorize(arg(output, 0), 8, guard);
  LoopLevel productAt = LoopLevel(output, n);
  if (request.fusedSign) {
    const KernelRequest::Geometry &g = request.conv;
    int outW = int((g.width + 2 * g.pad - g.kernelW) / g.stride + 1);
    std::optional<ProductTile> tile;
    if (perTile)
      tile = ProductTile{std::min(filterTile, int(g.filters)), std::min(xTile, outW)};
    productAt = scheduleFusedSign(k, knobs, output, tile);
  }
  k.func("padded_input").compute_at(output, n);
  mismatches.compute_at(productAt).vectorize(arg(mismatches, 0), vector, guard);
  RDom r = k.rdom("r");
  Var o = arg(mismatches, 0), mx = arg(mismatches, 1), my = arg(mismatches, 2);
  Var oo("oo"), oi("oi"), ov("ov"), xo("xo"), xi("xi");
  mismatches.update()
      .split(o, oo, oi, filterTile, guard)
      .split(oi, oi, ov, vector, guard)
      .split(mx, xo, xi, xTile, guard)
      .reorder(ov, oi, xi, r.x, r.y, r.z, xo, oo, my)
      .vectorize(ov)
      .unroll(oi)
      .unroll(xi);
  if (k.hasFunc("sum_per_image"))
    scheduleBatchSums(k, output, n, parallel);
}

//===--- float products ---------------------------------------------------===//

/// binary_scaled weights: α per output unit ("scale"), a reduction over the
/// unit's weights, once per call and not per use; units in parallel.
void scheduleWeightScale(Kernel &k) {
  if (!k.hasFunc("scale"))
    return;
  Func scale = k.func("scale");
  scale.compute_root().parallel(arg(scale, 0));
}

/// A register-blocked GEMM: tiles of tile_columns × tile_rows outputs whose
/// accumulators stay in vector registers while p runs; b is read along j
/// (contiguous), a is broadcast. Rows of tiles run in parallel.
void scheduleMatmul(Kernel &k, ScheduleKnobs &knobs) {
  int tileColumns = knobs.integer("tile_columns", 64, 8, 512,
                                  "outputs along the contiguous axis per register tile", true);
  int tileRows = knobs.integer("tile_rows", 4, 1, 16, "rows per register tile");
  int vector = knobs.integer("vector_width", 16, 4, 64, "floats per vector", true);
  bool unroll = knobs.flag("unroll_tile", true,
                           "unroll a tile's accumulators into registers");
  bool parallel = knobs.flag("parallel_tiles", true, "rows of tiles in parallel");
  Func c = k.func("product"), sum = k.func("product_sum");
  Var j = arg(c, 0), i = arg(c, 1), jo("jo"), io("io"), ji("ji"), ii("ii");
  // The copy-out loop over the tile's rows stays rolled: Halide 14 gets
  // the guarded extent of the last unrolled row wrong (it writes a full
  // row there; caught by the kernels' canary tests).
  c.tile(j, i, jo, io, ji, ii, tileColumns, tileRows, guard).vectorize(ji, vector, guard);
  if (parallel)
    c.parallel(io);
  Var sj = arg(sum, 0), si = arg(sum, 1);
  sum.compute_at(c, jo).vectorize(sj, vector, guard);
  Stage update = sum.update();
  update.reorder(sj, si, k.rdom("p").x).vectorize(sj, vector, guard);
  if (unroll) {
    sum.unroll(sj).unroll(si);
    update.unroll(sj).unroll(si);
  }
  if (k.hasFunc("weights") &&
      knobs.flag("weights_at_root", true,
                 "quantise the weights once per call into a buffer (false: inside the "
                 "product, at every use)")) {
    // Quantised weights, contiguous along the product's j axis.
    Func weights = k.func("weights");
    weights.compute_root().parallel(arg(weights, 1)).vectorize(arg(weights, 0), vector, guard);
  }
  scheduleWeightScale(k);
}

void scheduleDense(Kernel &k, ScheduleKnobs &knobs) {
  scheduleMatmul(k, knobs);
  if (k.hasFunc("unpacked_rows")) {
    // Packed input signs as ±1 floats, once a call (a batch of rows is a
    // few hundred KB): unpacking inside the product's inner loop costs a
    // shift and a select per multiply-add.
    Func rows = k.func("unpacked_rows");
    rows.compute_root().parallel(arg(rows, 1)).vectorize(arg(rows, 0), 16, guard);
  }
  Func product = k.func("product");
  Func output = k.outputs()[0];
  if (output.name() == product.name())
    return;
  // A bias added after the product, or the gradient of binary_scaled
  // weights, whose term through α sums a whole unit of the product.
  product.compute_root();
  if (k.hasFunc("scale_grad")) {
    Func scaleGrad = k.func("scale_grad");
    scaleGrad.compute_root().parallel(arg(scaleGrad, 0));
  }
  output.parallel(arg(output, 1)).vectorize(arg(output, 0), 16, guard);
}

//===--- batch normalisation ----------------------------------------------===//

/// A per-channel sum over (position, batch) with vectors along the
/// positions, which are contiguous (the values are (s, c, n)): partial sums
/// of `vector` lanes (an rfactor), then across lanes; channels in parallel.
void sumAlongSpatial(Func total, RDom r, int vector) {
  RVar positions("positions"), lane("lane");
  Var lanes("lanes"), c = arg(total, 0);
  Func partial = total.update().split(r.x, positions, lane, vector).rfactor(lane, lanes);
  total.compute_root().parallel(c);
  total.update().parallel(c);
  partial.compute_at(total, c).vectorize(lanes);
  partial.update().vectorize(lanes);
}

/// Per-channel sums: from `sum_spatial_min` positions along vectors of
/// positions (sumAlongSpatial); below (dense layers: one position) over
/// contiguous channels, channels in parallel blocks and vectors, the
/// reduction over (spatial, batch) inside.
void scheduleChannelSums(Kernel &k, ScheduleKnobs &knobs) {
  int block = knobs.integer("sum_channel_block", 64, 8, 4096,
                            "channels per parallel task of a per-channel sum over channels", true);
  int vector = knobs.integer("sum_vector", 8, 1, 64,
                             "lanes of a vector in the sums (channels, or positions)", true);
  bool parallel = knobs.flag("sum_parallel", true, "channel blocks in parallel");
  int spatialMin = knobs.integer("sum_spatial_min", 32, 1, 1 << 30,
                                 "spatial size from which a sum runs along vectors of positions");
  for (const char *name : {"sum_values", "sum_squares", "sum_dy", "sum_dy_xhat"}) {
    if (!k.hasFunc(name))
      continue;
    Func total = k.func(name);
    RDom r = k.rdom(name);
    Var c = arg(total, 0), co("co"), ci("ci");
    if (k.request().length >= spatialMin) {
      sumAlongSpatial(total, r, vector);
      continue;
    }
    total.compute_root().vectorize(c, vector, guard);
    Stage update = total.update();
    update.split(c, co, ci, block, guard).reorder(ci, r.x, r.y, co).vectorize(ci, vector, guard);
    if (parallel)
      update.parallel(co);
  }
  for (const char *name : {"batch_mean", "batch_inv_std", "threshold"})
    if (k.hasFunc(name))
      k.func(name).compute_root();
}

/// Per-element outputs (spatial, channel, batch): batch items in parallel,
/// vectors along the spatial axis, or along channels for dense layers.
void schedulePerElement(Kernel &k, ScheduleKnobs &knobs, Func f) {
  int vector = knobs.integer("element_vector", 8, 1, 64, "elements per vector", true);
  bool parallel = knobs.flag("element_parallel", true, "batch items in parallel");
  if (parallel)
    f.parallel(arg(f, 2));
  // Packed signs (word, spatial, batch): vectors along the spatial axis.
  bool alongChannels = k.request().length == 1 && !k.request().packed;
  f.vectorize(alongChannels || k.request().packed ? arg(f, 1) : arg(f, 0), vector, guard);
  if (k.hasFunc("is_positive")) {
    // Each batch item's signs once, in vectors (along channels for dense
    // layers): computed bit by bit inside the words, the normalisation
    // ran in scalar double arithmetic.
    Func positive = k.func("is_positive");
    Var s = arg(positive, 0), c = arg(positive, 1);
    positive.compute_at(f, arg(f, 2)).vectorize(k.request().length == 1 ? c : s, vector, guard);
  }
}

void scheduleBatchNorm(Kernel &k, ScheduleKnobs &knobs) {
  scheduleChannelSums(k, knobs);
  schedulePerElement(k, knobs, k.func("per_element"));
}

void scheduleXnorDenseBatchNormSign(Kernel &k, ScheduleKnobs &knobs) {
  Func product = k.func("xnor_product");
  product.compute_root();
  scheduleXnorProduct(k, knobs, product);
  scheduleBatchNorm(k, knobs);
  if (k.hasFunc("product")) {
    Func copy = k.func("product");
    copy.parallel(arg(copy, 1)).vectorize(arg(copy, 0), 8, guard);
  }
}

//===--- element-wise, Adam, losses ---------------------------------------===//

void scheduleElementwise(Kernel &k, ScheduleKnobs &knobs) {
  Func y = k.outputs()[0];
  int vector = knobs.integer("vector_width", 16, 1, 64, "elements per vector", true);
  if (knobs.flag("parallel_rows", true, "batch items in parallel"))
    y.parallel(arg(y, 1));
  y.vectorize(arg(y, 0), vector, guard);
}

void scheduleAdam(Kernel &k, ScheduleKnobs &knobs) {
  int chunk = knobs.integer("chunk", 4096, 64, 1 << 20,
                            "elements per parallel task", true);
  int vector = knobs.integer("vector_width", 16, 1, 64, "elements per vector", true);
  for (Func f : k.outputs()) {
    Var i = arg(f, 0), outer("outer"), inner("inner");
    f.split(i, outer, inner, chunk, guard).parallel(outer).vectorize(inner, vector, guard);
  }
}

void scheduleLoss(Kernel &k, ScheduleKnobs &) {
  for (const char *name : {"row_max", "log_sum"})
    if (k.hasFunc(name))
      k.func(name).compute_root();
}

//===--- convolution and pooling ------------------------------------------===//

/// Rows of a 4-D output in parallel over (channel, batch), vectorised along
/// x; an update over the taps `r` (convolutions) runs them innermost after
/// x, then the output row.
void scheduleImage(Func f, ScheduleKnobs &knobs, const RDom *taps = nullptr) {
  int vector = knobs.integer("vector_width", 8, 1, 64, "output x positions per vector", true);
  bool parallel = knobs.flag("parallel_channels_batch", true,
                             "(channel, batch) rows of the output in parallel");
  Var x = arg(f, 0), y = arg(f, 1), c = arg(f, 2), n = arg(f, 3), cn("cn");
  f.fuse(c, n, cn);
  if (parallel)
    f.parallel(cn);
  f.vectorize(x, vector, guard);
  if (!taps)
    return;
  Stage update = f.update();
  update.reorder(x, taps->x, taps->y, taps->z, y, c, n).fuse(c, n, cn);
  if (parallel)
    update.parallel(cn);
  update.vectorize(x, vector, guard);
}

/// The forward convolution (a real-input layer: few channels, so the taps
/// are the whole sum): per image (parallel), a register tile of
/// `x_tile` output x positions (a vector) × `filter_tile` filters, a small
/// Func of constant size (tiles shifted inwards at the edges) that sums
/// over (tap x, tap y, channel): one input vector and `filter_tile`
/// broadcast weights per tap.
void scheduleConvTiles(Kernel &k, ScheduleKnobs &knobs, RDom taps) {
  const KernelRequest::Geometry &g = k.request().conv;
  int64_t outW = (g.width + 2 * g.pad - g.kernelW) / g.stride + 1;
  int xTile = int(std::min<int64_t>(
      knobs.integer("x_tile", 16, 1, 64, "output x positions per register tile (a vector)", true),
      outW));
  int filterTile = int(std::min<int64_t>(
      knobs.integer("filter_tile", 8, 1, 32, "filters per register tile"), g.filters));
  bool parallel = knobs.flag("parallel_batch", true, "batch items in parallel");
  Func output = k.outputs()[0], sum = k.func("conv_sum");
  Var x = arg(output, 0), y = arg(output, 1), o = arg(output, 2), n = arg(output, 3);
  Var xo("xo"), xi("xi"), oo("oo"), oi("oi");
  const TailStrategy shift = TailStrategy::ShiftInwards;
  output.split(x, xo, xi, xTile, shift)
      .split(o, oo, oi, filterTile, shift)
      .reorder(xi, oi, xo, y, oo, n)
      .vectorize(xi);
  if (parallel)
    output.parallel(n);
  Var sx = arg(sum, 0), so = arg(sum, 2);
  sum.compute_at(output, xo).vectorize(sx).unroll(so);
  sum.update().reorder(sx, so, taps.x, taps.y, taps.z).vectorize(sx).unroll(so);
}

/// A real-input convolution with its sign fused (evaluation): per image,
/// the product in register tiles of `fused_filter_tile` filters (vectors
/// along filters) × `fused_x_tile` x positions (broadcast inputs), stored
/// filters innermost, which is the order the fused sign reads it in.
void scheduleConvSign(Kernel &k, ScheduleKnobs &knobs, RDom taps) {
  const KernelRequest::Geometry &g = k.request().conv;
  int64_t outW = (g.width + 2 * g.pad - g.kernelW) / g.stride + 1;
  int vector = int(std::min<int64_t>(16, g.filters));
  int filterTile = int(std::min<int64_t>(
      knobs.integer("fused_filter_tile", 64, 1, 256, "filters per register tile (vectors)", true),
      g.filters));
  filterTile = std::max(vector, filterTile / vector * vector);
  int xTile = int(std::min<int64_t>(
      knobs.integer("fused_x_tile", 4, 1, 16, "x positions per register tile"), outW));
  bool parallel = knobs.flag("parallel_batch", true, "batch items in parallel");
  Func output = k.outputs()[0], product = k.func("product"), sum = k.func("conv_sum");
  Var n = arg(output, 3);
  if (parallel)
    output.parallel(n);
  if (!k.request().packed)
    output.vectorize(arg(output, 0), 8, guard);
  k.func("threshold").compute_root();
  const TailStrategy shift = TailStrategy::ShiftInwards;
  Var x = arg(product, 0), y = arg(product, 1), o = arg(product, 2);
  Var xo("xo"), xi("xi"), oo("oo"), oi("oi");
  product.compute_at(output, n)
      .reorder_storage(o, x, y)
      .split(o, oo, oi, filterTile, shift)
      .split(x, xo, xi, xTile, shift)
      .reorder(oi, xi, xo, oo, y)
      .vectorize(oi, vector)
      .unroll(oi)
      .unroll(xi);
  Var sx = arg(sum, 0), so = arg(sum, 2), sov("sov");
  sum.compute_at(product, xo).reorder_storage(so, sx).vectorize(so, vector).unroll(so).unroll(sx);
  sum.update()
      .split(so, so, sov, vector)
      .reorder(sov, so, sx, taps.x, taps.y, taps.z)
      .vectorize(sov)
      .unroll(so)
      .unroll(sx);
  scheduleFusedSign(k, knobs, output);
}

void scheduleConv(Kernel &k, ScheduleKnobs &knobs) {
  if (k.hasFunc("weights"))
    k.func("weights").compute_root();
  scheduleWeightScale(k);
  RDom taps = k.rdom("r");
  if (k.request().fusedSign)
    return scheduleConvSign(k, knobs, taps);
  if (k.hasFunc("conv_sum"))
    return scheduleConvTiles(k, knobs, taps);
  scheduleImage(k.outputs()[0], knobs, &taps);
}

/// With `backward = bf16`: the pair index `q` (extent 2) innermost and
/// vectorised with the `lanes` of an atomic update, which Halide turns into
/// `vdpbf16ps` (pairs of bf16 products summed into f32 lanes); with
/// `int8`, quads (extent 4) of u8 · i8 products: `vpdpbusd`.
Stage &vectorizePairs(Stage &update, RVar q, Var lanes) {
  return update.atomic().vectorize(q).vectorize(lanes);
}

/// A copy vectorised along its first axis, or for a copy of bf16 pairs or
/// int8 quads (q, axis, ...) along q (`group` wide) and the next axis
/// together, so that its stores are whole vectors (q alone is 2 or 4 wide;
/// the axis alone strided).
void vectorizeCopy(Func copy, int group, int vector) {
  if (group == 1) {
    copy.vectorize(arg(copy, 0), vector, guard);
    return;
  }
  Var q = arg(copy, 0), lanes = arg(copy, 1);
  copy.bound(q, 0, group).vectorize(q).vectorize(lanes, vector, guard);
}

/// Stride 1: per image, a register tile of `channel_tile` input channels
/// (vectors of `vector_width`) × `x_tile` positions, a small Func that
/// LLVM keeps in registers, sums over (filter, tap) with the image's dy,
/// channels innermost, in cache. Images in parallel.
void scheduleConvGradInput(Kernel &k, ScheduleKnobs &knobs) {
  if (!k.hasFunc("dx_by_channel"))
    return scheduleConv(k, knobs);
  int vector = knobs.integer("vector_width", 16, 4, 64, "channels per vector", true);
  int channelTile = knobs.integer("channel_tile", 64, 4, 1024,
                                  "input channels per register tile (a multiple of vector_width)",
                                  true);
  int xTile = knobs.integer("x_tile", 4, 1, 32, "x positions per register tile");
  bool parallel = knobs.flag("parallel_batch", true, "batch items in parallel");
  // Products in pairs (bf16) or quads (int8) of filters.
  int group = k.request().int8 ? 4 : k.request().bf16 ? 2 : 1;
  Func dx = k.func("dx"), sum = k.func("dx_by_channel");
  Func weights = k.func(group == 4 ? "weight_quads" : group == 2 ? "weight_pairs" : "weights");
  weights.compute_root();
  vectorizeCopy(weights, group, vector);
  // Tiles of a constant size (the last one shifted inwards, recomputing a
  // few outputs) give the tile Func a constant size, which is what lets
  // LLVM keep it in registers.
  const KernelRequest::Geometry &g = k.request().conv;
  channelTile = std::min<int>(channelTile, int(g.channels));
  xTile = std::min<int>(xTile, int(g.width));
  vector = std::min(vector, channelTile);
  // int8: whole 16-lane vectors only. On a 128- or 256-bit vector LLVM
  // encodes vpdpbusd as AVX-VNNI (VEX), which the Sapphire Rapids feature
  // set Halide 14 targets promises but Zen 4 lacks (SIGILL); the last
  // tile shifts inwards instead of being partial.
  if (group == 4 && g.channels >= 16) {
    vector = 16;
    channelTile = std::max(16, channelTile / 16 * 16);
  }
  const TailStrategy shift = TailStrategy::ShiftInwards;
  Var x = arg(dx, 0), y = arg(dx, 1), c = arg(dx, 2), n = arg(dx, 3);
  Var co("co"), ci("ci"), xo("xo"), xi("xi");
  dx.split(c, co, ci, channelTile, shift)
      .split(x, xo, xi, xTile, shift)
      .reorder(xi, ci, xo, y, co, n);
  if (parallel)
    dx.parallel(n);
  Func dyByChannel = k.func("dy_by_channel");
  dyByChannel.compute_at(dx, n).vectorize(arg(dyByChannel, 0), vector, guard);
  if (k.hasFunc("dy_tap_sum")) {
    // int8: the image's scale once a call, its sums of q with the image.
    Func peak = k.func("dy_peak");
    peak.compute_root().parallel(arg(peak, 0));
    peak.update().parallel(arg(peak, 0));
    k.func("dy_scale").compute_root();
    for (const char *name : {"dy_filter_sum", "dy_tap_sum"}) {
      Func f = k.func(name);
      f.compute_at(dx, n).vectorize(arg(f, 0), vector, guard);
      f.update().vectorize(arg(f, 0), vector, guard);
    }
  }
  RDom r = k.rdom("r");
  Var sc = arg(sum, 0), sx = arg(sum, 1), cv("cv");
  sum.compute_at(dx, xo).vectorize(sc, vector, guard).unroll(sx);
  Stage update = sum.update();
  update.split(sc, sc, cv, vector, guard);
  if (group > 1)
    vectorizePairs(update, r[0], cv).reorder(r[0], cv, sc, sx, r[1], r[2], r[3]);
  else
    update.reorder(cv, sc, sx, r.x, r.y, r.z).vectorize(cv);
  update.unroll(sc).unroll(sx);
}

/// int8 weight gradients: dy's per-filter scale and quantised copy once a
/// call (filters in parallel), its sums over the batch and over the
/// positions each tap reads inside the image.
void scheduleInt8Quantisation(Kernel &k, int vector) {
  if (!k.hasFunc("dy_int8"))
    return;
  Func peak = k.func("dy_peak"), quantised = k.func("dy_int8");
  peak.compute_root().parallel(arg(peak, 0));
  peak.update().parallel(arg(peak, 0));
  k.func("dy_scale").compute_root();
  Var x = arg(quantised, 0), o = arg(quantised, 2);
  quantised.compute_root().parallel(o).vectorize(x, vector, guard);
  Func overBatch = k.func("dy_batch_sum"), inside = k.func("dy_tap_sum");
  overBatch.compute_root().parallel(arg(overBatch, 2)).vectorize(arg(overBatch, 0), vector, guard);
  overBatch.update().parallel(arg(overBatch, 2)).vectorize(arg(overBatch, 0), vector, guard);
  inside.compute_root().parallel(arg(inside, 0));
  inside.update().parallel(arg(inside, 0));
}

/// dw: per image (its dy and input in cache), a register tile of
/// `filter_tile` filters (vectors) × `channel_tile` input channels, a small
/// Func that LLVM keeps in registers, sums over the image's positions for
/// one tap; added into dw image after image. With `batch_parts` > 1 the
/// batch is cut into that many parts that run in parallel, each summing
/// into its own copy of dw (an rfactor of "dw_by_filter"), so that the
/// per-image copies run in parallel too; otherwise filter tiles run in
/// parallel within each image. The default (2 parts) was measured on 2
/// threads; on more cores, more parts or `batch_parts = 1` may pay.
void scheduleConvGradWeight(Kernel &k, ScheduleKnobs &knobs) {
  int vector = knobs.integer("vector_width", 16, 4, 64, "filters per vector", true);
  int filterTile = knobs.integer("filter_tile", 32, 4, 1024,
                                 "filters per register tile (a multiple of vector_width)", true);
  int channelTile = knobs.integer("channel_tile", 8, 1, 64, "input channels per register tile");
  // Parts of the batch pay when an image has enough positions; with few
  // (7 × 7) the per-image work is small against adding the tiles into a
  // dw per part, which no longer fits in L2 (evidence: docs/performance.md).
  const KernelRequest::Geometry &g = k.request().conv;
  int64_t positions = ((g.height + 2 * g.pad - g.kernelH) / g.stride + 1) *
                      ((g.width + 2 * g.pad - g.kernelW) / g.stride + 1);
  int batchParts = knobs.integer("batch_parts", positions >= 100 ? 2 : 1, 1, 64,
                                 "parts of the batch summed in parallel (1: filter tiles in parallel)");
  bool parallel = knobs.flag("parallel_filters", true, "filter tiles in parallel (batch_parts = 1)");
  // With one part, images may run inside each filter tile: that tile's
  // slice of dw then stays in cache for the whole batch (a 7 × 7 layer of
  // 256 filters has a 2.4 MB dw, read and written once per image
  // otherwise), at the price of the image's copies made once per tile.
  // Measured slower on the example CNN's 7 × 7 layers (docs/performance.md).
  bool tileMajor = knobs.flag("images_inside_tiles", false,
                              "images inside each filter tile (batch_parts = 1)");
  Func byFilter = k.func("dw_by_filter"), perImage = k.func("dw_per_image");
  Var o = arg(byFilter, 0), c = arg(byFilter, 1), j = arg(byFilter, 2), i = arg(byFilter, 3);
  byFilter.compute_root().vectorize(o, vector, guard);
  // The Func whose update runs the tiles, and its loop over images.
  Func tiled = byFilter;
  RVar images = k.rdom("rn").x;
  Var part("part");
  if (batchParts > 1) {
    RVar partOfBatch("part_of_batch"), image("image");
    tiled = byFilter.update()
                .split(images, partOfBatch, image, (images.extent() + batchParts - 1) / batchParts)
                .rfactor(partOfBatch, part);
    tiled.compute_root().vectorize(o, vector, guard);
    byFilter.update().vectorize(o, vector, guard);
    images = image;
  }
  // One image's copies at a time (computed inside the loop over images):
  // the copies of a whole batch would add tens of MB to the step's peak.
  // Products in pairs (bf16) or quads (int8) of the reduction.
  int group = k.request().int8 ? 4 : k.request().bf16 ? 2 : 1;
  for (const char *name : {"dy_by_channel", "input_by_channel", "dy_pairs", "input_pairs",
                           "dy_quads", "input_quads", "input_bits"}) {
    if (!k.hasFunc(name))
      continue;
    Func copy = k.func(name);
    copy.compute_at(tiled, images);
    // The int8 kernel's bits (c, x, y) are unpacked once an image, then
    // read four times by the quads.
    vectorizeCopy(copy, std::string(name) == "input_bits" ? 1 : group, vector);
  }
  scheduleInt8Quantisation(k, vector);
  Var oo("oo"), oi("oi"), co("co"), ci("ci");
  // Tiles rounded up (the copies read 0 past the channels) give the tile
  // Func a constant size, which is what lets LLVM keep it in registers.
  channelTile = std::min<int>(channelTile, int(g.channels));
  const TailStrategy roundUp = TailStrategy::RoundUp;
  Stage update = tiled.update();
  update.split(o, oo, oi, filterTile, roundUp).split(c, co, ci, channelTile, roundUp);
  if (batchParts > 1)
    update.reorder(oi, ci, co, j, i, oo, images, part).parallel(part);
  else if (tileMajor)
    update.reorder(oi, ci, co, j, i, images, oo);
  else
    update.reorder(oi, ci, co, j, i, oo, images);
  update.vectorize(oi, vector);
  if (batchParts == 1 && parallel)
    update.parallel(oo);
  Var po = arg(perImage, 0), pc = arg(perImage, 1), ov("ov");
  RDom r = k.rdom("r");
  perImage.compute_at(tiled, co).vectorize(po, vector, guard).unroll(pc);
  Stage tile = perImage.update();
  tile.split(po, po, ov, vector, guard);
  if (group > 1)
    vectorizePairs(tile, r[0], ov).reorder(r[0], ov, po, pc, r[1], r[2]);
  else
    tile.reorder(ov, po, pc, r.x, r.y).vectorize(ov);
  tile.unroll(po).unroll(pc);
  scheduleWeightScale(k);
  if (k.hasFunc("scale_grad"))
    k.func("scale_grad").compute_root();
}

void schedulePoolGrad(Kernel &k, ScheduleKnobs &knobs) {
  if (k.hasFunc("winner")) {
    // The window's argmax, image rows in parallel, vectorised along x.
    Func winner = k.func("winner");
    Var x = arg(winner, 0), c = arg(winner, 2), n = arg(winner, 3), cn("cn");
    winner.compute_root().fuse(c, n, cn).parallel(cn).vectorize(x, 8, guard);
  }
  scheduleImage(k.func("dx"), knobs);
}

} // namespace

void scheduleForHost(Kernel &k, ScheduleKnobs &knobs) {
  switch (k.request().kind) {
  case Kind::PackSigns: return schedulePackSigns(k, knobs);
  case Kind::XnorDense: return scheduleXnorProduct(k, knobs, k.func("output"));
  case Kind::PackChannels: return schedulePackChannels(k, knobs);
  case Kind::FlattenSigns: return scheduleFlattenSigns(k, knobs);
  case Kind::XnorConv2D: return scheduleXnorConv(k, knobs);
  case Kind::XnorDenseBatchNormSignTrain:
  case Kind::XnorDenseBatchNormSign: return scheduleXnorDenseBatchNormSign(k, knobs);
  case Kind::DenseForward:
  case Kind::DenseGradInput:
  case Kind::DenseGradWeight: return scheduleDense(k, knobs);
  case Kind::BatchNormTrain: case Kind::BatchNormSignTrain:
  case Kind::BatchNormGrad: case Kind::BatchNormSteGrad:
  case Kind::BatchNormEval: case Kind::BatchNormSign: return scheduleBatchNorm(k, knobs);
  case Kind::BatchNormSums: case Kind::BatchNormGradSums: return scheduleChannelSums(k, knobs);
  case Kind::BiasGrad: return scheduleChannelSums(k, knobs);
  case Kind::Adam: return scheduleAdam(k, knobs);
  case Kind::Sign: case Kind::HTanh: case Kind::Relu:
  case Kind::SteGrad: case Kind::ReluGrad: case Kind::Add:
    return scheduleElementwise(k, knobs);
  case Kind::CrossEntropy: case Kind::SquaredHinge: return scheduleLoss(k, knobs);
  case Kind::Conv2D: return scheduleConv(k, knobs);
  case Kind::Conv2DGradInput: return scheduleConvGradInput(k, knobs);
  case Kind::Conv2DGradWeight: return scheduleConvGradWeight(k, knobs);
  case Kind::MaxPool: case Kind::AvgPool: return scheduleImage(k.func("output"), knobs);
  case Kind::MaxPoolGrad: case Kind::AvgPoolGrad: return schedulePoolGrad(k, knobs);
  }
}

} // namespace bnnc::schedules
