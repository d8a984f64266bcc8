//===- KernelLibrary.cpp - Build, schedule and compile kernels ------------===//
//
// A kernel is its family's algorithm (algorithms/) plus either the hand
// schedule of the target (schedules/), whose knobs may come from a schedule
// file, or one of Halide's autoschedulers fed with the model's extents.
// Halide reports errors with exceptions; they end here, as error strings.
//
//===----------------------------------------------------------------------===//

#include "lowering/KernelLibrary.h"
#include "lowering/schedules/Schedules.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <cpuid.h>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

#ifndef BNNC_HALIDE_PLUGIN_DIR
#define BNNC_HALIDE_PLUGIN_DIR ""
#endif

using namespace Halide;

namespace bnnc {
namespace {

/// The host with an NVIDIA GPU. PTX for compute capability 8.0 (Ampere):
/// the driver compiles it for the GPU it finds, Hopper included.
Target withCuda(Target target) {
  return target.with_feature(Target::CUDA).with_feature(Target::CUDACapability80);
}

/// Whether this CPU runs AVX512-FP16 instructions (CPUID leaf 7, EDX bit 23).
bool hostHasAvx512Fp16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 23));
}

/// The host, or for a GPU kernel (`request.cuda`) the host with its NVIDIA
/// GPU; the Halide runtime is compiled once apart. Halide 14 names LLVM's
/// "sapphirerapids" CPU for any host with AVX-512 BF16 and VNNI, which lets
/// LLVM use AVX512-FP16 instructions as well; an AMD Zen 4 has the first
/// two and not the last, and such an instruction stops the binary (SIGILL).
/// The hand schedules are checked to emit none (test/lit/Schedules/
/// host-isa.bnn); an autoscheduler's choices are not, so on such a host its
/// kernels are compiled for cannonlake (no BF16 or VNNI patterns: slower
/// bf16 gradients, never a wrong instruction).
Target kernelTarget(const KernelRequest &request, bool autoscheduled) {
  Target target = get_host_target().with_feature(Target::NoRuntime);
  if (autoscheduled && target.has_feature(Target::AVX512_SapphireRapids) && !hostHasAvx512Fp16())
    target = target.without_feature(Target::AVX512_SapphireRapids);
  return request.cuda ? withCuda(target) : target;
}

Target kernelTarget(const ScheduledKernel &scheduled) {
  return kernelTarget(scheduled.kernel.request(), !scheduled.autoscheduler.empty());
}

bool anyOnGpu(const std::vector<KernelRequest> &requests) {
  return std::any_of(requests.begin(), requests.end(),
                     [](const KernelRequest &r) { return r.cuda; });
}

/// Loads the plugin of autoscheduler `name` once (Halide's plugins register
/// themselves when loaded).
void loadAutoscheduler(const std::string &name) {
  static std::set<std::string> loaded;
  if (loaded.count(name))
    return;
  std::string library = name;
  for (char &c : library)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  load_plugin(std::string(BNNC_HALIDE_PLUGIN_DIR) + "/libautoschedule_" + library + ".so");
  loaded.insert(name);
}

/// The extents of argument `index` at the plan's first call, with the
/// batch axis at `batch`: the estimates autoschedulers plan for.
std::vector<int> estimatedExtents(const KernelRequest &request, size_t index, int batch) {
  std::vector<int> extents;
  if (index < request.argExtents.size())
    for (int64_t extent : request.argExtents[index])
      extents.push_back(extent < 0 ? batch : int(extent));
  return extents;
}

