//===- Collectives.h - The processes of a data-parallel run ---------------===//
//
// What the plan's `bnn.allreduce` ops and the trainer need from the other
// processes of a data-parallel run. This base class is one process alone:
// every collective is the identity, so a plan with all-reduces runs
// unchanged in a binary without MPI. MpiCollectives (MpiCollectives.cpp,
// in libbnnrt_mpi, linked only by `bnnc compile --mpi`) is the real one.
//
//===----------------------------------------------------------------------===//
#ifndef BNNRT_COLLECTIVES_H
#define BNNRT_COLLECTIVES_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace bnnrt {

class Collectives {
public:
  virtual ~Collectives() = default;

  virtual int rank() const { return 0; }
  virtual int size() const { return 1; }

  /// The contiguous buffer of gradient bucket `id`, `count` floats: the
  /// plan copies the bucket's gradients into it, then starts it.
  float *bucket(size_t id, int64_t count);
  /// Starts averaging bucket `id` over the processes.
  virtual void startBucket(size_t id) { (void)id; }
  /// Waits until bucket `id` holds the means.
  virtual void waitBucket(size_t id) { (void)id; }
  /// Lets started collectives advance: Open MPI moves data only inside MPI
  /// calls, so the plan calls this between kernels while buckets travel.
  virtual void progress() {}

  /// In place, over the processes (blocking).
  virtual void sum(double *values, int count) { (void)values, (void)count; }
  virtual void average(float *values, int64_t count) { (void)values, (void)count; }
  /// The buffer of the sums of synchronised batchnorm `id` (numbered apart
  /// from the gradient buckets), `count` floats.
  float *batchNormSums(size_t id, int64_t count);
  /// Synchronised batchnorm: the per-channel sums of a batchnorm, in place,
  /// summed (`mean` false) or averaged over the processes (blocking; the
  /// plan runs it only with `[distributed] sync_batchnorm = true`).
  virtual void reduceBatchNormSums(float *values, int64_t count, bool mean) {
    (void)values, (void)count, (void)mean;
  }
  /// Rank 0's `bytes` at `data` to every process.
  virtual void broadcast(void *data, int64_t bytes) { (void)data, (void)bytes; }

  /// The run configuration's [distributed] settings.
  virtual void configure(bool overlap, double timeoutSeconds) {
    (void)overlap, (void)timeoutSeconds;
  }
  /// Ends every process of the run with `status` after this one failed,
  /// so that none waits for it until the timeout.
  virtual void abortAll(int status) { (void)status; }

protected:
  std::vector<std::vector<float>> buckets, sums;
};

/// The processes of this run: one process alone unless runCli installed
/// MPI's (ModelSpec::openMpi).
Collectives &collectives();
void setCollectives(Collectives *processes);

} // namespace bnnrt

#endif // BNNRT_COLLECTIVES_H
