// The diagnostics engine: the diagnostic table, collection, and rendering.
#pragma once

#include "compiler/basic/Source.h"

#include <fmt/format.h>
#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/StringRef.h>
#include <llvm/Support/SMLoc.h>
#include <llvm/Support/raw_ostream.h>

#include <string>
#include <vector>

namespace dpl {

enum class DiagId : uint16_t {
#define DIAG(ID, SEV, NAME, FMT) ID,
#include "compiler/basic/Diagnostics.def"
  NumDiags
};

enum class Severity : uint8_t { Error, Warning, Note };

/// One row of the table in Diagnostics.def.
struct DiagInfo {
  const char *id;       ///< stable id, e.g. "E201"
  Severity severity;
  const char *name;     ///< kebab-case name, e.g. "unknown-reference"
  const char *format;   ///< fmt format string with positional arguments
};

const DiagInfo &diagInfo(DiagId id);
/// Every row of the table, in declaration order.
llvm::ArrayRef<DiagInfo> allDiagInfos();

/// A secondary location ("note:") or a hint without location.
struct DiagNote {
  llvm::SMRange range; ///< invalid range: the note has no location
  std::string message;
};

struct Diagnostic {
  DiagId id;
  Severity severity;
  llvm::SMRange range;
  std::string message;
  std::vector<DiagNote> notes;
  /// For location-less diagnostics about a whole file (I/O errors).
  std::string file;
};

/// Collects diagnostics of a run; rendering happens once at the end so the
/// output is sorted by location and independent of checking order.
class DiagnosticEngine {
public:
  explicit DiagnosticEngine(SourceManager &sm) : sm_(sm) {}

  /// Fluent handle to the diagnostic just reported, for adding notes.
  class Builder {
  public:
    Builder(DiagnosticEngine *engine, Diagnostic *diag) : engine_(engine), diag_(diag) {}
    template <typename... Args>
    Builder &note(llvm::SMRange range, DiagId id, const Args &...args) {
      if (diag_)
        diag_->notes.push_back({range, engine_->format(id, args...)});
      return *this;
    }
    bool valid() const { return diag_ != nullptr; }
    template <typename... Args> Builder &hint(DiagId id, const Args &...args) {
      return note(llvm::SMRange(), id, args...);
    }

  private:
    DiagnosticEngine *engine_;
    Diagnostic *diag_; ///< null when the diagnostic was dropped (--max-errors)
  };

  template <typename... Args>
  Builder report(DiagId id, llvm::SMRange range, const Args &...args) {
    return add(id, range, format(id, args...));
  }
  template <typename... Args>
  Builder report(DiagId id, llvm::SMLoc loc, const Args &...args) {
    return add(id, llvm::SMRange(loc, loc), format(id, args...));
  }

  /// A diagnostic about a file as a whole (no source range).
  template <typename... Args>
  Builder reportFile(DiagId id, std::string file, const Args &...args) {
    Builder b = add(id, llvm::SMRange(), format(id, args...));
    if (!diags_.empty() && b.valid())
      diags_.back()->file = std::move(file);
    return b;
  }

  template <typename... Args> std::string format(DiagId id, const Args &...args) {
    return fmt::format(fmt::runtime(diagInfo(id).format), toArg(args)...);
  }

  /// Show at most this many errors (0 = unlimited). Every diagnostic is
  /// collected (up to kHardLimit errors) and the limit applies to the sorted
  /// output, so the errors shown are the first ones in the files.
  void setMaxErrors(unsigned n) { maxErrors_ = n; }
  unsigned maxErrors() const { return maxErrors_; }
  /// Collection stops after this many errors: binary junk cannot exhaust memory.
  static constexpr unsigned kHardLimit = 100000;
  bool limitReached() const { return errorCount_ >= kHardLimit; }

  unsigned errorCount() const { return errorCount_; }
  unsigned warningCount() const { return warningCount_; }
  bool hasErrors() const { return errorCount_ > 0; }

  /// Diagnostics in source order (file order of the source manager, then
  /// offset); stable for equal keys.
  std::vector<const Diagnostic *> sorted() const;
  SourceManager &sources() { return sm_; }

private:
  Builder add(DiagId id, llvm::SMRange range, std::string message);
  static std::string toArg(llvm::StringRef s) { return s.str(); }
  static std::string toArg(const std::string &s) { return s; }
  static std::string toArg(const char *s) { return s; }
  template <typename T> static std::string toArg(const T &v) { return fmt::format("{}", v); }

  SourceManager &sm_;
  std::vector<std::unique_ptr<Diagnostic>> diags_;
  unsigned errorCount_ = 0;
  unsigned warningCount_ = 0;
  unsigned maxErrors_ = 0;
  bool droppedAny_ = false;
  friend struct DiagnosticRenderer;
public:
  /// True when errors exist that the output will not show.
  bool droppedAny() const {
    return droppedAny_ || (maxErrors_ && errorCount_ > maxErrors_);
  }
  /// Diagnostics to render: sorted, cut after the `maxErrors`-th error.
  std::vector<const Diagnostic *> shown() const;
};

enum class OutputFormat { Text, Json, Sarif, Github };

struct RenderOptions {
  OutputFormat format = OutputFormat::Text;
  bool color = false;
  std::string toolVersion;
  /// Prefix turning display paths into repository-relative URIs for SARIF.
  std::string uriBase;
};

/// Writes every diagnostic of `engine` to `os` in the requested format. For
/// text this includes the summary line; callers print their own success line.
void renderDiagnostics(DiagnosticEngine &engine, llvm::raw_ostream &os,
                       const RenderOptions &options);

/// "3 errors and 1 warning generated" style summary (empty if nothing).
std::string diagnosticSummary(const DiagnosticEngine &engine);

/// Formats a list of names as "`a`, `b` and `c`".
std::string quotedList(llvm::ArrayRef<std::string> names, llvm::StringRef conj = "and");

/// Closest name in `candidates` within a small edit distance, or "".
std::string closestName(llvm::StringRef name, llvm::ArrayRef<std::string> candidates);

} // namespace dpl
