// Loading a policy tree and the stdlib, then parse → check.
#include "compiler/driver/Compilation.h"

#include "compiler/parse/Parser.h"

#include <llvm/Support/ConvertUTF.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/Path.h>

#include <algorithm>

namespace dpl {

Compilation::Compilation(CompileOptions options)
    : options_(std::move(options)), diags_(sources_) {
  diags_.setMaxErrors(options_.maxErrors);
}

Compilation::~Compilation() = default;

std::string defaultStdlibDir(const char *argv0) {
  std::string exe = llvm::sys::fs::getMainExecutable(argv0, reinterpret_cast<void *>(&defaultStdlibDir));
  llvm::SmallString<256> dir(llvm::sys::path::parent_path(exe));
  llvm::sys::path::append(dir, "..", "share", "deployc", "stdlib");
  llvm::sys::path::remove_dots(dir, true);
  return std::string(dir);
}

/// Reads one file into the source manager. Fails (E001, E002, E004; exit
/// code 2) when it cannot be read, is larger than `maxFileSize` bytes, or is
/// not valid UTF-8; nothing of such a file is parsed.
bool Compilation::loadFile(const std::string &path, const std::string &display,
                           const std::string &rel) {
  uint64_t size = 0;
  if (!llvm::sys::fs::file_size(path, size) && size > options_.maxFileSize) {
    diags_.reportFile(DiagId::E004, display, size, options_.maxFileSize);
    ioFailed_ = true;
    return false;
  }
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/true);
  if (!buf) {
    diags_.reportFile(DiagId::E001, display, display, buf.getError().message());
    ioFailed_ = true;
    return false;
  }
  return loadText((*buf)->getBuffer(), display, rel);
}

/// Adds one file's text to the source manager (E002 when it is not UTF-8).
bool Compilation::loadText(llvm::StringRef text, const std::string &display, const std::string &rel) {
  const llvm::UTF8 *p = reinterpret_cast<const llvm::UTF8 *>(text.data());
  const llvm::UTF8 *end = p + text.size();
  if (!llvm::isLegalUTF8String(&p, end)) {
    diags_.reportFile(DiagId::E002, display,
                      static_cast<size_t>(p - reinterpret_cast<const llvm::UTF8 *>(text.data())));
    ioFailed_ = true;
    return false;
  }
  // Old Mac line endings (a lone CR) become LF, byte for byte, so that line
  // numbers and carets are right; CRLF is left as it is.
  std::string normalized;
  if (text.contains('\r')) {
    normalized = text.str();
    for (size_t i = 0; i < normalized.size(); ++i)
      if (normalized[i] == '\r' && (i + 1 == normalized.size() || normalized[i + 1] != '\n'))
        normalized[i] = '\n';
    text = normalized;
  }
  auto named = llvm::MemoryBuffer::getMemBufferCopy(text, display);
  sources_.addBuffer(std::move(named), display, rel);
  return true;
}

/// Collects the `*.dpl` files below `root/relDir`. Every directory must be
/// readable: a policy file is never skipped silently (E001, exit 2). Hidden
/// directories (`.git`, `.deploy`) are skipped; symbolic links to
/// directories are not followed; a `.dpl` symbolic link must point to a
/// regular file inside the tree.
bool Compilation::walkDirectory(const std::string &root, const std::string &realRoot,
                                const std::string &relDir, unsigned depth, std::vector<std::string> &rels) {
  llvm::SmallString<256> here(root);
  if (!relDir.empty())
    llvm::sys::path::append(here, relDir);
  std::string display = std::string(here);
  if (depth > 64) {
    diags_.reportFile(DiagId::E001, display, display, "directories nested deeper than 64 levels");
    ioFailed_ = true;
    return false;
  }
  std::error_code ec;
  std::vector<std::pair<std::string, llvm::sys::fs::file_type>> entries;
  for (llvm::sys::fs::directory_iterator it(here, ec, /*follow_symlinks=*/false), end; it != end && !ec;
       it.increment(ec))
    entries.push_back({llvm::sys::path::filename(it->path()).str(), it->type()});
  if (ec) {
    diags_.reportFile(DiagId::E001, display, display, ec.message());
    ioFailed_ = true;
    return false;
  }
  std::sort(entries.begin(), entries.end());
  for (auto &[name, type] : entries) {
    std::string rel = relDir.empty() ? name : relDir + "/" + name;
    llvm::SmallString<256> full(root);
    llvm::sys::path::append(full, rel);
    if (type == llvm::sys::fs::file_type::directory_file) {
      if (llvm::StringRef(name).startswith("."))
        continue; // .git, .deploy and other hidden directories
      if (!walkDirectory(root, realRoot, rel, depth + 1, rels))
        return false;
      continue;
    }
    if (!llvm::StringRef(name).endswith(".dpl"))
      continue;
    if (type == llvm::sys::fs::file_type::symlink_file) {
      llvm::SmallString<256> target;
      if (std::error_code lec = llvm::sys::fs::real_path(full, target)) {
        diags_.reportFile(DiagId::E001, std::string(full), std::string(full), lec.message());
        ioFailed_ = true;
        return false;
      }
      llvm::StringRef t(target);
      if (!(t.consume_front(realRoot) && t.startswith("/"))) {
        diags_.reportFile(DiagId::E001, std::string(full), std::string(full),
                          "symbolic link points outside the policy tree (to " + std::string(target) + ")");
        ioFailed_ = true;
        return false;
      }
      llvm::sys::fs::file_status st;
      if (llvm::sys::fs::status(full, st) || st.type() == llvm::sys::fs::file_type::directory_file)
        continue; // a link to a directory is not followed
      type = st.type();
    }
    if (type != llvm::sys::fs::file_type::regular_file) {
      diags_.reportFile(DiagId::E001, std::string(full), std::string(full), "not a regular file");
      ioFailed_ = true;
      return false;
    }
    rels.push_back(rel);
  }
  return true;
}

