#include "bnnrt/Kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace bnnrt::kernels {

namespace {

std::vector<float> quantizedTranspose(const float *w, int64_t rows,
                                      int64_t cols, bool binary) {
  std::vector<float> t(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[c * rows + r] = binary ? reference::sign(w[r * cols + c]) : w[r * cols + c];
  return t;
}

/// Bit i of word j of row r: value [r, 64 j + i] is negative.
std::vector<uint64_t> packRows(const float *values, int64_t rows,
                               int64_t length) {
  int64_t words = (length + 63) / 64;
  std::vector<uint64_t> packed(size_t(rows * words), 0);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < length; ++i)
      packed[r * words + i / 64] |= uint64_t(values[r * length + i] < 0.0f)
                                    << (i % 64);
  return packed;
}

} // namespace

namespace {

// A register-blocked micro-kernel: a 4 × 64 block of C stays in sixteen
// 16-float vector registers while k runs, so every load of B feeds four
// multiply-adds. GCC's vector extensions keep it free of intrinsics; on a
// machine without AVX-512 each vector splits into narrower ones.
typedef float Vec16 __attribute__((vector_size(64)));
constexpr int64_t kRows = 4, kCols = 64, kVecs = kCols / 16;

inline Vec16 load(const float *p) {
  Vec16 v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
inline void store(float *p, Vec16 v) { __builtin_memcpy(p, &v, sizeof(v)); }

void microKernel(const float *a, const float *b, float *c, int64_t n,
                 int64_t k) {
  Vec16 acc[kRows][kVecs] = {};
  for (int64_t p = 0; p < k; ++p) {
    const float *brow = b + p * n;
    Vec16 bv[kVecs];
    for (int64_t v = 0; v < kVecs; ++v)
      bv[v] = load(brow + 16 * v);
    for (int64_t r = 0; r < kRows; ++r) {
      float scale = a[r * k + p];
      for (int64_t v = 0; v < kVecs; ++v)
        acc[r][v] += scale * bv[v];
    }
  }
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t v = 0; v < kVecs; ++v)
      store(c + r * n + 16 * v, acc[r][v]);
}

/// The edges the micro-kernel does not cover, one element at a time.
void edgeBlock(const float *a, const float *b, float *c, int64_t rows,
               int64_t col0, int64_t col1, int64_t n, int64_t k) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = col0; j < col1; ++j) {
      float sum = 0.0f;
      for (int64_t p = 0; p < k; ++p)
        sum += a[r * k + p] * b[p * n + j];
      c[r * n + j] = sum;
    }
}

} // namespace

void gemm(const float *a, const float *b, float *c, int64_t m, int64_t n,
          int64_t k) {
  int64_t fullCols = n - n % kCols;
  int64_t rowBlocks = (m + kRows - 1) / kRows;
#pragma omp parallel for schedule(static)
  for (int64_t block = 0; block < rowBlocks; ++block) {
    int64_t i = block * kRows, rows = std::min(kRows, m - i);
    const float *ai = a + i * k;
    float *ci = c + i * n;
    if (rows == kRows)
      for (int64_t j = 0; j < fullCols; j += kCols)
        microKernel(ai, b + j, ci + j, n, k);
    else
      edgeBlock(ai, b, ci, rows, 0, fullCols, n, k);
    edgeBlock(ai, b, ci, rows, fullCols, n, n, k);
  }
}

void dense(const float *x, const float *w, const float *bias, float *y,
           int64_t n, int64_t k, int64_t u, bool binary, bool binaryInput) {
  if (binary && binaryInput) {
    int64_t words = (k + 63) / 64;
    std::vector<uint64_t> px = packRows(x, n, k), pw = packRows(w, u, k);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < u; ++j) {
        const uint64_t *a = &px[r * words], *b = &pw[j * words];
        int64_t differing = 0;
        for (int64_t word = 0; word < words; ++word)
          differing += __builtin_popcountll(a[word] ^ b[word]);
        y[r * u + j] = float(k - 2 * differing);
      }
  } else {
    std::vector<float> wt = quantizedTranspose(w, u, k, binary);
    gemm(x, wt.data(), y, n, u, k);
  }
  if (bias)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t j = 0; j < u; ++j)
        y[r * u + j] += bias[j];
}

