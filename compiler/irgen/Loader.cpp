#include "irgen/Loader.h"
#include "frontend/Parser.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace bnnc;

namespace {

class Loader {
public:
  Loader(const std::vector<std::string> &searchDirs,
         DiagnosticSink &diagnostics, Program &program)
      : searchDirs(searchDirs), diagnostics(diagnostics), program(program) {}

  /// Reads and parses one file, its imports first. `importLoc` is invalid
  /// for the main file.
  bool load(const std::string &path, llvm::SMLoc importLoc) {
    llvm::SmallString<256> canonical;
    if (llvm::sys::fs::real_path(path, canonical))
      canonical = path;
    if (!loaded.insert(canonical).second)
      return true;

    std::optional<unsigned> bufferId = readFile(path, importLoc);
    if (!bufferId)
      return false;
    llvm::SourceMgr &sources = diagnostics.sourceManager();
    Parser parser(sources.getMemoryBuffer(*bufferId)->getBuffer(),
                  diagnostics);
    SourceFile file;
    file.path = path;
    file.bufferId = *bufferId;
    file.decls = parser.parseFile();

    for (const DeclPtr &decl : file.decls)
      if (auto *import = llvm::dyn_cast<ImportDecl>(decl.get()))
        loadImport(*import, path);
    program.files.push_back(std::move(file));
    return true;
  }

private:
  std::optional<unsigned> readFile(const std::string &path,
                                   llvm::SMLoc importLoc) {
    // The driver may have loaded the main file already (--verify-diagnostics).
    llvm::SourceMgr &sources = diagnostics.sourceManager();
    for (unsigned id = 1; id <= sources.getNumBuffers(); ++id)
      if (sources.getMemoryBuffer(id)->getBufferIdentifier() == path)
        return id;
    auto report = [&](const llvm::Twine &message) {
      if (importLoc.isValid())
        diagnostics.error(importLoc) << message.str();
      else
        diagnostics.commandLineError(message);
    };
    if (llvm::sys::fs::is_directory(path)) {
      report("'" + path + "' is a directory, not a model file");
      return std::nullopt;
    }
    uint64_t size = 0;
    if (!llvm::sys::fs::file_size(path, size) && size > kMaxSourceBytes) {
      report("'" + path + "' is " + llvm::Twine(size >> 20) +
             " MiB; model files are limited to " +
             llvm::Twine(kMaxSourceBytes >> 20) + " MiB");
      return std::nullopt;
    }
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
    if (!buffer) {
      report("cannot read '" + path + "': " + buffer.getError().message());
      return std::nullopt;
    }
    return diagnostics.sourceManager().AddNewSourceBuffer(std::move(*buffer),
                                                          importLoc);
  }

  void loadImport(const ImportDecl &import, llvm::StringRef importer) {
    std::vector<std::string> tried;
    llvm::SmallString<256> besideImporter = llvm::sys::path::parent_path(importer);
    llvm::sys::path::append(besideImporter, import.getName());
    tried.push_back(std::string(besideImporter));
    for (const std::string &dir : searchDirs) {
      llvm::SmallString<256> candidate(dir);
      llvm::sys::path::append(candidate, import.getName());
      tried.push_back(std::string(candidate));
    }
    for (const std::string &candidate : tried)
      if (llvm::sys::fs::is_regular_file(candidate)) {
        load(candidate, import.getLoc());
        return;
      }
    auto diag = diagnostics.error(import.getLoc());
    diag << "cannot find '" << import.getName() << "'; looked for";
    for (const std::string &candidate : tried)
      diag << " '" << candidate << "'";
    diag << " (add a directory with -I)";
  }

  const std::vector<std::string> &searchDirs;
  DiagnosticSink &diagnostics;
  Program &program;
  llvm::StringSet<> loaded;
};

} // namespace

bool bnnc::loadProgram(llvm::StringRef path,
                       const std::vector<std::string> &searchDirs,
                       DiagnosticSink &diagnostics, Program &program) {
  Loader loader(searchDirs, diagnostics, program);
  return loader.load(path.str(), llvm::SMLoc());
}