void setEstimates(Kernel &kernel, int batch) {
  const KernelRequest &request = kernel.request();
  KernelSignature signature = signatureOf(request);
  for (size_t index = 0; index < signature.size(); ++index) {
    const KernelArg &arg = signature[index];
    if (arg.role == ArgRole::Scalar) {
      // Adam's learning rate and step: any value will do for a schedule.
      // (Param<void>::set_estimate rejects every value in Halide 14, so the
      // estimate goes on the underlying parameter, a shared handle.)
      Internal::Parameter parameter = kernel.scalarParam(arg.name).parameter();
      parameter.set_estimate(arg.type == ArgType::F32 ? Expr(1.0f / 1024) : Expr(int32_t(1)));
      continue;
    }
    std::vector<int> extents = estimatedExtents(request, index, batch);
    if (int(extents.size()) != arg.rank)
      throw CompileError("no extents known for argument '" + arg.name + "' of " +
                         request.symbol);
    if (arg.role == ArgRole::Input) {
      ImageParam buffer = kernel.input(arg.name);
      for (int d = 0; d < arg.rank; ++d)
        buffer.dim(d).set_estimate(0, extents[d]);
    } else {
      Region region;
      for (int extent : extents)
        region.push_back({0, extent});
      kernel.func(arg.name).set_estimates(region);
    }
  }
}

std::string autoschedule(Kernel &kernel, const std::string &name, int batch,
                         const Target &target) {
  loadAutoscheduler(name);
  setEstimates(kernel, batch);
  MachineParams machine(int(std::max(1u, std::thread::hardware_concurrency())),
                        16 * 1024 * 1024, 40);
  AutoSchedulerResults results = kernel.pipeline().auto_schedule(name, target, machine);
  return results.schedule_source;
}

/// Builds and schedules one kernel; schedule errors go to `errors`.
std::unique_ptr<ScheduledKernel> scheduleKernel(const KernelRequest &request,
                                                const ScheduleOptions &options,
                                                std::vector<std::string> &errors) {
  auto scheduled = std::make_unique<ScheduledKernel>(request);
  defineAlgorithm(scheduled->kernel);
  if (options.file)
    scheduled->knobs = options.file->knobsFor(request.symbol);
  std::string chosen = scheduled->knobs.autoscheduler();
  if (chosen.empty())
    chosen = options.autoscheduler;
  const std::vector<std::string> &known = autoschedulerNames();
  if (!chosen.empty() && std::find(known.begin(), known.end(), chosen) == known.end()) {
    errors.push_back("unknown autoscheduler '" + chosen +
                     "' (Mullapudi2016, Adams2019 or Li2018)");
    chosen.clear();
  }
  auto handSchedule =
      request.cuda ? schedules::scheduleForCuda : schedules::scheduleForHost;
  if (chosen.empty()) {
    handSchedule(scheduled->kernel, scheduled->knobs);
  } else {
    // The hand schedule's knobs are still asked for (and so validated and
    // printed), on a copy of the algorithm that is then dropped.
    Kernel unused(request);
    defineAlgorithm(unused);
    handSchedule(unused, scheduled->knobs);
    scheduled->autoscheduler = chosen;
    scheduled->scheduleSource = autoschedule(scheduled->kernel, chosen, options.batchEstimate,
                                             kernelTarget(request, true));
  }
  for (const std::string &error : scheduled->knobs.errors())
    errors.push_back(error);
  return scheduled;
}

/// The PTX that Halide embeds in a host-cuda object's assembly as a string
/// constant (the `.ascii` lines of the device module), decoded.
std::string devicePtx(const std::string &assembly) {
  std::string ptx;
  std::istringstream lines(assembly);
  for (std::string line; std::getline(lines, line);) {
    size_t start = line.find(".asciz\t\"//\\n// Generated by LLVM NVPTX");
    if (start == std::string::npos)
      continue;
    // Decode the assembler string: \n, \t, \", \\ and octal escapes.
    for (size_t i = line.find('"', start) + 1; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] != '\\') {
        ptx += line[i];
        continue;
      }
      char next = line[++i];
      if (next == 'n') ptx += '\n';
      else if (next == 't') ptx += '\t';
      else if (next >= '0' && next <= '7') {
        int code = 0;
        for (int digits = 0; digits < 3 && line[i] >= '0' && line[i] <= '7'; ++digits, ++i)
          code = code * 8 + (line[i] - '0');
        --i;
        ptx += char(code);
      } else ptx += next;
    }
    ptx += '\n';
  }
  return ptx;
}

