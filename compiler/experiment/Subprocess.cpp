//===- Subprocess.cpp - Child processes that stop cleanly on a signal -----===//

#include "experiment/Subprocess.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

using namespace bnnc::experiment;

namespace {

volatile std::sig_atomic_t stopSignal = 0;
volatile pid_t runningChild = 0;

void forwardSignal(int signal) {
  stopSignal = signal;
  if (runningChild > 0)
    kill(runningChild, signal);
}

struct sigaction previousInt, previousTerm;

} // namespace

ForwardStopSignals::ForwardStopSignals() {
  struct sigaction action = {};
  action.sa_handler = forwardSignal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &previousInt);
  sigaction(SIGTERM, &action, &previousTerm);
}

ForwardStopSignals::~ForwardStopSignals() {
  sigaction(SIGINT, &previousInt, nullptr);
  sigaction(SIGTERM, &previousTerm, nullptr);
}

int ForwardStopSignals::received() { return stopSignal; }

ExitStatus bnnc::experiment::runLogged(llvm::ArrayRef<std::string> args,
                                       const std::string &logPath) {
  ExitStatus result;
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, logPath.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0); // a group of its own
  std::vector<char *> argv;
  for (const std::string &arg : args)
    argv.push_back(const_cast<char *>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int spawnError = posix_spawn(&pid, argv[0], &files, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attributes);
  if (spawnError) {
    result.error = args[0] + ": " + std::strerror(spawnError);
    result.code = 1;
    return result;
  }
  runningChild = pid;
  if (stopSignal) // arrived before the child was known
    kill(pid, stopSignal);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  runningChild = 0;
  result.signaled = WIFSIGNALED(status);
  result.code = result.signaled ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return result;
}
