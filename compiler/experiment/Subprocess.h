//===- Subprocess.h - Child processes that stop cleanly on a signal -------===//
//
// The children of `bnnc experiment` (bnnc compile, the training binaries)
// run in their own process group, so a Ctrl-C at the terminal reaches only
// bnnc, which passes it on exactly once: a second SIGINT would make a
// training binary stop at once, without its checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_EXPERIMENT_SUBPROCESS_H
#define BNNC_EXPERIMENT_SUBPROCESS_H

#include "llvm/ADT/ArrayRef.h"

#include <string>

namespace bnnc::experiment {

/// Installs the SIGINT/SIGTERM handlers (that forward to the running
/// child) while it lives.
class ForwardStopSignals {
public:
  ForwardStopSignals();
  ~ForwardStopSignals();
  ForwardStopSignals(const ForwardStopSignals &) = delete;
  ForwardStopSignals &operator=(const ForwardStopSignals &) = delete;

  /// The signal that asked to stop; 0 if none has.
  static int received();
};

/// How a child ended.
struct ExitStatus {
  int code = 0;       // the exit status, or 128 + signal if killed by one
  bool signaled = false;
  std::string error;  // set if it could not be started
};

/// Runs `args` (args[0] a path) with stdout and stderr appended to
/// `logPath`, and waits for it.
ExitStatus runLogged(llvm::ArrayRef<std::string> args, const std::string &logPath);

} // namespace bnnc::experiment

#endif // BNNC_EXPERIMENT_SUBPROCESS_H
