//===- Files.h - Writing result files safely ------------------------------===//
#ifndef BNNRT_FILES_H
#define BNNRT_FILES_H

#include <cstddef>
#include <string>

namespace bnnrt {

/// Writes `size` bytes to `path` atomically: to `path`.tmp, flushed to disk,
/// then renamed, so a reader never sees half a file. On failure `error` is
/// "PATH: error: ...".
bool writeFileAtomically(const std::string &path, const void *data,
                         size_t size, std::string &error);

/// Creates `path` and any missing parents (like mkdir -p).
bool makeDirectories(const std::string &path, std::string &error);

} // namespace bnnrt

#endif // BNNRT_FILES_H
