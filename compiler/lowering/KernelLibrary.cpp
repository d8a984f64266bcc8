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

Kernel xnorDense(int64_t length, int64_t units) {
  int words = int((length + 63) / 64);
  ImageParam input(UInt(64), 2, "input");   // (word, row)
  ImageParam weight(UInt(64), 2, "weight"); // (word, unit)
  input.dim(0).set_min(0).set_extent(words);
  weight.dim(0).set_min(0).set_extent(words);
  weight.dim(1).set_min(0).set_extent(int(units));
  Var unit("unit"), row("row"), w("w");
  // Weights transposed so that neighbouring units are neighbours in memory
  // and the popcounts of eight units run as one vector.
  Func byUnit("by_unit");
  byUnit(unit, w) = weight(w, unit);
  RDom k(0, words, "k");
  Func mismatches("mismatches"), output("output");
  mismatches(unit, row) = 0;
  mismatches(unit, row) += cast<int32_t>(popcount(input(k, row) ^ byUnit(unit, k)));
  output(unit, row) = cast<float>(int(length) - 2 * mismatches(unit, row));
  // Schedule.
  byUnit.compute_root().vectorize(unit, 8, TailStrategy::GuardWithIf);
  output.parallel(row).vectorize(unit, 8, TailStrategy::GuardWithIf);
  mismatches.compute_at(output, row).vectorize(unit, 8, TailStrategy::GuardWithIf);
  mismatches.update().reorder(unit, k).vectorize(unit, 8, TailStrategy::GuardWithIf);
  output.output_buffer().dim(0).set_min(0).set_extent(int(units));
  return {Pipeline(output), {input, weight}};
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
