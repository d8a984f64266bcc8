// The XNOR-popcount peak of this machine: how many binary multiply-adds a
// second a core (and all cores) can do with AVX-512 VPOPCNTDQ when nothing
// but registers is involved. Each step of the loop is what an XNOR-popcount
// kernel's inner loop does per 512 bits: XOR, VPOPCNTQ, add into a 64-bit
// accumulator; 8 independent accumulators hide the instructions' latency.
//
// Prints binary GOP/s counting 2 operations per bit (a multiply and an add),
// the convention of the compiled binaries' --profile. Built with -O3 (the
// accumulators must be unrolled into registers): bench/cnn_speed.sh does.
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr int kAccumulators = 8;

/// `iterations` rounds of 8 XOR-popcount-adds on 512-bit registers; returns
/// a value that depends on every round, so nothing is optimised away.
__attribute__((target("avx512f,avx512vpopcntdq"))) uint64_t
xnorPopcountLoop(int64_t iterations, uint64_t seed) {
  __m512i a = _mm512_set1_epi64(int64_t(seed * 0x9E3779B97F4A7C15ull));
  const __m512i step = _mm512_set1_epi64(1);
  __m512i w[kAccumulators], sum[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) {
    w[i] = _mm512_set1_epi64(int64_t(seed + uint64_t(i) * 0x5851F42D4C957F2Dull));
    sum[i] = _mm512_setzero_si512();
  }
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kAccumulators; ++i)
      sum[i] = _mm512_add_epi64(sum[i], _mm512_popcnt_epi64(_mm512_xor_si512(a, w[i])));
    // Keep `a` changing (without a chain through the sums) so the compiler
    // cannot hoist the work.
    a = _mm512_add_epi64(a, step);
  }
  __m512i total = sum[0];
  for (int i = 1; i < kAccumulators; ++i)
    total = _mm512_add_epi64(total, sum[i]);
  return uint64_t(_mm512_reduce_add_epi64(total));
}

/// Binary GOP/s of `threads` threads running the loop at once.
double measure(int threads, int64_t iterations) {
  uint64_t sink = 0;
  auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  sink += xnorPopcountLoop(iterations, uint64_t(omp_get_thread_num()) + 1);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (sink == 42)
    std::puts(""); // never: only makes `sink` observable
  double bits = double(threads) * double(iterations) * kAccumulators * 512.0;
  return 2.0 * bits / seconds / 1e9;
}

} // namespace

int main(int argc, char **argv) {
  if (!__builtin_cpu_supports("avx512vpopcntdq")) {
    std::fprintf(stderr, "xnor_peak: this CPU has no AVX-512 VPOPCNTDQ\n");
    return 1;
  }
  int64_t iterations = argc > 1 ? std::atoll(argv[1]) : 200000000;
  int threads = omp_get_max_threads();
  measure(1, iterations / 10); // warm up (frequency, page-in)
  std::printf("xnor_peak_1_thread_gops %.1f\n", measure(1, iterations));
  std::printf("xnor_peak_%d_threads_gops %.1f\n", threads, measure(threads, iterations));
  return 0;
}
