//===- DataParallel.cpp - Gradient all-reduces for data-parallel training -===//
//
// Data-parallel training runs the same train step on every process, each on
// its share of the global batch. The processes stay identical if each Adam
// update reads the mean of the gradients over the processes: the gradient
// of the global batch, since each local loss is a mean over its rows. This
// pass inserts those means as `bnn.allreduce` ops, fused into buckets, and
// is the only place data parallelism touches the IR; the runtime lowers the
// ops to MPI (runtime/MpiCollectives.cpp) or, in one process, to nothing.
//
//===----------------------------------------------------------------------===//

#include "bnn/BnnOps.h"
#include "bnn/BnnPasses.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace bnn {
#define GEN_PASS_DEF_BNNDATAPARALLEL
#include "bnn/BnnPasses.h.inc"
} // namespace bnn

using namespace mlir;
using namespace bnn;

namespace {

/// The op after which `value` exists (null: a block argument, ready at the
/// start).
Operation *producerOf(Value value) { return value.getDefiningOp(); }

/// Whether `a`'s gradient is produced before `b`'s (block arguments first).
bool readyBefore(AdamUpdateOp a, AdamUpdateOp b) {
  Operation *pa = producerOf(a.getGrad()), *pb = producerOf(b.getGrad());
  if (!pa || !pb)
    return !pa && pb;
  return pa->isBeforeInBlock(pb);
}

int64_t bytesOf(Value value) {
  return value.getType().cast<ShapedType>().getNumElements() * int64_t(sizeof(float));
}

/// The Adam updates of `trainStep` grouped into buckets: in the order their
/// gradients become ready, each bucket closed once it holds `bucketBytes`.
SmallVector<SmallVector<AdamUpdateOp>> bucketUpdates(func::FuncOp trainStep,
                                                     int64_t bucketBytes) {
  SmallVector<AdamUpdateOp> updates(trainStep.getOps<AdamUpdateOp>());
  std::stable_sort(updates.begin(), updates.end(), readyBefore);
  SmallVector<SmallVector<AdamUpdateOp>> buckets;
  int64_t filled = bucketBytes; // as if a full bucket came before the first
  for (AdamUpdateOp update : updates) {
    if (filled >= bucketBytes) {
      buckets.emplace_back();
      filled = 0;
    }
    buckets.back().push_back(update);
    filled += bytesOf(update.getGrad());
  }
  return buckets;
}

/// One all-reduce of the bucket's gradients, right after the last of them
/// is produced; its updates then read the means, and move before
/// `terminator` in bucket order.
void allReduceBucket(ArrayRef<AdamUpdateOp> bucket, Operation *terminator) {
  SmallVector<Value> grads;
  SmallVector<Type> types;
  SmallVector<Location> locations;
  for (AdamUpdateOp update : bucket) {
    grads.push_back(update.getGrad());
    types.push_back(update.getGrad().getType());
    locations.push_back(update.getLoc());
  }
  OpBuilder builder(terminator->getContext());
  if (Operation *last = producerOf(grads.back()))
    builder.setInsertionPointAfter(last);
  else
    builder.setInsertionPointToStart(terminator->getBlock());
  auto allReduce = builder.create<AllReduceOp>(
      FusedLoc::get(terminator->getContext(), locations), types, grads, /*sum=*/false,
      /*sync_batchnorm=*/false);
  for (auto [bucketUpdate, mean] : llvm::zip(bucket, allReduce.getMeans())) {
    AdamUpdateOp update = bucketUpdate; // ArrayRef hands out const ops
    update.getGradMutable().assign(mean);
    update->moveBefore(terminator);
  }
}

struct DataParallelPass : bnn::impl::BnnDataParallelBase<DataParallelPass> {
  using BnnDataParallelBase::BnnDataParallelBase;

  void runOnOperation() override {
    if (bucketBytes <= 0) {
      getOperation().emitError() << "bnn-data-parallel: bucket-bytes must be positive, got "
                                 << static_cast<long long>(bucketBytes);
      return signalPassFailure();
    }
    bool anyTrainStep = false;
    for (auto function : getOperation().getOps<func::FuncOp>()) {
      if (!function->hasAttr("bnn.train_step"))
        continue;
      anyTrainStep = true;
      if (!function.getOps<AllReduceOp>().empty())
        continue; // already data-parallel
      Operation *terminator = function.getBody().front().getTerminator();
      for (const auto &bucket : bucketUpdates(function, bucketBytes))
        allReduceBucket(bucket, terminator);
    }
    if (!anyTrainStep) {
      getOperation().emitError()
          << "bnn-data-parallel needs a train step (run bnn-generate-train-step first)";
      signalPassFailure();
    }
  }
};

} // namespace
