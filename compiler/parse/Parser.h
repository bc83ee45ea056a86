// Parse phase: one `.dpl` buffer → ast::SourceFile. ANTLR stays inside this
// folder; callers see only the AST and diagnostics.
#pragma once

#include "compiler/ast/AST.h"
#include "compiler/basic/Diagnostics.h"

namespace dpl {

struct ParseOptions {
  /// Deepest bracket / prefix-operator nesting accepted (guards the stack).
  unsigned maxNesting = 100;
  /// Longest chain of binary operators in one expression.
  unsigned maxChain = 1000;
  /// Use the hand-written lexer and parser where they apply (ASCII text,
  /// declarations without syntax errors); they give the same tokens and
  /// AST as ANTLR. False: ANTLR for everything (tests compare the two).
  bool fastPaths = true;
};

/// Parses buffer `buffer` of `diags.sources()` into a SourceFile owned by
/// `ctx`. Syntax errors are reported to `diags`; the returned file holds every
/// declaration that could be recovered. Uses SLL prediction first and falls
/// back to full LL with error recovery only when SLL fails.
ast::SourceFile *parseFile(unsigned buffer, std::string relPath, bool isStdlib,
                           ast::ASTContext &ctx, DiagnosticEngine &diags,
                           const ParseOptions &options = {});

} // namespace dpl
