//===- Collectives.cpp - One process alone --------------------------------===//

#include "bnnrt/Collectives.h"

using namespace bnnrt;

float *Collectives::bucket(size_t id, int64_t count) {
  if (buckets.size() <= id)
    buckets.resize(id + 1);
  if (int64_t(buckets[id].size()) < count)
    buckets[id].resize(size_t(count));
  return buckets[id].data();
}

float *Collectives::batchNormSums(size_t id, int64_t count) {
  if (sums.size() <= id)
    sums.resize(id + 1);
  if (int64_t(sums[id].size()) < count)
    sums[id].resize(size_t(count));
  return sums[id].data();
}

namespace {
Collectives alone;
Collectives *current = &alone;
} // namespace

Collectives &bnnrt::collectives() { return *current; }

void bnnrt::setCollectives(Collectives *processes) {
  current = processes ? processes : &alone;
}