/// Runs `body`, turning Halide's exceptions into an error string.
template <typename Body>
bool catchingHalideErrors(std::vector<std::string> &errors, Body body) {
  try {
    body();
  } catch (const Halide::Error &halideError) {
    errors.push_back(std::string("Halide: ") + halideError.what());
  }
  return errors.empty();
}

/// The schedule file's own errors and the tables that name no kernel.
void collectFileErrors(const ScheduleOptions &options, std::vector<std::string> &errors) {
  if (!options.file)
    return;
  errors.insert(errors.end(), options.file->errors.begin(), options.file->errors.end());
  for (const std::string &error : options.file->unknownKernels())
    errors.push_back(error);
}

void printKnobs(const ScheduledKernel &scheduled, std::ostream &out) {
  const KernelRequest &request = scheduled.kernel.request();
  out << "\n[" << request.symbol << "]\n# " << familyName(request.kind) << "; called by";
  for (const std::string &caller : request.callers)
    out << "\n#   " << caller;
  out << "\n";
  if (!scheduled.autoscheduler.empty()) {
    out << "autoscheduler = \"" << scheduled.autoscheduler << "\"\n"
        << "# The schedule " << scheduled.autoscheduler << " chose:\n";
    std::istringstream lines(scheduled.scheduleSource);
    for (std::string line; std::getline(lines, line);)
      out << "#   " << line << "\n";
    out << "# The hand schedule's parameters (used when the line above is removed):\n";
  }
  if (scheduled.knobs.knobs().empty())
    out << "# (no schedule parameters)\n";
  for (const ScheduleKnobs::Knob &knob : scheduled.knobs.knobs()) {
    std::string line = knob.name + " = " + knob.value;
    line.resize(std::max<size_t>(line.size() + 1, 32), ' ');
    out << (scheduled.autoscheduler.empty() ? "" : "# ") << line << "# " << knob.doc
        << "; default " << knob.defaultValue << "\n";
  }
}

} // namespace

const std::vector<std::string> &autoschedulerNames() {
  static const std::vector<std::string> names{"Mullapudi2016", "Adams2019", "Li2018"};
  return names;
}

Kernel buildKernel(const KernelRequest &request) {
  Kernel kernel(request);
  defineAlgorithm(kernel);
  ScheduleKnobs defaults;
  schedules::scheduleForHost(kernel, defaults);
  return kernel;
}

bool scheduleKernels(const std::vector<KernelRequest> &requests,
                     const ScheduleOptions &options,
                     std::vector<std::unique_ptr<ScheduledKernel>> &kernels,
                     std::vector<std::string> &errors) {
  size_t before = errors.size();
  bool built = catchingHalideErrors(errors, [&] {
    for (const KernelRequest &request : requests)
      kernels.push_back(scheduleKernel(request, options, errors));
  });
  collectFileErrors(options, errors);
  return built && errors.size() == before;
}

bool compileKernels(const std::vector<KernelRequest> &requests,
                    const ScheduleOptions &options, const std::string &dir,
                    std::vector<std::string> &objects,
                    std::vector<std::string> &errors) {
  std::vector<std::unique_ptr<ScheduledKernel>> kernels;
  if (!scheduleKernels(requests, options, kernels, errors))
    return false;
  return catchingHalideErrors(errors, [&] {
    for (const auto &scheduled : kernels) {
      const Kernel &kernel = scheduled->kernel;
      std::string base = dir + "/" + kernel.request().symbol;
      kernel.pipeline().compile_to(
          {{OutputFileType::object, base + ".o"}, {OutputFileType::c_header, base + ".h"}},
          kernel.arguments(), kernel.request().symbol, kernelTarget(*scheduled));
      objects.push_back(base + ".o");
    }
    // One runtime for all kernels: with any GPU kernel, the one that loads
    // the CUDA driver at run time (the binary still starts without one).
    std::string runtime = dir + "/halide_runtime.o";
    compile_standalone_runtime(runtime, anyOnGpu(requests) ? withCuda(get_host_target())
                                                           : get_host_target());
    objects.push_back(runtime);
  });
}

