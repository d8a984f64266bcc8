//===- MpiCollectives.cpp - The processes of a run started by mpirun ------===//
//
// Collectives over MPI_COMM_WORLD (Open MPI). Every collective is
// non-blocking underneath and waited for by polling with a deadline: MPI
// errors are returned rather than fatal (MPI_ERRORS_RETURN), so a failed
// call and a collective that never completes (another process died or
// hangs) both end the whole run with a one-line error instead of a hang.
// Only `bnnc compile --mpi` links this file (libbnnrt_mpi); libbnnrt
// itself has no MPI dependency.
//
//===----------------------------------------------------------------------===//

#include "bnnrt/MpiCollectives.h"

#include <mpi.h>

#include <chrono>
#include <climits>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace bnnrt;

namespace {

class MpiCollectives final : public Collectives {
public:
  MpiCollectives() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized)
      MPI_Init(nullptr, nullptr);
    // Errors come back as codes: check() names the call and stops the run.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &myRank);
    MPI_Comm_size(MPI_COMM_WORLD, &processes);
    if (processes > 1)
      fitHalideThreadsToAffinity();
  }
  ~MpiCollectives() override { MPI_Finalize(); }

  int rank() const override { return myRank; }
  int size() const override { return processes; }

  void configure(bool overlapBuckets, double seconds) override {
    overlap = overlapBuckets;
    timeoutSeconds = seconds;
  }

  void startBucket(size_t id) override {
    if (processes == 1)
      return; // started without mpirun: the means are the gradients
    if (requests.size() <= id)
      requests.resize(id + 1, MPI_REQUEST_NULL);
    if (overlap)
      startSum(buckets[id].data(), buckets[id].size(), &requests[id], "gradient bucket");
  }

  void waitBucket(size_t id) override {
    if (processes == 1)
      return;
    std::vector<float> &values = buckets[id];
    if (!overlap)
      startSum(values.data(), values.size(), &requests[id], "gradient bucket");
    await(requests[id], "MPI_Iallreduce of gradient bucket " + std::to_string(id));
    scale(values.data(), int64_t(values.size()));
  }

  void progress() override {
    for (MPI_Request &request : requests)
      if (request != MPI_REQUEST_NULL) {
        int done = 0;
        check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      }
  }

  void sum(double *values, int count) override {
    MPI_Request request;
    check(MPI_Iallreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD,
                         &request),
          "MPI_Iallreduce");
    await(request, "MPI_Iallreduce of the step's metrics");
  }

  void average(float *values, int64_t count) override {
    MPI_Request request;
    startSum(values, size_t(count), &request, "running statistics");
    await(request, "MPI_Iallreduce of running statistics");
    scale(values, count);
  }

  void reduceBatchNormSums(float *values, int64_t count, bool mean) override {
    if (processes == 1)
      return;
    MPI_Request request;
    startSum(values, size_t(count), &request, "batchnorm sums");
    await(request, "MPI_Iallreduce of batchnorm sums ([distributed] sync_batchnorm)");
    if (mean)
      scale(values, count);
  }

  void broadcast(void *data, int64_t bytes) override {
    auto *at = static_cast<char *>(data);
    for (int64_t done = 0; done < bytes;) {
      int chunk = int(std::min<int64_t>(bytes - done, INT_MAX));
      MPI_Request request;
      check(MPI_Ibcast(at + done, chunk, MPI_BYTE, 0, MPI_COMM_WORLD, &request), "MPI_Ibcast");
      await(request, "MPI_Ibcast of rank 0's state");
      done += chunk;
    }
  }

  void abortAll(int status) override { MPI_Abort(MPI_COMM_WORLD, status); }

private:
  void startSum(float *values, size_t count, MPI_Request *request, const char *what) {
    if (count > size_t(INT_MAX))
      die(std::string("an all-reduce of ") + what + " larger than 2^31 floats");
    check(MPI_Iallreduce(MPI_IN_PLACE, values, int(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                         request),
          "MPI_Iallreduce");
  }

  /// Halide's thread pool starts one worker per online CPU, whatever the
  /// process's affinity: under mpirun, which binds each process to its
  /// cores, two processes on two cores would each run two workers on one
  /// core, spinning against each other (3x slower here). OpenMP already
  /// follows the affinity mask. HL_NUM_THREADS set by the user wins.
  static void fitHalideThreadsToAffinity() {
    cpu_set_t cpus;
    if (std::getenv("HL_NUM_THREADS") || sched_getaffinity(0, sizeof cpus, &cpus) != 0)
      return;
    setenv("HL_NUM_THREADS", std::to_string(CPU_COUNT(&cpus)).c_str(), 1);
  }

  /// Sums to means.
  void scale(float *values, int64_t count) const {
    float inverse = 1.0f / float(processes);
    for (int64_t i = 0; i < count; ++i)
      values[i] *= inverse;
  }

  /// Polls `request` until it completes; past the deadline the run stops.
  /// Polling (MPI_Test) rather than MPI_Wait is what makes the deadline
  /// possible. It never sleeps: Open MPI moves a large message through
  /// shared memory in fragments, each needing a call on both sides, and a
  /// 50 µs sleep between tests made an 11.7 MB all-reduce take 70 ms. It
  /// yields instead, for processes that share a core (--oversubscribe).
  void await(MPI_Request &request, const std::string &what) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration<double>(timeoutSeconds);
    for (unsigned tries = 1;; ++tries) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what.c_str());
      if (done)
        return;
      if (tries % 64 == 0) {
        if (std::chrono::steady_clock::now() > deadline)
          die(what + " has not completed after " + formatSeconds(timeoutSeconds) +
              ": another process has probably died or hangs ([distributed] timeout_s)");
        sched_yield();
      }
    }
  }

  void check(int code, const char *call) {
    if (code == MPI_SUCCESS)
      return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    die(std::string(call) + " failed: " + std::string(text, size_t(length)));
  }

  [[noreturn]] void die(const std::string &why) {
    std::fprintf(stderr, "error: process %d of %d: %s; stopping the run\n", myRank, processes,
                 why.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1); // MPI_Abort does not return; if it did, neither may we
  }

  static std::string formatSeconds(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", seconds);
    return text;
  }

  int myRank = 0, processes = 1;
  bool overlap = true;
  double timeoutSeconds = 120;
  std::vector<MPI_Request> requests; // by bucket id
};

} // namespace

std::unique_ptr<Collectives> bnnrt::openMpiCollectives() {
  return std::make_unique<MpiCollectives>();
}
