//===- fuzz_runconfig.cpp - The run-configuration reader ------------------===//
//
// Any text through parseRunConfig: it must return an error or a config,
// never crash. Experiment files add top-level tables the caller reads; half
// the inputs are parsed that way.
//
//===----------------------------------------------------------------------===//
#include "bnnrt/RunConfig.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  bnnrt::RunConfig config;
  std::string error;
  bool experiment = size > 0 && data[0] % 2;
  bool ok = bnnrt::parseRunConfig(
      text, "fuzz.toml", config, error,
      experiment ? std::vector<std::string>{"experiment", "variants"}
                 : std::vector<std::string>{});
  // A failure always says what failed, a success never does.
  if (ok != error.empty())
    std::abort();
  return 0;
}
