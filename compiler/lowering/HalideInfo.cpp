#include "lowering/HalideInfo.h"

#include "Halide.h"

#ifndef BNNC_HALIDE_VERSION
#define BNNC_HALIDE_VERSION "unknown"
#endif

std::string bnnc::halideVersion() { return BNNC_HALIDE_VERSION; }

std::string bnnc::halideHostTarget() {
  return Halide::get_host_target().to_string();
}
