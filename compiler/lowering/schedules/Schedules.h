//===- Schedules.h - How each kernel family runs, per target --------------===//
//
// One schedule function per family and target, apart from the algorithms:
// they look up the algorithm's stages by name and ask ScheduleKnobs for
// every tunable choice. Host (x86-64 CPU) schedules are in HostSchedules.cpp;
// a CUDA file beside it will schedule the same stages for `host-cuda`.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_LOWERING_SCHEDULES_H
#define BNNC_LOWERING_SCHEDULES_H

#include "lowering/Kernel.h"
#include "lowering/ScheduleKnobs.h"

namespace bnnc::schedules {

/// Schedules `kernel` (algorithm already defined) for the host CPU.
void scheduleForHost(Kernel &kernel, ScheduleKnobs &knobs);

/// Schedules `kernel` for an NVIDIA GPU (Halide's CUDA backend).
void scheduleForCuda(Kernel &kernel, ScheduleKnobs &knobs);

} // namespace bnnc::schedules

#endif // BNNC_LOWERING_SCHEDULES_H