void denseGradInput(const float *w, const float *dy, float *dx, int64_t n,
                    int64_t k, int64_t u, bool binary) {
  if (!binary) {
    gemm(dy, w, dx, n, k, u);
    return;
  }
  std::vector<float> q(w, w + u * k);
  for (float &v : q)
    v = reference::sign(v);
  gemm(dy, q.data(), dx, n, k, u);
}

void denseGradWeight(const float *x, const float *w, const float *dy,
                     float *dw, int64_t n, int64_t k, int64_t u, bool binary) {
  std::vector<float> dyT(size_t(u * n));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < u; ++j)
      dyT[j * n + r] = dy[r * u + j];
  gemm(dyT.data(), x, dw, u, k, n);
  if (binary)
    for (int64_t i = 0; i < u * k; ++i)
      if (w[i] > 1.0f || w[i] < -1.0f)
        dw[i] = 0.0f; // the STE window of the weight quantiser
}

void biasGrad(const float *dy, float *db, int64_t n, int64_t channels,
              int64_t spatial) {
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0.0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t p = 0; p < spatial; ++p)
        sum += dy[(b * channels + c) * spatial + p];
    db[c] = float(sum);
  }
}

// Convolutions use the reference loops for now: correct, and fast enough
// for small models; the Halide conv kernels replace them.
void conv2d(const float *x, const float *w, const float *bias, float *y,
            const ConvShape &shape, bool binary) {
  reference::conv2dForward(x, w, bias, y, shape, binary);
}

void conv2dGradInput(const float *w, const float *dy, float *dx,
                     const ConvShape &shape, bool binary) {
  std::vector<float> dw(size_t(shape.o * shape.c * shape.kh * shape.kw));
  std::vector<float> x(size_t(shape.n * shape.c * shape.h * shape.w), 0.0f);
  reference::conv2dBackward(x.data(), w, dy, dx, dw.data(), nullptr, shape,
                            binary);
}

void conv2dGradWeight(const float *x, const float *w, const float *dy,
                      float *dw, const ConvShape &shape, bool binary) {
  std::vector<float> dx(size_t(shape.n * shape.c * shape.h * shape.w));
  reference::conv2dBackward(x, w, dy, dx.data(), dw, nullptr, shape, binary);
}

void adamStep(float *param, const float *grad, float *m, float *v,
              int64_t size, int64_t step, float lr,
              const reference::AdamState &adam, bool clip) {
  const float correction1 = float(1.0 - std::pow(double(adam.beta1), double(step)));
  const float correction2 = float(1.0 - std::pow(double(adam.beta2), double(step)));
  const float b1 = adam.beta1, b2 = adam.beta2, eps = adam.epsilon;
  const float low = clip ? -1.0f : -INFINITY, high = clip ? 1.0f : INFINITY;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < size; ++i) {
    float g = grad[i];
    float mi = b1 * m[i] + (1.0f - b1) * g;
    float vi = b2 * v[i] + (1.0f - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float updated = param[i] - lr * (mi / correction1) /
                                   (std::sqrt(vi / correction2) + eps);
    param[i] = std::min(high, std::max(low, updated));
  }
}

void elementwiseAdd(const float *a, const float *b, float *y, int64_t size) {
  for (int64_t i = 0; i < size; ++i)
    y[i] = a[i] + b[i];
}

void copy(const float *x, float *y, int64_t size) {
  if (x != y)
    std::memcpy(y, x, size_t(size) * sizeof(float));
}

} // namespace bnnrt::kernels
