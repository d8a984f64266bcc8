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

/// Writes `size` bytes to `path` (replacing it) and flushes them to disk,
/// so a later rename publishes a complete file.
bool writeFileSynced(const std::string &path, const void *data, size_t size,
                     std::string &error);

/// Flushes the folder holding `path` to disk, so renames in it survive a
/// crash. Best effort: some file systems cannot sync folders.
void syncParentDirectory(const std::string &path);

/// Creates `path` and any missing parents (like mkdir -p).
bool makeDirectories(const std::string &path, std::string &error);

} // namespace bnnrt

#endif // BNNRT_FILES_H
