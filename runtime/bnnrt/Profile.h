//===- Profile.h - Where a compiled model spends its time (--profile) -----===//
//
// The plan wraps every kernel call in a KernelTimer naming its call site (an
// index into ModelSpec::kernelSites); the runtime wraps every step in a
// StepTimer. With --profile the process-wide Profiler adds up their times,
// and the report relates each site to the steps of its function (train step
// or evaluation) and to its arithmetic rate.
//
// Threads: the kernels are multi-threaded inside, but the plan calls them,
// and the runtime runs its steps, from one thread. The timers rely on that
// and take no lock; calling a plan from several threads at once while
// profiling would need one.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_PROFILE_H
#define BNNRT_PROFILE_H

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bnnrt {

/// One kernel call site of a compiled plan.
struct KernelSite {
  std::string function;   // "train" (the train step) or "eval" (evaluation)
  std::string op;         // the IR op, e.g. "bnn.xnor_dense_batchnorm_sign_train"
  std::string location;   // its place in the model file, "examples/fmnist_mlp.bnn:12:5", may be empty
  std::string kernel;     // the kernel function called, e.g. "bnnk_xnor_dense_784x1024"
  double opsFixed = 0;    // arithmetic operations per call independent of the batch size
  double opsPerItem = 0;  // plus this many per batch item (row)
  bool binaryOps = false; // ops are 1-bit XNOR-popcount ops (report binary GOP/s) rather than float ops (GFLOP/s)
  std::string bf16Kernel; // called instead with backward = "bf16" (empty: none)
  std::string int8Kernel; // called instead with backward = "int8" (empty: its bf16 one)
  std::string cudaKernel; // called instead when the run uses the GPU (empty: none)
};

/// What the profiler adds up for one call site.
struct SiteTotals {
  int64_t calls = 0;
  int64_t items = 0; // batch items over all calls, for opsPerItem
  double seconds = 0;
};

/// What the profiler adds up for the steps of one function.
struct StepTotals {
  int64_t steps = 0;
  double seconds = 0;
};

/// One row of the report: a call site that was called.
struct ProfileRow {
  std::string op, location, kernel;
  int64_t calls = 0;
  double totalMs = 0;
  double percent = 0; // of the step time of the site's function
  /// Giga-operations per second; none when the site has no op count or
  /// took no measurable time.
  std::optional<double> gigaOpsPerSecond;
  bool binaryOps = false;
  const char *unit() const { return binaryOps ? "GOP/s" : "GFLOP/s"; }
};

/// The sites of one function, by total time, descending.
struct ProfileSection {
  std::string function; // "train" or "eval"
  int64_t steps = 0;
  double stepMs = 0;
  std::vector<ProfileRow> rows;
  double kernelMs = 0;  // the rows' time together
  double outsideMs = 0; // step time not in any timed kernel
  double outsidePercent = 0;
};

/// Always a "train" and an "eval" section, in that order, then one per other
/// function name a site may carry.
struct ProfileReport {
  std::vector<ProfileSection> sections;
};

/// Derives the report from recorded totals (`siteTotals[i]` for `sites[i]`;
/// sites never called are left out). Pure arithmetic, no clock.
ProfileReport buildProfileReport(const std::vector<KernelSite> &sites,
                                 const std::vector<SiteTotals> &siteTotals,
                                 const std::map<std::string, StepTotals> &steps);

/// The report as aligned text tables, one per section that ran steps or
/// kernels.
std::string formatProfileTable(const ProfileReport &report);

/// The report as JSON: {"train": {"step_ms", "steps", "kernel_ms",
/// "outside_ms", "outside_percent", "sites": [{"op", "location", "kernel",
/// "calls", "total_ms", "percent", "gops", "unit"}, ...]}, "eval": {...}}.
/// "gops" is null where the table shows "-".
std::string formatProfileJson(const ProfileReport &report);

namespace detail {
/// On while a Profiler runs; read by every KernelTimer, so a plain flag.
extern bool profilingOn;
} // namespace detail

/// The process-wide profiler behind --profile.
class Profiler {
public:
  static Profiler &global();

  /// Starts from zero for a plan whose call sites are `sites`.
  void start(const std::vector<KernelSite> &sites);
  void stop() { detail::profilingOn = false; }
  bool isOn() const { return detail::profilingOn; }

  /// Site indices out of range (a plan and spec out of step, or a spec
  /// without sites) are ignored.
  void addKernelCall(int site, int64_t batch, double seconds);
  void addStep(const std::string &function, double seconds);

  ProfileReport report() const {
    return buildProfileReport(sites, siteTotals, stepTotals);
  }

private:
  std::vector<KernelSite> sites;
  std::vector<SiteTotals> siteTotals;
  std::map<std::string, StepTotals> stepTotals;
};

/// Times one kernel call when profiling is on; costs one branch when off.
class KernelTimer {
public:
  KernelTimer(int site, int64_t batch)
      : site(site), batch(batch), active(detail::profilingOn) {
    if (active)
      started = std::chrono::steady_clock::now();
  }
  ~KernelTimer() {
    if (active)
      finish();
  }
  KernelTimer(const KernelTimer &) = delete;
  KernelTimer &operator=(const KernelTimer &) = delete;

private:
  void finish();

  int site;
  int64_t batch;
  bool active; // profiling was on at the start: the pair stays consistent
  std::chrono::steady_clock::time_point started;
};

/// Times one step of `function` ("train" or "eval") when profiling is on.
class StepTimer {
public:
  explicit StepTimer(const char *function)
      : function(function), active(detail::profilingOn) {
    if (active)
      started = std::chrono::steady_clock::now();
  }
  ~StepTimer() {
    if (active)
      finish();
  }
  StepTimer(const StepTimer &) = delete;
  StepTimer &operator=(const StepTimer &) = delete;

private:
  void finish();

  const char *function;
  bool active;
  std::chrono::steady_clock::time_point started;
};

} // namespace bnnrt

#endif // BNNRT_PROFILE_H
