//===- FiniteCheck.h - Which kernel call first wrote a NaN or infinity ----===//
//
// When a run diverges, the runtime replays the failing step with
// StepInput::checkFinite set; the plan then hands the float results of
// every kernel call to noteNonFinite with the call's site (an index into
// ModelSpec::kernelSites), and the first site whose results hold a NaN or
// an infinity is the op where the divergence began.
//
// Like the profiler, the recorder is process-wide and takes no lock: the
// plan calls it from the one thread that runs the step.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_FINITECHECK_H
#define BNNRT_FINITECHECK_H

#include <cstdint>

namespace bnnrt {

/// Records `site` if `data[0, count)` holds a NaN or an infinity and no site
/// has been recorded since the last reset: later sites only inherit the
/// first one's values, so they are not scanned at all.
void noteNonFinite(int site, const float *data, int64_t count);

/// The site recorded since the last reset; -1 if none.
int firstNonFiniteSite();

/// Forgets the recorded site (before the step to check).
void resetNonFinite();

} // namespace bnnrt

#endif // BNNRT_FINITECHECK_H