/// Schedules every request, has `write` put each kernel's text into a
/// temporary file, and gathers `describe(kernel, that file's text)`.
template <typename Write, typename Describe>
bool textOfKernels(const std::vector<KernelRequest> &requests,
                   const ScheduleOptions &options, std::string &text,
                   std::vector<std::string> &errors, Write write, Describe describe) {
  std::vector<std::unique_ptr<ScheduledKernel>> kernels;
  if (!scheduleKernels(requests, options, kernels, errors))
    return false;
  char pattern[] = "/tmp/bnnc-kernel-XXXXXX";
  int fd = mkstemp(pattern);
  if (fd < 0) {
    errors.push_back("cannot create a temporary file");
    return false;
  }
  close(fd);
  std::ostringstream out;
  bool written = catchingHalideErrors(errors, [&] {
    for (const auto &scheduled : kernels) {
      write(*scheduled, std::string(pattern));
      std::ifstream file(pattern);
      std::stringstream whole;
      whole << file.rdbuf();
      out << describe(*scheduled, whole.str()) << "\n";
    }
  });
  std::remove(pattern);
  text = out.str();
  return written;
}

bool lowerKernels(const std::vector<KernelRequest> &requests,
                  const ScheduleOptions &options, std::string &text,
                  std::vector<std::string> &errors) {
  return textOfKernels(
      requests, options, text, errors,
      [&](const ScheduledKernel &scheduled, const std::string &path) {
        const Kernel &kernel = scheduled.kernel;
        kernel.pipeline().compile_to_lowered_stmt(path, kernel.arguments(), Text,
                                                  kernelTarget(scheduled));
      },
      [&](const ScheduledKernel &scheduled, const std::string &stmt) {
        return "// kernel " + scheduled.kernel.request().symbol + " (target " +
               kernelTarget(scheduled).to_string() + ", " +
               (scheduled.autoscheduler.empty() ? "hand schedule" : scheduled.autoscheduler) +
               ")\n" + stmt;
      });
}

bool assemblyOfKernels(const std::vector<KernelRequest> &requests,
                       const ScheduleOptions &options, bool deviceOnly, std::string &text,
                       std::vector<std::string> &errors) {
  return textOfKernels(
      requests, options, text, errors,
      [&](const ScheduledKernel &scheduled, const std::string &path) {
        const Kernel &kernel = scheduled.kernel;
        kernel.pipeline().compile_to_assembly(path, kernel.arguments(), kernel.request().symbol,
                                              kernelTarget(scheduled));
      },
      [&](const ScheduledKernel &scheduled, const std::string &assembly) {
        return "// kernel " + scheduled.kernel.request().symbol + "\n" +
               (deviceOnly ? devicePtx(assembly) : assembly);
      });
}

bool printSchedules(const std::vector<KernelRequest> &requests,
                    const ScheduleOptions &options, std::string &text,
                    std::vector<std::string> &errors) {
  std::vector<std::unique_ptr<ScheduledKernel>> kernels;
  if (!scheduleKernels(requests, options, kernels, errors))
    return false;
  std::ostringstream out;
  Target host = get_host_target().with_feature(Target::NoRuntime);
  out << "# Schedule parameters of every kernel, target " << host.to_string();
  if (anyOnGpu(requests))
    out << "\n# (kernels named *_cuda: " << withCuda(host).to_string() << ")";
  out << ".\n# Edit the values and build with: bnnc compile --schedule THIS.toml MODEL -o NAME\n"
      << "# A kernel's table may instead say autoscheduler = \"Mullapudi2016\" | "
         "\"Adams2019\" | \"Li2018\".\n";
  for (const auto &scheduled : kernels)
    printKnobs(*scheduled, out);
  text = out.str();
  return true;
}

} // namespace bnnc
