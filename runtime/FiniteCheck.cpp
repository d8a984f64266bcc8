//===- FiniteCheck.cpp - Which kernel call first wrote a NaN or infinity --===//

#include "bnnrt/FiniteCheck.h"

#include <cmath>

using namespace bnnrt;

/// -1 until a site's results held a non-finite value.
static int firstSite = -1;

void bnnrt::noteNonFinite(int site, const float *data, int64_t count) {
  if (firstSite >= 0)
    return;
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(data[i])) {
      firstSite = site;
      return;
    }
}

int bnnrt::firstNonFiniteSite() { return firstSite; }

void bnnrt::resetNonFinite() { firstSite = -1; }
