//===- KernelLibrary.h - Build, schedule and compile the plan's kernels ---===//
#ifndef BNNC_LOWERING_KERNELLIBRARY_H
#define BNNC_LOWERING_KERNELLIBRARY_H

#include "lowering/Kernel.h"
#include "lowering/ScheduleKnobs.h"

#include <memory>
#include <string>
#include <vector>

namespace bnnc {

/// How kernels are scheduled: the hand schedules of the target, with knob
/// values from a schedule file, or an autoscheduler (for every kernel, or
/// per kernel with the file's `autoscheduler` key).
struct ScheduleOptions {
  ScheduleFile *file = nullptr;
  std::string autoscheduler; // "", "Mullapudi2016", "Adams2019" or "Li2018"
  int batchEstimate = 100;   // the batch size autoschedulers assume
};

/// The autoschedulers Halide 14 ships as plugins.
const std::vector<std::string> &autoschedulerNames();

/// A kernel built and scheduled: what was chosen, for printing.
struct ScheduledKernel {
  explicit ScheduledKernel(const KernelRequest &request) : kernel(request) {}
  Kernel kernel;
  ScheduleKnobs knobs;
  std::string autoscheduler;  // empty for the hand schedule
  std::string scheduleSource; // the autoscheduler's schedule, as C++
};

/// The request's algorithm with the default hand schedule of the host
/// (for tests). Throws Halide::Error on a bad request.
Kernel buildKernel(const KernelRequest &request);

/// Builds and schedules every request. Schedule errors ("file:line:col:
/// error: ...") are appended to `errors`; returns false if there were any.
bool scheduleKernels(const std::vector<KernelRequest> &requests,
                     const ScheduleOptions &options,
                     std::vector<std::unique_ptr<ScheduledKernel>> &kernels,
                     std::vector<std::string> &errors);

/// Compiles each request to `<dir>/<symbol>.o` and the header Halide
/// generates for it, `<dir>/<symbol>.h` (the plan calls kernels through
/// those), plus the Halide runtime once to `<dir>/halide_runtime.o`.
bool compileKernels(const std::vector<KernelRequest> &requests,
                    const ScheduleOptions &options, const std::string &dir,
                    std::vector<std::string> &objects,
                    std::vector<std::string> &errors);

/// The lowered statement (loop nests after scheduling) of every request,
/// for `bnnc --emit=halide`.
bool lowerKernels(const std::vector<KernelRequest> &requests,
                  const ScheduleOptions &options, std::string &text,
                  std::vector<std::string> &errors);

/// The assembly of every kernel for `bnnc --emit=asm`, or with
/// `deviceOnly` (target host-cuda) just its PTX, for `bnnc --emit=ptx`.
bool assemblyOfKernels(const std::vector<KernelRequest> &requests,
                       const ScheduleOptions &options, bool deviceOnly, std::string &text,
                       std::vector<std::string> &errors);

/// Every kernel's schedule choices as an editable TOML file, for
/// `bnnc --emit=schedule`.
bool printSchedules(const std::vector<KernelRequest> &requests,
                    const ScheduleOptions &options, std::string &text,
                    std::vector<std::string> &errors);

} // namespace bnnc

#endif // BNNC_LOWERING_KERNELLIBRARY_H
