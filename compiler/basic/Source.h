// Source files of one compilation: buffers, display paths, line/column lookup.
#pragma once

#include <llvm/Support/SMLoc.h>
#include <llvm/Support/SourceMgr.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dpl {

/// A resolved position: 1-based line and column (column counts bytes).
struct LineCol {
  unsigned line = 0;
  unsigned column = 0;
};

/// Owns every source buffer of a run (policy files and stdlib files).
/// Locations everywhere are `llvm::SMLoc` pointers into these buffers.
class SourceManager {
public:
  /// Adds a buffer; `displayPath` is what diagnostics print, `relPath` is the
  /// path relative to the policy root (used for ownership globs).
  unsigned addBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                     std::string displayPath, std::string relPath);

  llvm::SourceMgr &llvm() { return mgr_; }
  const llvm::SourceMgr &llvm() const { return mgr_; }

  /// Buffer id (1-based, as in llvm::SourceMgr) containing `loc`, 0 if none.
  unsigned bufferOf(llvm::SMLoc loc) const;
  LineCol lineCol(llvm::SMLoc loc) const;
  const std::string &displayPath(unsigned buffer) const { return files_[buffer - 1].displayPath; }
  const std::string &relPath(unsigned buffer) const { return files_[buffer - 1].relPath; }
  llvm::StringRef text(unsigned buffer) const {
    return mgr_.getMemoryBuffer(buffer)->getBuffer();
  }
  unsigned numBuffers() const { return mgr_.getNumBuffers(); }

private:
  struct FileInfo {
    std::string displayPath;
    std::string relPath;
  };
  /// One buffer's bytes, for finding the buffer of a location by binary
  /// search: llvm::SourceMgr scans every buffer, which made provenance
  /// lookups quadratic on trees of thousands of files.
  struct BufferSpan {
    const char *begin;
    const char *end; ///< one past the last byte (the null terminator is inside)
    unsigned id;
  };
  llvm::SourceMgr mgr_;
  std::vector<FileInfo> files_;
  std::vector<BufferSpan> spans_; ///< sorted by `begin`
};

} // namespace dpl
