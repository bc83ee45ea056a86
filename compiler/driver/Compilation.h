// A compilation: loading a policy tree and the stdlib, parsing, checking.
// Shared by `deployc check` and (later) `compile`, `explain`, `graph`.
#pragma once

#include "compiler/ast/AST.h"
#include "compiler/basic/Diagnostics.h"
#include "compiler/merge/Merge.h"
#include "compiler/parse/Parser.h"
#include "compiler/sema/Model.h"

#include <memory>
#include <string>
#include <vector>

namespace dpl {

/// A source file given in memory rather than read from disk.
struct SourceText {
  std::string relPath; ///< path relative to its root, e.g. `services/api.dpl`
  std::string text;
};

struct CompileOptions {
  std::string root;       ///< policy tree directory
  std::string stdlibDir;  ///< directory of stdlib *.dpl files
  /// When not empty, the policy tree is these files (sorted by path, shown
  /// under `root`) and nothing is read from disk for it; for fuzzing.
  std::vector<SourceText> policyTexts;
  /// The same for the stdlib instead of `stdlibDir`.
  std::vector<SourceText> stdlibTexts;
  unsigned maxErrors = 20;
  /// Keep every merged unit in `merged()` (compile, explain, graph). `check`
  /// needs only the diagnostics and sets this to false: each unit is then
  /// dropped as soon as it is checked.
  bool keepUnits = true;
  /// When set, the merge hands every unit to it instead of keeping it
  /// (`deployc compile` writes the plan unit by unit). Not owned.
  UnitSink *unitSink = nullptr;
  /// How files are parsed (fastPaths: tests turn the hand-written lexer
  /// and parser off to compare).
  ParseOptions parse;
  /// Files larger than this are rejected with E004 (bytes).
  uint64_t maxFileSize = 64ull << 20;
};

class Compilation {
public:
  explicit Compilation(CompileOptions options);
  ~Compilation();

  /// Runs load → parse → check. Returns false on any error; `ioFailed()`
  /// tells whether the failure was I/O (exit code 2) rather than policy errors.
  bool run();

  bool ioFailed() const { return ioFailed_; }
  SourceManager &sources() { return sources_; }
  DiagnosticEngine &diags() { return diags_; }
  ast::ASTContext &ast() { return ast_; }
  const Model *model() const { return model_.get(); }
  /// Every unit merged (empty when checking failed before the merge).
  const MergeResult &merged() const { return merged_; }
  size_t policyFileCount() const { return policyFiles_; }

private:
  bool loadDirectory(const std::string &dir, bool isStdlib);
  bool walkDirectory(const std::string &root, const std::string &realRoot, const std::string &relDir,
                     unsigned depth, std::vector<std::string> &rels);
  bool loadFile(const std::string &path, const std::string &display, const std::string &rel);
  bool loadText(llvm::StringRef text, const std::string &display, const std::string &rel);
  bool loadTexts(const std::vector<SourceText> &texts, const std::string &root, bool isStdlib);

  CompileOptions options_;
  SourceManager sources_;
  DiagnosticEngine diags_;
  ast::ASTContext ast_;
  std::unique_ptr<Stdlib> stdlib_;
  std::unique_ptr<Model> model_;
  MergeResult merged_;
  bool ioFailed_ = false;
  size_t policyFiles_ = 0;
};

/// Default stdlib location: <dir of executable>/../share/deployc/stdlib.
std::string defaultStdlibDir(const char *argv0);

} // namespace dpl
