// Source buffers and location lookup.
#include "compiler/basic/Source.h"

namespace dpl {

unsigned SourceManager::addBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer,
                                  std::string displayPath, std::string relPath) {
  files_.push_back({std::move(displayPath), std::move(relPath)});
  return mgr_.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
}

unsigned SourceManager::bufferOf(llvm::SMLoc loc) const {
  if (!loc.isValid())
    return 0;
  return mgr_.FindBufferContainingLoc(loc);
}

LineCol SourceManager::lineCol(llvm::SMLoc loc) const {
  unsigned buf = bufferOf(loc);
  if (!buf)
    return {};
  auto [line, col] = mgr_.getLineAndColumn(loc, buf);
  return {line, col};
}

} // namespace dpl
