//===- FuzzInput.h - Fuzz inputs as files, for loaders that read paths ----===//
//
// The dataset, checkpoint and weights loaders take a path. A fuzz input
// becomes an anonymous in-memory file (memfd) read through
// /proc/self/fd/N: no disk traffic, and parallel fuzzing jobs cannot see
// each other's files.
//
//===----------------------------------------------------------------------===//
#ifndef BNNC_FUZZ_FUZZINPUT_H
#define BNNC_FUZZ_FUZZINPUT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace bnnc::fuzz {

/// An in-memory file holding `size` bytes, closed on destruction.
class MemoryFile {
public:
  MemoryFile(const uint8_t *data, size_t size) {
    fd = memfd_create("bnnc-fuzz", 0);
    if (fd < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    for (size_t done = 0; done < size;) {
      ssize_t wrote = write(fd, data + done, size - done);
      if (wrote <= 0) {
        std::perror("write");
        std::abort();
      }
      done += size_t(wrote);
    }
  }
  MemoryFile(const MemoryFile &) = delete;
  MemoryFile &operator=(const MemoryFile &) = delete;
  ~MemoryFile() { close(fd); }

  /// A path that opens the file from its start.
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd); }

private:
  int fd;
};

/// The first two bytes (little-endian) say how many of the following bytes
/// form the first part; the rest is the second. For loaders of file pairs.
inline void splitInput(const uint8_t *data, size_t size, const uint8_t *&first,
                       size_t &firstSize, const uint8_t *&second,
                       size_t &secondSize) {
  size_t header = size < 2 ? size : 2;
  size_t length = size < 2 ? 0 : size_t(data[0]) | size_t(data[1]) << 8;
  first = data + header;
  firstSize = length < size - header ? length : size - header;
  second = first + firstSize;
  secondSize = size - header - firstSize;
}

} // namespace bnnc::fuzz

#endif // BNNC_FUZZ_FUZZINPUT_H
