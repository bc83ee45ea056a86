// Source buffers and location lookup.
#include "compiler/basic/Source.h"

#include <algorithm>

namespace dpl {

unsigned SourceManager::addBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                                  std::string displayPath, std::string relPath) {
  files_.push_back({std::move(displayPath), std::move(relPath)});
  const char *begin = buffer->getBufferStart();
  const char *end = buffer->getBufferEnd();
  unsigned id = mgr_.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  BufferSpan span{begin, end, id};
  spans_.insert(std::upper_bound(spans_.begin(), spans_.end(), span,
                                 [](const BufferSpan &a, const BufferSpan &b) { return a.begin < b.begin; }),
                span);
  return id;
}

unsigned SourceManager::bufferOf(llvm::SMLoc loc) const {
  if (!loc.isValid())
    return 0;
  const char *p = loc.getPointer();
  // The last buffer starting at or before `p`; like llvm::SourceMgr, the
  // end of a buffer (where its null terminator sits) belongs to it.
  auto it = std::upper_bound(spans_.begin(), spans_.end(), p,
                             [](const char *q, const BufferSpan &s) { return q < s.begin; });
  if (it == spans_.begin())
    return 0;
  --it;
  return p <= it->end ? it->id : 0;
}

LineCol SourceManager::lineCol(llvm::SMLoc loc) const {
  unsigned buf = bufferOf(loc);
  if (!buf)
    return {};
  auto [line, col] = mgr_.getLineAndColumn(loc, buf);
  return {line, col};
}

} // namespace dpl