/// Loads every `*.dpl` below `dir` in sorted relative-path order, so the
/// result never depends on directory iteration order.
bool Compilation::loadDirectory(const std::string &dir, bool isStdlib) {
  bool isDir = false;
  if (std::error_code ec = llvm::sys::fs::is_directory(dir, isDir); ec || !isDir) {
    diags_.reportFile(DiagId::E001, dir, dir, ec ? ec.message() : "not a directory");
    ioFailed_ = true;
    return false;
  }
  std::vector<std::string> rels;
  llvm::SmallString<256> realRoot;
  if (llvm::sys::fs::real_path(dir, realRoot))
    realRoot = dir;
  if (!walkDirectory(dir, realRoot.str().str(), "", 0, rels))
    return false;
  std::sort(rels.begin(), rels.end());
  if (rels.empty() && !isStdlib) {
    diags_.reportFile(DiagId::E003, dir, dir);
    ioFailed_ = true;
    return false;
  }
  llvm::StringRef displayRoot(dir);
  while (displayRoot.size() > 1 && displayRoot.endswith("/"))
    displayRoot = displayRoot.drop_back();
  for (const std::string &rel : rels) {
    llvm::SmallString<256> full(dir);
    llvm::sys::path::append(full, rel);
    std::string display = displayRoot == "." ? rel : (displayRoot + "/" + rel).str();
    unsigned before = sources_.numBuffers();
    if (!loadFile(std::string(full), display, rel))
      continue;
    parseFile(before + 1, rel, isStdlib, ast_, diags_, options_.parse);
    if (!isStdlib)
      ++policyFiles_;
  }
  return true;
}

/// Loads and parses files given in memory, in sorted path order like
/// loadDirectory, displayed under `root`.
bool Compilation::loadTexts(const std::vector<SourceText> &texts, const std::string &root, bool isStdlib) {
  std::vector<const SourceText *> sorted;
  for (const SourceText &t : texts)
    sorted.push_back(&t);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const SourceText *a, const SourceText *b) { return a->relPath < b->relPath; });
  llvm::StringRef displayRoot(root);
  while (displayRoot.size() > 1 && displayRoot.endswith("/"))
    displayRoot = displayRoot.drop_back();
  for (const SourceText *t : sorted) {
    std::string display =
        displayRoot.empty() || displayRoot == "." ? t->relPath : (displayRoot + "/" + t->relPath).str();
    if (t->text.size() > options_.maxFileSize) {
      diags_.reportFile(DiagId::E004, display, uint64_t(t->text.size()), options_.maxFileSize);
      ioFailed_ = true;
      continue;
    }
    unsigned before = sources_.numBuffers();
    if (!loadText(t->text, display, t->relPath))
      continue;
    parseFile(before + 1, t->relPath, isStdlib, ast_, diags_, options_.parse);
    if (!isStdlib)
      ++policyFiles_;
  }
  return true;
}

bool Compilation::run() {
  // The stdlib first: its files are parsed like any other.
  size_t firstPolicy = 0;
  if (options_.stdlibTexts.empty() ? !loadDirectory(options_.stdlibDir, /*isStdlib=*/true)
                                   : !loadTexts(options_.stdlibTexts, options_.stdlibDir, /*isStdlib=*/true))
    return false;
  firstPolicy = ast_.files.size();
  std::vector<const ast::SourceFile *> stdlibFiles, policy;
  for (auto &f : ast_.files)
    stdlibFiles.push_back(f.get());
  auto stdlib = loadStdlib(stdlibFiles, diags_);
  if (diags_.hasErrors()) {
    ioFailed_ = true; // a broken stdlib is an installation problem
    return false;
  }
  if (options_.policyTexts.empty())
    loadDirectory(options_.root, /*isStdlib=*/false);
  else
    loadTexts(options_.policyTexts, options_.root, /*isStdlib=*/false);
  for (size_t i = firstPolicy; i < ast_.files.size(); ++i)
    policy.push_back(ast_.files[i].get());
  if (ioFailed_)
    return false;
  model_ = checkProgram(policy, *stdlib, diags_);
  stdlib_ = std::move(stdlib);
  // The merge needs a well-typed program: values of broken declarations
  // would only produce follow-on conflicts.
  if (!diags_.hasErrors())
    merged_ = mergeProgram(*model_, diags_, options_.keepUnits, options_.unitSink);
  return !diags_.hasErrors();
}

} // namespace dpl
