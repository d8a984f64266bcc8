//===- Files.cpp - Writing result files safely ----------------------------===//

#include "bnnrt/Files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace bnnrt;

bool bnnrt::writeFileSynced(const std::string &path, const void *data,
                            size_t size, std::string &error) {
  FILE *file = std::fopen(path.c_str(), "wb");
  if (!file) {
    error = path + ": error: cannot write: " + std::strerror(errno);
    return false;
  }
  bool written = std::fwrite(data, 1, size, file) == size &&
                 std::fflush(file) == 0 && fsync(fileno(file)) == 0;
  int reason = errno;
  bool closed = std::fclose(file) == 0;
  if (written && closed)
    return true;
  error = path + ": error: writing failed: " +
          std::strerror(written ? errno : reason);
  std::remove(path.c_str());
  return false;
}

void bnnrt::syncParentDirectory(const std::string &path) {
  size_t slash = path.rfind('/');
  std::string folder = slash == std::string::npos ? "."
                       : slash == 0               ? "/"
                                                  : path.substr(0, slash);
  int fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return;
  fsync(fd);
  close(fd);
}

bool bnnrt::writeFileAtomically(const std::string &path, const void *data,
                                size_t size, std::string &error) {
  std::string temporary = path + ".tmp";
  if (!writeFileSynced(temporary, data, size, error))
    return false;
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    error = path + ": error: writing failed: " + std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  syncParentDirectory(path);
  return true;
}

static bool isDirectory(const std::string &path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool bnnrt::makeDirectories(const std::string &path, std::string &error) {
  // Each prefix ending before a '/', then the whole path.
  for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    std::string prefix = path.substr(0, end);
    if (mkdir(prefix.c_str(), 0777) != 0) {
      int reason = errno;
      if (reason != EEXIST || !isDirectory(prefix)) {
        error = prefix + ": error: cannot create the folder: " +
                std::strerror(reason == EEXIST ? ENOTDIR : reason);
        return false;
      }
    }
    if (end == std::string::npos)
      return true;
  }
}
