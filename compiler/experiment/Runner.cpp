//===- Runner.cpp - Running an experiment's points, resumably -------------===//

#include "experiment/Runner.h"

#include "experiment/Results.h"
#include "experiment/Subprocess.h"

#include "bnnrt/Files.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA1.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <csignal>

using namespace bnnc::experiment;

namespace {

enum class PointState { Done, Resume, New, Conflict };

std::string readFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

bool exists(const std::string &path) { return llvm::sys::fs::exists(path); }

/// What a point's folder says: done, resumable (a checkpoint), new, or
/// started with another run configuration (never mixed into one result).
PointState pointState(const std::string &dir, const Point &point) {
  if (exists(dir + "/run.toml") && readFile(dir + "/run.toml") != point.runConfig)
    return PointState::Conflict;
  PointResult result;
  std::string ignored;
  readPoint(dir, result, ignored);
  if (result.status == "done")
    return PointState::Done;
  if (exists(dir + "/checkpoint.bin") || exists(dir + "/checkpoint.prev.bin"))
    return PointState::Resume;
  return PointState::New;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The last lines of a log, to show why a child failed.
void printLogTail(const std::string &path, size_t lines = 6) {
  llvm::SmallVector<llvm::StringRef> all;
  std::string text = readFile(path);
  llvm::StringRef(text).split(all, '\n', -1, /*KeepEmpty=*/false);
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    llvm::errs() << "  | " << all[i] << "\n";
}

class Runner {
public:
  Runner(const Experiment &experiment, const RunOptions &options)
      : experiment(experiment), options(options),
        compiled(experiment.variants.size(), false),
        compileFailed(experiment.variants.size(), false) {}

  int run() {
    std::vector<size_t> todo;
    if (!plan(todo))
      return 1;
    if (options.dryRun || todo.empty())
      return 0;
    if (!lockResults())
      return 1;
    ForwardStopSignals signals;
    int status = 0;
    for (size_t n = 0; n < todo.size(); ++n) {
      int pointStatus = runPoint(todo[n], n + 1, todo.size());
      if (pointStatus > 128)
        return stopped(pointStatus);
      status = std::max(status, pointStatus);
    }
    llvm::outs() << (status ? "some points failed: rerun the same command to retry them\n"
                            : "all points done: bnnc report " + experiment.resultsDir + "\n");
    return status;
  }

private:
  /// The points left, in the order they run: the first seed of every
  /// setting before the second, so a partial experiment is already a
  /// comparison.
  bool plan(std::vector<size_t> &todo) {
    std::string error;
    if (!writeManifest(experiment, error) ||
        !copySource(error))
      return llvm::errs() << error << "\n", false;
    size_t done = 0, resume = 0, conflicts = 0;
    for (size_t i = 0; i < experiment.points.size(); ++i) {
      const Point &point = experiment.points[i];
      PointState state = pointState(pointPath(experiment, point), point);
      if (options.dryRun)
        llvm::outs() << point.dir << ": " << stateName(state) << "\n";
      done += state == PointState::Done;
      resume += state == PointState::Resume;
      if (state == PointState::Conflict) {
        ++conflicts;
        llvm::errs() << pointPath(experiment, point)
                     << "/run.toml: error: this point was started with another run "
                        "configuration; use another results folder (-o DIR) or remove it\n";
      }
      if (state == PointState::Resume || state == PointState::New)
        todo.push_back(i);
    }
    llvm::stable_sort(todo, [&](size_t a, size_t b) {
      return experiment.points[a].values.back().second <
             experiment.points[b].values.back().second;
    });
    llvm::outs() << experiment.points.size() << " points in " << experiment.resultsDir
                 << ": " << done << " done, " << resume << " to resume, "
                 << todo.size() - resume << " to run\n";
    llvm::outs().flush();
    return conflicts == 0;
  }

  static const char *stateName(PointState state) {
    switch (state) {
    case PointState::Done: return "done";
    case PointState::Resume: return "resume from its checkpoint";
    case PointState::New: return "to run";
    case PointState::Conflict: return "started with another configuration";
    }
    return "";
  }

  /// Two runs on one folder would train the same points twice and
  /// interleave their files: the second is refused while the first lives.
  /// The lock goes with the process, however it ends.
  bool lockResults() {
    std::string path = experiment.resultsDir + "/experiment.lock";
    int fd = -1;
    if (std::error_code ec = llvm::sys::fs::openFileForReadWrite(
            path, fd, llvm::sys::fs::CD_OpenAlways, llvm::sys::fs::OF_None))
      return llvm::errs() << path << ": error: " << ec.message() << "\n", false;
    if (llvm::sys::fs::tryLockFile(fd))
      return llvm::errs() << "error: another bnnc experiment is running on "
                          << experiment.resultsDir << " (" << path << " is locked)\n",
             false;
    return true; // fd stays open, and locked, until the process exits
  }

  /// The experiment file as it was last run, beside its results.
  bool copySource(std::string &error) {
    std::string text = readFile(experiment.sourcePath);
    return bnnrt::writeFileAtomically(experiment.resultsDir + "/experiment.toml",
                                      text.data(), text.size(), error);
  }

  /// The binary of variant `v`, compiled unless the one there was built
  /// from the same model text and options.
  bool ensureCompiled(size_t v, std::string &binary) {
    const Variant &variant = experiment.variants[v];
    binary = experiment.resultsDir + "/bin/" + variant.name;
    if (compiled[v] || compileFailed[v])
      return compiled[v];
    std::string key = compileKey(variant), keyPath = binary + ".key", error;
    if (exists(binary) && readFile(keyPath) == key)
      return compiled[v] = true;
    if (!bnnrt::makeDirectories(experiment.resultsDir + "/bin", error))
      return llvm::errs() << error << "\n", false;
    std::vector<std::string> args = {options.bnncPath, "compile", variant.modelPath,
                                     "-o", binary};
    if (!variant.modelName.empty())
      args.push_back("--model=" + variant.modelName);
    for (const std::string &set : variant.sets)
      args.push_back("--set=" + set);
    llvm::outs() << "compiling " << variant.name << " from " << variant.modelPath << "\n";
    llvm::outs().flush();
    auto started = std::chrono::steady_clock::now();
    ExitStatus status = runLogged(args, binary + ".log");
    if (status.code != 0) {
      llvm::errs() << "error: compiling variant '" << variant.name << "' failed"
                   << (status.error.empty() ? "" : ": " + status.error) << "; "
                   << binary << ".log:\n";
      printLogTail(binary + ".log");
      return compileFailed[v] = true, false;
    }
    llvm::outs() << llvm::format("compiled %s in %.1f s\n", variant.name.c_str(),
                                 secondsSince(started));
    return bnnrt::writeFileAtomically(keyPath, key.data(), key.size(), error)
               ? (compiled[v] = true)
               : (llvm::errs() << error << "\n", false);
  }

  /// What the binary depends on besides bnnc itself: the model file's
  /// text and the compile options.
  static std::string compileKey(const Variant &variant) {
    llvm::SHA1 hash;
    hash.update(readFile(variant.modelPath));
    std::string key = "model " + variant.modelPath + "\nsha1 " +
                      llvm::toHex(hash.final()) + "\nmodel_name " +
                      variant.modelName + "\n";
    for (const std::string &set : variant.sets)
      key += "set " + set + "\n";
    return key;
  }

  /// Runs (or resumes) one point; returns 0, 1 (failed) or 128 + signal.
  int runPoint(size_t index, size_t n, size_t total) {
    const Point &point = experiment.points[index];
    std::string dir = pointPath(experiment, point), binary, error;
    if (!ensureCompiled(point.variant, binary))
      return 1;
    llvm::outs() << "[" << n << "/" << total << "] " << point.dir;
    if (!bnnrt::makeDirectories(dir, error) ||
        !bnnrt::writeFileAtomically(dir + "/run.toml", point.runConfig.data(),
                                    point.runConfig.size(), error))
      return llvm::errs() << error << "\n", 1;
    bool resuming = exists(dir + "/checkpoint.bin") || exists(dir + "/checkpoint.prev.bin");
    llvm::outs() << (resuming ? ": resuming" : ": running") << " (log " << dir
                 << "/log.txt) ... ";
    llvm::outs().flush();
    std::vector<std::string> args = {binary, "train", "--config", dir + "/run.toml",
                                     "--metrics", dir + "/metrics.jsonl",
                                     "--checkpoint-dir", dir, "--resume"};
    if (int64_t(n) == options.interruptPoint)
      args.insert(args.end(), {"--interrupt-after-steps",
                               std::to_string(options.interruptSteps)});
    auto started = std::chrono::steady_clock::now();
    ExitStatus status = runLogged(args, dir + "/log.txt");
    double seconds = secondsSince(started);
    bool interrupted = status.signaled || status.code == 128 + SIGINT ||
                       status.code == 128 + SIGTERM;
    const char *outcome = status.code == 0 ? "done" : interrupted ? "interrupted" : "failed";
    if (!recordAttempt(dir, seconds, outcome, status.code, error))
      llvm::errs() << error << "\n";
    reportPoint(dir, outcome, seconds, status);
    if (interrupted)
      return std::max(status.code, 129);
    return status.code == 0 ? 0 : 1;
  }

  void reportPoint(const std::string &dir, llvm::StringRef outcome, double seconds,
                   const ExitStatus &status) {
    PointResult result;
    std::string error;
    readPoint(dir, result, error);
    llvm::outs() << outcome << llvm::format(" in %.1f s", seconds);
    if (outcome == "done" && !result.epochs.empty()) {
      double best = result.epochs.front().testError;
      for (const EpochRecord &epoch : result.epochs)
        best = std::min(best, epoch.testError);
      llvm::outs() << llvm::format(": test error %.2f%% (best %.2f%%)",
                                   result.epochs.back().testError, best);
    }
    llvm::outs() << "\n";
    llvm::outs().flush();
    if (outcome == "failed") {
      llvm::errs() << "error: " << dir << " failed (exit " << status.code << ")"
                   << (status.error.empty() ? "" : ": " + status.error) << ":\n";
      printLogTail(dir + "/log.txt");
    }
  }

  int stopped(int status) {
    int signal = ForwardStopSignals::received();
    llvm::outs() << "stopped" << (signal ? std::string(" by ") + strsignal(signal) : "")
                 << ": the running point kept a checkpoint; run the same "
                    "command again to finish what is missing\n";
    return signal ? 128 + signal : status;
  }

  const Experiment &experiment;
  const RunOptions &options;
  std::vector<bool> compiled, compileFailed; // each variant is tried once
};

} // namespace

int bnnc::experiment::runExperiment(const Experiment &experiment,
                                    const RunOptions &options) {
  return Runner(experiment, options).run();
}
