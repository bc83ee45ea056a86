// Helpers for unit tests: an in-memory source manager + parse/check.
#pragma once

#include "compiler/ast/AST.h"
#include "compiler/basic/Diagnostics.h"
#include "compiler/parse/Parser.h"

#include <llvm/Support/MemoryBuffer.h>

#include <string>

namespace dpl {

struct TestTree {
  SourceManager sources;
  DiagnosticEngine diags{sources};
  ast::ASTContext ctx;

  ast::SourceFile *parse(const std::string &text, const std::string &rel = "test.dpl",
                         bool isStdlib = false) {
    unsigned id = sources.addBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, rel), rel, rel);
    return parseFile(id, rel, isStdlib, ctx, diags);
  }

  /// All diagnostics as "line:col: ID message" lines.
  std::string rendered() {
    std::string out;
    for (const Diagnostic *d : diags.sorted()) {
      LineCol lc = sources.lineCol(d->range.Start);
      out += std::to_string(lc.line) + ":" + std::to_string(lc.column) + ": " +
             diagInfo(d->id).id + " " + d->message + "\n";
    }
    return out;
  }
};

} // namespace dpl
